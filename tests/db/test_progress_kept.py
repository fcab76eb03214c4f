"""Project progress kept by the database (progress_delta, migration 0021): after every kind of
write (stage moves and corrections, disputes, splits, merges, geometry and attribute
corrections, batch assignments, imports, parcels added and deleted) the table is exactly what
the register's whole history gives (lm_progress_rebuilt), and progress() read from it is
progress_rescanned() (the definition, which rescans every parcel's history) for every project
and batch, as of today and past days."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import free_parcels, settle_households
from loaders.files import parcels as survey_parcels
from loaders.files import write_shp
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from landmap import loaders
from landmap.db import migrate
from landmap.db.engine import make_app_engine
from landmap.demo import load_demo
from landmap.domain import Stage, today
from landmap.loaders import LoadOptions
from landmap.services import acquisition, parcel_edits, projects
from landmap.services.acquisition import Move

D = dt.date
ROW = "project_id, batch_id, created_on, retired_on, period, starts::text, measure, parcels, mu"
ROWS = {
    "kept": f"SELECT {ROW}, events FROM progress_delta",
    "rebuilt": f"SELECT {ROW}, events FROM lm_progress_rebuilt()",
}
DRIFT = f"""
    (SELECT 'kept', * FROM ({ROWS["kept"]} EXCEPT ALL {ROWS["rebuilt"]}) x)
    UNION ALL
    (SELECT 'rebuilt', * FROM ({ROWS["rebuilt"]} EXCEPT ALL {ROWS["kept"]}) x)
    ORDER BY 1 LIMIT 20"""
# before the demo's history, inside it, its last day, after it, and today
DAYS = (D(2005, 1, 1), D(2011, 6, 30), D(2011, 11, 25), D(2012, 6, 29), None)


def drift(db) -> list[str]:
    """progress_delta's rows that differ from the register's history, either way."""
    return [" | ".join(map(str, row)) for row in db.execute(text(DRIFT))]


def scopes(db) -> list[tuple[int, int | None]]:
    rows = db.execute(
        text("""SELECT p.id, b.id FROM project p LEFT JOIN acquisition_batch b
                ON b.project_id = p.id ORDER BY p.id, b.id""")
    ).all()
    whole = sorted({p for p, _ in rows})
    return [(p, None) for p in whole] + [(p, b) for p, b in rows if b is not None]


def assert_kept(db, days=DAYS) -> None:
    """The table is the history's, and every project's and batch's progress the definition's."""
    assert drift(db) == []
    for project_id, batch_id in scopes(db):
        for day in days:
            kept = acquisition.progress(db, project_id, batch_id, day)
            assert kept == acquisition.progress_rescanned(db, project_id, batch_id, day), (
                project_id,
                batch_id,
                day,
            )


def project_of(db, code: str) -> tuple[int, int]:
    row = db.execute(
        text("SELECT project_id, batch_id FROM parcel WHERE code = :c"), {"c": code}
    ).one()
    return row.project_id, row.batch_id


def test_the_demo_is_kept_and_its_figures_are_the_definitions(db):
    rows = db.execute(text("SELECT count(*), count(DISTINCT project_id) FROM progress_delta")).one()
    assert rows[0] > 100 and rows[1] >= 1
    pid, bid = project_of(db, free_parcels(db, 1)[0])
    pr = acquisition.progress(db, pid, bid, D(2011, 11, 25))
    assert pr.series and pr.area_mu > 0 and pr.started < D(2011, 11, 25)
    assert_kept(db)


def test_moves_forward_back_and_on_one_day_stay_kept(db):
    codes = free_parcels(db, 5)
    acquisition.move(db, codes[:3], Move(Stage.SURVEYED, D(2012, 1, 10)), "u")
    acquisition.move(db, codes[:2], Move(Stage.CLEARED, D(2012, 3, 31)), "u")
    acquisition.move(db, codes[2:4], Move(Stage.DEMOLISHED, D(2012, 3, 31)), "u")
    acquisition.move(db, codes[4:], Move(Stage.CLEARED, D(2012, 4, 1)), "u")
    # a correction back, and on again the same day
    back = Move(Stage.AGREEMENT_SIGNED, D(2012, 5, 2), "", correction=True, reason="wrong")
    acquisition.move(db, codes[:1], back, "u")
    acquisition.move(db, codes[:1], Move(Stage.COMPENSATED, D(2012, 5, 2)), "u")
    acquisition.move(db, codes[3:4], Move(Stage.CLEARED, today()), "u")
    assert_kept(db, (*DAYS, D(2012, 3, 30), D(2012, 3, 31), D(2012, 5, 2)))
    pid, bid = project_of(db, codes[0])
    before = acquisition.progress(db, pid, bid, D(2012, 3, 30)).cleared_mu
    after = acquisition.progress(db, pid, bid, D(2012, 3, 31)).cleared_mu
    mu = db.execute(
        text("SELECT sum(area_mu) FROM parcel WHERE code = ANY(:c)"), {"c": codes[:2]}
    ).scalar_one()
    assert after - before == pytest.approx(mu, abs=0.011)


def test_many_parcels_moved_at_once_stay_kept(db):
    pid, bid = project_of(db, free_parcels(db, 1)[0])
    codes = list(
        db.execute(
            text("SELECT code FROM parcel WHERE batch_id = :b AND stage <> 'cleared'"), {"b": bid}
        ).scalars()
    )
    assert len(codes) > 10
    settle_households(db, codes, D(2012, 8, 1))  # the demo's households, surveyed in 2011
    acquisition.move(db, codes, Move(Stage.CLEARED, D(2012, 8, 1)), "u")
    assert_kept(db, (D(2012, 7, 31), D(2012, 8, 1), None))
    assert acquisition.progress(db, pid, bid, D(2012, 8, 1)).projected_completion == D(2012, 8, 1)


def test_disputes_and_their_resolutions_stay_kept(db):
    a, b = free_parcels(db, 2)
    acquisition.set_dispute(db, a, True, D(2012, 2, 1), "钉子户", "u")
    acquisition.set_dispute(db, b, True, D(2012, 2, 1), "补偿争议", "u")
    acquisition.set_dispute(db, a, False, D(2012, 3, 1), "谈妥", "u")
    acquisition.move(db, [a], Move(Stage.CLEARED, D(2012, 3, 1)), "u")
    acquisition.set_dispute(db, a, True, D(2012, 4, 1), "又起争议", "u")
    days = (D(2012, 1, 31), D(2012, 2, 1), D(2012, 3, 1), D(2012, 4, 1), None)
    assert_kept(db, days)
    pid, bid = project_of(db, a)
    assert acquisition.progress(db, pid, bid, D(2012, 2, 15)).disputes.parcels >= 2


def test_entries_the_service_would_refuse_are_counted_as_the_history_reads_them(db):
    """The database takes a resolve of a parcel never disputed and a dispute of one already
    disputed; the figures follow lm_dispute_as_of all the same."""
    a, b = free_parcels(db, 2)
    entries = [(a, "resolve", "2012-02-01"), (b, "dispute", "2012-02-01"),
               (b, "dispute", "2012-03-01"), (a, "resolve", "2012-03-01")]  # fmt: skip
    for code, kind, day in entries:
        db.execute(
            text("""INSERT INTO stage_change (parcel_id, change_set, kind, happened_on,
                        recorded_by, reason)
                    SELECT id, gen_random_uuid(), :k, :d, 'u', 'x' FROM parcel WHERE code = :c"""),
            {"c": code, "k": kind, "d": day},
        )
    assert_kept(db, (D(2012, 1, 31), D(2012, 2, 1), D(2012, 3, 1), None))


def test_splits_merges_and_corrections_stay_kept(db):
    code = free_parcels(db, 1)[0]
    acquisition.move(db, [code], Move(Stage.SURVEYED, D(2012, 1, 10)), "u")
    acquisition.move(db, [code], Move(Stage.CLEARED, D(2012, 2, 10)), "u")
    pid, bid = project_of(db, code)
    whole = acquisition.progress(db, pid, bid).cleared_mu
    line = json.loads(
        db.execute(
            text("""
            SELECT ST_AsGeoJSON(ST_MakeLine(ST_MakePoint(ST_XMin(b) - 0.001, ST_Y(c)),
                                            ST_MakePoint(ST_XMax(b) + 0.001, ST_Y(c))), 9)
            FROM (SELECT Box2D(ST_Transform(geom, 4326)) AS b,
                         ST_Transform(ST_PointOnSurface(geom), 4326) AS c
                  FROM parcel WHERE code = :c) x"""),
            {"c": code},
        ).scalar_one()
    )
    split_day = D(2012, 5, 1)
    parts = parcel_edits.split(db, code, "u", line=line, reason="part sold", day=split_day)
    halves = [f["properties"]["code"] for f in parts["parcels"]]
    assert len(halves) == 2
    assert_kept(db, (*DAYS, split_day - dt.timedelta(days=1), split_day))
    # split halves: cleared since ever, but in force from the split day on
    assert acquisition.progress(db, pid, bid).cleared_mu == pytest.approx(whole, abs=0.02)
    merged = parcel_edits.merge(db, halves, "u", reason="bought back", day=D(2012, 6, 1))
    new = merged["parcel"]["properties"]["code"]
    assert_kept(db, (D(2012, 5, 31), D(2012, 6, 1), None))
    bigger = json.loads(
        db.execute(
            text("""SELECT ST_AsGeoJSON(ST_Transform(ST_Buffer(geom, -2, 'join=mitre'), 4326), 9)
                    FROM parcel WHERE code = :c"""),
            {"c": new},
        ).scalar_one()
    )
    parcel_edits.correct_geometry(db, new, bigger, "resurveyed", "u", D(2012, 7, 1))
    parcel_edits.correct(db, new, {"owner": "新权利人"}, "transferred", "u", D(2012, 7, 2))
    assert_kept(db, (D(2012, 7, 1), None))


def test_assignments_to_batches_and_projects_stay_kept(db):
    a, b, c = free_parcels(db, 3)
    acquisition.move(db, [a, b], Move(Stage.CLEARED, D(2012, 2, 1)), "u")
    acquisition.set_dispute(db, c, True, D(2012, 2, 1), "钉子户", "u")
    pid, bid = project_of(db, a)
    other = db.execute(
        text("""INSERT INTO acquisition_batch (project_id, name, target_mu, due)
                VALUES (:p, '第九批（测试）', 50, '2013-12-31') RETURNING id"""),
        {"p": pid},
    ).scalar_one()
    projects.assign_parcels(db, pid, [a, c], other)
    assert_kept(db)
    projects.unassign_parcels(db, pid, [b])
    db.execute(text("UPDATE parcel SET batch_id = NULL WHERE code = :c"), {"c": c})
    assert_kept(db)
    assert acquisition.progress(db, pid, other).disputes.parcels == 0


def test_parcels_added_and_deleted_stay_kept(db):
    pid, bid = project_of(db, free_parcels(db, 1)[0])
    db.execute(
        text("""
        INSERT INTO parcel (code, stage, dispute, dispute_reason, project_id, batch_id, geom)
        SELECT 'KEPT-' || i, (ARRAY['cleared', 'surveyed', 'not_started'])[i],
               i = 2, CASE WHEN i = 2 THEN '钉子户' ELSE '' END, :p, :b,
               ST_Multi(ST_MakeEnvelope(456000 + i * 50, 3216000, 456040 + i * 50, 3216040,
                                        lm_storage_srid()))
        FROM generate_series(1, 3) i"""),
        {"p": pid, "b": bid},
    )
    assert_kept(db)
    db.execute(text("DELETE FROM parcel WHERE code IN ('KEPT-1', 'KEPT-2')"))
    assert_kept(db)


def test_an_import_that_moves_and_reshapes_parcels_stays_kept(db, settings, tmp_path):
    pid, bid = project_of(db, free_parcels(db, 1)[0])
    names = db.execute(
        text("""SELECT p.name, b.name, (SELECT name FROM acquisition_batch WHERE project_id = p.id
                                        AND id <> b.id ORDER BY id LIMIT 1)
                FROM project p JOIN acquisition_batch b ON b.project_id = p.id
                WHERE b.id = :b"""),
        {"b": bid},
    ).one()
    gdf = survey_parcels(6)
    gdf["XMMC"], gdf["PCMC"], gdf["ZSJD"] = names[0], names[1], "cleared"
    path = write_shp(gdf, tmp_path / "one" / "宗地.shp")
    loaders.load(db, settings, "parcels", path, LoadOptions(run_by="tester"))
    assert_kept(db, (D(2012, 6, 29), None))
    again = survey_parcels(6, size=42.0)
    again["XMMC"], again["PCMC"], again["ZSJD"] = names[0], names[2] or names[1], "cleared"
    path = write_shp(again, tmp_path / "two" / "宗地.shp")
    loaders.load(db, settings, "parcels", path, LoadOptions(run_by="tester"))
    assert_kept(db, (D(2012, 6, 29), None))


def test_the_app_reads_the_kept_table_and_cannot_write_it(engine, demo):
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM progress_delta")).scalar_one() > 0
        for sql in (
            "DELETE FROM progress_delta",
            "UPDATE progress_delta SET mu = 0",
            "INSERT INTO progress_delta (project_id, period, starts, measure, parcels, mu, events)"
            " VALUES (1, 'day', '2012-01-01', 'cleared', 1, 1, 0)",
        ):
            with pytest.raises(DBAPIError, match="permission denied"), conn.begin_nested():
                conn.execute(text(sql))
        conn.rollback()


def test_the_api_serves_the_kept_figures(client, db):
    pid, bid = project_of(db, free_parcels(db, 1)[0])
    for query in ({}, {"as_of": "2011-06-30"}, {"batch": bid, "as_of": "2011-09-30"}):
        resp = client.get(f"/api/projects/{pid}/progress", query_string=query)
        assert resp.status_code == 200
        body = resp.get_json()
        day = D.fromisoformat(body["as_of"])
        expected = acquisition.progress_rescanned(db, pid, query.get("batch"), day)
        assert {k: v for k, v in body.items() if k != "batches"} == json.loads(
            json.dumps(expected.as_dict(), default=str)
        )


def test_the_migration_fills_the_table_from_the_history_before_it(scratch):
    """A register with history (written by today's code) taken down to 0020, before the
    table, and up again: the migration fills it."""
    engine = make_app_engine(scratch)
    try:
        with Session(engine) as session:
            load_demo(session, scratch)
            codes = free_parcels(session, 3)
            acquisition.move(session, codes, Move(Stage.CLEARED, D(2012, 3, 1)), "u")
            acquisition.set_dispute(session, codes[0], True, D(2012, 3, 2), "钉子户", "u")
            session.commit()
        engine.dispose()
        migrate.downgrade(scratch, "0020")
        with Session(engine) as session:
            assert session.execute(text("SELECT to_regclass('progress_delta')")).scalar() is None
        migrate.upgrade(scratch)
        with Session(engine) as session:
            assert session.execute(text("SELECT count(*) FROM progress_delta")).scalar_one() > 0
            assert_kept(session, (D(2011, 11, 25), D(2012, 3, 1), None))
    finally:
        engine.dispose()
