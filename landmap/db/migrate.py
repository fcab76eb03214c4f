"""Alembic, driven from code: `python -m landmap db upgrade` and the test fixtures call this."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from landmap.config import Settings
from landmap.db.engine import make_engine
from landmap.domain import Refused, Stage
from landmap.messages import msg

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["settings"] = settings
    return cfg


APP_ROLE = "landmap_app"
GIS_ROLE = "landmap_gis"  # read-only: SELECT on the GIS views (migration 0017), nothing else


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)
    grant_app_role(settings)
    grant_gis_role(settings)


def grant_app_role(settings: Settings) -> bool:
    """The web app's database role: it owns nothing and may do only what the app does. On
    audit_log and document_content INSERT and SELECT; on quota_balance no amount (the
    ledger's trigger moves them, as the owner); TRUNCATE nowhere. Created (NOLOGIN) when
    missing and the migrating role may create roles; scripts/localdb.sh makes it a LOGIN
    role. Returns whether it exists."""
    engine = make_engine(settings.with_(db_role=""))
    schema = settings.db_schema
    try:
        with engine.begin() as conn:
            if not _app_role_exists(conn):
                return False
            _grant_tables(conn, schema)
            _keep_audit_append_only(conn, schema)
            _keep_quota_amounts_to_the_ledger(conn, schema)
            _keep_progress_to_its_triggers(conn, schema)
            _keep_compensation_balances_to_the_ledger(conn, schema)
            if settings.db_role == APP_ROLE:
                _let_owner_become_app_role(conn)
    finally:
        engine.dispose()
    return True


def _app_role_exists(conn: Connection, role: str = APP_ROLE) -> bool:
    """Create the app's role (or ``role``) when it is missing and the migrating role may;
    whether it is."""
    conn.execute(
        text(f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                BEGIN
                    CREATE ROLE {role} NOLOGIN;
                EXCEPTION WHEN insufficient_privilege THEN
                    RAISE NOTICE 'cannot create role {role}';
                END;
            END IF;
        END $$""")
    )
    found = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
    return found.first() is not None


def grant_gis_role(settings: Settings) -> str | None:
    """The GIS views of migration 0017 for other GIS: their stage labels refreshed from
    landmap.domain.Stage, SELECT on them (and USAGE on their schema, nothing else) for the
    read-only group role landmap_gis and for the app (OGC API Features). Returns the
    views' schema, or None before 0017."""
    engine = make_engine(settings.with_(db_role=""))
    try:
        with engine.begin() as conn:
            if conn.execute(text("SELECT to_regproc('lm_gis_schema')")).scalar() is None:
                return None
            gis = conn.execute(text("SELECT lm_gis_schema()")).scalar()
            _refresh_stage_labels(conn, gis)
            roles = [r for r in (GIS_ROLE, APP_ROLE) if _app_role_exists(conn, r)]
            for role in roles:
                conn.execute(
                    text(f"""
                    REVOKE ALL ON ALL TABLES IN SCHEMA "{gis}" FROM {role};
                    GRANT USAGE ON SCHEMA "{gis}" TO {role};
                    GRANT SELECT ON ALL TABLES IN SCHEMA "{gis}" TO {role};
                    """)
                )
    finally:
        engine.dispose()
    return gis


READER_NAME = re.compile(r"^[a-z][a-z0-9_]{2,39}$")


def add_gis_reader(settings: Settings, name: str) -> tuple[str, str]:
    """A login for one person's GIS (QGIS, ArcGIS) straight to PostGIS: a LOGIN role in
    landmap_gis with a new random password (a second call gives a new password), whose
    search_path is the GIS views' schema. Returns (views' schema, password)."""
    if not READER_NAME.match(name) or name in (APP_ROLE, GIS_ROLE):
        raise Refused(
            msg(
                "gis_reader_bad_name",
                "a database login name is 3 to 40 lower-case letters, digits or _, starting "
                "with a letter; %(given)s is not one",
                given=name[:40],
            )
        )
    gis = grant_gis_role(settings)
    if gis is None:
        raise Refused(msg("gis_views_missing", "the database has no GIS views: run db upgrade"))
    password = secrets.token_hex(16)  # hex: nothing to quote
    engine = make_engine(settings.with_(db_role=""))
    try:
        with engine.begin() as conn:
            row = conn.execute(
                text("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = :n"),
                {"n": name},
            ).first()
            if row is not None and row[0]:
                raise Refused(
                    msg("gis_reader_privileged", "%(given)s is a privileged role", given=name)
                )
            verb = "ALTER" if row is not None else "CREATE"
            conn.execute(text(f"{verb} ROLE {name} LOGIN INHERIT PASSWORD '{password}'"))
            conn.execute(text(f"GRANT {GIS_ROLE} TO {name}"))
            database = conn.execute(text("SELECT current_database()")).scalar()
            conn.execute(
                text(
                    f'ALTER ROLE {name} IN DATABASE "{database}" SET search_path = "{gis}", public'
                )
            )
    finally:
        engine.dispose()
    return gis, password


