"""Migrations downwards, on a schema holding the demo and more: what each downgrade does with
the data, pinned.

- 0008 .. head: the register is kept whole on the way down and up again, except what is
  designed to go: signed-in sessions (user_session, 0009) end, and a draft's operation and
  drawn shape (0011) are forgotten, the draft itself (its boundary) kept.
- below 0008 a downgrade drops what its migration created, table by table, and keeps every
  row of every table that stays.
- base: no landmap table, function or trigger is left; head again makes a working register.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.db import make_engine, migrate
from landmap.db.engine import make_app_engine
from landmap.demo import load_demo
from landmap.domain import Stage
from landmap.services import acquisition, users
from landmap.services.acquisition import Move

# the tables each migration creates (the others add columns, functions and triggers)
CREATES = {
    "0001": {
        "zone",
        "zone_boundary",
        "project",
        "project_target",
        "acquisition_batch",
        "parcel",
        "commercial_plot",
        "import_run",
    },
    "0002": {"landuse_patch", "farmland"},
    "0003": {"stage_change", "stage_document"},
    "0004": {"quota_year", "quota_balance", "quota_entry"},
    "0005": {"app_user", "api_token", "audit_log"},
    "0007": {"tile_change"},
    "0009": {"user_session"},
    "0014": {"enterprise"},
    "0015": {"parcel_lineage", "parcel_correction"},
    "0018": {
        "land_supply",
        "construction_event",
        "parcel_building",
        "enterprise_statistic",
        "efficiency_class",
    },
    "0019": {"rate_limit"},
    "0021": {"progress_delta"},
    "0022": {"document_content"},
    "0023": {"backup_run"},
    "0024": {
        "compensation_standard",
        "compensation_rate",
        "household",
        "household_parcel",
        "household_house",
        "household_attachment",
        "household_balance",
        "compensation_agreement",
        "compensation_payment",
    },
}

# what stays the same through 0008 -> head -> 0008: each a fingerprint of the rows
FINGERPRINTS = {
    "parcels": "SELECT md5(string_agg(concat_ws('|', code, stage, area_mu, dispute, owner,"
    " md5(ST_AsEWKB(geom)::text)), ',' ORDER BY code)) FROM parcel",
    "history": "SELECT md5(string_agg(concat_ws('|', id, parcel_id, change_set, kind,"
    " from_stage, to_stage, happened_on, recorded_by, correction, reason), ',' ORDER BY id))"
    " FROM stage_change",
    "quota": "SELECT md5(string_agg(concat_ws('|', id, year, source, kind, mu, project_id),"
    " ',' ORDER BY id)) FROM quota_entry",
    "balances": "SELECT md5(string_agg(concat_ws('|', year, source, granted_mu, reserved_mu,"
    " consumed_mu), ',' ORDER BY year, source)) FROM quota_balance",
    "users": "SELECT md5(string_agg(concat_ws('|', name, role, password_hash, active), ','"
    " ORDER BY id)) FROM app_user",
    "tokens": "SELECT md5(string_agg(concat_ws('|', token_hash, revoked_at), ',' ORDER BY id))"
    " FROM api_token",
    "boundaries": "SELECT md5(string_agg(concat_ws('|', id, zone_id, status, valid_from,"
    " valid_to, approved_by, md5(ST_AsEWKB(geom)::text)), ',' ORDER BY id)) FROM zone_boundary",
    "audit": "SELECT md5(string_agg(concat_ws('|', id, actor, entity, key, action, before,"
    " after), ',' ORDER BY id)) FROM audit_log WHERE id <= :upto",
}


def revisions(settings) -> list[str]:
    """Every revision, base first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config(settings))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


@pytest.fixture
def owner(scratch) -> Iterator:
    engine = make_engine(scratch.with_(db_role=""))
    yield engine
    engine.dispose()


