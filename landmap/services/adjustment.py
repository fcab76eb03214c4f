"""Zone boundary adjustment (规划调整/扩区): drafts, the check of a draft against the boundary
it was drawn on (and, for a stale draft, against the current one), approval, rebasing. The
check is computed in PostGIS over subdivided pieces of the draft and of the changed area, so
that index lookups stay small on a large register.

A draft records its base, the boundary version it was drawn on. Once another boundary
replaces that version (an approval, or a boundary loaded as current) the draft is stale: it
cannot be approved (here, with a message naming what replaced its base, and in SQL
``lm_approve_draft``) until it is rebased onto the current boundary."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from landmap import landuse
from landmap.db.errors import pg_message
from landmap.domain import CHINA, today
from landmap.geo.units import mu2
from landmap.messages import Message, msg, term
from landmap.services import Refused, Result, quota
from landmap.services.acquisition import event_day_problem
from landmap.services.parcels import lonlat_polygon

# a parcel counts as wholly in or out when less than this share of it is on the other side
EDGE_SHARE = 0.001
MAX_DRAFT_VERTICES = 100_000  # positions in one draft boundary
# A drawn vertex this close (metres, storage SRID) to a vertex or an edge of the boundary the
# draft is drawn on is put onto it (ST_Snap): a boundary sent back unchanged through EPSG:4326
# with 7 decimals (about 1 cm) is then that boundary again, and an edge drawn along the old
# line leaves no sliver. Well below anything a survey or a planner's drawing means.
SNAP_TOLERANCE_M = 0.05
# an add or a subtract that changes less than this many m² changes nothing
NO_CHANGE_M2 = 0.01


class DraftOp(StrEnum):
    """How a draft is made from the boundary it is drawn on (its base)."""

    REPLACE = "replace"  # 替换: the drawn shape is the new boundary
    ADD = "add"  # 增加: base ∪ drawn
    SUBTRACT = "subtract"  # 减去: base − drawn


class DraftRefused(Refused):
    pass


# --- typed results ----------------------------------------------------------------------


@dataclass(frozen=True)
class Supersession(Result):
    """Why a draft is stale: the version of the zone's boundary it was drawn on
    (``base_version``, counted from 1 by date; None when it was drawn on none) and what
    replaced that version: ``id``, whether it was an approved ``draft`` (else a boundary
    loaded as current), ``by`` whom, ``on`` which day (China time), in force ``valid_from``.
    ``id`` is None when the zone has no boundary in force now."""

    base_id: int | None
    base_version: int | None
    id: int | None
    draft: bool
    by: str
    on: dt.date | None
    valid_from: dt.date | None


class StaleDraft(DraftRefused):
    """A draft whose base another boundary has replaced: it cannot be approved (409)."""

    def __init__(self, draft_id: int, why: Supersession) -> None:
        super().__init__(stale_message(draft_id, why), 409, superseded_by=why.as_dict())
        self.why = why


@dataclass(frozen=True)
class ParcelAcross(Result):
    """A parcel the new line moves across: its mu inside the draft and outside it."""

    code: str
    name: str
    owner: str
    project: str | None
    area_mu: float
    inside_mu: float
    outside_mu: float


@dataclass(frozen=True)
class ZoneOverlap(Result):
    zone: str
    mu: float


@dataclass(frozen=True)
class FarmlandTaken(Result):
    """A permanent basic farmland patch inside the draft (in the added area or not)."""

    code: str
    mu: float
    in_added_area: bool


@dataclass(frozen=True)
class LandUseAdded(Result):
    """Land of one land-use class the draft adds to the zone."""

    code: str
    name: str | None
    category: str  # landuse.category: agricultural, construction, other, unknown
    mu: float
    category_label: Message  # the category as people read it (农用地 …)


_OPTIONAL = {"omit_if_none": True}  # not in the JSON when None


@dataclass(frozen=True)
class CheckProblem(Result):
    """Something the approval meeting must see: ``kind`` (invalid, holes, multipart,
    sliver_draft, sliver_change, farmland, overlap), a message (``render(locale)`` for
    people; as a ``str`` English), a count or mu if it has one."""

    kind: str
    message: Message
    count: int | None = field(default=None, metadata=_OPTIONAL)
    mu: float | None = field(default=None, metadata=_OPTIONAL)


@dataclass(frozen=True)
class CheckFigures(Result):
    """What a draft changes against one boundary version, in mu rounded once with mu2;
    totals are rounded exact sums."""

    area_before_mu: float
    area_after_mu: float
    added_mu: float
    removed_mu: float
    parcels_entering: tuple[ParcelAcross, ...]
    parcels_leaving: tuple[ParcelAcross, ...]
    parcels_cut: tuple[ParcelAcross, ...]
    projects: tuple[str, ...]  # of the parcels entering, leaving or cut
    overlap_other_zones_mu: float
    overlap_other_zones: tuple[ZoneOverlap, ...]
    farmland_conflict_mu: float
    farmland_patches: tuple[FarmlandTaken, ...]
    added_by_land_use: tuple[LandUseAdded, ...]
    agricultural_added_mu: float
    cultivated_added_mu: float
    unknown_codes: tuple[str, ...]  # land-use codes of the added area outside GB/T 21010
    quota_needed_mu: float  # the agricultural land added
    quota_year: int
    quota_remaining_mu: float
    quota_enough: bool
    valid: bool
    problems: tuple[CheckProblem, ...]


@dataclass(frozen=True)
class DraftCheck(CheckFigures):
    """The check of a draft (see check): the figures against ``compared_with``, the draft,
    and for a stale draft why it is stale and the figures against the current boundary."""

    zone: str
    draft_id: int
    draft_status: str
    author: str
    note: str
    op: str
    base_id: int | None
    compared_with: int
    current_id: int | None
    stale: bool
    superseded_by: Supersession | None
    rebased_from: int | None
    rebased_as: tuple[int, ...]
    against_current: CheckFigures | None


def _zone(session: Session, code: str) -> tuple[int, int | None]:
    row = session.execute(
        text("""SELECT z.id, b.id FROM zone z LEFT JOIN zone_boundary b
                ON b.zone_id = z.id AND b.status = 'current' WHERE z.code = :c"""),
        {"c": code},
    ).first()
    if row is None:
        given = repr(code[:40])
        raise DraftRefused(msg("draft_zone_unknown", "unknown zone %(zone)s", zone=given), 404)
    return row[0], row[1]


def current_boundary_id(session: Session, zone_code: str) -> int | None:
    return _zone(session, zone_code)[1]


def _op(value: Any) -> DraftOp:
    try:
        return DraftOp(DraftOp.REPLACE if value is None else value)
    except ValueError:
        given = repr(str(value)[:20])
        raise DraftRefused(
            msg(
                "draft_op_unknown",
                "the way a draft is made (op) is replace, add or subtract, not %(given)s",
                given=given,
            )
        ) from None


def _base(session: Session, zone_id: int, current_id: int | None, base_id: Any) -> int | None:
    """The boundary a new draft is drawn on: the version named (one of this zone's that was in
    force: the editor sends the one it showed), else the current one."""
    if base_id is None:
        return current_id
    if not isinstance(base_id, int) or isinstance(base_id, bool) or not 0 < base_id < 2**31:
        raise DraftRefused(
            msg(
                "draft_base_not_whole",
                "the base boundary (base_id) is the id of a boundary version (a whole number)",
            )
        )
    status = session.execute(
        text("SELECT status FROM zone_boundary WHERE id = :b AND zone_id = :z"),
        {"b": base_id, "z": zone_id},
    ).scalar()
    if status is None or status == "draft":
        raise DraftRefused(
            msg(
                "draft_base_unknown",
                "boundary %(id)s (base_id) is not a boundary version of this zone",
                id=base_id,
            )
        )
    return base_id


def create_draft(
    session: Session,
    zone_code: str,
    geometry: dict[str, Any],
    note: str,
    user: str,
    region_bbox: tuple[float, float, float, float],
    op: Any = None,
    base_id: Any = None,
) -> dict[str, Any]:
    """A draft from a GeoJSON geometry in EPSG:4326 (RFC 7946): the boundary itself (op
    replace), or a shape to add to or subtract from the boundary it is drawn on (``base_id``,
    by default the current one). See _make for snapping and what is refused."""
    zone_id, current_id = _zone(session, zone_code)
    how = _op(op)
    base = _base(session, zone_id, current_id, base_id)
    try:
        points = lonlat_polygon(geometry, MAX_DRAFT_VERTICES)
    except Refused as exc:
        raise DraftRefused(exc.message) from exc
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, y0, x1, y1 = region_bbox
    if not (x0 <= min(xs) and max(xs) <= x1 and y0 <= min(ys) and max(ys) <= y1):
        bbox = ", ".join(f"{v:g}" for v in region_bbox)
        raise DraftRefused(
            msg(
                "draft_outside_region",
                "the draft lies outside the region (%(bbox)s): is it in the right "
                "coordinate system?",
                bbox=bbox,
            )
        )
    _check_input(session, geometry, how)
    raw = "ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326), lm_storage_srid())"
    draft_id = _make(session, zone_id, base, how, raw, {"g": json.dumps(geometry)}, note, user)
    return draft(session, zone_code, draft_id)


def _check_input(session: Session, geometry: dict[str, Any], how: DraftOp) -> None:
    """A replacement must be a valid (Multi)Polygon. Shapes drawn to add or subtract must each
    be valid but may overlap one another (they are united)."""
    try:
        with session.begin_nested():
            valid, reason, empty, part_reason = session.execute(
                text("""SELECT ST_IsValid(g), ST_IsValidReason(g), ST_IsEmpty(g),
                            (SELECT ST_IsValidReason(p.geom) FROM ST_Dump(g) p
                             WHERE NOT ST_IsValid(p.geom) LIMIT 1)
                        FROM ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326) g"""),
                {"g": json.dumps(geometry)},
            ).one()
    except DBAPIError as exc:
        problem = pg_message(exc)
        raise DraftRefused(
            msg("draft_unusable", "not a usable geometry: %(problem)s", problem=problem)
        ) from exc
    if empty:
        raise DraftRefused(_EMPTY)
    if part_reason:
        raise DraftRefused(
            msg("draft_invalid", "the draft geometry is not valid: %(reason)s", reason=part_reason)
        )
    if not valid and how is DraftOp.REPLACE:
        raise DraftRefused(
            msg(
                "draft_polygons_overlap",
                "the draft geometry is not valid: %(reason)s (its polygons overlap; to add a "
                "drawn polygon to the boundary choose %(add)s)",
                reason=reason,
                add=term("Add to the boundary"),
            )
        )


_EMPTY = msg("draft_empty_geometry", "the draft geometry is empty")


_MAKE_SQL = """
    WITH b AS (SELECT (SELECT geom FROM zone_boundary WHERE id = :base) AS geom),
    r AS (SELECT {raw} AS g),
    drawn AS (
        SELECT ST_Multi(ST_CollectionExtract(CASE WHEN :op = 'replace'
            THEN ST_MakeValid({snap_r})
            ELSE (SELECT ST_Union(ST_MakeValid({snap_p})) FROM ST_Dump(r.g) p) END, 3)) AS g
        FROM b, r
    ), made AS (
        SELECT ST_Multi(ST_CollectionExtract(ST_MakeValid(CASE :op
            WHEN 'add' THEN ST_Union(b.geom, drawn.g)
            WHEN 'subtract' THEN ST_Difference(b.geom, drawn.g)
            ELSE drawn.g END), 3)) AS g
        FROM b, drawn
    )
    SELECT made.g::text AS geom, drawn.g::text AS drawn, ST_IsEmpty(drawn.g) AS drawn_empty,
           ST_IsEmpty(made.g) AS empty, ST_Area(ST_SymDifference(made.g, b.geom)) AS changed_m2
    FROM b, drawn, made
