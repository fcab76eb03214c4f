"""The database itself refuses bad land data, whatever path it comes by."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

SQUARE = (
    "MULTIPOLYGON(((455000 3218000,455100 3218000,455100 3218100,455000 3218100,455000 3218000)))"
)
BOWTIE = (
    "MULTIPOLYGON(((455000 3218000,455100 3218100,455100 3218000,455000 3218100,455000 3218000)))"
)


def insert_parcel(db, code="T-1", wkt=SQUARE, srid=4546, **extra):
    cols = ", ".join(["code", "geom", *extra])
    vals = ", ".join([":code", "ST_GeomFromText(:wkt, :srid)", *(f":{k}" for k in extra)])
    with db.begin_nested():
        db.execute(
            text(f"INSERT INTO parcel ({cols}) VALUES ({vals})"),
            {"code": code, "wkt": wkt, "srid": srid, **extra},
        )


def test_a_valid_square_goes_in_with_its_area_in_mu(db):
    insert_parcel(db)
    mu = db.execute(text("SELECT area_mu FROM parcel WHERE code = 'T-1'")).scalar_one()
    assert mu == pytest.approx(10000 / (10000 / 15))  # 100 m x 100 m = 15 mu


@pytest.mark.parametrize(
    ("wkt", "srid", "message"),
    [
        (BOWTIE, 4546, "parcel_geom_check"),  # self-intersecting
        ("MULTIPOLYGON EMPTY", 4546, "parcel_geom_check"),
        (SQUARE, 4525, "SRID (4525) does not match"),
        ("POINT(455000 3218000)", 4546, "Geometry type (Point) does not match"),
        (
            "MULTIPOLYGON Z(((455000 3218000 1, 455100 3218000 1, 455100 3218100 1, "
            "455000 3218000 1)))",
            4546,
            "Z dimension",
        ),
    ],
)
def test_bad_geometries_are_refused(db, wkt, srid, message):
    with pytest.raises(DBAPIError, match=message.replace("(", r"\(").replace(")", r"\)")):
        insert_parcel(db, wkt=wkt, srid=srid)


def test_duplicate_codes_are_refused(db):
    insert_parcel(db, code="DUP")
    with pytest.raises(IntegrityError):
        insert_parcel(db, code="DUP")


def test_a_code_with_spaces_is_refused(db):
    with pytest.raises(IntegrityError):
        insert_parcel(db, code="430802 003")


def test_unknown_stage_is_refused(db):
    with pytest.raises(IntegrityError):
        insert_parcel(db, stage="half_done")


def test_a_batch_must_belong_to_the_parcels_project(db):
    other, batch = db.execute(
        text("""SELECT p.id, b.id FROM project p, acquisition_batch b
                WHERE b.project_id <> p.id LIMIT 1""")
    ).one()
    with pytest.raises(IntegrityError):
        insert_parcel(db, project_id=other, batch_id=batch)
    with pytest.raises(IntegrityError):
        insert_parcel(db, code="T-2", batch_id=batch)  # batch without project


def test_one_current_boundary_per_zone(db):
    with pytest.raises(IntegrityError), db.begin_nested():
        db.execute(
            text("""INSERT INTO zone_boundary (zone_id, status, valid_from, geom)
                    SELECT zone_id, 'current', valid_from + 1, geom FROM zone_boundary
                    WHERE status = 'current' LIMIT 1""")
        )


def test_versions_in_force_cannot_overlap(db):
    with pytest.raises(IntegrityError), db.begin_nested():
        db.execute(
            text("""INSERT INTO zone_boundary (zone_id, status, valid_from, valid_to, geom)
                    SELECT zone_id, 'superseded', valid_from - 10, valid_from + 10, geom
                    FROM zone_boundary WHERE status = 'current' LIMIT 1""")
        )


def test_area_mismatch_is_flagged_above_one_percent(db):
    insert_parcel(db, code="OK-1", official_area_m2=10050)  # 0.5 % off
    insert_parcel(db, code="OFF-1", official_area_m2=10200)  # 2 % off
    rows = db.execute(text("SELECT code, area_mismatch FROM parcel WHERE code LIKE 'O%-1'"))
    flags = {code: flag for code, flag in rows}
    assert flags == {"OK-1": False, "OFF-1": True}


def test_mu_function_matches_the_python_definition(db):
    from landmap.geo.units import m2_to_mu

    assert db.execute(text("SELECT lm_mu(123456.0)")).scalar_one() == m2_to_mu(123456.0)


@pytest.mark.parametrize(
    "sql, constraint",
    [
        (
            """INSERT INTO stage_change (parcel_id, change_set, kind, from_stage, to_stage,
                   happened_on, recorded_by, reason)
               SELECT id, gen_random_uuid(), 'dispute', NULL, NULL, DATE '0001-01-01', 't', 'x'
               FROM parcel LIMIT 1""",
            "stage_change_day_bounded",
        ),
        ("INSERT INTO quota_year (year, target_mu) VALUES (2030, 'NaN')", "quota_year_target"),
        ("UPDATE acquisition_batch SET target_mu = 'NaN'", "acquisition_batch_target_finite"),
        ("UPDATE parcel SET official_area_m2 = 'NaN'", "parcel_official_area_finite"),
    ],
)
def test_no_event_before_1949_and_no_nan_figure_by_any_path(db, sql, constraint):
    with pytest.raises(IntegrityError, match=constraint), db.begin_nested():
        db.execute(text(sql))
