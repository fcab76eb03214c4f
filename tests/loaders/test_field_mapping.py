"""Field names as offices send them: Chinese names in the profile, a surveyor's own names
mapped with --field, and projects and batches a file names created with --create-projects."""

from __future__ import annotations

import pytest
from conftest import invoke
from files import parcels, write_shp
from sqlalchemy import text

from landmap import loaders
from landmap.cli import Ctx, main
from landmap.db import make_engine
from landmap.loaders import LoadOptions, LoadRefused


def load(db, settings, path, **opts):
    return loaders.load(db, settings, "parcels", path, LoadOptions(run_by="tester", **opts))


CHINESE_NAMES = {
    "ZDDM": "宗地代码",
    "QLRMC": "权利人名称",
    "ZL": "坐落",
    "ZDMJ": "宗地面积",
    "TDYT": "土地用途",
}


def test_a_gbk_shapefile_with_chinese_field_names_loads(db, settings, tmp_path):
    gdf = parcels(3).rename(columns=CHINESE_NAMES)
    gdf["项目名称"] = "雨润集团"  # a project of the demo
    report = load(db, settings, write_shp(gdf, tmp_path / "宗地.shp"))
    assert report.fields["code"] == "宗地代码" and report.fields["owner"] == "权利人名称"
    assert report.fields["project"] == "项目名称"
    row = db.execute(
        text("""SELECT p.owner, p.location, p.official_area_m2, p.land_use_code, j.name
                FROM parcel p JOIN project j ON j.id = p.project_id
                WHERE p.code = '430802003099JA00001'""")
    ).one()
    assert row[0] == "阳湖坪村村民委员会" and row[1] == "永定区阳湖坪街道社溪村"
    assert float(row[2]) == pytest.approx(1601.6, abs=0.01) and row[3] == "0101"
    assert row[4] == "雨润集团"


def test_the_short_owner_name_is_recognised_too(db, settings, tmp_path):
    gdf = parcels(2).rename(columns={"ZDDM": "宗地代码", "QLRMC": "权利人"})
    report = load(db, settings, write_shp(gdf, tmp_path / "宗地.shp"))
    assert report.fields["owner"] == "权利人"


def test_a_mapping_wins_over_the_profile(db, settings, tmp_path):
    gdf = parcels(2)
    gdf["DKH"] = [f"430802003099JA1{i:04d}" for i in range(2)]
    report = load(db, settings, write_shp(gdf, tmp_path / "p.shp"), fields={"code": "dkh"})
    assert report.fields["code"] == "DKH"
    codes = db.execute(text("SELECT code FROM parcel WHERE code LIKE '430802003099JA1%'"))
    assert sorted(codes.scalars()) == ["430802003099JA10000", "430802003099JA10001"]


def test_a_mapping_to_a_field_the_file_lacks_lists_its_fields(db, settings, tmp_path):
    with pytest.raises(LoadRefused) as refused:
        load(db, settings, write_shp(parcels(2), tmp_path / "p.shp"), fields={"owner": "单位名称"})
    assert refused.value.code == "field_mapping_unknown_column"
    assert "单位名称" in str(refused.value) and "QLRMC" in str(refused.value)
    assert "ZDDM" in refused.value.render("zh_CN")


def test_cli_field_mapping_in_a_dry_run(runner, settings, tmp_path):
    gdf = parcels(2).rename(columns={"ZDDM": "DKH", "QLRMC": "单位名称"})
    path = write_shp(gdf, tmp_path / "p.shp")
    args = ("load", "parcels", str(path), "--dry-run")
    refused = runner.invoke(main, list(args), obj=_ctx(settings))
    assert refused.exit_code != 0 and "DKH" in refused.output
    done = invoke(runner, settings, *args, "--field", "code=DKH", "--field", "owner=单位名称")
    assert done.exit_code == 0, done.output
    assert "2 read, 2 loaded" in done.output and "dry run" in done.output
    bad = runner.invoke(main, [*args, "--field", "code"], obj=_ctx(settings))
    assert bad.exit_code != 0 and "Traceback" not in bad.output
    assert "field_mapping_invalid" not in bad.output and "=" in bad.output


def _ctx(settings) -> Ctx:
    return Ctx(settings)


def test_cli_create_projects_lists_in_a_dry_run_and_creates(runner, scratch, tmp_path):
    invoke(runner, scratch, "db", "upgrade")
    gdf = parcels(3)
    gdf["XMMC"] = "康师傅集团食品项目"
    gdf["PCMC"] = ["第一批", "第一批", "第二批"]
    path = str(write_shp(gdf, tmp_path / "p.shp"))
    refused = runner.invoke(main, ["load", "parcels", path], obj=_ctx(scratch))
    assert refused.exit_code != 0 and "康师傅集团食品项目" in refused.output
    dry = invoke(runner, scratch, "load", "parcels", path, "--create-projects", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "project   康师傅集团食品项目 would be created" in dry.output
    assert "康师傅集团食品项目 / 第二批 would be created" in dry.output
    engine = make_engine(scratch)
    query = text("SELECT (SELECT count(*) FROM project), (SELECT count(*) FROM import_run)")
    with engine.connect() as conn:
        assert tuple(conn.execute(query).one()) == (0, 0)
    done = invoke(runner, scratch, "load", "parcels", path, "--create-projects")
    assert done.exit_code == 0 and "康师傅集团食品项目 / 第一批 created" in done.output
    with engine.connect() as conn:
        batches = conn.execute(
            text("""SELECT b.name, count(p.id) FROM acquisition_batch b
                    JOIN parcel p ON p.batch_id = b.id GROUP BY b.name ORDER BY b.name""")
        ).all()
        options = conn.execute(text("SELECT options FROM import_run")).scalar_one()
    engine.dispose()
    assert [tuple(b) for b in batches] == [("第一批", 2), ("第二批", 1)]
    assert options["create_projects"] is True
