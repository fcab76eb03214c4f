"""Zone boundary adjustment (规划调整/扩区): drafts, the check of a draft against the zone's
current boundary, approval. The check is computed in PostGIS over subdivided pieces of the
draft and of the changed area, so that index lookups stay small on a large register."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from landmap import landuse
from landmap.db.errors import pg_message
from landmap.services import Refused, quota
from landmap.services.acquisition import event_day_problem, today
from landmap.services.parcels import lonlat_polygon

# a parcel counts as wholly in or out when less than this share of it is on the other side
EDGE_SHARE = 0.001
MAX_DRAFT_VERTICES = 100_000  # positions in one draft boundary


class DraftRefused(Refused):
    pass


def _zone(session: Session, code: str) -> tuple[int, int | None]:
    row = session.execute(
        text("""SELECT z.id, b.id FROM zone z LEFT JOIN zone_boundary b
                ON b.zone_id = z.id AND b.status = 'current' WHERE z.code = :c"""),
        {"c": code},
    ).first()
    if row is None:
        raise DraftRefused(f"unknown zone {code!r}", 404)
    return row[0], row[1]


def create_draft(
    session: Session, zone_code: str, geometry: dict[str, Any], note: str, user: str,
    region_bbox: tuple[float, float, float, float],
) -> dict[str, Any]:  # fmt: skip
    """A draft boundary from a GeoJSON geometry in EPSG:4326 (RFC 7946)."""
    zone_id, _ = _zone(session, zone_code)
    try:
        points = lonlat_polygon(geometry, MAX_DRAFT_VERTICES)
    except Refused as exc:
        raise DraftRefused(exc.message) from exc
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, y0, x1, y1 = region_bbox
    if not (x0 <= min(xs) and max(xs) <= x1 and y0 <= min(ys) and max(ys) <= y1):
        raise DraftRefused(f"the draft lies outside the region {region_bbox}: is it in the "
                           "right CRS?")  # fmt: skip
    try:
        with session.begin_nested():
            valid, reason, empty = session.execute(
                text("SELECT ST_IsValid(g), ST_IsValidReason(g), ST_IsEmpty(g) "
                     "FROM ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326) g"),
                {"g": json.dumps(geometry)},
            ).one()  # fmt: skip
    except DBAPIError as exc:
        raise DraftRefused(f"not a usable geometry: {pg_message(exc)}") from exc
    if empty:
        raise DraftRefused("the draft geometry is empty")
    if not valid:
        raise DraftRefused(f"the draft geometry is not valid: {reason}")
    draft_id = session.execute(
        text("""INSERT INTO zone_boundary (zone_id, status, note, created_by, geom)
                SELECT :z, 'draft', :note, :user, ST_Multi(ST_CollectionExtract(ST_MakeValid(
                    ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326),
                                 lm_storage_srid())), 3))
                RETURNING id"""),
        {"z": zone_id, "note": note, "user": user, "g": json.dumps(geometry)},
    ).scalar_one()
    return draft(session, zone_code, draft_id)


def drafts(session: Session, zone_code: str) -> list[dict[str, Any]]:
    zone_id, _ = _zone(session, zone_code)
    return [_draft_row(r) for r in session.execute(
        text(f"{_DRAFT_SQL} WHERE b.zone_id = :z AND (b.status = 'draft' OR b.approved_at "
             "IS NOT NULL) ORDER BY b.created_at DESC, b.id DESC"), {"z": zone_id},
    ).mappings()]  # fmt: skip


_DRAFT_SQL = """
    SELECT b.id, z.code AS zone, b.status, b.note, b.created_by, b.created_at, b.area_mu,
           b.approved_by, b.approved_at, b.valid_from,
           ST_AsGeoJSON(ST_Transform(b.geom, 4326), 7)::json AS geometry
    FROM zone_boundary b JOIN zone z ON z.id = b.zone_id
