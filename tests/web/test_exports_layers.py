"""Zones, land use, farmland and zone-boundary drafts as files: the same formats and one code
path as parcels, read back with GDAL, ezdxf and openpyxl; many chunks write every feature."""

import io
import zipfile

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from landmap.geo.gdal import pyogrio
from landmap.geo.units import M2_PER_MU
from landmap.services import exports

ZH = {"Accept-Language": "zh-CN", "Accept": "application/json"}


def fetch(client, url, tmp_path, name="out"):
    """The file ``url`` answers, written under tmp_path (a zip unpacked): its path."""
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.get_data(as_text=True)[:300])
    data = resp.data
    resp.close()
    fmt = url.split("?")[0].rsplit(".", 1)[1]
    if fmt == "zip":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            shp = [n for n in zf.namelist() if n.endswith(".shp")]
            zf.extractall(tmp_path / name)
        return tmp_path / name / shp[0]
    path = tmp_path / f"{name}.{fmt}"
    path.write_bytes(data)
    return path


def read(path):
    return pyogrio().read_dataframe(path, encoding="GBK" if path.suffix == ".shp" else None)


def api_zones(client, query=""):
    resp = client.get(f"/api/zones?{query}")
    assert resp.status_code == 200
    return {f["properties"]["code"]: f["properties"] for f in resp.get_json()["features"]}


def count(db, table):
    return db.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


@pytest.mark.parametrize("fmt", ["zip", "gpkg", "geojson"])
def test_zones_read_back_as_the_api_gives_them(client, tmp_path, fmt):
    frame = read(fetch(client, f"/exports/zones.{fmt}", tmp_path))
    api = api_zones(client)
    assert sorted(frame.QYDM) == sorted(api) and len(api) == 3
    for row in frame.itertuples():
        assert api[row.QYDM]["name"] == row.QYMC
        assert pytest.approx(api[row.QYDM]["area_mu"], abs=0.005) == row.MJMU
        if fmt != "geojson":
            assert abs(row.geometry.area / M2_PER_MU - row.MJMU) <= 0.01
    assert frame.crs.to_epsg() == (4326 if fmt == "geojson" else 4546)


def test_zones_filter_by_zone_and_as_of(client, tmp_path):
    assert list(read(fetch(client, "/exports/zones.gpkg?zone=C", tmp_path, "c")).QYDM) == ["C"]
    early = read(fetch(client, "/exports/zones.gpkg?as_of=2011-01-01", tmp_path, "early"))
    assert sorted(early.QYDM) == sorted(api_zones(client, "as_of=2011-01-01"))


@pytest.mark.parametrize(
    ("layer", "table"), [("landuse", "landuse_patch"), ("farmland", "farmland")]
)
def test_land_use_and_farmland_keep_their_standard_fields(client, db, tmp_path, layer, table):
    frame = read(fetch(client, f"/exports/{layer}.zip", tmp_path))
    assert len(frame) == count(db, table) > 0
    assert {"BSM", "DLBM", "MJMU"} <= set(frame.columns)
    assert all(len(name) <= 10 for name in frame.columns)
    mu = dict(db.execute(text(f"SELECT code, area_mu FROM {table}")).all())
    assert all(abs(mu[r.BSM] - r.MJMU) <= 0.005 for r in frame.itertuples())
    if layer == "landuse":
        assert {"DLMC", "TBMJ", "QSDWMC"} <= set(frame.columns) and "水田" in set(frame.DLMC)
    for zone in ("A", "B", "C"):
        inside = db.execute(
            text(f"""SELECT count(*) FROM {table} t JOIN zone_boundary b ON b.status = 'current'
                     JOIN zone z ON z.id = b.zone_id AND z.code = :z
                     WHERE ST_Area(ST_Intersection(t.geom, b.geom)) > 0"""),
            {"z": zone},
        ).scalar_one()
        found = read(fetch(client, f"/exports/{layer}.gpkg?zone={zone}", tmp_path, zone))
        assert len(found) == inside, zone


def test_a_draft_is_exported_and_an_unknown_one_is_a_translated_404(client, db, tmp_path):
    draft = db.execute(
        text("""INSERT INTO zone_boundary (zone_id, status, note, created_by, geom)
                SELECT zone_id, 'draft', '东扩', 'tester', ST_Multi(ST_Buffer(geom, 20))
                FROM zone_boundary WHERE status = 'current'
                  AND zone_id = (SELECT id FROM zone WHERE code = 'C') RETURNING id, area_mu""")
    ).one()
    frame = read(fetch(client, f"/exports/drafts/{draft.id}.zip", tmp_path))
    assert len(frame) == 1 and frame.QYDM[0] == "C" and frame.BZ[0] == "东扩"
    assert frame.MJMU[0] == pytest.approx(draft.area_mu, abs=0.005)
    for url in (f"/exports/drafts/{draft.id + 1000}.gpkg", "/exports/drafts/x.gpkg"):
        resp = client.get(url, headers=ZH)
        assert resp.status_code == 404 and resp.is_json, url
        assert any("\u4e00" <= ch <= "\u9fff" for ch in resp.get_json()["error"])
    resp = client.get(f"/exports/drafts/{draft.id}.gpkg?zone=C", headers=ZH)
    assert resp.status_code == 400 and resp.get_json()["code"] == "export_filter_not_taken"


