"""Land-use patches, farmland and zone boundaries through the same loader; the CLI."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pytest
import shapely
from conftest import invoke
from files import parcels, write_shp
from sqlalchemy import text

from landmap import loaders
from landmap.loaders import LoadOptions, LoadRefused


def load(db, settings, kind, path, **opts):
    return loaders.load(db, settings, kind, path, LoadOptions(run_by="tester", **opts))


def dltb(n=4):
    codes = ["0101", "0103", "05H1", "0702"]
    rows, geoms = [], []
    for i in range(n):
        g = shapely.box(457000 + i * 60, 3217600, 457050 + i * 60, 3217650)
        geoms.append(g)
        rows.append({"BSM": f"43080200{i:04d}", "TBBH": str(100 + i), "DLBM": codes[i % 4],
                     "DLMC": "" if i == 1 else ["水田", "旱地", "特殊用地", "农村宅基地"][i % 4],
                     "QSDWMC": "社溪村", "ZLDWMC": "社溪村", "TBMJ": g.area,
                     "KCMJ": 0.0, "TBDLMJ": g.area})  # fmt: skip
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4546")


def test_land_use_patches_load_keeping_unknown_working_codes(db, settings, tmp_path):
    report = load(db, settings, "landuse", write_shp(dltb(), tmp_path / "DLTB.shp", epsg=4525))
    assert report.inserted == 4 and report.mismatches == []
    rows = dict(db.execute(text("SELECT land_use_code, land_use_name FROM landuse_patch "
                                "WHERE code LIKE '43080200%'")).all())  # fmt: skip
    assert rows["05H1"] == "特殊用地"
    assert rows["0103"] == "旱地"  # DLMC empty in the file: the standard name is filled in
    again = load(db, settings, "landuse", tmp_path / "DLTB.shp")
    assert (again.inserted, again.updated) == (0, 0)


def test_a_patch_without_land_use_code_is_refused(db, settings, tmp_path):
    gdf = dltb()
    gdf.loc[2, "DLBM"] = ""
    before = db.execute(text("SELECT count(*) FROM landuse_patch")).scalar_one()
    with pytest.raises(LoadRefused, match="no land-use code"):
        load(db, settings, "landuse", write_shp(gdf, tmp_path / "DLTB.shp", epsg=4525))
    assert db.execute(text("SELECT count(*) FROM landuse_patch")).scalar_one() == before


def test_farmland_loads(db, settings, tmp_path):
    gdf = dltb(2)[["BSM", "DLBM", "geometry"]]
    report = load(db, settings, "farmland", write_shp(gdf, tmp_path / "JBNT.shp", epsg=4525))
    assert report.inserted == 2
    mu = db.execute(text("SELECT sum(area_mu) FROM farmland WHERE code LIKE '43080200%'")
                    ).scalar_one()  # fmt: skip
    assert mu == pytest.approx(2 * 2500 / (10000 / 15))


def zone_file(tmp_path, grow: float = 100.0):
    """Zone C's current boundary grown by `grow` metres, as a shapefile without a zone field."""
    from landmap.demo import DEMO_DIR

    zones = gpd.read_file(DEMO_DIR / "demo.gpkg", layer="zones")
    c = zones[zones.QYDM == "C"].copy()
    c["geometry"] = c.buffer(grow, join_style="mitre")
    return write_shp(c[["geometry"]], tmp_path / "zone_c.shp", epsg=4525)


def test_a_draft_boundary_changes_nothing_current(db, settings, tmp_path):
    report = load(db, settings, "zones", zone_file(tmp_path), zone="C", draft=True, note="扩区")
    assert report.inserted == 1
    statuses = db.execute(
        text("SELECT status, note FROM zone_boundary b JOIN zone z ON z.id = b.zone_id "
             "WHERE z.code = 'C' ORDER BY b.id")
    ).all()  # fmt: skip
    assert [tuple(s) for s in statuses] == [("current", "demo zone"), ("draft", "扩区")]


