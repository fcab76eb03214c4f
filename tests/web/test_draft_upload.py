"""A draft uploaded as a file: the choices the form offers when the file does not say its
coordinate system or its text encoding, and the loader's refusals, translated."""

from __future__ import annotations

import io
import json
import re
import zipfile

import geopandas as gpd
import pytest
import shapely
from conftest import client_for
from sqlalchemy import text

CHINESE = re.compile(r"[\u4e00-\u9fff]")
NEVER_SHOWN = re.compile(r"--[a-z]|LANDMAP_")
X0, Y0 = 462000.0, 3214000.0  # zone T, EPSG:4546 (CGCS2000 GK CM 111°E, no zone prefix)


@pytest.fixture
def zone_t(db):
    insert = text("INSERT INTO zone (code, name) VALUES ('T', 'T区') RETURNING id")
    zid = db.execute(insert).scalar()
    square = shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)
    db.execute(
        text(
            "INSERT INTO zone_boundary (zone_id, status, valid_from, geom) VALUES "
            "(:z, 'current', '2020-01-01', ST_Multi(ST_GeomFromText(:g, 4546)))"
        ),
        {"z": zid, "g": square.wkt},
    )
    return zid


@pytest.fixture
def planner(app, accounts):
    return client_for(app, accounts["planner"]["token"])


def zipped_shapefile(tmp_path, *, prj=True, cpg=True, ldid=None, encoding="GBK") -> io.BytesIO:
    """A draft of zone T grown by 50 m to the east (1575 mu), as a zipped shapefile written
    in ``encoding`` with a Chinese name; without its .prj or .cpg when asked, with the DBF
    language driver byte ``ldid``."""
    gdf = gpd.GeoDataFrame(
        {"QYMC": ["开发区扩区草案"]},
        geometry=[shapely.box(X0, Y0, X0 + 1050, Y0 + 1000)],
        crs="EPSG:4546",
    )
    gdf.to_file(tmp_path / "draft.shp", engine="pyogrio", encoding=encoding)
    if ldid is not None:
        dbf = tmp_path / "draft.dbf"
        data = bytearray(dbf.read_bytes())
        data[29] = ldid
        dbf.write_bytes(bytes(data))
    parts = [".shp", ".shx", ".dbf"] + [".prj"] * prj + [".cpg"] * cpg
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for ext in parts:
            zf.write(tmp_path / f"draft{ext}", f"draft{ext}")
    buf.seek(0)
    return buf


def upload(client, buf, name="边界草案.zip", lang=None, **choices):
    query = f"?lang={lang}" if lang else ""
    return client.post(
        f"/api/zones/T/drafts{query}",
        data={"file": (buf, name), "note": "上传", **choices},
        content_type="multipart/form-data",
    )


def test_a_shapefile_without_prj_is_refused_naming_the_choice_and_loads_once_chosen(
    planner, zone_t, tmp_path
):
    resp = upload(planner, zipped_shapefile(tmp_path, prj=False))
    assert resp.status_code == 400, resp.get_json()
    body = resp.get_json()
    assert body["code"] == "crs_not_stated"
    assert "文件未注明坐标系" in body["error"] and "请选择其坐标系" in body["error"]
    assert not NEVER_SHOWN.search(body["error"]), body["error"]
    en = upload(planner, zipped_shapefile(tmp_path, prj=False), lang="en").get_json()
    assert "choose its coordinate system" in en["error"] and not NEVER_SHOWN.search(en["error"])
    chosen = upload(planner, zipped_shapefile(tmp_path, prj=False), srs="EPSG:4546")
    assert chosen.status_code == 201, chosen.get_json()
    assert chosen.get_json()["area_mu"] == pytest.approx(1575, abs=0.05)
    typed = upload(planner, zipped_shapefile(tmp_path, prj=False), srs="epsg", srs_epsg="4546")
    assert typed.status_code == 201, typed.get_json()


def test_the_wrong_coordinate_system_chosen_is_refused_by_the_region(planner, zone_t, tmp_path):
    resp = upload(planner, zipped_shapefile(tmp_path, prj=False), srs="EPSG:4545")  # CM 108°E
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["code"] == "load_outside_region" and "坐标系很可能有误" in body["error"]
    assert body["problems"] and "第 1 条记录" in body["problems"][0]