"""


def _snap(geom: str) -> str:
    """SQL: ``geom`` snapped onto the base boundary ``b.geom`` (lm_snap, migration 0011)."""
    return f"coalesce(lm_snap({geom}, b.geom, :tol), {geom})"


def _make(
    session: Session,
    zone_id: int,
    base_id: int | None,
    how: DraftOp,
    raw_sql: str,
    params: dict[str, Any],
    note: str,
    user: str,
    rebased_from: int | None = None,
) -> int:
    """Make and store a draft on ``base_id`` (in the storage SRID, all in PostGIS): the drawn
    shape (``raw_sql``) snapped to the base within SNAP_TOLERANCE_M and made valid; for add and
    subtract, united with or cut from the base; the result made valid, a MultiPolygon. Refused
    (400): an empty result, an add or subtract that changes nothing. A result in several parts
    or with slivers is stored: the check reports it."""
    if base_id is None and how is not DraftOp.REPLACE:
        raise DraftRefused(
            msg("draft_no_base", "the zone has no boundary to add to or subtract from"), 409
        )
    made = session.execute(
        text(_MAKE_SQL.format(raw=raw_sql, snap_r=_snap("r.g"), snap_p=_snap("p.geom"))),
        {**params, "base": base_id, "op": how.value, "tol": SNAP_TOLERANCE_M},
    ).one()
    _refuse_what_changes_nothing(made, how)
    return session.execute(
        text("""INSERT INTO zone_boundary (zone_id, status, note, created_by, geom, base_id, op,
                                           drawn, rebased_from)
                VALUES (:z, 'draft', :note, :user, CAST(:geom AS geometry), :base, :op,
                        CAST(:drawn AS geometry), :rebased_from)
                RETURNING id"""),
        {
            "z": zone_id,
            "note": note,
            "user": user,
            "geom": made.geom,
            "base": base_id,
            "op": how.value,
            "drawn": None if how is DraftOp.REPLACE else made.drawn,
            "rebased_from": rebased_from,
        },
    ).scalar_one()


def _refuse_what_changes_nothing(made: Any, how: DraftOp) -> None:
    """Refuse (400) an empty draft, and an add or subtract that changes nothing."""
    if made.drawn_empty and how is DraftOp.REPLACE:
        raise DraftRefused(_EMPTY)
    if made.empty:
        raise DraftRefused(
            msg("draft_subtracts_all", "subtracting this shape leaves nothing of the zone")
            if how is DraftOp.SUBTRACT
            else msg("draft_empty", "the draft is empty")
        )
    if how is not DraftOp.REPLACE and (made.drawn_empty or made.changed_m2 < NO_CHANGE_M2):
        raise DraftRefused(
            msg(
                "draft_adds_nothing",
                "adding this shape changes nothing: it lies within the boundary",
            )
            if how is DraftOp.ADD
            else msg(
                "draft_subtracts_nothing",
                "subtracting this shape changes nothing: it lies outside the boundary",
            )
        )


def snap_loaded(session: Session, zone_code: str, draft_id: int) -> dict[str, Any]:
    """A draft the loader stored from a file (a replacement), snapped onto its base as drafts
    drawn on the map are (see _make), so that a file of the unchanged boundary changes
    nothing."""
    found = draft(session, zone_code, draft_id)
    session.execute(
        text("""
        WITH s AS (
            SELECT d.id, ST_Multi(ST_CollectionExtract(ST_MakeValid(
                       coalesce(lm_snap(d.geom, b.geom, :tol), d.geom)), 3)) AS g
            FROM zone_boundary d JOIN zone_boundary b ON b.id = d.base_id
            WHERE d.id = :d AND d.status = 'draft' AND d.op = 'replace'
        )
        UPDATE zone_boundary d SET geom = s.g FROM s
        WHERE d.id = s.id AND NOT ST_IsEmpty(s.g) AND NOT ST_OrderingEquals(s.g, d.geom)"""),
        {"d": found["id"], "tol": SNAP_TOLERANCE_M},
    )
    return draft(session, zone_code, draft_id)


def rebase(session: Session, zone_code: str, draft_id: int, user: str) -> dict[str, Any]:
    """A new draft on the zone's current boundary, made as the stale draft was: the same shape
    for a replacement, the same drawn shape added or subtracted otherwise."""
    zone_id, current_id = _zone(session, zone_code)
    found = draft(session, zone_code, draft_id)
    if found["status"] != "draft":
        raise DraftRefused(_approved_already(draft_id), 409)
    if current_id is None:
        raise DraftRefused(
            msg(
                "zone_no_boundary_to_rebase",
                "zone %(zone)s has no current boundary to rebase on",
                zone=zone_code,
            ),
            409,
        )
    if found["base_id"] == current_id:
        raise DraftRefused(
            msg(
                "draft_on_current",
                "draft %(id)s is already drawn on the current boundary",
                id=draft_id,
            ),
            409,
        )
    how = DraftOp(found["op"])
    column = "geom" if how is DraftOp.REPLACE else "drawn"
    new_id = _make(
        session,
        zone_id,
        current_id,
        how,
        f"(SELECT {column} FROM zone_boundary WHERE id = :src)",
        {"src": draft_id},
        found["note"],
        user,
        rebased_from=draft_id,
    )
    return draft(session, zone_code, new_id)


def drafts(session: Session, zone_code: str) -> list[dict[str, Any]]:
    zone_id, _ = _zone(session, zone_code)
    return [
        _draft_row(r)
        for r in session.execute(
            text(
                f"{_DRAFT_SQL} WHERE b.zone_id = :z AND (b.status = 'draft' OR b.approved_at "
                "IS NOT NULL) ORDER BY b.created_at DESC, b.id DESC"
            ),
            {"z": zone_id},
        ).mappings()
    ]


_DRAFT_SQL = """
    SELECT b.id, z.code AS zone, b.status, b.note, b.created_by, b.created_at, b.area_mu,
           b.approved_by, b.approved_at, b.valid_from, b.base_id, b.op, b.rebased_from,
           b.status = 'draft' AND b.base_id IS DISTINCT FROM (SELECT c.id FROM zone_boundary c
               WHERE c.zone_id = b.zone_id AND c.status = 'current') AS stale,
           ARRAY(SELECT r.id FROM zone_boundary r WHERE r.rebased_from = b.id ORDER BY r.id)
               AS rebased_as,
           ST_AsGeoJSON(ST_Transform(b.geom, 4326), 7)::json AS geometry
    FROM zone_boundary b JOIN zone z ON z.id = b.zone_id
