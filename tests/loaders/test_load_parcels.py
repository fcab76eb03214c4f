"""Cadastral files in: the text, the coordinates and the areas right, or refused with the
register unchanged."""

from __future__ import annotations

import csv
import re
import struct
import subprocess
import zipfile
from datetime import date

import geopandas as gpd
import pytest
import shapely
from files import OWNERS, parcels, truncate, write_shp
from sqlalchemy import text

from landmap import loaders
from landmap.domain import Stage
from landmap.loaders import LoadOptions, LoadRefused
from landmap.loaders import reader as reader_mod
from landmap.services import acquisition
from landmap.services.acquisition import Move


def load(db, settings, path, kind="parcels", **opts):
    return loaders.load(db, settings, kind, path, LoadOptions(run_by="tester", **opts))


def snapshot(db):
    return db.execute(
        text("""SELECT (SELECT count(*) FROM parcel),
                       (SELECT md5(string_agg(code || stage || owner || md5(ST_AsBinary(geom)),
                                              ',' ORDER BY code)) FROM parcel),
                       (SELECT count(*) FROM import_run),
                       (SELECT count(*) FROM commercial_plot)""")
    ).one()


def owners(db, prefix="430802003099JA"):
    return dict(
        db.execute(
            text("SELECT code, owner FROM parcel WHERE code LIKE :p ORDER BY code"),
            {"p": prefix + "%"},
        ).all()
    )


def refused(db, settings, path, match, **opts):
    before = snapshot(db)
    with pytest.raises(LoadRefused) as info:
        load(db, settings, path, **opts)
    assert snapshot(db) == before, "a refused file changed the register"
    text_ = str(info.value)
    for fragment in [match] if isinstance(match, str) else match:
        assert fragment in text_, text_
    zh = info.value.render("zh_CN")  # what an officer reads: Chinese, no option, no setting
    assert re.search(r"[\u4e00-\u9fff]", zh) and "--" not in zh and "LANDMAP_" not in zh, zh
    return info.value


# --- text encoding ---------------------------------------------------------------------------


def test_gbk_with_cpg_in_zone_37_loads_with_correct_names(db, settings, tmp_path):
    path = write_shp(parcels(), tmp_path / "zd.shp", epsg=4525)
    report = load(db, settings, path)
    assert (report.inserted, report.updated, len(report.rejected)) == (12, 0, 0)
    assert report.encoding == "gbk" and ".cpg" in report.encoding_reason
    assert report.crs == "EPSG:4525"
    assert set(owners(db).values()) == set(OWNERS)
    attrs = db.execute(
        text("SELECT attributes FROM parcel WHERE code = '430802003099JA00001'")
    ).scalar_one()
    assert attrs["BZ"] == "测试" and attrs["QLLX"] == "集体土地所有权"


def test_gbk_without_cpg_is_detected_as_gb18030(db, settings, tmp_path):
    path = write_shp(parcels(), tmp_path / "zd.shp", epsg=4525, cpg=False)
    report = load(db, settings, path)
    assert report.encoding == "gb18030" and "not UTF-8" in report.encoding_reason
    assert set(owners(db).values()) == set(OWNERS)


def test_language_driver_id_is_honoured(db, settings, tmp_path):
    path = write_shp(parcels(), tmp_path / "zd.shp", epsg=4525, cpg=False, ldid=0x4D)
    report = load(db, settings, path)
    assert report.encoding == "gbk" and "0x4D" in report.encoding_reason
    assert set(owners(db).values()) == set(OWNERS)


def test_utf8_without_cpg(db, settings, tmp_path):
    path = write_shp(parcels(), tmp_path / "zd.shp", encoding="UTF-8", cpg=False)
    report = load(db, settings, path)
    assert report.encoding == "utf-8"
    assert set(owners(db).values()) == set(OWNERS)


def test_gbk_declared_latin1_is_refused_not_stored_as_mojibake(db, settings, tmp_path):
    path = write_shp(parcels(), tmp_path / "zd.shp", epsg=4525)
    path.with_suffix(".cpg").write_text("ISO-8859-1")
    refused(db, settings, path, ["garbled", "choose its text encoding", "GB18030"])