@pytest.fixture
def register(scratch) -> Iterator:
    """The scratch schema with the demo, an account with a token and a live session, a stage
    move, and a zone draft made by adding a shape to the boundary."""
    engine = make_app_engine(scratch)
    with Session(engine) as session:
        load_demo(session, scratch)
        user = users.add(session, "t_keeper", "admin", "a long enough password")
        users.new_token(session, "t_keeper", "migrations")
        users.start_session(session, user, "127.0.0.1")
        code = session.execute(
            text(
                "SELECT min(code) FROM parcel WHERE stage = 'not_started' AND batch_id IS NOT NULL"
            )
        ).scalar_one()
        acquisition.move(session, [code], Move(Stage.SURVEYED, dt.date(2012, 3, 1)), "t_keeper")
        session.execute(
            text("""
            INSERT INTO zone_boundary (zone_id, status, created_by, op, geom, drawn)
            SELECT zone_id, 'draft', 't_keeper', 'add',
                   ST_Multi(ST_Union(geom, ST_Buffer(ST_PointOnSurface(geom), 30))),
                   ST_Multi(ST_Buffer(ST_PointOnSurface(geom), 30))
            FROM zone_boundary WHERE status = 'current' ORDER BY zone_id LIMIT 1""")
        )
        session.commit()
    yield engine
    engine.dispose()


def tables(conn, schema: str) -> set[str]:
    return set(
        conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
        ).scalars()
    )


def columns(conn, schema: str, table: str) -> set[str]:
    return set(
        conn.execute(
            text("""SELECT column_name FROM information_schema.columns
                                    WHERE table_schema = :s AND table_name = :t"""),
            {"s": schema, "t": table},
        ).scalars()
    )


def row_counts(conn, schema: str) -> dict[str, int]:
    return {
        t: conn.execute(text(f'SELECT count(*) FROM "{schema}"."{t}"')).scalar_one()
        for t in sorted(tables(conn, schema) - {"alembic_version"})
    }


def fingerprints(conn, schema: str, audit_upto: int) -> dict[str, str]:
    """The fingerprints, the audit trail's up to the entry ``audit_upto``."""
    conn.execute(text(f'SET search_path = "{schema}", public'))
    return {
        name: conn.execute(text(sql), {"upto": audit_upto}).scalar_one()
        for name, sql in FINGERPRINTS.items()
    }


def objects(conn, schema: str) -> dict[str, list[str]]:
    """What is left in the schema besides alembic's table: functions, triggers, sequences,
    types, views."""
    q = {
        "functions": "SELECT p.proname FROM pg_proc p WHERE p.pronamespace = to_regnamespace(:s)",
        "triggers": """SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                       WHERE c.relnamespace = to_regnamespace(:s) AND NOT t.tgisinternal""",
        "relations": """SELECT relname FROM pg_class WHERE relnamespace = to_regnamespace(:s)
                        AND relname NOT LIKE 'alembic_version%'""",
        "types": """SELECT typname FROM pg_type WHERE typnamespace = to_regnamespace(:s)
                    AND typname NOT LIKE '%alembic_version'""",
    }
    return {k: sorted(conn.execute(text(sql), {"s": schema}).scalars()) for k, sql in q.items()}


def test_the_revisions_run_from_0001_to_head(scratch):
    revs = revisions(scratch)
    assert revs[:11] == [f"{i:04d}" for i in range(1, 12)]
    assert revs[-1] == migrate.head(scratch) == migrate.current(scratch)


