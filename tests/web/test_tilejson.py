"""What a GIS adds the vector tiles by: TileJSON per layer (/tiles/<layer>.json) and a
MapLibre/Mapbox GL style (/styles/<layer>.json) in landmap's own colours."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import mapbox_vector_tile
import pytest
from sqlalchemy import text
from test_tiles import tile_of

from landmap.domain import Stage
from landmap.maps.styles import (
    FARMLAND_STYLE,
    LANDUSE_CLASS_COLORS,
    LANDUSE_STYLE,
    PARCEL_STYLES,
    STAGE_COLORS,
    UNKNOWN_FILL,
    ZONE_STYLE,
)
from landmap.services.tiles import LAYERS, MAX_ZOOM

TABLES = {"parcels": "parcel", "landuse": "landuse_patch", "farmland": "farmland"}


def tilejson(client, layer: str, query: str = "") -> dict:
    resp = client.get(f"/tiles/{layer}.json{query}")
    assert resp.status_code == 200, resp.data[:300]
    return resp.get_json()


def a_point_of(db, layer: str) -> tuple[float, float]:
    """Lon/lat of a point inside one of the layer's features (a current zone boundary)."""
    source = (
        "zone_boundary WHERE status = 'current'"
        if layer == "zones"
        else f"{TABLES[layer]} ORDER BY id"
    )
    return db.execute(
        text(f"""SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom),
                 4326) AS p FROM {source} LIMIT 1) q""")
    ).one()


def fetched_tile(client, template: str, lon: float, lat: float, z: int) -> dict:
    x, y = tile_of(lon, lat, z)
    url = template.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
    parts = urlsplit(url)
    resp = client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
    assert resp.status_code == 200, (url, resp.status_code)
    return mapbox_vector_tile.decode(resp.data)


@pytest.mark.parametrize("layer", LAYERS)
def test_a_tilejson_per_layer_with_the_servers_template_and_zooms(client, layer):
    doc = tilejson(client, layer)
    assert doc["tilejson"] == "3.0.0" and doc["name"] and doc["attribution"]
    assert doc["tiles"] == [f"http://localhost/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf"]
    assert (doc["minzoom"], doc["maxzoom"]) == (0, MAX_ZOOM)
    west, south, east, north = doc["bounds"]
    assert 110 < west < east < 111 and 28.8 < south < north < 29.4  # Yongding, not the world
    lon, lat, zoom = doc["center"]
    assert west < lon < east and south < lat < north and 0 <= zoom <= MAX_ZOOM
    assert [v["id"] for v in doc["vector_layers"]] == [layer]
    assert client.get(f"/tiles/{layer}.json?lang=en").get_json()["name"] != doc["name"]


@pytest.mark.parametrize("layer", LAYERS)
def test_the_fields_are_exactly_what_a_real_tile_carries(client, db, layer):
    doc = tilejson(client, layer)
    lon, lat = a_point_of(db, layer)
    decoded = fetched_tile(client, doc["tiles"][0], lon, lat, 17)
    assert set(decoded) == {v["id"] for v in doc["vector_layers"]}
    carried = {key for f in decoded[layer]["features"] for key in f["properties"]}
    assert carried == set(doc["vector_layers"][0]["fields"])


def test_the_filters_go_into_the_template_and_narrow_the_extent(client, db):
    query = "?zone=C&stage=not_started&as_of=2015-06-30"
    doc = tilejson(client, "parcels", query)
    template = doc["tiles"][0]
    asked = parse_qs(urlsplit(template).query)
    assert asked == {"zone": ["C"], "stage": ["not_started"], "as_of": ["2015-06-30"]}
    everything = tilejson(client, "parcels")["bounds"]
    west, south, east, north = doc["bounds"]
    assert everything[0] <= west < east <= everything[2] and doc["bounds"] != everything
    lon, lat = (west + east) / 2, (south + north) / 2
    decoded = fetched_tile(client, template, lon, lat, 13)
    stages = {f["properties"]["stage"] for f in decoded.get("parcels", {}).get("features", [])}
    assert stages == {"not_started"}


def test_with_no_parcels_the_extent_is_the_zones(client, db):
    project = db.execute(
        text("""INSERT INTO project (name, kind, stage) VALUES ('空项目', 'industrial',
                'to_start') RETURNING id""")
    ).scalar_one()
    empty = tilejson(client, "parcels", f"?zone=C&project={project}")["bounds"]
    assert empty == tilejson(client, "zones", "?zone=C")["bounds"]
    assert empty != tilejson(client, "parcels", "?zone=C")["bounds"]
    every_zone = tilejson(client, "parcels", f"?project={project}")["bounds"]
    assert every_zone == tilejson(client, "zones")["bounds"] != empty


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/tiles/roads.json", 404, "unknown_tile_layer"),
        ("/styles/roads.json", 404, "unknown_tile_layer"),
        ("/tiles/parcels.json?zone=Q", 400, None),
        ("/tiles/parcels.json?stage=razed", 400, None),
        ("/styles/parcels.json?labels=7", 400, "not_a_whole_number"),
    ],
)
def test_bad_requests_are_refused_in_json(client, url, status, code):
    resp = client.get(url)
    assert resp.status_code == status and resp.is_json
    body = resp.get_json()
    assert body["error"] and (code is None or body["code"] == code)