def test_gbk_declared_utf8_is_refused(db, settings, tmp_path):
    path = write_shp(parcels(), tmp_path / "zd.shp", epsg=4525)
    path.with_suffix(".cpg").write_text("UTF-8")
    refusal = refused(db, settings, path, ["not valid utf-8", "GB18030", "text encoding"])
    assert refusal.code == "encoding_not_valid"
    assert "请选择文件实际使用的文字编码" in refusal.render("zh_CN")


def test_gb18030_text_declared_gbk_is_refused_and_loads_with_its_real_encoding(
    db, settings, tmp_path
):
    """GBK lacks characters of real names that GB18030 has (䶮 in 刘䶮, 𠮷): a file written in
    GB18030 whose .cpg says GBK is refused, naming GB18030, rather than loaded garbled."""
    gdf = parcels(3)
    gdf["QLRMC"] = ["刘䶮", "𠮷野家", "覃明华"]
    path = write_shp(gdf, tmp_path / "zd.shp", epsg=4525, encoding="GB18030")
    path.with_suffix(".cpg").write_text("GBK")
    refused(db, settings, path, ["not valid gbk", "reads cleanly as GB18030", "text encoding"])
    report = load(db, settings, path, encoding="GB18030")
    assert report.encoding == "gb18030" and report.inserted == 3
    assert owners(db) == dict(zip(gdf["ZDDM"], gdf["QLRMC"], strict=True))


def test_encoding_option_overrides_a_wrong_cpg(db, settings, tmp_path):
    path = write_shp(parcels(), tmp_path / "zd.shp", epsg=4525)
    path.with_suffix(".cpg").write_text("ISO-8859-1")
    report = load(db, settings, path, encoding="GBK")
    assert report.encoding_reason == "chosen by the user"
    assert set(owners(db).values()) == set(OWNERS)


# --- coordinates -----------------------------------------------------------------------------


def centroids(db, prefix="430802003099JA"):
    rows = db.execute(
        text("SELECT code, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM parcel "
             "WHERE code LIKE :p ORDER BY code"), {"p": prefix + "%"},
    ).all()  # fmt: skip
    return {code: (x, y) for code, x, y in rows}


@pytest.mark.parametrize("epsg", [4525, 4546, 2361, 2382, 2413, 2434])
def test_esri_gauss_kruger_prj_places_parcels_where_gdal_does(db, settings, tmp_path, epsg):
    path = write_shp(parcels(), tmp_path / "zd.shp", epsg=epsg)
    report = load(db, settings, path)
    assert report.crs == f"EPSG:{epsg}"
    reference = tmp_path / "gdal.gpkg"
    subprocess.run(
        ["ogr2ogr", "-f", "GPKG", "-t_srs", "EPSG:4546", str(reference), str(path)], check=True
    )
    gdal = gpd.read_file(reference)
    got = centroids(db)
    for _, row in gdal.iterrows():
        c = row.geometry.centroid
        x, y = got[row["ZDDM"]]
        assert abs(x - c.x) < 1 and abs(y - c.y) < 1


def test_areas_agree_with_the_certificates(db, settings, tmp_path):
    path = write_shp(parcels(), tmp_path / "zd.shp", epsg=4525)
    report = load(db, settings, path)
    rows = db.execute(
        text("SELECT area_mu, lm_mu(official_area_m2::float8) FROM parcel WHERE code LIKE "
             "'430802003099JA%'")
    ).all()  # fmt: skip
    assert sum(a for a, _ in rows) == pytest.approx(sum(b for _, b in rows), rel=0.005)
    assert report.total_mu == pytest.approx(12 * 1600 / (10000 / 15), rel=0.001)


def test_certificates_more_than_one_percent_off_are_listed_and_flagged(db, settings, tmp_path):
    path = write_shp(parcels(off_by={2: 0.03, 5: -0.02}), tmp_path / "zd.shp", epsg=4525)
    report = load(db, settings, path)
    assert [m[0] for m in report.mismatches] == ["430802003099JA00003", "430802003099JA00006"]
    flagged = db.execute(
        text("SELECT count(*) FROM parcel WHERE area_mismatch AND code LIKE '430802003099JA%'")
    ).scalar_one()
    assert flagged == 2


def test_no_prj_with_zone_prefix_is_detected(db, settings, tmp_path):
    path = write_shp(parcels(), tmp_path / "zd.shp", epsg=4525, prj=None)
    report = load(db, settings, path)
    assert report.crs == "EPSG:4525" and "zone prefix 37" in report.crs_reason