"""


def _draft_row(r) -> dict[str, Any]:
    return {
        "id": r["id"], "zone": r["zone"], "status": r["status"], "note": r["note"],
        "author": r["created_by"], "created_at": r["created_at"].isoformat(),
        "area_mu": round(r["area_mu"], 2), "approved_by": r["approved_by"],
        "approved_at": r["approved_at"].isoformat() if r["approved_at"] else None,
        "valid_from": r["valid_from"].isoformat() if r["valid_from"] else None,
        "geometry": r["geometry"],
    }  # fmt: skip


def draft(session: Session, zone_code: str, draft_id: int) -> dict[str, Any]:
    zone_id, _ = _zone(session, zone_code)
    row = (
        session.execute(
            text(f"{_DRAFT_SQL} WHERE b.id = :d AND b.zone_id = :z"), {"d": draft_id, "z": zone_id}
        )
        .mappings()
        .first()
    )
    if row is None:
        raise DraftRefused(f"zone {zone_code} has no draft {draft_id}", 404)
    return _draft_row(row)


def approve(
    session: Session, zone_code: str, draft_id: int, user: str, valid_from: dt.date | None = None
) -> dict[str, Any]:
    found = draft(session, zone_code, draft_id)
    if found["status"] != "draft":
        raise DraftRefused(f"draft {draft_id} was already approved", 409)
    why = event_day_problem(valid_from) if valid_from else None
    if why:
        raise DraftRefused(f"valid_from: {why}", 400)
    try:
        with session.begin_nested():
            session.execute(
                text("SELECT lm_approve_draft(:d, :f, :u)"),
                {"d": draft_id, "f": valid_from or today(), "u": user},
            )
    except DBAPIError as exc:
        raise DraftRefused(pg_message(exc), 409) from exc
    return draft(session, zone_code, draft_id)


def zones_as_of(session: Session, day: dt.date) -> str:
    """The boundaries in force on a day, as a GeoJSON FeatureCollection (EPSG:4326)."""
    return session.execute(
        text("""
        SELECT json_build_object('type', 'FeatureCollection', 'features',
            coalesce(json_agg(json_build_object(
                'type', 'Feature', 'id', z.code,
                'geometry', ST_AsGeoJSON(ST_Transform(b.geom, 4326), 7)::json,
                'properties', json_build_object('code', z.code, 'name', z.name,
                    'name_en', z.name_en, 'area_mu', round(b.area_mu::numeric, 2),
                    'valid_from', b.valid_from, 'valid_to', b.valid_to, 'version', b.id))
            ORDER BY z.code), '[]'::json))::text
        FROM zone z JOIN zone_boundary b ON b.zone_id = z.id
        WHERE b.status <> 'draft' AND b.valid_from <= :d
          AND (b.valid_to IS NULL OR b.valid_to > :d)"""),
        {"d": day},
    ).scalar_one()


# --- the check -------------------------------------------------------------------------


def _pieces(session: Session, name: str, sql: str, params: dict[str, Any]) -> None:
    """A temporary table of subdivided pieces (with a spatial index) for fast lookups."""
    session.execute(text(f"DROP TABLE IF EXISTS {name}"))
    session.execute(text(f"CREATE TEMP TABLE {name} AS SELECT ST_Subdivide(g, 96) AS geom "
                         f"FROM ({sql}) s(g) WHERE NOT ST_IsEmpty(g)"), params)  # fmt: skip
    session.execute(text(f"CREATE INDEX ON {name} USING gist (geom)"))
    session.execute(text(f"ANALYZE {name}"))


def check(
    session: Session, zone_code: str, draft_id: int, year: int | None = None,
    sliver_width_m: float = 5.0,
) -> dict[str, Any]:  # fmt: skip
    """What a draft changes against the zone's current boundary, in mu (see module doc)."""
    zone_id, current_id = _zone(session, zone_code)
    found = draft(session, zone_code, draft_id)
    if current_id is None:
        raise DraftRefused(f"zone {zone_code} has no current boundary to compare with", 409)
    ids = {"c": current_id, "d": draft_id, "z": zone_id}
    savepoint = session.begin_nested()  # the temporary tables go with it
    try:
        result = _check(session, ids, year or today().year, sliver_width_m)
    finally:
        savepoint.rollback()
    result.update({"zone": zone_code, "draft_id": draft_id, "draft_status": found["status"],
                   "author": found["author"], "note": found["note"]})  # fmt: skip
    return result


