"""The views of the register for other GIS (migration 0017) and the read-only login that QGIS or
ArcGIS use to read them straight from PostGIS: SELECT on the views, nothing else."""

from __future__ import annotations

import os
import re

import psycopg2
import pytest
from conftest import invoke
from sqlalchemy import text
from sqlalchemy.engine import make_url

from landmap.db import migrate
from landmap.domain import Refused


@pytest.fixture
def reader(settings, runner):
    """A read-only login made by ``db gis-reader``; dropped afterwards (roles are the
    cluster's, not the schema's)."""
    name = f"gis_t{os.getpid()}"
    result = invoke(runner, settings, "db", "gis-reader", name)
    assert result.exit_code == 0, result.output
    password = re.search(r"(?:密码|password) ([0-9a-f]{32})", result.output).group(1)
    url = make_url(settings.database_url)
    conn = psycopg2.connect(
        host=url.host, port=url.port, dbname=url.database, user=name, password=password
    )
    conn.autocommit = True
    yield conn, result.output
    conn.close()
    owner = psycopg2.connect(
        host=url.host,
        port=url.port,
        dbname=url.database,
        user=url.username,
        password=url.password,
    )
    owner.autocommit = True
    with owner.cursor() as cur:
        cur.execute(f"DROP ROLE {name}")
    owner.close()


def test_the_login_reads_the_views_in_their_own_schema(reader, db, settings):
    conn, output = reader
    gis = f"{settings.db_schema}_gis"
    assert gis in output
    with conn.cursor() as cur:
        cur.execute("SELECT current_schemas(false)")
        assert cur.fetchone()[0][0] == gis  # QGIS lists the views first
        cur.execute("SELECT count(*), sum(area_mu) FROM parcels WHERE zone = 'C'")
        count, mu = cur.fetchone()
        cur.execute("SELECT stage_label FROM parcels WHERE stage = 'cleared' LIMIT 1")
        assert cur.fetchone()[0] == "整理到位"
        cur.execute("SELECT count(*) FROM zones")
        assert cur.fetchone()[0] == 3
        cur.execute("SELECT Find_SRID(%s, 'parcels', 'geom')", (gis,))
        assert cur.fetchone()[0] == 4546
    expected = db.execute(
        text(
            "SELECT count(*) FROM parcel p JOIN zone z ON z.id = p.zone_id "
            "WHERE z.code = 'C' AND p.retired_on IS NULL"
        )
    ).scalar()
    assert count == expected and mu > 0


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT count(*) FROM {schema}.parcel",
        "SELECT count(*) FROM {schema}.app_user",
        "SELECT count(*) FROM {schema}.audit_log",
        "INSERT INTO landuse (code, land_use_code, geom) VALUES ('x', '01', NULL)",
        "DELETE FROM farmland",
        "CREATE TABLE mine (id int)",
        "CREATE TABLE public.mine (id int)",
        "UPDATE stage_label SET label = 'x'",
    ],
)
def test_the_login_may_do_nothing_else(reader, settings, statement):
    conn, _ = reader
    with conn.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
        cur.execute(statement.format(schema=settings.db_schema))


def test_views_answer_for_the_day_in_landmap_as_of(db):
    gis = db.execute(text("SELECT lm_gis_schema()")).scalar()
    now = dict(db.execute(text(f'SELECT stage, count(*) FROM "{gis}".parcels GROUP BY 1')).all())
    db.execute(text("SELECT set_config('landmap.as_of', '2011-01-01', true)"))
    then = dict(db.execute(text(f'SELECT stage, count(*) FROM "{gis}".parcels GROUP BY 1')).all())
    db.execute(text("SELECT set_config('landmap.as_of', '', true)"))
    assert now != then and sum(then.values()) <= sum(now.values())


@pytest.mark.parametrize("name", ["Bad", "x", "landmap_app", "landmap_gis", "a;drop", "1abc"])
def test_a_bad_login_name_is_refused(settings, name):
    with pytest.raises(Refused):
        migrate.add_gis_reader(settings, name)


def test_the_login_sees_the_views_as_of_a_day(reader, db):
    conn, _ = reader
    with conn.cursor() as cur:
        cur.execute("SELECT stage, count(*) FROM parcels GROUP BY 1")
        now = dict(cur.fetchall())
        cur.execute("SET landmap.as_of = '2011-01-01'")
        cur.execute("SELECT stage, count(*) FROM parcels GROUP BY 1")
        then = dict(cur.fetchall())
        cur.execute("SELECT count(*) FROM zones")
        assert cur.fetchone()[0] >= 1
    assert now != then