def test_no_prj_in_degrees_is_cgcs2000(db, settings, tmp_path):
    path = write_shp(parcels(), tmp_path / "zd.shp", epsg=4490, prj=None)
    report = load(db, settings, path)
    assert report.crs == "EPSG:4490" and report.inserted == 12


def test_no_prj_and_no_prefix_is_refused_naming_srs(db, settings, tmp_path):
    path = write_shp(parcels(), tmp_path / "zd.shp", prj=None, cpg=False)
    refusal = refused(db, settings, path, "choose its coordinate system")
    assert refusal.code == "crs_not_stated" and "请选择其坐标系" in refusal.render("zh_CN")
    assert load(db, settings, path, srs="EPSG:4546").inserted == 12


def test_no_prj_uses_a_configured_central_meridian(db, settings, tmp_path):
    path = write_shp(parcels(), tmp_path / "zd.shp", prj=None)
    report = load(db, settings.with_(gk_central_meridian=111), path)
    assert report.crs == "EPSG:4546" and "111°E" in report.crs_reason


def test_a_prj_that_does_not_fit_the_coordinates_is_refused(db, settings, tmp_path):
    path = write_shp(parcels(), tmp_path / "zd.shp", epsg=4525)
    cm111 = write_shp(parcels(), tmp_path / "cm" / "x.shp").with_suffix(".prj").read_text()
    path.with_suffix(".prj").write_text(cm111)  # CM 111E, while the eastings carry zone 37
    refusal = refused(db, settings, path, ["outside the region", "choose the file's coordinate"])
    assert refusal.code == "load_outside_region"
    assert len(refusal.extra["problems"]) == 12 and "第 1 条记录" in refusal.extra["problems"][
        0
    ].render("zh_CN")


def test_absurd_and_nan_coordinates_are_refused(db, settings, tmp_path):
    gdf = parcels(4)
    gdf.loc[1, "geometry"] = shapely.box(9e7, 9e7, 9e7 + 10, 9e7 + 10)
    path = write_shp(gdf, tmp_path / "zd.shp", prj="wkt")
    refused(db, settings, path, ["outside the region", "430802003099JA00002"])
    gdf = parcels(4)
    marker = 456911.125  # GDAL will not write NaN: write a marker and patch its bytes
    gdf.loc[2, "geometry"] = shapely.Polygon([(456900, 3217700), (marker, 3217700),
                                              (456950, 3217750)])  # fmt: skip
    path = write_shp(gdf, tmp_path / "nan" / "zd.shp", prj="wkt")
    shp = path.read_bytes()
    assert shp.count(struct.pack("<d", marker)) == 1
    path.write_bytes(shp.replace(struct.pack("<d", marker), struct.pack("<d", float("nan"))))
    refused(db, settings, path, ["NaN", "430802003099JA00003"])


# --- geometry and codes ----------------------------------------------------------------------

BOWTIE = shapely.Polygon([(456900, 3217700), (456950, 3217750), (456950, 3217700),
                          (456900, 3217750)])  # fmt: skip


def broken_file(tmp_path):
    gdf = parcels(6)
    gdf.loc[1, "geometry"] = BOWTIE
    gdf.loc[3, "geometry"] = shapely.Polygon()
    gdf.loc[5, "ZDDM"] = gdf.loc[4, "ZDDM"]
    return write_shp(gdf, tmp_path / "broken.shp", epsg=4525)


def test_bad_records_refuse_the_whole_file_naming_each(db, settings, tmp_path):
    exc = refused(db, settings, broken_file(tmp_path), "nothing was loaded")
    problems = {(p.record, p.reason.split(":")[0].split(" (")[0]) for p in exc.problems}
    assert problems == {(2, "invalid geometry"), (4, "empty geometry"),
                        (5, "duplicate code"), (6, "duplicate code")}  # fmt: skip
    assert "Self-intersection" in str(exc)
    assert "430802003099JA00002" in str(exc) and "430802003099JA00005" in str(exc)


def test_repair_makes_valid_what_it_can_and_sets_the_rest_aside(db, settings, tmp_path):
    rejects = tmp_path / "rejects.csv"
    report = load(db, settings, broken_file(tmp_path), repair=True, rejects_path=rejects)
    assert report.inserted == 3  # records 1, 2 (repaired) and 3
    assert [p.record for p in report.repaired] == [2]
    assert [p.record for p in report.rejected] == [4, 5, 6]
    with rejects.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [r["record"] for r in rows] == ["4", "5", "6"]
    fixed = db.execute(
        text("SELECT ST_IsValid(geom), GeometryType(geom) FROM parcel "
             "WHERE code = '430802003099JA00002'")
    ).one()  # fmt: skip
    assert tuple(fixed) == (True, "MULTIPOLYGON")


