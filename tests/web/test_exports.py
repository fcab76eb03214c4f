"""Exports for QGIS, ArcGIS and CAD: files written by GDAL (and ezdxf), read back with GDAL."""

import io
import tempfile
import zipfile
from pathlib import Path

import pytest
from conftest import client_for, invoke
from openpyxl import load_workbook
from sqlalchemy import text

from landmap.domain import Stage
from landmap.geo.gdal import pyogrio
from landmap.geo.units import M2_PER_MU

FIELDS = ("ZDDM", "QLRMC", "TDZL", "TDYT", "ZDMJ", "MJMU", "ZSJD", "XMMC", "PCMC")


def api_parcels(client, query="zone=C"):
    resp = client.get(f"/api/parcels?{query}&limit=20000")
    assert resp.status_code == 200
    return {f["properties"]["code"]: f["properties"] for f in resp.get_json()["features"]}


def read_back(frame, api, multi=True):
    assert len(frame) == len(api) > 0
    assert frame.crs.to_epsg() == 4546
    if multi:  # a shapefile's polygons hold any number of parts: GDAL reads one part as Polygon
        assert set(frame.geometry.geom_type) == {"MultiPolygon"}
    for row in frame.itertuples():
        shown = api[row.ZDDM]
        assert shown["owner"] == row.QLRMC or (row.QLRMC is None and not shown["owner"])
        assert abs(row.geometry.area / M2_PER_MU - shown["area_mu"]) <= 0.01, row.ZDDM
        assert pytest.approx(shown["area_mu"], abs=0.005) == row.MJMU


@pytest.fixture(autouse=True)
def _closed(monkeypatch):
    """Every response is closed (a file download holds its file open until then)."""
    from werkzeug.test import Client

    opened = []
    real = Client.open

    def open_(self, *a, **kw):
        resp = real(self, *a, **kw)
        opened.append(resp)
        return resp

    monkeypatch.setattr(Client, "open", open_)
    yield
    for resp in opened:
        resp.close()


def unzip(data, tmp_path):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path)
    return names


def test_a_shapefile_reads_back_as_the_api_gives_it(client, tmp_path):
    resp = client.get("/exports/parcels.zip?zone=C")
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    names = unzip(resp.data, tmp_path)
    assert names == {f"parcels{s}" for s in (".shp", ".shx", ".dbf", ".prj", ".cpg")}
    assert (tmp_path / "parcels.cpg").read_text().strip() == "GBK"
    assert "CGCS2000_3_Degree_GK_CM_111E" in (tmp_path / "parcels.prj").read_text()
    frame = pyogrio().read_dataframe(tmp_path / "parcels.shp", encoding="GBK")
    assert list(frame.columns)[:9] == list(FIELDS)
    read_back(frame, api_parcels(client), multi=False)
    assert set(frame.ZSJD) <= {stage.label_zh for stage in Stage} and "未启动" in set(frame.ZSJD)


def test_the_working_directory_is_removed(client):
    before = set(Path(tempfile.gettempdir()).glob("landmap-export-*"))
    assert client.get("/exports/parcels.zip?zone=C").status_code == 200
    assert client.get("/exports/parcels.zip?zone=C&srs=EPSG:1").status_code == 400
    assert set(Path(tempfile.gettempdir()).glob("landmap-export-*")) == before


def test_utf8_on_request_and_another_srs(client, tmp_path):
    resp = client.get("/exports/parcels.zip?zone=C&encoding=utf-8&srs=EPSG:4545")
    assert resp.status_code == 200
    unzip(resp.data, tmp_path)
    assert "UTF" in (tmp_path / "parcels.cpg").read_text().upper()
    frame = pyogrio().read_dataframe(tmp_path / "parcels.shp")
    assert frame.crs.to_epsg() == 4545 and len(frame) == len(api_parcels(client))


def test_a_geopackage_reads_back_as_the_api_gives_it(client, tmp_path):
    resp = client.get("/exports/parcels.gpkg?zone=C")
    assert resp.status_code == 200
    (tmp_path / "p.gpkg").write_bytes(resp.data)
    read_back(pyogrio().read_dataframe(tmp_path / "p.gpkg"), api_parcels(client))


def test_geojson_is_in_wgs84_and_filters_by_stage(client, tmp_path):
    resp = client.get("/exports/parcels.geojson?zone=C&stage=not_started")
    assert resp.status_code == 200
    (tmp_path / "p.geojson").write_bytes(resp.data)
    frame = pyogrio().read_dataframe(tmp_path / "p.geojson")
    assert frame.crs.to_epsg() == 4326
    assert len(frame) == len(api_parcels(client, "zone=C&stage=not_started")) > 0
    x0, y0, x1, y1 = frame.total_bounds
    assert 110 < x0 < x1 < 111 and 29 < y0 < y1 < 30


def test_codes_pick_parcels(client, tmp_path):
    codes = sorted(api_parcels(client))[:3]
    resp = client.get("/exports/parcels.gpkg?codes=" + ",".join(codes))
    (tmp_path / "p.gpkg").write_bytes(resp.data)
    assert sorted(pyogrio().read_dataframe(tmp_path / "p.gpkg").ZDDM) == codes


