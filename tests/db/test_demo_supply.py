"""The demo from cleared land to working land: supplies, construction, buildings and the core
enterprises' monthly statistics of data/demo/supply.json and statistics.csv, as loaded."""

import datetime as dt
import json
import re
import shutil

import pytest
from sqlalchemy import text

from landmap.demo import DEMO_DIR, load_demo
from landmap.services import Refused
from landmap.services.zones import summary

# the demo's last day: the latest day its own records name (stages, supplies, construction,
# buildings, statistics of December 2011)
LAST_DAY = """
    SELECT greatest((SELECT max(happened_on) FROM stage_change),
                    (SELECT max(supplied_on) FROM land_supply),
                    (SELECT max(happened_on) FROM construction_event),
                    (SELECT max(measured_on) FROM parcel_building),
                    (SELECT max(make_date(year, month, 1) + interval '1 month' - interval '1 day')
                     FROM enterprise_statistic WHERE source = 'demo')::date)"""


def rows(db, sql, **params):
    return db.execute(text(sql), params).all()


def scalar(db, sql, **params):
    return db.execute(text(sql), params).scalar_one()


@pytest.fixture
def last_day(db) -> dt.date:
    return scalar(db, LAST_DAY)


def test_the_demo_ends_late_in_2011(last_day):
    assert dt.date(2011, 11, 1) <= last_day <= dt.date(2011, 12, 31)


def test_every_supplied_parcel_was_cleared_or_state_owned_by_its_supply_date(db):
    supplied = rows(
        db,
        "SELECT p.code, s.supplied_on, lm_stage_as_of(p.id, p.stage, s.supplied_on) AS stage "
        "FROM land_supply s JOIN parcel p ON p.id = s.parcel_id",
    )
    assert len(supplied) >= 20
    assert [r for r in supplied if r.stage not in ("cleared", "state_owned")] == []
    # some of them were cleared in 2011 (the acquisition history), not only state land
    assert any(r.stage == "cleared" for r in supplied)


def test_industrial_plots_go_to_their_projects_enterprises_by_transfer(db):
    industrial = rows(
        db,
        "SELECT p.code, p.area_mu, p.land_user_id, s.method, s.transfer_way, s.contract_no, "
        "s.price_wan, s.enterprise_id, s.investment_wan, pr.enterprise_id AS project_enterprise "
        "FROM land_supply s JOIN parcel p ON p.id = s.parcel_id "
        "JOIN project pr ON pr.id = p.project_id WHERE p.land_use_code IN ('0601', '0604')",
    )
    assert len(industrial) >= 15
    for r in industrial:
        assert r.method == "transfer" and r.transfer_way in ("listing", "agreement"), r.code
        assert re.fullmatch(r"张经开出让〔20\d\d〕第\d+号", r.contract_no), r.contract_no
        assert 10 <= float(r.price_wan) / r.area_mu <= 20, r.code  # 万元/亩
        assert r.investment_wan > 0
        assert r.land_user_id == r.enterprise_id  # the supply's trigger set the land user
        if r.project_enterprise is not None:
            assert r.enterprise_id == r.project_enterprise, r.code
    allocated = rows(db, "SELECT transfer_way FROM land_supply WHERE method = 'allocation'")
    assert len(allocated) >= 2 and {w for (w,) in allocated} == {None}


def test_commercial_plots_keep_their_transfer_dates_and_2011_2_is_not_transferred(db):
    plots = dict(
        rows(
            db,
            "SELECT p.code, c.transfer_date FROM commercial_plot c "
            "JOIN parcel p ON p.id = c.parcel_id WHERE c.transfer_status = 'transferred'",
        )
    )
    assert plots == {
        "2010-5": dt.date(2010, 11, 18),
        "2010-6": dt.date(2010, 11, 18),
        "2010-7": dt.date(2010, 11, 18),
        "2009-3": dt.date(2010, 6, 30),
        "2009-4": dt.date(2010, 6, 30),
    }


def test_every_construction_event_is_after_its_supply_and_in_order(db):
    events = rows(
        db,
        "SELECT p.code, e.event, e.happened_on, s.supplied_on, e.note FROM construction_event e "
        "JOIN land_supply s ON s.id = e.supply_id JOIN parcel p ON p.id = e.parcel_id "
        "ORDER BY p.code, e.happened_on, e.id",
    )
    assert {e.event for e in events} >= {"started", "completed", "commissioned", "stopped"}
    assert [e.code for e in events if e.happened_on <= e.supplied_on] == []
    order = {"started": 0, "stopped": 1, "completed": 1, "commissioned": 2}
    by_parcel: dict[str, list] = {}
    for e in events:
        by_parcel.setdefault(e.code, []).append(e.event)
    for code, seq in by_parcel.items():
        assert seq[0] == "started" and [order[x] for x in seq] == sorted(order[x] for x in seq)
        assert seq.count("started") == 1, code
    stopped = [e for e in events if e.event == "stopped"]
    assert stopped and all(e.note.strip() for e in stopped)


