"""Files that are not what their names say: refused before GDAL reads anything they point at.

The payload that read the server's files: a GDAL VRT document uploaded as ``x.geojson`` whose
layer is ``CSV:<any path>``, each line of the target file a record. GDAL opens a VRT whatever
the name; landmap's GDAL has no VRT (nor CSV, nor any driver but three) and every file is
checked by its bytes first."""

from __future__ import annotations

import http.server
import io
import os
import sqlite3
import subprocess
import sys
import threading
import uuid
import zipfile
from contextlib import closing

import geopandas as gpd
import pytest
import shapely
from conftest import client_for
from files import parcels, write_shp

from landmap import loaders
from landmap.geo import gdal
from landmap.loaders import LoadOptions, LoadRefused

# every record lands outside the region, so a reader that followed the VRT would list the
# secret's lines as the codes of bad records: exactly what the probe saw
VRT = """<OGRVRTDataSource>
  <OGRVRTLayer name="zones">
    <SrcDataSource>{source}</SrcDataSource>
    <OpenOptions><OOI key="HEADERS">NO</OOI></OpenOptions>
    <SrcSQL>SELECT field_1 AS code, 'POLYGON((1 1,2 1,2 2,1 1))' AS wkt FROM secret</SrcSQL>
    <GeometryField encoding="WKT" field="wkt"/>
    <LayerSRS>EPSG:4326</LayerSRS>
  </OGRVRTLayer>
</OGRVRTDataSource>
"""


@pytest.fixture
def secret(tmp_path):
    marker = f"SECRET-{uuid.uuid4().hex}"
    path = tmp_path / "secret.csv"
    path.write_text(f"{marker}-1\n{marker}-2\n")
    return path, marker


def vrt(secret_path) -> bytes:
    return VRT.format(source=f"CSV:{secret_path}").encode()


def refused(db, settings, path, kind="zones", **opts) -> str:
    with pytest.raises(LoadRefused) as info:
        loaders.load(db, settings, kind, path, LoadOptions(run_by="tester", zone="A", **opts))
    return str(info.value)


def test_gdal_has_only_the_three_drivers():
    assert set(gdal.pyogrio().list_drivers()) == {"ESRI Shapefile", "GPKG", "GeoJSON"}


def test_a_process_that_skips_the_guard_would_read_the_secret(secret, tmp_path):
    """The payload is real: a GDAL left as it comes opens it and reads the file."""
    path, marker = secret
    (tmp_path / "x.geojson").write_bytes(vrt(path))
    code = f"import pyogrio; print(pyogrio.read_dataframe({str(tmp_path / 'x.geojson')!r}))"
    plain = {k: v for k, v in os.environ.items() if k not in gdal.CONFIG}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=plain)
    assert marker in out.stdout


@pytest.mark.parametrize("name", ["x.geojson", "x.json", "x.gpkg", "x.shp"])
def test_the_vrt_payload_is_refused_under_any_name(db, settings, secret, tmp_path, name):
    path, marker = secret
    target = tmp_path / name
    target.write_bytes(vrt(path))
    if name.endswith(".shp"):
        for ext in (".shx", ".dbf"):
            target.with_suffix(ext).write_bytes(vrt(path))
    message = refused(db, settings, target)
    assert marker not in message
    assert "content is not" in message or "not a shapefile" in message


def test_the_vrt_payload_inside_a_zip_is_refused(db, settings, secret, tmp_path):
    path, marker = secret
    archive = tmp_path / "x.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for ext in (".shp", ".shx", ".dbf", ".prj"):
            zf.writestr(f"x{ext}", vrt(path))
    message = refused(db, settings, archive)
    assert marker not in message and "not a shapefile" in message


def test_a_csv_and_an_ovr_are_refused(db, settings, secret, tmp_path):
    path, marker = secret
    csv = tmp_path / "x.geojson"
    csv.write_text(f"code,wkt\n{marker},POLYGON((1 1,2 1,2 2,1 1))\n")
    assert marker not in refused(db, settings, csv)
    ovr = tmp_path / "x.ovr"
    ovr.write_bytes(path.read_bytes())
    assert "not a .shp" in refused(db, settings, ovr)


def test_a_vsicurl_path_is_refused_without_a_request(db, settings, tmp_path):
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/x.geojson"
        assert "does not exist" in refused(db, settings, f"/vsicurl/{url}")
        # and a VRT whose source is a URL never reaches GDAL either
        (tmp_path / "u.geojson").write_bytes(VRT.format(source=f"/vsicurl/{url}").encode())
        refused(db, settings, tmp_path / "u.geojson")
        # nor does GDAL itself fetch a /vsicurl/ path handed to it directly
        with pytest.raises(Exception):  # noqa: B017
            gdal.pyogrio().read_info(f"/vsicurl/{url}")
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []


def _gpkg(tmp_path, name="zd.gpkg"):
    path = tmp_path / name
    parcels(3).to_file(path, layer="zd", engine="pyogrio")
    return path