def test_an_unknown_layer_is_a_translated_404(client):
    resp = client.get("/exports/roads.gpkg", headers=ZH)
    assert resp.status_code == 404 and resp.get_json()["code"] == "export_no_layer"
    assert "没有可导出的图层" in resp.get_json()["error"]


def test_a_filter_a_layer_does_not_take_is_refused(client):
    resp = client.get("/exports/landuse.gpkg?stage=not_started", headers=ZH)
    assert resp.status_code == 400 and resp.get_json()["code"] == "export_filter_not_taken"
    assert "stage" in resp.get_json()["error"] and "zone" in resp.get_json()["error"]


def test_the_workbook_of_land_use_has_mu_and_no_geometry(client, db):
    resp = client.get("/exports/landuse.xlsx")
    wb = load_workbook(io.BytesIO(resp.data))
    resp.close()
    assert wb.sheetnames == ["说明", "地类图斑"]
    rows = list(wb["地类图斑"].values)
    assert len(rows) - 1 == count(db, "landuse_patch")
    assert "面积(亩)" in rows[0] and "地类编码" in rows[0] and not {"geom", "wkb"} & set(rows[0])
    mu = rows[0].index("面积(亩)")
    assert all(isinstance(r[mu], int | float) and r[mu] > 0 for r in rows[1:])
    assert wb["地类图斑"].cell(row=2, column=mu + 1).number_format == "0.00"


def test_the_workbook_keeps_a_formula_as_text(client, db):
    code = db.execute(text("SELECT code FROM parcel WHERE zone_id = 3 ORDER BY code")).scalar()
    db.execute(text("UPDATE parcel SET owner = '=1+2' WHERE code = :c"), {"c": code})
    resp = client.get(f"/exports/parcels.xlsx?codes={code}")
    ws = load_workbook(io.BytesIO(resp.data))["宗地"]
    resp.close()
    assert ws.cell(row=2, column=2).value == "=1+2" and ws.cell(row=2, column=2).data_type == "s"


def test_dxf_of_zones_has_a_layer_per_zone_and_codes_as_text(client, tmp_path):
    ezdxf = pytest.importorskip("ezdxf")
    doc = ezdxf.readfile(fetch(client, "/exports/zones.dxf", tmp_path))
    assert doc.encoding == "gbk"
    texts = {t.dxf.text: t.dxf.layer for t in doc.modelspace().query("TEXT")}
    assert texts == {code: code for code in api_zones(client)}
    assert set(texts) <= {layer.dxf.name for layer in doc.layers}


# --- many chunks -----------------------------------------------------------------------------


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(exports, "CHUNK", 7)


def api_codes(client, query="zone=C"):
    resp = client.get(f"/api/parcels?{query}&limit=20000")
    return {f["properties"]["code"]: f["properties"] for f in resp.get_json()["features"]}


@pytest.mark.parametrize("fmt", ["zip", "gpkg", "geojson"])
def test_many_chunks_write_every_parcel(client, tmp_path, small_chunks, fmt):
    frame = read(fetch(client, f"/exports/parcels.{fmt}?zone=C", tmp_path))
    api = api_codes(client)
    assert len(api) > 10 * exports.CHUNK
    assert sorted(frame.ZDDM) == sorted(api)
    assert all(abs(r.MJMU - api[r.ZDDM]["area_mu"]) <= 0.005 for r in frame.itertuples())


def test_many_chunks_write_every_row_of_the_workbook(client, small_chunks):
    resp = client.get("/exports/parcels.xlsx?zone=C")
    rows = list(load_workbook(io.BytesIO(resp.data))["宗地"].values)
    resp.close()
    assert sorted(r[0] for r in rows[1:]) == sorted(api_codes(client))


def test_many_chunks_write_every_parcel_to_dxf(client, tmp_path, small_chunks):
    ezdxf = pytest.importorskip("ezdxf")
    from landmap.domain import Stage

    doc = ezdxf.readfile(fetch(client, "/exports/parcels.dxf?zone=C", tmp_path))
    api = api_codes(client)
    texts = {t.dxf.text: t.dxf.layer for t in doc.modelspace().query("TEXT")}
    assert set(texts) == set(api)
    assert all(texts[code] == Stage(p["stage"]).label_zh for code, p in api.items())
    assert {s.label_zh for s in Stage} <= {layer.dxf.name for layer in doc.layers}
    lines = doc.modelspace().query("POLYLINE")
    assert len(lines) >= len(api) and all(line.is_closed for line in lines)


def test_the_cli_exports_every_layer(runner, settings, demo, tmp_path):
    from conftest import invoke

    for layer in ("zones", "landuse", "farmland"):
        out = tmp_path / f"{layer}.zip"
        r = invoke(runner, settings, "export", layer, str(out), "--format", "zip")
        assert r.exit_code == 0, r.output
        with zipfile.ZipFile(out) as zf:
            assert f"{layer}.cpg" in zf.namelist()
    out = tmp_path / "z.gpkg"
    r = invoke(runner, settings, "export", "zones", str(out), "--zone", "C")
    assert r.exit_code == 0 and list(read(out).QYDM) == ["C"]
    r = invoke(runner, settings, "export", "roads", str(tmp_path / "r.gpkg"))
    assert r.exit_code != 0 and "roads" in r.output
    r = invoke(runner, settings, "export", "landuse", str(tmp_path / "l.gpkg"), "--stage", "未启动")
    assert r.exit_code != 0 and "stage" in r.output