"""


def _draft_row(r) -> dict[str, Any]:
    return {
        "id": r["id"],
        "zone": r["zone"],
        "status": r["status"],
        "note": r["note"],
        "author": r["created_by"],
        "created_at": r["created_at"].isoformat(),
        "area_mu": mu2(r["area_mu"]),
        "approved_by": r["approved_by"],
        "approved_at": r["approved_at"].isoformat() if r["approved_at"] else None,
        "valid_from": r["valid_from"].isoformat() if r["valid_from"] else None,
        "op": r["op"],
        "base_id": r["base_id"],
        "stale": r["stale"],
        "rebased_from": r["rebased_from"],
        "rebased_as": list(r["rebased_as"]),
        "geometry": r["geometry"],
    }


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
        raise DraftRefused(
            msg("draft_unknown", "zone %(zone)s has no draft %(id)s", zone=zone_code, id=draft_id),
            404,
        )
    return _draft_row(row)


def boundary_geojson(session: Session, boundary_id: int, kind: str) -> dict[str, Any]:
    """One boundary version as a GeoJSON FeatureCollection in EPSG:4326 with 7 decimals (about
    1 cm, what the API sends), its properties ``kind`` (for the map's style), ``id``, ``mu``."""
    found = session.execute(
        text("""
        SELECT json_build_object('type', 'FeatureCollection', 'features', json_build_array(
            json_build_object('type', 'Feature', 'id', b.id,
                'geometry', ST_AsGeoJSON(ST_Transform(b.geom, 4326), 7)::json,
                'properties', json_build_object('kind', CAST(:k AS text), 'id', b.id,
                                                'mu', b.area_mu))))
        FROM zone_boundary b WHERE b.id = :b"""),
        {"b": boundary_id, "k": kind},
    ).scalar_one()
    for feature in found["features"]:
        feature["properties"]["mu"] = mu2(feature["properties"]["mu"])
    return found


def superseded(session: Session, zone_code: str, draft_id: int) -> Supersession | None:
    """Why a draft is stale (see Supersession), or None when it is not (approved, or drawn
    on the current boundary)."""
    zone_id, current_id = _zone(session, zone_code)
    found = draft(session, zone_code, draft_id)
    if found["status"] != "draft" or found["base_id"] == current_id:
        return None
    row = session.execute(
        text("""
        SELECT n.id, n.approved_by, n.approved_at, n.created_by, n.created_at, n.valid_from,
               (SELECT count(*) FROM zone_boundary v WHERE v.zone_id = :z
                AND v.status <> 'draft' AND v.valid_from <= b.valid_from) AS version
        FROM (SELECT CAST(:b AS integer) AS id) x LEFT JOIN zone_boundary b ON b.id = x.id
        JOIN zone_boundary n ON n.zone_id = :z AND n.status <> 'draft'
             AND (n.valid_from = b.valid_to OR (x.id IS NULL AND n.id = :c))"""),
        {"b": found["base_id"], "z": zone_id, "c": current_id},
    ).first()
    if row is None:  # the zone has no boundary in force now
        return Supersession(found["base_id"], None, None, False, "", None, None)
    at = row.approved_at or row.created_at
    return Supersession(
        base_id=found["base_id"],
        base_version=row.version if found["base_id"] else None,
        id=row.id,
        draft=row.approved_at is not None,
        by=row.approved_by or row.created_by,
        on=at.astimezone(CHINA).date(),
        valid_from=row.valid_from,
    )


def stale_message(draft_id: int, why: Supersession) -> Message:
    if not why.base_version:
        return msg(
            "draft_stale_no_base",
            "draft %(id)s cannot be approved: it was drawn on no boundary of the zone's; "
            "rebase it on the current boundary first",
            id=draft_id,
        )
    what = (
        msg(
            "stale_by_draft",
            "draft %(id)s (approved by %(by)s on %(on)s)",
            id=why.id,
            by=why.by,
            on=why.on,
        )
        if why.draft
        else msg("stale_by_load", "a boundary loaded by %(by)s on %(on)s", by=why.by, on=why.on)
    )
    return msg(
        "draft_stale",
        "draft %(id)s cannot be approved: it was drawn on version %(version)s of the zone's "
        "boundary, which %(what)s has replaced; rebase it on the current boundary first",
        id=draft_id,
        version=why.base_version,
        what=what,
    )


def _approved_already(draft_id: int) -> Message:
    return msg("draft_approved_already", "draft %(id)s was already approved", id=draft_id)


def approve(
    session: Session, zone_code: str, draft_id: int, user: str, valid_from: dt.date | None = None
) -> dict[str, Any]:
    found = draft(session, zone_code, draft_id)
    if found["status"] != "draft":
        raise DraftRefused(_approved_already(draft_id), 409)
    why = superseded(session, zone_code, draft_id)
    if why is not None:  # lm_approve_draft refuses it too; this says why, for people
        raise StaleDraft(draft_id, why)
    problem = event_day_problem(valid_from) if valid_from else None
    if problem:
        raise DraftRefused(
            msg("draft_valid_from", "the day it comes into force: %(problem)s", problem=problem),
            400,
        )
    try:
        with session.begin_nested():
            session.execute(
                text("SELECT lm_approve_draft(:d, :f, :u)"),
                {"d": draft_id, "f": valid_from or today(), "u": user},
            )
    except DBAPIError as exc:
        problem = pg_message(exc)
        raise DraftRefused(
            msg("draft_approval_refused", "the approval is refused: %(problem)s", problem=problem),
            409,
        ) from exc
    return draft(session, zone_code, draft_id)


# --- the check -------------------------------------------------------------------------


def _pieces(session: Session, name: str, sql: str, params: dict[str, Any]) -> None:
    """A temporary table of subdivided pieces (with a spatial index) for fast lookups."""
    session.execute(text(f"DROP TABLE IF EXISTS {name}"))
    session.execute(
        text(
            f"CREATE TEMP TABLE {name} AS SELECT ST_Subdivide(g, 96) AS geom "
            f"FROM ({sql}) s(g) WHERE NOT ST_IsEmpty(g)"
        ),
        params,
    )
    session.execute(text(f"CREATE INDEX ON {name} USING gist (geom)"))
    session.execute(text(f"ANALYZE {name}"))


def check(
    session: Session,
    zone_code: str,
    draft_id: int,
    year: int | None = None,
    sliver_width_m: float = 5.0,
) -> DraftCheck:
    """What a draft changes against the boundary it was drawn on, in mu (see module doc). A
    stale draft (``stale``; ``superseded_by`` says what replaced its base) is also checked
    against the current boundary (``against_current``, the same figures); an approved draft
    shows what its approval changed. ``compared_with`` is the boundary of the main figures.
    ``year``: the quota ledger's year the quota needed is set against (this year's without)."""
    zone_id, current_id = _zone(session, zone_code)
    found = draft(session, zone_code, draft_id)
    reference = found["base_id"] or current_id
    if reference is None:
        raise DraftRefused(
            msg(
                "zone_no_boundary_to_compare",
                "zone %(zone)s has no current boundary to compare with",
                zone=zone_code,
            ),
            409,
        )
    why = superseded(session, zone_code, draft_id)
    book = quota.ledger(session, year or today().year)

    def against(boundary_id: int) -> CheckFigures:
        savepoint = session.begin_nested()  # the temporary tables go with it
        try:
            ids = {"c": boundary_id, "d": draft_id, "z": zone_id}
            return _figures(_measure(session, ids, sliver_width_m), book)
        finally:
            savepoint.rollback()

    figures = against(reference)
    checked_again = why is not None and current_id not in (None, reference)
    return DraftCheck(
        **vars(figures),  # the figures against compared_with
        zone=zone_code,
        draft_id=draft_id,
        draft_status=found["status"],
        author=found["author"],
        note=found["note"],
        op=found["op"],
        base_id=found["base_id"],
        compared_with=reference,
        current_id=current_id,
        stale=why is not None,
        superseded_by=why,
        rebased_from=found["rebased_from"],
        rebased_as=tuple(found["rebased_as"]),
        against_current=against(current_id) if checked_again else None,
    )


@dataclass(frozen=True)
class _Measured:
    """What PostGIS measured of a draft ``d`` against a boundary ``c``, exact (see _measure)."""

    areas: Any  # a row of _AREAS: mu before, after, added, removed; validity, holes, parts
    parcels: list[Any]  # _parcels
    other_zones: list[Any]  # (zone, mu) of other zones' current boundaries inside the draft
    farmland: list[Any]  # (code, mu, in the added area)
    land_uses: list[Any]  # (land-use code, mu) of the added area
    slivers: list[Any]  # ("draft" | "change", mu) narrower than sliver_width_m
    sliver_width_m: float


_GEOMS = """(SELECT geom FROM zone_boundary WHERE id = :c) AS c,
            (SELECT geom FROM zone_boundary WHERE id = :d) AS d"""
_HOLES = "(SELECT coalesce(sum(ST_NumInteriorRings(p.geom)), 0) FROM ST_Dump({}.geom) p)"
_AREAS = f"""
    SELECT lm_area_mu(c.geom) AS before, lm_area_mu(d.geom) AS after,
           lm_area_mu(ST_Difference(d.geom, c.geom)) AS added,
           lm_area_mu(ST_Difference(c.geom, d.geom)) AS removed,
           ST_IsValid(d.geom) AS valid, ST_IsValidReason(d.geom) AS reason,
           {_HOLES.format("d")} AS holes, {_HOLES.format("c")} AS old_holes,
           ST_NumGeometries(d.geom) AS parts, ST_NumGeometries(c.geom) AS old_parts
    FROM {_GEOMS}"""
_OTHER_ZONES = """
    SELECT z.code, sum(lm_area_mu(ST_Intersection(b.geom, d.geom))) AS mu
    FROM lm_d d JOIN zone_boundary b ON b.status = 'current' AND b.zone_id <> :z
         AND ST_Intersects(b.geom, d.geom)
    JOIN zone z ON z.id = b.zone_id GROUP BY z.code ORDER BY z.code"""
_FARMLAND = """
    SELECT f.code, sum(lm_area_mu(ST_Intersection(f.geom, d.geom))) AS mu,
           bool_or(EXISTS (SELECT 1 FROM lm_added a WHERE ST_Intersects(a.geom, f.geom)))
    FROM lm_d d JOIN farmland f ON ST_Intersects(f.geom, d.geom)
    GROUP BY f.code HAVING sum(ST_Area(ST_Intersection(f.geom, d.geom))) > 0.01
    ORDER BY f.code"""
_LAND_USES = """
    SELECT l.land_use_code, sum(lm_area_mu(ST_Intersection(l.geom, a.geom)))
    FROM lm_added a JOIN landuse_patch l ON ST_Intersects(l.geom, a.geom)
    GROUP BY l.land_use_code ORDER BY l.land_use_code"""
_SLIVERS = """
    SELECT 'draft' AS kind, lm_area_mu(ST_Difference(d.geom, ST_Buffer(
               ST_Buffer(d.geom, -:w / 2, 'join=mitre'), :w / 2, 'join=mitre')))
        FROM zone_boundary d
        WHERE d.id = :d
    UNION ALL
    SELECT 'change', coalesce(sum(lm_area_mu(p.geom)), 0) FROM (
        SELECT (ST_Dump(ST_Union(geom))).geom FROM (
            SELECT geom FROM lm_added UNION ALL SELECT geom FROM lm_removed) x) p
        WHERE ST_IsEmpty(ST_Buffer(p.geom, -:w / 2))"""


def _measure(session: Session, ids: dict[str, int], sliver_width_m: float) -> _Measured:
    """Measure draft ``:d`` against boundary ``:c`` (zone ``:z``) in PostGIS, over temporary
    tables of subdivided pieces: the draft, the boundary, the added and removed areas, the
    draft's line."""
    areas = session.execute(text(_AREAS), ids).one()
    _pieces(session, "lm_d", "SELECT geom FROM zone_boundary WHERE id = :d", ids)
    _pieces(session, "lm_c", "SELECT geom FROM zone_boundary WHERE id = :c", ids)
    _pieces(session, "lm_added", f"SELECT ST_Difference(d.geom, c.geom) FROM {_GEOMS}", ids)
    _pieces(session, "lm_removed", f"SELECT ST_Difference(c.geom, d.geom) FROM {_GEOMS}", ids)
    _pieces(session, "lm_line", "SELECT ST_Boundary(geom) FROM zone_boundary WHERE id = :d", ids)
    return _Measured(
        areas=areas,
        parcels=_parcels(session),
        other_zones=session.execute(text(_OTHER_ZONES), ids).all(),
        farmland=session.execute(text(_FARMLAND)).all(),
        land_uses=session.execute(text(_LAND_USES)).all(),
        slivers=session.execute(text(_SLIVERS), {**ids, "w": sliver_width_m}).all(),
        sliver_width_m=sliver_width_m,
    )


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
            WHERE lm_parcel_in_force(p.created_on, p.retired_on, NULL)  -- the register now
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


def _across(parcels: list[Any]) -> dict[str, list[ParcelAcross]]:
    """The parcels the new line moves in (entering), out (leaving) or cuts."""
    moved: dict[str, list[ParcelAcross]] = {"entering": [], "leaving": [], "cut": []}
    for parcel in parcels:
        was, now = _side(parcel.before_mu, parcel.area_mu), _side(parcel.after_mu, parcel.area_mu)
        row = ParcelAcross(
            parcel.code,
            parcel.name,
            parcel.owner,
            parcel.project,
            mu2(parcel.area_mu),
            mu2(parcel.after_mu),
            mu2(parcel.area_mu - parcel.after_mu),
        )
        if now == "cut":
            moved["cut"].append(row)
        elif now == "in" and was != "in":
            moved["entering"].append(row)
        elif now == "out" and was != "out":
            moved["leaving"].append(row)
    return moved


def _land_use_added(land_uses: list[Any]) -> tuple[list[LandUseAdded], float, float]:
    """The added land by land-use class, and its exact agricultural and cultivated mu."""
    classes, agricultural, cultivated = [], 0.0, 0.0
    for code, mu in land_uses:
        category = landuse.category(code)
        agricultural += mu if category == "agricultural" else 0
        cultivated += mu if landuse.is_cultivated(code) else 0
        label = landuse.category_label(category)
        classes.append(LandUseAdded(code, landuse.name_of(code), category, mu2(mu), label))
    return classes, agricultural, cultivated


def _problems(measured: _Measured, farmland_mu: float, other_mu: float) -> list[CheckProblem]:
    """Problems compare the draft with the boundary it is checked against, so that a draft
    equal to it reports none."""
    areas, problems = measured.areas, []
    if not areas.valid:
        reason = areas.reason
        message = msg("check_invalid", "the draft is not valid: %(reason)s", reason=reason)
        problems.append(CheckProblem("invalid", message))
    if areas.holes > areas.old_holes:
        holes = int(areas.holes)
        message = msg("check_holes", "the draft has %(n)s hole(s)", n=holes)
        problems.append(CheckProblem("holes", message, count=holes))
    if areas.parts > max(areas.old_parts, 1):
        parts = int(areas.parts)
        message = msg("check_multipart", "the draft is in %(n)s separate parts", n=parts)
        problems.append(CheckProblem("multipart", message, count=parts))
    for kind, mu in measured.slivers:
        if mu and mu > 0.01:
            problems.append(_sliver(kind, mu2(mu), measured.sliver_width_m))
    if farmland_mu > 0.005:
        shown = _mu(farmland_mu)
        message = msg("check_farmland", "takes %(mu)s mu of permanent basic farmland", mu=shown)
        problems.append(CheckProblem("farmland", message, mu=mu2(farmland_mu)))
    if other_mu > 0.005:
        shown = _mu(other_mu)
        message = msg("check_overlap", "overlaps other zones by %(mu)s mu", mu=shown)
        problems.append(CheckProblem("overlap", message, mu=mu2(other_mu)))
    return problems


def _mu(mu: float) -> str:
    """mu as the check's problems show them: rounded once (mu2), two decimals."""
    return f"{mu2(mu):.2f}"


def _sliver(kind: str, mu: float, width_m: float) -> CheckProblem:
    shown, width = _mu(mu), f"{width_m:g}"
    if kind == "draft":
        message = msg(
            "check_sliver_draft",
            "parts of the draft narrower than %(width)s m: %(mu)s mu",
            width=width,
            mu=shown,
        )
    else:
        message = msg(
            "check_sliver_change",
            "pieces between old and new line narrower than %(width)s m: %(mu)s mu",
            width=width,
            mu=shown,
        )
    return CheckProblem(f"sliver_{kind}", message, mu=mu)


def _figures(measured: _Measured, book: quota.QuotaBook) -> CheckFigures:
    """The check's figures: mu exact until here, rounded once with mu2; totals are rounded
    exact sums."""
    areas = measured.areas
    moved = _across(measured.parcels)
    classes, agricultural, cultivated = _land_use_added(measured.land_uses)
    farmland_mu = sum(mu for _, mu, _ in measured.farmland)
    other_mu = sum(mu for _, mu in measured.other_zones)
    everyone = moved["entering"] + moved["leaving"] + moved["cut"]
    return CheckFigures(
        area_before_mu=mu2(areas.before),
        area_after_mu=mu2(areas.after),
        added_mu=mu2(areas.added),
        removed_mu=mu2(areas.removed),
        parcels_entering=tuple(moved["entering"]),
        parcels_leaving=tuple(moved["leaving"]),
        parcels_cut=tuple(moved["cut"]),
        projects=tuple(sorted({parcel.project for parcel in everyone if parcel.project})),
        overlap_other_zones_mu=mu2(other_mu),
        overlap_other_zones=tuple(ZoneOverlap(zone, mu2(mu)) for zone, mu in measured.other_zones),
        farmland_conflict_mu=mu2(farmland_mu),
        farmland_patches=tuple(
            FarmlandTaken(code, mu2(mu), bool(added)) for code, mu, added in measured.farmland
        ),
        added_by_land_use=tuple(classes),
        agricultural_added_mu=mu2(agricultural),
        cultivated_added_mu=mu2(cultivated),
        unknown_codes=tuple(row.code for row in classes if row.category == "unknown"),
        quota_needed_mu=mu2(agricultural),
        quota_year=book.year,
        quota_remaining_mu=book.remaining_mu,
        quota_enough=mu2(agricultural) <= book.remaining_mu,
        valid=bool(areas.valid),
        problems=tuple(_problems(measured, farmland_mu, other_mu)),
    )


def check_geojson(session: Session, draft_id: int, compared_with: int) -> dict[str, Any]:
    """The check's shapes for the compare map (EPSG:4326): added and removed against the
    boundary ``compared_with`` (the check's), the farmland and the other zones it takes."""
    ids = {"d": draft_id, "c": compared_with}
    shapes = session.execute(
        text("""
        WITH d AS (SELECT zone_id, geom FROM zone_boundary WHERE id = :d),
        c AS (SELECT geom FROM zone_boundary WHERE id = :c),
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
                    'mu', lm_area_mu(g)))), '[]'::json))
        FROM parts WHERE NOT ST_IsEmpty(g) AND ST_Area(g) > 0.01"""),
        ids,
    ).scalar_one()
    for feature in shapes["features"]:
        feature["properties"]["mu"] = mu2(feature["properties"]["mu"])
    return shapes