def test_a_new_current_boundary_keeps_the_old_one_and_rezones_parcels(db, settings, tmp_path):
    # a parcel just outside zone C, inside the grown boundary
    outside = parcels(1, origin=(458420, 3218000))
    load(db, settings, "parcels", write_shp(outside, tmp_path / "p" / "zd.shp", epsg=4525))
    zone_of = "SELECT z.code FROM parcel p LEFT JOIN zone z ON z.id = p.zone_id WHERE p.code = :c"
    assert db.execute(text(zone_of), {"c": "430802003099JA00001"}).scalar() is None
    load(db, settings, "zones", zone_file(tmp_path), zone="C", valid_from=dt.date(2011, 9, 1))
    rows = db.execute(
        text("SELECT status, valid_from, valid_to FROM zone_boundary b JOIN zone z "
             "ON z.id = b.zone_id WHERE z.code = 'C' ORDER BY b.id")
    ).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [
        ("superseded", dt.date(2010, 1, 1), dt.date(2011, 9, 1)),
        ("current", dt.date(2011, 9, 1), None),
    ]
    assert db.execute(text(zone_of), {"c": "430802003099JA00001"}).scalar() == "C"


def test_a_boundary_older_than_the_current_one_is_refused(db, settings, tmp_path):
    with pytest.raises(LoadRefused, match="must start after"):
        load(db, settings, "zones", zone_file(tmp_path), zone="C", valid_from=dt.date(2009, 1, 1))


def test_an_unknown_zone_is_refused(db, settings, tmp_path):
    with pytest.raises(LoadRefused, match="unknown zone 'Q'"):
        load(db, settings, "zones", zone_file(tmp_path), zone="Q")


# --- the command line ------------------------------------------------------------------------


def test_cli_load_prints_the_summary_and_exits_0(runner, scratch, tmp_path):
    path = write_shp(parcels(off_by={0: 0.05}), tmp_path / "zd.shp", epsg=4525, cpg=False)
    r = invoke(runner, scratch, "load", "parcels", str(path))
    assert r.exit_code == 0, r.output
    for fragment in ("EPSG:4525", "gb18030", "12 read, 12 loaded, 0 updated", "mu",
                     "differ from the certificate", "430802003099JA00001"):  # fmt: skip
        assert fragment in r.output
    again = invoke(runner, scratch, "load", "parcels", str(path))
    assert "0 loaded, 0 updated, 12 unchanged" in again.output


def test_cli_refusal_exits_non_zero_with_the_reason(runner, scratch, tmp_path, monkeypatch):
    """The loader's refusal in the CLI's language (Chinese by default), and under it, for the
    command line only, the option to give."""
    path = write_shp(parcels(), tmp_path / "zd.shp", prj=None)
    r = invoke(runner, scratch, "load", "parcels", str(path))
    assert r.exit_code != 0 and "文件未注明坐标系" in r.output and "请选择其坐标系" in r.output
    assert "命令行：用 --srs EPSG:N 指定坐标系" in r.output and "Traceback" not in r.output
    monkeypatch.setenv("LANDMAP_LANG", "en")
    r = invoke(runner, scratch, "load", "parcels", str(path))
    assert r.exit_code != 0 and "does not say its coordinate system" in r.output
    assert "on the command line: give the coordinate system with --srs EPSG:N" in r.output
    ok = invoke(runner, scratch, "load", "parcels", str(path), "--srs", "EPSG:4546", "--dry-run")
    assert ok.exit_code == 0 and "dry run" in ok.output


def test_cli_repair_writes_a_rejects_file(runner, scratch, tmp_path):
    gdf = parcels(3)
    gdf.loc[1, "geometry"] = shapely.Polygon()
    path = write_shp(gdf, tmp_path / "zd.shp", epsg=4525)
    rejects = tmp_path / "out.csv"
    r = invoke(runner, scratch, "load", "parcels", str(path), "--repair", "--rejects", str(rejects))
    assert r.exit_code == 0 and "1 rejected" in r.output
    assert "430802003099JA00002" in rejects.read_text(encoding="utf-8-sig")


def test_an_import_is_audited_with_every_parcel_it_added(db, settings, tmp_path):
    report = load(db, settings, "parcels", write_shp(parcels(3), tmp_path / "zd.shp", epsg=4525))
    imports = db.execute(text("SELECT action, after FROM audit_log WHERE entity = 'import' "
                              "AND key = :k"), {"k": str(report.import_id)}).all()  # fmt: skip
    assert len(imports) == 1 and imports[0].after["sha256"] == report.sha256
    added = db.execute(
        text(
            "SELECT count(*) FROM audit_log WHERE entity = 'parcel' "
            "AND action = 'insert' AND key LIKE '430802003099JA%'"
        )
    ).scalar()
    assert added == 3
