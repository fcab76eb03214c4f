"""Imports from the browser: a dry-run report first (nothing written), a load on confirm, the
upload never left behind, hostile files refused, administrators only."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import pytest
from conftest import client_for
from loaders.files import parcels, write_shp
from sqlalchemy import text

from landmap.services.imports import PENDING_SECONDS

CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def no_uploads_kept(settings):
    """Each test starts with no upload waiting (the var folder is the session's)."""
    shutil.rmtree(settings.var_dir / "imports", ignore_errors=True)
    yield
    shutil.rmtree(settings.var_dir / "imports", ignore_errors=True)


def zipped(tmp_path, gdf, name="parcels", **kw) -> io.BytesIO:
    """The parts of a shapefile written as a surveyor's (GBK, ESRI .prj) in a zip."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    shp = write_shp(gdf, folder / f"{name}.shp", **kw)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for part in sorted(shp.parent.iterdir()):
            zf.write(part, part.name)
    buf.seek(0)
    return buf


def upload(client, buf, name="宗地.zip", layer="parcels", lang=None, **form):
    query = f"?lang={lang}" if lang else ""
    return client.post(
        f"/api/imports{query}",
        data={"file": (buf, name), "layer": layer, **form},
        content_type="multipart/form-data",
    )


def counts(db) -> tuple[int, int, int, int]:
    return db.execute(
        text("""SELECT (SELECT count(*) FROM parcel), (SELECT count(*) FROM import_run),
                       (SELECT count(*) FROM project), (SELECT count(*) FROM acquisition_batch)""")
    ).one()


def left_behind(settings) -> list:
    root = settings.var_dir / "imports"
    return list(root.iterdir()) if root.exists() else []


def test_a_dry_run_reports_and_changes_nothing_then_confirm_loads(client, db, settings, tmp_path):
    before = counts(db)
    resp = upload(client, zipped(tmp_path, parcels(12, off_by={3: 0.05})))
    assert resp.status_code == 200, resp.get_json()
    report = resp.get_json()
    assert report["dry_run"] is True
    assert report["counts"] == {"read": 12, "new": 12, "updated": 0, "unchanged": 0, "rejected": 0}
    assert report["crs"]["value"] == "EPSG:4546" and CHINESE.search(report["crs"]["reason"])
    assert report["encoding"]["value"] == "gbk"
    assert report["fields"]["code"] == "ZDDM" and report["fields"]["owner"] == "QLRMC"
    assert [m["code"] for m in report["mismatches"]] == ["430802003099JA00004"]
    preview = report["preview"]
    assert preview["count"] == 12 and len(preview["features"]) == 12
    lon, lat = preview["features"][0]["geometry"]["coordinates"][0][0][0]
    assert 110 < lon < 111 and 28.8 < lat < 29.5  # EPSG:4326
    assert all(f["properties"]["new"] for f in preview["features"])
    assert counts(db) == before  # nothing in the register
    assert len(left_behind(settings)) == 1  # kept to be confirmed

    done = client.post(report["confirm_url"])
    assert done.status_code == 201, done.get_json()
    loaded = done.get_json()
    assert loaded["dry_run"] is False and loaded["counts"]["new"] == 12
    assert counts(db)[:2] == (before[0] + 12, before[1] + 1)
    assert left_behind(settings) == []
    owner = db.execute(
        text("SELECT owner FROM parcel WHERE code = '430802003099JA00001'")
    ).scalar_one()
    assert owner == "阳湖坪村村民委员会"
    record = client.get(f"/api/imports/{loaded['import_id']}").get_json()
    assert record["report"]["counts"]["new"] == 12
    assert record["report"]["mismatch_count"] == 1
    page = client.get(f"/imports/{loaded['import_id']}").get_data(as_text=True)
    assert "430802003099JA00004" in page and "ZDDM" in page
    again = client.post(report["confirm_url"])
    assert again.status_code == 404 and again.get_json()["code"] == "import_not_pending"


def test_a_reload_reports_what_changed(client, db, tmp_path):
    gdf = parcels(4)
    upload(client, zipped(tmp_path, gdf), dry_run="false")
    gdf.loc[1, "QLRMC"] = "张家界市永定区人民政府"
    report = upload(client, zipped(tmp_path, gdf)).get_json()
    assert report["counts"] == {"read": 4, "new": 0, "updated": 1, "unchanged": 3, "rejected": 0}
    (changed,) = report["preview"]["features"]
    assert changed["properties"]["code"] == "430802003099JA00002"
    assert changed["properties"]["new"] is False


def test_chinese_field_names_are_recognised(client, tmp_path):
    gdf = parcels(3).rename(
        columns={
            "ZDDM": "宗地代码",
            "QLRMC": "权利人名称",
            "ZL": "坐落",
            "ZDMJ": "宗地面积",
            "TDYT": "土地用途",
        }  # fmt: skip
    )
    resp = upload(client, zipped(tmp_path, gdf))
    assert resp.status_code == 200, resp.get_json()
    fields = resp.get_json()["fields"]
    assert fields["code"] == "宗地代码" and fields["owner"] == "权利人名称"
    assert fields["location"] == "坐落" and fields["official_area_m2"] == "宗地面积"
    assert fields["land_use"] == "土地用途"


def test_a_mapping_reads_a_surveyors_own_fields_and_is_recorded(client, db, tmp_path):
    gdf = parcels(3).rename(columns={"ZDDM": "DKH", "QLRMC": "DWMC"})
    refused = upload(client, zipped(tmp_path, gdf))
    assert refused.status_code == 400 and refused.get_json()["code"] == "fields_missing"
    assert "DKH" in refused.get_json()["error"]
    mapping = json.dumps({"code": "DKH", "owner": "dwmc"})
    resp = upload(client, zipped(tmp_path, gdf), fields=mapping, dry_run="false")
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["fields"]["owner"] == "DWMC"
    options = db.execute(
        text("SELECT options FROM import_run WHERE id = :i"), {"i": resp.get_json()["import_id"]}
    ).scalar_one()
    assert options["fields"] == {"code": "DKH", "owner": "dwmc"}


@pytest.mark.parametrize(
    ("mapping", "code", "named"),
    [
        ({"code": "NOPE"}, "field_mapping_unknown_column", "ZDDM"),
        ({"colour": "ZDDM"}, "field_mapping_unknown_target", "owner"),
    ],
)
def test_a_mapping_to_unknown_fields_is_refused_listing_the_fields(
    client, settings, tmp_path, mapping, code, named
):
    resp = upload(client, zipped(tmp_path, parcels(2)), fields=json.dumps(mapping))
    body = resp.get_json()
    assert resp.status_code == 400 and body["code"] == code, body
    assert named in body["error"] and CHINESE.search(body["error"])
    en = upload(client, zipped(tmp_path, parcels(2)), fields=json.dumps(mapping), lang="en")
    assert "its fields are" in en.get_json()["error"]
    assert left_behind(settings) == []


def test_create_projects_lists_in_a_dry_run_and_creates_when_confirmed(client, db, tmp_path):
    gdf = parcels(4)
    gdf["XMMC"] = ["康师傅集团食品项目"] * 3 + [""]
    gdf["PCMC"] = ["第一批"] * 3 + [""]
    refused = upload(client, zipped(tmp_path, gdf))
    assert refused.status_code == 400 and refused.get_json()["code"] == "load_bad_records"
    assert "康师傅集团食品项目" in refused.get_json()["problems"][0]
    before = counts(db)
    report = upload(client, zipped(tmp_path, gdf), create_projects="1").get_json()
    assert report["created"] == {
        "projects": ["康师傅集团食品项目"],
        "batches": [{"project": "康师傅集团食品项目", "batch": "第一批"}],
    }
    assert counts(db) == before
    loaded = client.post(report["confirm_url"]).get_json()
    assert loaded["created"] == report["created"]
    project = db.execute(
        text("""SELECT p.kind, p.stage, b.target_mu, count(pa.id) FROM project p
                JOIN acquisition_batch b ON b.project_id = p.id
                JOIN parcel pa ON pa.batch_id = b.id
                WHERE p.name = '康师傅集团食品项目' GROUP BY p.kind, p.stage, b.target_mu""")
    ).one()
    assert project[:2] == ("industrial", "pre_stage") and project[3] == 3
    assert float(project[2]) == pytest.approx(3 * 1600 / (10000 / 15), abs=0.01)


def test_a_file_without_its_crs_is_refused_with_the_choices(client, settings, tmp_path):
    resp = upload(client, zipped(tmp_path, parcels(2), prj=None))
    body = resp.get_json()
    assert resp.status_code == 400 and body["code"] == "crs_not_stated", body
    assert "EPSG:4546" in [c["value"] for c in body["choices"]["srs"]]
    assert "gbk" in [c["value"] for c in body["choices"]["encoding"]]
    assert left_behind(settings) == []
    chosen = upload(client, zipped(tmp_path, parcels(2), prj=None), srs="EPSG:4546")
    assert chosen.status_code == 200 and chosen.get_json()["counts"]["new"] == 2


def _vrt(tmp_path) -> io.BytesIO:
    vrt = '<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd</SrcDataSource>'
    return io.BytesIO((vrt + "</OGRVRTLayer></OGRVRTDataSource>").encode())


def _zip_slip(tmp_path) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../evil.shp", b"\x00\x00\x27\x0a" + b"\x00" * 96)
    buf.seek(0)
    return buf


@pytest.mark.parametrize(
    ("make", "name", "code"),
    [
        (_vrt, "宗地.geojson", "content_not_kind"),
        (_zip_slip, "宗地.zip", "zip_member_outside"),
        (lambda tmp: io.BytesIO(b"MZ\x90\x00"), "宗地.exe", "upload_kind"),
    ],
)
def test_hostile_uploads_are_refused_and_leave_nothing(
    client, db, settings, tmp_path, make, name, code
):
    before = counts(db)
    resp = upload(client, make(tmp_path), name=name)
    assert 400 <= resp.status_code < 500 and resp.get_json()["code"] == code, resp.get_json()
    assert counts(db) == before
    assert left_behind(settings) == []
    assert not (settings.var_dir / "evil.shp").exists()


@pytest.mark.parametrize("role", ["viewer", "officer", "planner"])
def test_only_administrators_import(app, accounts, settings, tmp_path, role):
    other = client_for(app, accounts[role]["token"])
    assert upload(other, zipped(tmp_path, parcels(2))).status_code == 403
    assert other.post(f"/api/imports/{'0' * 32}/confirm").status_code == 403
    assert other.get("/imports").status_code == 403
    assert left_behind(settings) == []


def test_only_the_uploader_confirms(app, client, accounts, db, settings, tmp_path):
    from landmap.services import users

    users.add(db, "t_admin2", "admin", "correct horse battery")
    second = client_for(app, users.new_token(db, "t_admin2", "tests"))
    report = upload(client, zipped(tmp_path, parcels(2))).get_json()
    resp = second.post(report["confirm_url"])
    assert resp.status_code == 404
    assert left_behind(settings) == []  # taken and removed: upload it again


def test_the_page_shows_the_dry_run_and_confirms(client, db, settings, tmp_path):
    page = client.get("/imports").get_data(as_text=True)
    assert 'id="import-form"' in page and 'value="EPSG:4546"' in page
    resp = client.post(
        "/imports",
        data={"file": (zipped(tmp_path, parcels(3)), "宗地.zip"), "layer": "parcels"},
        content_type="multipart/form-data",
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'id="import-dry-run"' in html
    assert 'data-count="new">3<' in html and "430802003099JA00003" in html
    action = re.search(r'action="(/imports/[0-9a-f]{32}/confirm)"', html).group(1)
    before = counts(db)[0]
    done = client.post(action)
    assert done.status_code == 302 and re.search(r"/imports/\d+$", done.location)
    assert counts(db)[0] == before + 3
    assert left_behind(settings) == []
    listing = client.get("/imports").get_data(as_text=True)
    assert done.location.split("/")[-1] in listing and "宗地.zip" in listing


def test_the_page_shows_a_refusal_beside_the_form(client, settings, tmp_path):
    resp = client.post(
        "/imports",
        data={"file": (_vrt(tmp_path), "宗地.geojson"), "layer": "parcels"},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert 'id="import-error"' in html and 'data-code="content_not_kind"' in html
    assert left_behind(settings) == []


def test_an_upload_nobody_confirms_is_removed_by_a_later_one(client, settings, tmp_path):
    first = upload(client, zipped(tmp_path, parcels(2))).get_json()
    (old,) = left_behind(settings)
    stale = os.stat(old).st_mtime - PENDING_SECONDS - 60
    os.utime(old, (stale, stale))
    upload(client, zipped(tmp_path, parcels(2)))
    assert old not in left_behind(settings) and len(left_behind(settings)) == 1
    assert client.post(first["confirm_url"]).status_code == 404