def test_points_in_a_parcel_file_are_refused(db, settings, tmp_path):
    gdf = parcels(3)
    gdf["geometry"] = gdf.geometry.centroid
    path = write_shp(gdf, tmp_path / "points.shp", epsg=4525)
    exc = refused(db, settings, path, "not a polygon (Point)")
    assert len(exc.problems) == 3


def test_a_failure_at_the_last_record_leaves_nothing_behind(db, settings, tmp_path, monkeypatch):
    monkeypatch.setattr(reader_mod, "CHUNK", 10)  # three chunks are read and copied first
    gdf = parcels(30)
    gdf.loc[29, "geometry"] = BOWTIE
    refused(db, settings, write_shp(gdf, tmp_path / "zd.shp", epsg=4525), "record 30")


def test_missing_code_field_is_refused_naming_the_fields(db, settings, tmp_path):
    gdf = parcels(3).rename(columns={"ZDDM": "XH"})
    exc = refused(db, settings, write_shp(gdf, tmp_path / "zd.shp", epsg=4525), "ZDDM")
    assert "XH" in str(exc)


def test_lower_case_field_names_match(db, settings, tmp_path):
    gdf = parcels(3)
    gdf.columns = [c.lower() if c != "geometry" else c for c in gdf.columns]
    gdf = gdf.set_geometry("geometry")
    assert load(db, settings, write_shp(gdf, tmp_path / "zd.shp", epsg=4525)).inserted == 3


# --- broken files and archives ---------------------------------------------------------------


def test_a_truncated_shp_is_refused(db, settings, tmp_path):
    path = write_shp(parcels(), tmp_path / "zd.shp", epsg=4525)
    truncate(path, path.stat().st_size - 60)
    refused(db, settings, path, "truncated")


def test_parts_that_disagree_are_refused(db, settings, tmp_path):
    path = write_shp(parcels(), tmp_path / "zd.shp", epsg=4525)
    other = write_shp(parcels(5), tmp_path / "other" / "zd.shp", epsg=4525)
    path.with_suffix(".dbf").write_bytes(other.with_suffix(".dbf").read_bytes())
    refused(db, settings, path, "do not belong together")


def test_a_missing_dbf_is_refused(db, settings, tmp_path):
    path = write_shp(parcels(), tmp_path / "zd.shp", epsg=4525)
    path.with_suffix(".dbf").unlink()
    refused(db, settings, path, ".dbf file is missing")