def test_there_is_idle_land_supplied_and_never_started(db, last_day):
    idle = rows(
        db,
        "SELECT p.code, s.start_due FROM land_supply s JOIN parcel p ON p.id = s.parcel_id "
        "WHERE s.id = lm_supply_in_force(p.id, :d) AND s.start_due < :d - interval '1 year' "
        "AND NOT EXISTS (SELECT 1 FROM construction_event e WHERE e.supply_id = s.id "
        "AND e.event = 'started' AND e.happened_on <= :d)",
        d=last_day,
    )
    assert len(idle) >= 1
    # and supplies started on time are not among them
    assert scalar(db, "SELECT count(*) FROM land_supply") > len(idle) + 20


def test_built_land_has_buildings_with_plausible_ratios(db, last_day):
    built = rows(
        db,
        "SELECT p.code, ST_Area(p.geom) AS m2, p.land_use_code, b.floor_area_m2, b.footprint_m2, "
        "b.industrial_cover_m2 FROM parcel p "
        "JOIN construction_event e ON e.id = lm_construction_as_of(p.id, :d) "
        "LEFT JOIN parcel_building b ON b.id = lm_building_as_of(p.id, :d) "
        "WHERE e.event IN ('completed', 'commissioned')",
        d=last_day,
    )
    assert len(built) >= 10
    assert [r.code for r in built if r.floor_area_m2 is None] == []
    land = sum(r.m2 for r in built)
    far = sum(float(r.floor_area_m2) for r in built) / land
    density = sum(float(r.footprint_m2) for r in built) / land
    assert 0.8 <= far <= 1.2 and 0.3 <= density <= 0.5
    industrial = [r for r in built if r.land_use_code in ("0601", "0604")]
    assert all(r.industrial_cover_m2 >= r.footprint_m2 for r in industrial)


def test_core_enterprises_report_every_month_of_2011_and_fall_in_every_class(db):
    months = dict(
        rows(
            db,
            "SELECT e.name, count(DISTINCT s.month) FROM enterprise_statistic s "
            "JOIN enterprise e ON e.id = s.enterprise_id "
            "WHERE s.year = 2011 AND s.source = 'demo' GROUP BY e.name",
        )
    )
    full = {name for name, n in months.items() if n == 12}
    assert {"奥威科技", "永兴玻璃", "鑫彤飞碳酸钙"} <= full
    per_mu = dict(
        rows(
            db,
            "SELECT e.name, sum(s.tax_wan) / (SELECT sum(area_mu) FROM parcel "
            "WHERE land_user_id = e.id) FROM enterprise_statistic s "
            "JOIN enterprise e ON e.id = s.enterprise_id WHERE s.year = 2011 GROUP BY e.id",
        )
    )
    assert all(v is not None for v in per_mu.values())  # every reporting firm uses land
    limits = dict(rows(db, "SELECT class, min_tax_per_mu FROM efficiency_class"))

    def classed(v):
        return next((c for c in "ABC" if v >= limits[c]), "D")

    assert {classed(v) for v in per_mu.values()} == set("ABCD")
    assert all(3 <= v <= 20 for name, v in per_mu.items() if name in full)


def test_the_demo_figures_are_unchanged(db):
    c_project = "C区1000亩土地开发项目"
    total = scalar(
        db,
        "SELECT round(sum(pa.area_mu)::numeric, 2) FROM parcel pa JOIN project p "
        "ON p.id = pa.project_id WHERE p.name = :n",
        n=c_project,
    )
    first = scalar(
        db,
        "SELECT round(sum(pa.area_mu)::numeric, 2) FROM parcel pa JOIN acquisition_batch b "
        "ON b.id = pa.batch_id JOIN project p ON p.id = b.project_id "
        "WHERE p.name = :n AND b.name = '第一批'",
        n=c_project,
    )
    assert (float(total), float(first)) == (1000.00, 315.00)
    zones = {z.code: z.area_mu for z in summary(db)}
    assert zones == {"A": 6067.50, "B": 6313.13, "C": 11355.00}


def test_a_supply_of_land_not_yet_cleared_is_refused_and_leaves_nothing(db, settings, tmp_path):
    for name in ("demo.gpkg", "projects.json", "stage_history.csv"):
        shutil.copy(DEMO_DIR / name, tmp_path / name)
    code = scalar(db, "SELECT code FROM parcel WHERE stage = 'not_started' ORDER BY code LIMIT 1")
    book = json.loads((DEMO_DIR / "supply.json").read_text(encoding="utf-8"))
    contract = {**book["supplies"][0], "parcels": [{"code": code, "price_wan": 100}]}
    (tmp_path / "supply.json").write_text(
        json.dumps({"supplies": [contract]}, ensure_ascii=False), encoding="utf-8"
    )
    before = scalar(db, "SELECT count(*) FROM land_supply")
    with pytest.raises(Refused) as refused:
        load_demo(db, settings, tmp_path)
    assert refused.value.message.code == "demo_supply_not_ready" and code in refused.value.message
    assert scalar(db, "SELECT count(*) FROM land_supply") == before