def _check(session: Session, ids: dict[str, int], year: int, sliver_m: float) -> dict[str, Any]:
    geoms = """(SELECT geom FROM zone_boundary WHERE id = :c) AS c,
               (SELECT geom FROM zone_boundary WHERE id = :d) AS d"""
    areas = session.execute(text(f"""
        SELECT lm_area_mu(c.geom), lm_area_mu(d.geom),
               lm_area_mu(ST_Difference(d.geom, c.geom)), lm_area_mu(ST_Difference(c.geom, d.geom)),
               ST_IsValid(d.geom), ST_IsValidReason(d.geom),
               (SELECT sum(ST_NumInteriorRings(p.geom)) FROM ST_Dump(d.geom) p)
        FROM {geoms}"""), ids).one()  # fmt: skip
    _pieces(session, "lm_d", "SELECT geom FROM zone_boundary WHERE id = :d", ids)
    _pieces(session, "lm_c", "SELECT geom FROM zone_boundary WHERE id = :c", ids)
    _pieces(session, "lm_added", f"SELECT ST_Difference(d.geom, c.geom) FROM {geoms}", ids)
    _pieces(session, "lm_removed", f"SELECT ST_Difference(c.geom, d.geom) FROM {geoms}", ids)
    _pieces(session, "lm_line", "SELECT ST_Boundary(geom) FROM zone_boundary WHERE id = :d", ids)
    parcels = _parcels(session)
    other = session.execute(
        text("""
        SELECT z.code, sum(lm_area_mu(ST_Intersection(b.geom, d.geom))) AS mu
        FROM lm_d d JOIN zone_boundary b ON b.status = 'current' AND b.zone_id <> :z
             AND ST_Intersects(b.geom, d.geom)
        JOIN zone z ON z.id = b.zone_id GROUP BY z.code ORDER BY z.code"""),
        ids,
    ).all()
    farmland = session.execute(
        text("""
        SELECT f.code, sum(lm_area_mu(ST_Intersection(f.geom, d.geom))) AS mu,
               bool_or(EXISTS (SELECT 1 FROM lm_added a WHERE ST_Intersects(a.geom, f.geom)))
        FROM lm_d d JOIN farmland f ON ST_Intersects(f.geom, d.geom)
        GROUP BY f.code HAVING sum(ST_Area(ST_Intersection(f.geom, d.geom))) > 0.01
        ORDER BY f.code""")
    ).all()
    uses = session.execute(
        text("""
        SELECT l.land_use_code, sum(lm_area_mu(ST_Intersection(l.geom, a.geom)))
        FROM lm_added a JOIN landuse_patch l ON ST_Intersects(l.geom, a.geom)
        GROUP BY l.land_use_code ORDER BY l.land_use_code""")
    ).all()
    slivers = session.execute(text("""
        SELECT 'draft' AS kind, lm_area_mu(ST_Difference(d.geom,
                   ST_Buffer(ST_Buffer(d.geom, -:w / 2), :w / 2))) FROM zone_boundary d
            WHERE d.id = :d
        UNION ALL
        SELECT 'change', coalesce(sum(lm_area_mu(p.geom)), 0) FROM (
            SELECT (ST_Dump(ST_Union(geom))).geom FROM (
                SELECT geom FROM lm_added UNION ALL SELECT geom FROM lm_removed) x) p
            WHERE ST_IsEmpty(ST_Buffer(p.geom, -:w / 2))"""),
        {**ids, "w": sliver_m},
    ).all()  # fmt: skip
    return _figures(areas, parcels, other, farmland, uses, slivers, session, year, sliver_m)


def _parcels(session: Session) -> list[Any]:
    """Parcels touched by the change or cut by the new line, with their mu inside the old and
    the new boundary (ST_Covers first: a parcel wholly inside needs no intersection)."""
    return session.execute(
        text("""
        WITH cand AS (
            SELECT DISTINCT p.id FROM parcel p JOIN (
                SELECT geom FROM lm_added UNION ALL SELECT geom FROM lm_removed
                UNION ALL SELECT geom FROM lm_line) x
            ON ST_Intersects(p.geom, x.geom)
        ), sides AS (
            SELECT p.id, p.code, p.name, p.owner, p.area_mu, pr.name AS project,
                (SELECT coalesce(sum(CASE WHEN ST_Covers(c.geom, p.geom) THEN p.area_mu
                        ELSE lm_area_mu(ST_Intersection(c.geom, p.geom)) END), 0)
                 FROM lm_c c WHERE ST_Intersects(c.geom, p.geom)) AS before_mu,
                (SELECT coalesce(sum(CASE WHEN ST_Covers(d.geom, p.geom) THEN p.area_mu
                        ELSE lm_area_mu(ST_Intersection(d.geom, p.geom)) END), 0)
                 FROM lm_d d WHERE ST_Intersects(d.geom, p.geom)) AS after_mu
            FROM cand JOIN parcel p ON p.id = cand.id
            LEFT JOIN project pr ON pr.id = p.project_id
        )
        SELECT * FROM sides ORDER BY code""")
    ).all()


def _side(inside: float, total: float) -> str:
    edge = max(total * EDGE_SHARE, 0.0015)  # about 1 m²
    if inside <= edge:
        return "out"
    if inside >= total - edge:
        return "in"
    return "cut"