@pytest.mark.parametrize(
    "statement, what",
    [
        ("CREATE TRIGGER evil AFTER INSERT ON zd BEGIN DELETE FROM zd; END", "a trigger"),
        # a standard name does not make a trigger acceptable when it does something else
        (
            "CREATE TRIGGER rtree_zd_geom_insert2 AFTER INSERT ON zd "
            "BEGIN SELECT load_extension('x'); END",
            "a trigger",
        ),
        ("CREATE VIEW zd_view AS SELECT * FROM zd", "a view"),
        ("CREATE VIRTUAL TABLE words USING fts5(x)", "a virtual table"),
    ],
)
def test_a_geopackage_with_code_of_its_own_is_refused(db, settings, tmp_path, statement, what):
    path = _gpkg(tmp_path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(statement)
        conn.commit()
    message = refused(db, settings, path, kind="parcels", layer="zd")
    assert what in message


def test_a_plain_geopackage_with_its_spatial_index_still_loads(db, settings, tmp_path):
    path = _gpkg(tmp_path)
    with closing(sqlite3.connect(path)) as conn:
        kinds = {r[0] for r in conn.execute("SELECT type FROM sqlite_master")}
    assert "trigger" in kinds  # GDAL's rtree triggers: standard, accepted
    report = loaders.load(db, settings, "parcels", path, LoadOptions(run_by="tester"))
    assert report.inserted == 3


def test_a_sqlite_file_that_is_not_a_geopackage_is_refused(db, settings, tmp_path):
    path = tmp_path / "x.gpkg"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert "content is not a GeoPackage" in refused(db, settings, path, kind="parcels")


def test_deep_wide_and_empty_geojson_are_refused(db, settings, tmp_path):
    deep = tmp_path / "deep.geojson"
    deep.write_text('{"type": "FeatureCollection", "features": ' + "[" * 5000 + "]" * 5000 + "}")
    assert "not valid JSON" in refused(db, settings, deep)
    wide = tmp_path / "wide.geojson"
    gdf = gpd.GeoDataFrame(
        {f"f{i}": [1] for i in range(2000)}, geometry=[shapely.box(110.5, 29.1, 110.51, 29.11)]
    )
    wide.write_text(gdf.set_crs(4326).to_json())
    assert "2000 properties" in refused(db, settings, wide)
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    assert "no features" in refused(db, settings, empty)


def test_a_field_name_with_a_colon_loads(db, settings, tmp_path):
    gdf = parcels(2)
    gdf["x :foo"] = ["a", "b"]
    path = tmp_path / "zd.gpkg"
    gdf.to_file(path, layer="zd", engine="pyogrio")
    report = loaders.load(db, settings, "parcels", path, LoadOptions(run_by="tester"))
    assert report.inserted == 2


def test_control_characters_in_text_are_dropped(db, settings, tmp_path):
    from sqlalchemy import text

    gdf = parcels(1)
    gdf["QLRMC"] = ["覃明\x01华\x00"]
    path = write_shp(gdf, tmp_path / "zd.shp", encoding="UTF-8")
    loaders.load(db, settings, "parcels", path, LoadOptions(run_by="tester"))
    owner = db.execute(text("SELECT owner FROM parcel WHERE code = :c"),
                       {"c": gdf["ZDDM"][0]}).scalar_one()  # fmt: skip
    assert owner == "覃明华"


# --- through the web: a planner's draft upload ---------------------------------------------


def _zip_of(payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for ext in (".shp", ".shx", ".dbf"):
            zf.writestr(f"x{ext}", payload)
    return buf.getvalue()


@pytest.mark.parametrize("name", ["x.geojson", "x.gpkg", "x.zip", "x.json"])
def test_a_planner_uploading_the_payload_reads_nothing(app, accounts, secret, name):
    path, marker = secret
    payload = vrt(path)
    body = _zip_of(payload) if name.endswith(".zip") else payload
    planner = client_for(app, accounts["planner"]["token"])
    resp = planner.post("/api/zones/A/drafts", data={"file": (io.BytesIO(body), name)},
                        content_type="multipart/form-data")  # fmt: skip
    assert 400 <= resp.status_code < 500, resp.get_data(as_text=True)
    answer = resp.get_data(as_text=True)
    assert marker not in answer
    assert "/tmp" not in answer and "landmap-upload" not in answer
    assert name in answer  # the refusal names the file as the planner sent it


def test_an_upload_named_ovr_or_csv_is_refused(app, accounts, secret):
    path, _marker = secret
    planner = client_for(app, accounts["planner"]["token"])
    for name in ("x.ovr", "x.csv", "x.vrt"):
        resp = planner.post("/api/zones/A/drafts",
                            data={"file": (io.BytesIO(path.read_bytes()), name)},
                            content_type="multipart/form-data")  # fmt: skip
        assert resp.status_code == 415