def zip_of(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            if isinstance(data, zipfile.ZipInfo):
                zf.writestr(data, b"target")
            else:
                zf.writestr(name, data)
    return path


def shp_members(tmp_path, folder=""):
    src = write_shp(parcels(), tmp_path / "src" / "zd.shp", epsg=4525)
    return [(folder + "zd" + ext, src.with_suffix(ext).read_bytes())
            for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg")]  # fmt: skip


def test_a_zip_of_a_shapefile_loads(db, settings, tmp_path):
    path = zip_of(tmp_path / "zd.zip", shp_members(tmp_path, "宗地/"))
    report = load(db, settings, path)
    assert report.inserted == 12 and report.file_name.startswith("zd.zip!")


def test_zip_slip_is_refused(db, settings, tmp_path):
    members = shp_members(tmp_path) + [("../../evil.txt", b"x")]
    refused(db, settings, zip_of(tmp_path / "slip.zip", members), "outside the folder")
    members = shp_members(tmp_path) + [("/etc/evil.txt", b"x")]
    refused(db, settings, zip_of(tmp_path / "abs.zip", members), "outside the folder")
    assert not (tmp_path.parent / "evil.txt").exists()


def test_a_symlink_member_is_refused(db, settings, tmp_path):
    link = zipfile.ZipInfo("zd.cpg")
    link.external_attr = 0o120777 << 16
    members = [m for m in shp_members(tmp_path) if m[0] != "zd.cpg"] + [("zd.cpg", link)]
    refused(db, settings, zip_of(tmp_path / "link.zip", members), "symbolic link")


def test_a_zip_bomb_is_refused(db, settings, tmp_path):
    members = shp_members(tmp_path) + [("padding.bin", b"\0" * (64 << 20))]
    refused(db, settings, zip_of(tmp_path / "bomb.zip", members), "zip bomb")


def test_too_many_members_are_refused(db, settings, tmp_path):
    members = shp_members(tmp_path) + [(f"x{i}.txt", b"x") for i in range(300)]
    refused(db, settings, zip_of(tmp_path / "many.zip", members), "members")


def test_not_a_zip_is_refused(db, settings, tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\3\4 this is not really a zip")
    refused(db, settings, bad, "not a readable zip")


# --- other containers, re-loads, dry runs ----------------------------------------------------


def test_a_folder_a_geopackage_layer_and_geojson_load(db, settings, tmp_path):
    write_shp(parcels(3), tmp_path / "folder" / "zd.shp", epsg=4525)
    assert load(db, settings, tmp_path / "folder").inserted == 3
    gdf = parcels(6)
    gdf.to_file(tmp_path / "zd.gpkg", layer="zd", engine="pyogrio")
    assert load(db, settings, tmp_path / "zd.gpkg", layer="zd").inserted == 3
    gdf.to_crs(4326).to_file(tmp_path / "zd.geojson", engine="pyogrio")
    report = load(db, settings, tmp_path / "zd.geojson")
    assert (report.inserted, report.updated) == (0, 0) and report.unchanged == 6
    assert report.crs == "EPSG:4326"


def test_reloading_changes_nothing_and_each_import_is_recorded(db, settings, tmp_path):
    path = write_shp(parcels(), tmp_path / "zd.shp", epsg=4525)
    first = load(db, settings, path)
    before = snapshot(db)
    again = load(db, settings, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 12)
    after = snapshot(db)
    assert after[:2] == before[:2] and after[2] == before[2] + 1
    runs = db.execute(
        text("SELECT sha256, run_by, records_read, inserted FROM import_run "
             "WHERE id IN (:a, :b) ORDER BY id"), {"a": first.import_id, "b": again.import_id},
    ).all()  # fmt: skip
    assert runs[0].sha256 == runs[1].sha256 == first.sha256 and len(first.sha256) == 64
    assert [(r.run_by, r.records_read, r.inserted) for r in runs] == [
        ("tester", 12, 12), ("tester", 12, 0)]  # fmt: skip


def test_a_changed_owner_is_an_update_that_keeps_the_stage(db, settings, tmp_path):
    gdf = parcels(3)
    load(db, settings, write_shp(gdf, tmp_path / "a" / "zd.shp", epsg=4525))
    acquisition.move(db, ["430802003099JA00001"], Move(Stage.SURVEYED, date(2011, 5, 1)), "t")
    gdf.loc[0, "QLRMC"] = "张家界市某公司"
    report = load(db, settings, write_shp(gdf, tmp_path / "b" / "zd.shp", epsg=4525))
    assert (report.inserted, report.updated) == (0, 1)
    row = db.execute(
        text("SELECT owner, stage FROM parcel WHERE code = '430802003099JA00001'")
    ).one()
    assert tuple(row) == ("张家界市某公司", "surveyed")


def test_dry_run_reports_and_writes_nothing(db, settings, tmp_path):
    before = snapshot(db)
    report = load(db, settings, write_shp(parcels(), tmp_path / "zd.shp", epsg=4525),
                  dry_run=True)  # fmt: skip
    assert report.inserted == 12 and report.dry_run and report.import_id is None
    assert snapshot(db) == before


def test_state_land_codes_start_as_state_owned(db, settings, tmp_path):
    path = write_shp(parcels(2, prefix="430802003099GB"), tmp_path / "zd.shp", epsg=4525)
    load(db, settings, path)
    stages = db.execute(
        text("SELECT DISTINCT stage FROM parcel WHERE code LIKE '430802003099GB%'")
    ).scalars()
    assert list(stages) == ["state_owned"]


def test_parcels_are_assigned_to_the_zone_they_lie_in(db, settings, tmp_path):
    load(db, settings, write_shp(parcels(), tmp_path / "zd.shp", epsg=4525))
    zones = db.execute(
        text("SELECT DISTINCT z.code FROM parcel p JOIN zone z ON z.id = p.zone_id "
             "WHERE p.code LIKE '430802003099JA%'")
    ).scalars()  # fmt: skip
    assert list(zones) == ["C"]