@pytest.mark.parametrize(
    ("choices", "code"),
    [
        ({"srs": "+proj=longlat +datum=WGS84"}, "crs_choice_not_epsg"),
        ({"srs": "EPSG:99999"}, "crs_not_known"),
        ({"srs": "epsg", "srs_epsg": ""}, "crs_choice_missing"),
        ({"encoding": "klingon"}, "encoding_unknown"),
        ({"encoding": "latin-1"}, "encoding_not_offered"),
    ],
)
def test_bad_choices_are_clear_refusals(planner, zone_t, tmp_path, choices, code):
    resp = upload(planner, zipped_shapefile(tmp_path), **choices)
    assert resp.status_code == 400 and resp.get_json()["code"] == code, resp.get_json()
    error = resp.get_json()["error"]
    assert CHINESE.search(error) and ("坐标系" in error or "文字编码" in error), error
    en = upload(planner, zipped_shapefile(tmp_path), lang="en", **choices).get_json()
    assert en["code"] == code and not CHINESE.search(en["error"].replace("'", "")), en


def test_a_gbk_file_without_cpg_loads_with_the_encoding_chosen(planner, db, zone_t, tmp_path):
    """A DBF whose language byte says Windows-1252 over GBK text: refused in Chinese naming the
    encoding to choose; with GBK chosen it loads, and the import records GBK as chosen."""
    refused = upload(planner, zipped_shapefile(tmp_path, cpg=False, ldid=0x03))
    assert refused.status_code == 400, refused.get_json()
    body = refused.get_json()
    assert body["code"] in {"encoding_not_valid", "encoding_garbled"}
    assert "文字编码" in body["error"] and not NEVER_SHOWN.search(body["error"])
    chosen = upload(planner, zipped_shapefile(tmp_path, cpg=False, ldid=0x03), encoding="GBK")
    assert chosen.status_code == 201, chosen.get_json()
    run = db.execute(
        text("SELECT encoding, encoding_reason FROM import_run ORDER BY id DESC LIMIT 1")
    ).one()
    assert run == ("gbk", "chosen by the user")
    plain = upload(planner, zipped_shapefile(tmp_path, cpg=False), encoding="GB18030")
    assert plain.status_code == 201, plain.get_json()


def test_bad_records_of_an_upload_are_listed_in_the_locale(planner, zone_t, tmp_path):
    path = tmp_path / "draft.geojson"
    point = {"type": "Point", "coordinates": [110.5, 29.05]}
    features = [{"type": "Feature", "properties": {}, "geometry": point}]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    resp = upload(planner, io.BytesIO(path.read_bytes()), name="draft.geojson")
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["code"] == "load_bad_records" and "1 条错误记录" in body["error"]
    assert body["problems"] == ["第 1 条记录（无编码）：不是面（Point）"]
    en = upload(planner, io.BytesIO(path.read_bytes()), name="draft.geojson", lang="en")
    assert en.get_json()["problems"] == ["record 1 (no code): not a polygon (Point)"]
    assert "repair" not in en.get_json()["error"]  # the CLI's option is not offered on the web


def test_the_upload_form_offers_the_zones_usual_systems_and_encodings(client, zone_t):
    page = client.get("/zones/T/drafts").get_data(as_text=True)
    form = page.split('id="upload-form"')[1].split("</form>")[0]
    for epsg in (4545, 4546, 4547, 4524, 4525, 4526, 2382, 2361, 2434, 2413):
        assert f'value="EPSG:{epsg}"' in form
    assert "2000国家大地坐标系 3度带高斯-克吕格投影，中央经线 111°E" in form
    assert "1980西安坐标系" in form and "1954北京坐标系" in form
    assert 'name="srs_epsg"' in form and 'value="epsg"' in form
    for value in ("gbk", "gb18030", "utf-8"):
        assert f'value="{value}"' in form
    english = client.get("/zones/T/drafts?lang=en").get_data(as_text=True)
    assert "CGCS2000 3-degree Gauss-Krüger, central meridian 111°E (EPSG:4546)" in english