def test_the_workbook_has_chinese_headers_and_mu(client):
    resp = client.get("/exports/parcels.xlsx?zone=C")
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data))["宗地"]
    rows = list(ws.values)
    assert rows[0][:3] == ("宗地代码", "权利人名称", "土地坐落") and "面积(亩)" in rows[0]
    api = api_parcels(client)
    assert len(rows) - 1 == len(api)
    mu = rows[0].index("面积(亩)")
    assert all(r[mu] == pytest.approx(api[r[0]]["area_mu"], abs=0.005) for r in rows[1:])


def test_dxf_has_a_layer_per_stage_and_codes_as_text(client, tmp_path):
    ezdxf = pytest.importorskip("ezdxf")
    resp = client.get("/exports/parcels.dxf?zone=C")
    assert resp.status_code == 200
    (tmp_path / "p.dxf").write_bytes(resp.data)
    doc = ezdxf.readfile(tmp_path / "p.dxf")
    api = api_parcels(client)
    texts = {t.dxf.text: t.dxf.layer for t in doc.modelspace().query("TEXT")}
    assert set(texts) == set(api)
    assert "未启动" in {layer.dxf.name for layer in doc.layers}
    lines = doc.modelspace().query("POLYLINE")  # DXF R12, streamed
    assert len(lines) >= len(api) and all(line.is_closed for line in lines)
    first = next(iter(list(lines)[0].points()))
    x, y = first.x, first.y
    assert 300_000 < x < 700_000 and 3_000_000 < y < 3_500_000  # metres of EPSG:4546


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/exports/parcels.pdf", "export_bad_format"),
        ("/exports/parcels.zip?srs=EPSG:3857", "export_bad_srs"),
        ("/exports/parcels.zip?encoding=latin-1", "export_bad_encoding"),
        ("/exports/parcels.zip?zone=Q", "unknown_zone"),
    ],
)
def test_bad_requests_are_translated_refusals(client, url, code):
    resp = client.get(url, headers={"Accept-Language": "zh-CN", "Accept": "application/json"})
    assert resp.status_code == 400 and resp.is_json
    body = resp.get_json()
    assert body["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["error"]), body["error"]


def test_a_format_not_a_download_is_refused_on_a_page(client):
    resp = client.get("/exports/parcels.shp", headers={"Accept-Language": "zh-CN"})
    assert resp.status_code == 400 and "导出格式" in resp.get_data(as_text=True)


def test_an_owner_gbk_cannot_write_is_refused(client, db):
    code = sorted(api_parcels(client))[0]
    db.execute(text("UPDATE parcel SET owner = '𠀀村' WHERE code = :c"), {"c": code})
    db.commit()
    resp = client.get("/exports/parcels.zip?zone=C")
    assert resp.status_code == 400 and resp.get_json()["code"] == "export_not_encodable"
    assert code in resp.get_json()["error"]
    assert client.get("/exports/parcels.zip?zone=C&encoding=utf-8").status_code == 200


def test_text_longer_than_a_shapefile_keeps_is_refused(client, db):
    code = sorted(api_parcels(client))[0]
    db.execute(text("UPDATE parcel SET location = repeat('长', 128) WHERE code = :c"), {"c": code})
    resp = client.get("/exports/parcels.zip?zone=C")
    assert resp.status_code == 400 and resp.get_json()["code"] == "export_text_too_long"
    assert code in resp.get_json()["error"] and "TDZL" in resp.get_json()["error"]
    assert client.get("/exports/parcels.gpkg?zone=C").status_code == 200


def test_the_cli_writes_a_file(runner, settings, demo, tmp_path):
    out = tmp_path / "c.gpkg"
    r = invoke(runner, settings, "export", "parcels", str(out), "--zone", "C")
    assert r.exit_code == 0, r.output
    assert len(pyogrio().read_dataframe(out)) > 0
    out = tmp_path / "c.zip"
    r = invoke(runner, settings, "export", "parcels", str(out), "--format", "zip")
    assert r.exit_code == 0 and zipfile.is_zipfile(out)


def test_a_viewer_may_export_and_anonymous_may_not(app, accounts, anonymous):
    viewer = client_for(app, accounts["viewer"]["token"])
    assert viewer.get("/exports/parcels.gpkg?zone=C").status_code == 200
    assert anonymous.get("/exports/parcels.gpkg?zone=C").status_code == 401


def test_an_export_works_through_the_real_read_connections(settings, accounts):
    """The app as served: reads go through autocommit connections, where a streaming (named)
    cursor cannot run; an export takes a transaction of its own. (The other tests share one
    transactional connection for reads and writes, which hid this.)"""
    from conftest import client_for

    from landmap import create_app

    served = client_for(create_app(settings), accounts["viewer"]["token"])
    resp = served.get("/exports/parcels.zip?zone=C")
    assert resp.status_code == 200 and resp.data[:2] == b"PK"
    assert served.get("/exports/parcels.gpkg?zone=C").status_code == 200