def basic(account: dict) -> dict[str, str]:
    pair = base64.b64encode(f"{account['name']}:{account['token']}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


@pytest.mark.parametrize("url", ["/tiles/parcels.json", "/styles/parcels.json"])
def test_a_gis_fetches_them_with_basic_and_is_challenged_without(anonymous, accounts, url):
    resp = anonymous.get(url)
    assert resp.status_code == 401 and resp.is_json
    assert resp.headers["WWW-Authenticate"].startswith("Basic ")
    assert anonymous.get(url, headers=basic(accounts["viewer"])).status_code == 200


def style(client, layer: str, query: str = "") -> dict:
    resp = client.get(f"/styles/{layer}.json{query}")
    assert resp.status_code == 200, resp.data[:300]
    doc = resp.get_json()
    assert doc["version"] == 8
    return doc


def by_id(doc: dict) -> dict[str, dict]:
    return {layer["id"]: layer for layer in doc["layers"]}


def pairs(match: list) -> tuple[dict, str]:
    """A ["match", input, label, output, ..., default] as ({label: output}, default)."""
    body, default = match[2:-1], match[-1]
    out = {}
    for label, color in zip(body[0::2], body[1::2], strict=True):
        for value in label if isinstance(label, list) else [label]:
            out[value] = color
    return out, default


def test_parcels_are_filled_by_stage_and_outlined_in_the_maps_colours(client):
    layers = by_id(style(client, "parcels"))
    fill = layers["parcels-fill"]["paint"]
    assert fill["fill-color"][:2] == ["match", ["get", "stage"]]
    stages = {s.value: c for s, c in STAGE_COLORS.items()}
    assert pairs(fill["fill-color"]) == (stages, UNKNOWN_FILL)
    assert set(pairs(fill["fill-color"])[0]) == {s.value for s in Stage}
    assert fill["fill-opacity"] == PARCEL_STYLES["plain"]["fillOpacity"]
    for look in ("line", "commercial", "dispute"):
        paint = layers[f"parcels-{look}"]["paint"]
        expected = PARCEL_STYLES["plain" if look == "line" else look]
        assert (paint["line-color"], paint["line-width"]) == (expected["color"], expected["weight"])
    assert layers["parcels-commercial"]["paint"]["line-dasharray"] == [2, 1]  # "6 3" at 3 px


def test_zones_landuse_and_farmland_in_the_maps_colours(client, db):
    zone = by_id(style(client, "zones"))["zones-line"]["paint"]
    assert (zone["line-color"], zone["line-width"]) == (ZONE_STYLE["color"], ZONE_STYLE["weight"])
    assert zone["line-dasharray"] == [4, 2]  # "8 4" at 2 px
    assert "zones-fill" not in by_id(style(client, "zones"))  # the map does not fill zones
    landuse = by_id(style(client, "landuse"))
    colors, default = pairs(landuse["landuse-fill"]["paint"]["fill-color"])
    codes = set(db.execute(text("SELECT DISTINCT land_use_code FROM landuse_patch")).scalars())
    assert set(colors) == {c for c in codes if c[:2] in LANDUSE_CLASS_COLORS} and len(colors) > 3
    assert all(color == LANDUSE_CLASS_COLORS[code[:2]] for code, color in colors.items())
    assert default == LANDUSE_STYLE["fillColor"]
    assert landuse["landuse-line"]["paint"]["line-color"] == LANDUSE_STYLE["color"]
    farmland = by_id(style(client, "farmland"))
    assert farmland["farmland-fill"]["paint"] == {
        "fill-color": FARMLAND_STYLE["fillColor"],
        "fill-opacity": FARMLAND_STYLE["fillOpacity"],
    }
    assert farmland["farmland-line"]["paint"]["line-color"] == FARMLAND_STYLE["color"]


def gets(expression) -> set[str]:
    """The attributes an expression reads (["get", name] anywhere inside it)."""
    if not isinstance(expression, list):
        return set()
    if expression[:1] == ["get"]:
        return {expression[1]}
    return set().union(*(gets(part) for part in expression))


@pytest.mark.parametrize("layer", LAYERS)
def test_a_style_reads_its_tilejson_and_only_the_fields_it_names(client, layer):
    doc = style(client, layer, "?zone=C&labels=1")
    assert doc["sources"] == {
        layer: {"type": "vector", "url": f"http://localhost/tiles/{layer}.json?zone=C"}
    }
    described = tilejson(client, layer, "?zone=C")["vector_layers"]
    fields = {v["id"]: set(v["fields"]) for v in described}
    for drawn in doc["layers"]:
        assert drawn["source"] == layer and drawn["source-layer"] in fields
        used = gets(drawn.get("filter")) | gets(drawn.get("paint")) | gets(drawn.get("layout"))
        assert used <= fields[drawn["source-layer"]], drawn["id"]


def test_labels_only_when_asked_and_never_a_glyph_server(client):
    plain, labelled = style(client, "parcels"), style(client, "parcels", "?labels=1")
    assert not [x for x in plain["layers"] if x["type"] == "symbol"]
    labels = [x for x in labelled["layers"] if x["type"] == "symbol"]
    assert [x["layout"]["text-field"] for x in labels] == [["get", "code"]]
    assert "glyphs" not in plain and "glyphs" not in labelled  # nothing on the internet


def test_they_work_through_the_real_read_connections(settings, accounts):
    """As served: reads through autocommit, read-only connections."""
    from conftest import client_for

    from landmap import create_app

    served = client_for(create_app(settings), accounts["viewer"]["token"])
    for layer in LAYERS:
        assert served.get(f"/tiles/{layer}.json?zone=C").status_code == 200
        assert served.get(f"/styles/{layer}.json").status_code == 200