def _refresh_stage_labels(conn: Connection, gis: str) -> None:
    conn.execute(text(f'DELETE FROM "{gis}".stage_label'))
    conn.execute(
        text(f'INSERT INTO "{gis}".stage_label VALUES (:stage, :ord, :label, :label_en)'),
        [
            {"stage": s.value, "ord": i, "label": s.label_zh, "label_en": s.label_en}
            for i, s in enumerate(Stage)
        ],
    )


def _grant_tables(conn: Connection, schema: str) -> None:
    """Reading and writing rows of every table, and using its sequences; nothing more."""
    conn.execute(
        text(f"""
        GRANT USAGE ON SCHEMA "{schema}" TO {APP_ROLE};
        REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM {APP_ROLE};
        REVOKE ALL ON ALL SEQUENCES IN SCHEMA "{schema}" FROM {APP_ROLE};
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {APP_ROLE};
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO {APP_ROLE};
    """)
    )


APPEND_ONLY = ("audit_log", "document_content")  # the app inserts and reads, nothing more


def _keep_audit_append_only(conn: Connection, schema: str) -> None:
    for table in APPEND_ONLY:
        if conn.execute(text("SELECT to_regclass(:t)"), {"t": f'"{schema}".{table}'}).scalar():
            conn.execute(text(f'REVOKE UPDATE, DELETE ON "{schema}".{table} FROM {APP_ROLE}'))


def _keep_quota_amounts_to_the_ledger(conn: Connection, schema: str) -> None:
    """Once the ledger's trigger moves balances as the owner (0009 on): services.quota opens
    a year's balance at zero (INSERT ... ON CONFLICT DO NOTHING) and locks it (FOR UPDATE
    needs UPDATE on a column): the keys only, which a trigger keeps from changing."""
    ledger = f'"{schema}".lm_apply_quota_entry()'
    definer = conn.execute(
        text("SELECT prosecdef FROM pg_proc WHERE oid = to_regprocedure(:f)"), {"f": ledger}
    ).scalar()
    if definer:
        conn.execute(
            text(f"""
            REVOKE INSERT, UPDATE, DELETE ON "{schema}".quota_balance FROM {APP_ROLE};
            GRANT INSERT (year, source), UPDATE (year, source)
                ON "{schema}".quota_balance TO {APP_ROLE};
        """)
        )


def _keep_progress_to_its_triggers(conn: Connection, schema: str) -> None:
    """progress_delta (0021) is kept by the register's triggers, as the owner: the app reads it."""
    if conn.execute(text("SELECT to_regclass(:t)"), {"t": f'"{schema}".progress_delta'}).scalar():
        conn.execute(
            text(f'REVOKE INSERT, UPDATE, DELETE ON "{schema}".progress_delta FROM {APP_ROLE}')
        )


def _keep_compensation_balances_to_the_ledger(conn: Connection, schema: str) -> None:
    """household_balance (0024) is moved by the agreements' and payments' triggers, as the
    owner; the app reads it and locks it (FOR UPDATE needs UPDATE on a column: the key)."""
    if conn.execute(
        text("SELECT to_regclass(:t)"), {"t": f'"{schema}".household_balance'}
    ).scalar():
        conn.execute(
            text(f"""
            REVOKE INSERT, UPDATE, DELETE ON "{schema}".household_balance FROM {APP_ROLE};
            GRANT UPDATE (household_id) ON "{schema}".household_balance TO {APP_ROLE};
        """)
        )


def _let_owner_become_app_role(conn: Connection) -> None:
    """For working as the app's role by SET ROLE (no app URL): the owner is made a member of
    it, unless it is one already (or a superuser); never the other way round."""
    member = conn.execute(
        text(
            "SELECT rolsuper OR pg_has_role(current_user, :r, 'MEMBER') "
            "FROM pg_roles WHERE rolname = current_user"
        ),
        {"r": APP_ROLE},
    ).scalar()
    if not member:
        conn.execute(text(f"GRANT {APP_ROLE} TO CURRENT_USER"))


def downgrade(settings: Settings, revision: str = "base") -> None:
    command.downgrade(alembic_config(settings), revision)
    grant_app_role(settings)  # what the app may do follows the schema back


def head(settings: Settings) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def current(settings: Settings) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"version_table_schema": settings.db_schema}
            )
            return ctx.get_current_revision()
    finally:
        engine.dispose()