def _figures(areas, parcels, other, farmland, uses, slivers, session, year, sliver_m):
    before, after, added, removed, valid, reason, holes = areas
    entering, leaving, cut = [], [], []
    for p in parcels:
        was, now = _side(p.before_mu, p.area_mu), _side(p.after_mu, p.area_mu)
        row = {"code": p.code, "name": p.name, "owner": p.owner, "project": p.project,
               "area_mu": round(p.area_mu, 2), "inside_mu": round(p.after_mu, 2),
               "outside_mu": round(p.area_mu - p.after_mu, 2)}  # fmt: skip
        if now == "cut":
            cut.append(row)
        elif now == "in" and was != "in":
            entering.append(row)
        elif now == "out" and was != "out":
            leaving.append(row)
    classes, agricultural, cultivated, unknown = [], 0.0, 0.0, []
    for code, mu in uses:
        kind = landuse.category(code)
        agricultural += mu if kind == "agricultural" else 0
        cultivated += mu if landuse.is_cultivated(code) else 0
        if kind == "unknown":
            unknown.append(code)
        classes.append({"code": code, "name": landuse.name_of(code), "category": kind,
                        "mu": round(mu, 2)})  # fmt: skip
    book = quota.ledger(session, year)
    problems = []
    if not valid:
        problems.append({"kind": "invalid", "message": reason})
    if holes:
        problems.append({"kind": "holes", "message": f"the draft has {holes} hole(s)"})
    for kind, mu in slivers:
        if mu and mu > 0.01:
            what = "parts of the draft" if kind == "draft" else "pieces between old and new line"
            problems.append(
                {
                    "kind": f"sliver_{kind}",
                    "mu": round(mu, 2),
                    "message": f"{what} narrower than {sliver_m:g} m: {mu:.2f} mu",
                }
            )
    farmland_mu = sum(mu for _, mu, _ in farmland)
    if farmland_mu > 0.005:
        problems.append(
            {
                "kind": "farmland",
                "mu": round(farmland_mu, 2),
                "message": f"takes {farmland_mu:.2f} mu of permanent basic farmland",
            }
        )
    other_mu = sum(mu for _, mu in other)
    if other_mu > 0.005:
        problems.append({"kind": "overlap", "mu": round(other_mu, 2),
                         "message": f"overlaps other zones by {other_mu:.2f} mu"})  # fmt: skip
    return {
        "area_before_mu": round(before, 2),
        "area_after_mu": round(after, 2),
        "added_mu": round(added, 2),
        "removed_mu": round(removed, 2),
        "parcels_entering": entering,
        "parcels_leaving": leaving,
        "parcels_cut": cut,
        "projects": sorted({p["project"] for p in entering + leaving + cut if p["project"]}),
        "overlap_other_zones_mu": round(other_mu, 2),
        "overlap_other_zones": [{"zone": z, "mu": round(mu, 2)} for z, mu in other],
        "farmland_conflict_mu": round(farmland_mu, 2),
        "farmland_patches": [
            {"code": c, "mu": round(mu, 2), "in_added_area": bool(a)} for c, mu, a in farmland
        ],  # fmt: skip
        "added_by_land_use": classes,
        "agricultural_added_mu": round(agricultural, 2),
        "cultivated_added_mu": round(cultivated, 2),
        "unknown_codes": unknown,
        "quota_needed_mu": round(agricultural, 2),
        "quota_year": book["year"],
        "quota_remaining_mu": book["remaining_mu"],
        "quota_enough": agricultural <= book["remaining_mu"] + 0.005,
        "valid": bool(valid),
        "problems": problems,
    }


def check_geojson(session: Session, draft_id: int) -> str:
    """The check's shapes for the compare map: added, removed, farmland and overlaps (4326)."""
    ids = {"d": draft_id}
    return session.execute(
        text("""
        WITH d AS (SELECT zone_id, geom FROM zone_boundary WHERE id = :d),
        c AS (SELECT b.geom FROM zone_boundary b, d WHERE b.zone_id = d.zone_id
              AND b.status = 'current'),
        parts AS (
            SELECT 'added' AS kind, '' AS label, ST_Difference(d.geom, c.geom) AS g FROM d, c
            UNION ALL SELECT 'removed', '', ST_Difference(c.geom, d.geom) FROM d, c
            UNION ALL SELECT 'farmland', f.code, ST_Intersection(f.geom, d.geom)
                FROM d JOIN farmland f ON ST_Intersects(f.geom, d.geom)
            UNION ALL SELECT 'overlap', z.code, ST_Intersection(b.geom, d.geom)
                FROM d JOIN zone_boundary b ON b.status = 'current' AND b.zone_id <> d.zone_id
                AND ST_Intersects(b.geom, d.geom) JOIN zone z ON z.id = b.zone_id
        )
        SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(
            json_build_object('type', 'Feature', 'geometry',
                ST_AsGeoJSON(ST_Transform(g, 4326), 7)::json,
                'properties', json_build_object('kind', kind, 'label', label,
                    'mu', round(lm_area_mu(g)::numeric, 2)))), '[]'::json))::text
        FROM parts WHERE NOT ST_IsEmpty(g) AND ST_Area(g) > 0.01"""),
        ids,
    ).scalar_one()