def test_down_to_0008_and_up_again_keeps_the_register(scratch, register, owner):
    schema = scratch.db_schema
    with owner.connect() as conn:
        last = conn.execute(text(f'SELECT max(id) FROM "{schema}".audit_log')).scalar_one()
        kept = fingerprints(conn, schema, last)
        counts = row_counts(conn, schema)
        draft = conn.execute(
            text("""SELECT id, base_id, md5(ST_AsEWKB(geom)::text)
                                     FROM zone_boundary WHERE status = 'draft'""")
        ).one()
    assert counts["user_session"] == 1 and counts["stage_change"] > 0
    assert counts["quota_entry"] > 0 and counts["audit_log"] > 0
    migrate.downgrade(scratch, "0008")
    assert migrate.current(scratch) == "0008"
    with owner.connect() as conn:
        assert "user_session" not in tables(conn, schema)
        assert "session_version" in columns(conn, schema, "app_user")
        assert not {"base_id", "op", "drawn"} & columns(conn, schema, "zone_boundary")
        assert fingerprints(conn, schema, last) == kept
    migrate.upgrade(scratch)
    assert migrate.current(scratch) == migrate.head(scratch)
    with owner.connect() as conn:
        assert fingerprints(conn, schema, last) == kept
        after = row_counts(conn, schema)
        # designed to go: the sessions (everyone signs in again) and how a draft was made;
        # 0011 gives the draft its base again, as the migrating role: the audit says so and
        # the tiles it covers are marked as changed
        # and the enterprises (0014: their table goes below it), and the demo's supplies,
        # construction, buildings and statistics (0018) with them, and the demo's households,
        # agreements and payments (0024: their tables go below it)
        assert after == {
            **counts,
            **{t: 0 for t in CREATES["0024"]},
            "user_session": 0,
            "enterprise": 0,
            "land_supply": 0,
            "construction_event": 0,
            "parcel_building": 0,
            "enterprise_statistic": 0,
            "audit_log": counts["audit_log"] + 1,
            "tile_change": counts["tile_change"] + 1,
        }
        added = conn.execute(
            text("SELECT entity, action, actor LIKE 'db:%' FROM audit_log WHERE id > :l"),
            {"l": last},
        ).all()
        assert [tuple(r) for r in added] == [("zone", "update", True)]
        assert "session_version" not in columns(conn, schema, "app_user")
        again = conn.execute(
            text("""SELECT id, base_id, md5(ST_AsEWKB(geom)::text), op, drawn
                                     FROM zone_boundary WHERE status = 'draft'""")
        ).one()
    assert tuple(again[:3]) == tuple(draft)  # the same draft, on the same base
    assert (again.op, again.drawn) == ("replace", None)
    # and the register works as before: a move goes through the history, the audit and the
    # as-of function, as the web app's role
    with Session(register) as session:
        code = session.execute(
            text(
                "SELECT min(code) FROM parcel WHERE stage = 'not_started' AND batch_id IS NOT NULL"
            )
        ).scalar_one()
        acquisition.move(session, [code], Move(Stage.CLEARED, dt.date(2012, 4, 1)), "t_keeper")
        stage = session.execute(
            text(
                "SELECT stage, lm_stage_as_of(id, stage, DATE '2012-03-31')"
                " FROM parcel WHERE code = :c"
            ),
            {"c": code},
        ).one()
        assert tuple(stage) == ("cleared", "not_started")
        audit = session.execute(
            text("SELECT count(*) FROM audit_log WHERE key = :c AND action = 'stage'"), {"c": code}
        ).scalar_one()
        assert audit == 1
        session.rollback()


def test_each_downgrade_drops_what_its_migration_made_and_keeps_every_other_row(
    scratch, register, owner
):
    schema = scratch.db_schema
    revs = revisions(scratch)
    with owner.connect() as conn:
        counts = row_counts(conn, schema)
    for target in reversed(["base", *revs[:-1]]):
        migrate.downgrade(scratch, target)
        assert migrate.current(scratch) == (None if target == "base" else target)
        made = set().union(*(t for r, t in CREATES.items() if target != "base" and r <= target))
        with owner.connect() as conn:
            assert tables(conn, schema) - {"alembic_version"} == made, target
            left = row_counts(conn, schema)
        assert left == {t: n for t, n in counts.items() if t in made}, target
        if target == "0002":  # the history is gone, the stage each parcel reached stays
            with owner.connect() as conn:
                assert "dispute" not in columns(conn, schema, "parcel")
                stages = conn.execute(
                    text(f"SELECT count(*) FROM \"{schema}\".parcel WHERE stage = 'surveyed'")
                ).scalar_one()
                assert stages >= 1
        if target == "0005":
            with owner.connect() as conn:
                assert not {"approved_by", "approved_at"} & columns(conn, schema, "zone_boundary")


def test_down_to_base_leaves_nothing_and_head_again_makes_a_working_register(
    scratch, register, owner
):
    schema = scratch.db_schema
    with owner.connect() as conn:
        demo_counts = {
            t: n
            for t, n in row_counts(conn, schema).items()
            if t
            in (
                "parcel",
                "landuse_patch",
                "farmland",
                "project",
                "acquisition_batch",
                "commercial_plot",
            )
        }
    migrate.downgrade(scratch, "base")
    assert migrate.current(scratch) is None
    with owner.connect() as conn:
        assert tables(conn, schema) <= {"alembic_version"}
        assert objects(conn, schema) == {
            "functions": [],
            "triggers": [],
            "relations": [],
            "types": [],
        }
    migrate.upgrade(scratch)
    assert migrate.current(scratch) == migrate.head(scratch)
    engine = make_app_engine(scratch)
    try:
        with Session(engine) as session:
            assert session.execute(text("SELECT count(*) FROM parcel")).scalar_one() == 0
            result = load_demo(session, scratch)
            session.commit()
            assert result.changed
        with engine.connect() as conn:
            again = {t: n for t, n in row_counts(conn, schema).items() if t in demo_counts}
        assert again == demo_counts
    finally:
        engine.dispose()
