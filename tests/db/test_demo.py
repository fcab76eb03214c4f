"""The demo zone: the seed's projects and targets, loaded through the loader."""

import pytest
from sqlalchemy import text

from landmap.demo import load_demo

C_PROJECT = "C区1000亩土地开发项目"


def scalar(db, sql, **params):
    return db.execute(text(sql), params).scalar_one()


def test_zone_c_project_is_1000_mu_with_a_first_batch_of_315(db):
    total = scalar(
        db,
        "SELECT sum(pa.area_mu) FROM parcel pa JOIN project p ON p.id = pa.project_id "
        "WHERE p.name = :n",
        n=C_PROJECT,
    )
    first = scalar(
        db,
        "SELECT sum(pa.area_mu) FROM parcel pa JOIN acquisition_batch b ON b.id = pa.batch_id "
        "JOIN project p ON p.id = b.project_id WHERE p.name = :n AND b.name = '第一批'",
        n=C_PROJECT,
    )
    assert total == pytest.approx(1000, rel=0.01)
    assert first == pytest.approx(315, rel=0.01)
    batch = db.execute(
        text(
            "SELECT b.target_mu, b.due, p.partner FROM acquisition_batch b "
            "JOIN project p ON p.id = b.project_id WHERE p.name = :n AND b.name = '第一批'"
        ),
        {"n": C_PROJECT},
    ).one()
    assert (float(batch.target_mu), batch.due.isoformat()) == (315.0, "2011-12-31")
    assert batch.partner == "湖南省公路投资有限公司"


def test_project_parcels_lie_in_zone_c_and_spread_over_the_stages(db):
    zones = db.execute(
        text(
            "SELECT DISTINCT z.code FROM parcel pa JOIN project p ON p.id = pa.project_id "
            "JOIN zone z ON z.id = pa.zone_id WHERE p.name = :n"
        ),
        {"n": C_PROJECT},
    ).scalars()
    assert set(zones) == {"C"}
    stages = scalar(
        db,
        "SELECT count(DISTINCT pa.stage) FROM parcel pa JOIN project p ON p.id = pa.project_id "
        "WHERE p.name = :n",
        n=C_PROJECT,
    )
    assert stages >= 6


def test_at_least_300_parcels_with_cultivated_land_still_to_acquire(db):
    assert scalar(db, "SELECT count(*) FROM parcel") >= 300
    assert (
        scalar(
            db,
            "SELECT count(*) FROM parcel WHERE land_use_code LIKE '01%' AND stage = 'not_started'",
        )
        > 10
    )


def test_commercial_plots_and_seed_projects_are_in_their_zones(db):
    rows = dict(
        db.execute(
            text(
                "SELECT p.name, z.code FROM project p JOIN zone z ON z.id = p.zone_id "
                "WHERE p.name IN ('新外滩', '雅安花园', '澧岸春苑经济适用房', '市技校新校区')"
            )
        ).all()
    )
    assert rows == {"新外滩": "A", "雅安花园": "A", "澧岸春苑经济适用房": "A", "市技校新校区": "B"}
    plot = db.execute(
        text(
            "SELECT z.code, c.transfer_status FROM parcel pa JOIN zone z ON z.id = pa.zone_id "
            "JOIN commercial_plot c ON c.parcel_id = pa.id WHERE pa.code = '2011-2'"
        )
    ).one()
    assert tuple(plot) == ("A", "planned")
    names = set(db.execute(text("SELECT name FROM project")).scalars())
    for seed_name in ["盛兴钢材物流园", "华湘轮胎", "恒久高科", "奥威科技", "罗沙路（东段）",
                      "阳湖坪路（中段）", "110kV变电站", "社溪滩防洪堤（二期）"]:  # fmt: skip
        assert seed_name in names


def test_every_geometry_is_a_valid_multipolygon_in_the_storage_srid(db):
    bad = scalar(
        db,
        "SELECT count(*) FROM parcel WHERE NOT ST_IsValid(geom) OR ST_SRID(geom) <> 4546 "
        "OR GeometryType(geom) <> 'MULTIPOLYGON'",
    )
    assert bad == 0


# supply.json and statistics.csv
WORKS = ["land_supply", "construction_event", "parcel_building", "enterprise_statistic"]


def counts(db) -> dict[str, int]:
    tables = ["zone", "zone_boundary", "project", "project_target", "acquisition_batch",
              "parcel", "commercial_plot", "import_run"]  # fmt: skip
    tables += WORKS + ["enterprise", "audit_log"]
    return {t: scalar(db, f"SELECT count(*) FROM {t}") for t in tables}


def test_loading_the_demo_again_changes_nothing(db, settings):
    before = counts(db)
    stamp = scalar(db, "SELECT max(updated_at) FROM parcel")
    result = load_demo(db, settings)
    assert not result.changed
    assert counts(db) == before
    assert scalar(db, "SELECT max(updated_at) FROM parcel") == stamp
    # and the demo's supplies and statistics are there to be kept
    assert min(before[t] for t in WORKS) > 0
