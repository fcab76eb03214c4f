"""Parcels out of the register: GeoJSON built by PostGIS (EPSG:4326, 7 decimals), search."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.domain import Stage
from landmap.geo.units import mu2
from landmap.messages import Message, msg
from landmap.services import Refused, Result

MAX_FEATURES = 20_000


@dataclass(frozen=True)
class ParcelFilter:
    zone: str | None = None
    stage: str | None = None
    project_id: int | None = None
    batch_id: int | None = None
    bbox: tuple[float, float, float, float] | None = None  # lon/lat
    as_of: dt.date | None = None  # stages and disputes as they were on that day
    limit: int = MAX_FEATURES
    offset: int = 0  # parcels skipped, in code order (paging)


_FEATURE = """
    json_build_object(
        'type', 'Feature',
        'id', p.code,
        'geometry', ST_AsGeoJSON(ST_Transform(p.geom, 4326), 7)::json,
        'properties', json_build_object(
            'code', p.code, 'name', p.name, 'zone', z.code, 'owner', p.owner,
            'location', p.location, 'land_use_code', p.land_use_code,
            'land_use_name', p.land_use_name, 'area_mu', p.area_mu,
            'official_area_mu', lm_mu(p.official_area_m2::float8),
            'area_mismatch', p.area_mismatch, 'stage', {stage},
            'dispute', {dispute}, 'dispute_reason', CASE WHEN {dispute} THEN
                coalesce(nullif(p.dispute_reason, ''), (SELECT c.reason FROM stage_change c
                    WHERE c.parcel_id = p.id AND c.kind = 'dispute'
                    ORDER BY c.happened_on DESC, c.id DESC LIMIT 1)) END,
            'project', pr.name, 'project_id', pr.id, 'batch', b.name, 'batch_id', b.id,
            'created_on', p.created_on, 'retired_on', p.retired_on,
            'official_area_m2', p.official_area_m2, 'rights_type', p.attributes ->> 'QLLX',
            'rights_nature', p.attributes ->> 'QLXZ',
            'quota', lm_quota_status(p.project_id, p.batch_id),
            'commercial', CASE WHEN c.parcel_id IS NULL THEN NULL ELSE json_build_object(
                'planned_use', c.planned_use, 'plot_ratio_max', c.plot_ratio_max,
                'building_density_max', c.building_density_max,
                'green_ratio_min', c.green_ratio_min, 'height_limit_m', c.height_limit_m,
                'transfer_status', c.transfer_status, 'transfer_date', c.transfer_date,
                'reserve_price_wan', c.reserve_price_wan) END
        )
    )
"""
_FROM = """
    FROM parcel p
    LEFT JOIN zone z ON z.id = p.zone_id
    LEFT JOIN project pr ON pr.id = p.project_id
    LEFT JOIN acquisition_batch b ON b.id = p.batch_id
    LEFT JOIN commercial_plot c ON c.parcel_id = p.id
"""


def state_sql(alias: str, as_of: bool) -> dict[str, str]:
    """SQL for a parcel's stage and dispute flag: now, or (``as_of``) on the day bound as
    :as_of, from its history. Every parcel view uses these."""
    if as_of:
        day = "CAST(:as_of AS date)"
        return {
            "stage": f"lm_stage_as_of({alias}.id, {alias}.stage, {day})",
            "dispute": f"lm_dispute_as_of({alias}.id, {alias}.dispute, {day})",
        }
    return {"stage": f"{alias}.stage", "dispute": f"{alias}.dispute"}


def in_force_sql(alias: str = "p", day: str = "as_of") -> str:
    """SQL condition: parcel ``alias`` is in force on the date parameter ``:day`` (created on
    or before it, not retired by then), or is not retired when ``:day`` is NULL (now). The
    one rule of which parcels make the register on a day (lm_parcel_in_force, 0015)."""
    return f"lm_parcel_in_force({alias}.created_on, {alias}.retired_on, CAST(:{day} AS date))"


def filter_sql(selection, alias: str = "p") -> tuple[list[str], dict[str, Any]]:
    """The conditions every parcel view filters by (in force on the day, zone, stage on the
    day, project, batch) over the parcel table as ``alias``, and their parameters.
    ``selection`` has those attributes and ``as_of`` (a ParcelFilter, a tiles.TileFilter)."""
    clauses, params = [in_force_sql(alias)], {"as_of": selection.as_of}
    if selection.zone:
        clauses.append(f"{alias}.zone_id = (SELECT id FROM zone WHERE code = :zone)")
        params["zone"] = selection.zone
    if selection.stage:
        clauses.append(f"{state_sql(alias, bool(selection.as_of))['stage']} = :stage")
        params["stage"] = selection.stage
    if selection.project_id is not None:
        clauses.append(f"{alias}.project_id = :project_id")
        params["project_id"] = selection.project_id
    if selection.batch_id is not None:
        clauses.append(f"{alias}.batch_id = :batch_id")
        params["batch_id"] = selection.batch_id
    return clauses, params


def _feature(selection: ParcelFilter | None = None) -> str:
    return _FEATURE.format(**state_sql("p", bool(selection and selection.as_of)))


def _where(selection: ParcelFilter) -> tuple[str, dict[str, Any]]:
    clauses, params = filter_sql(selection)
    if selection.bbox:
        clauses.append(
            "p.geom && ST_Transform(ST_Segmentize(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326), "
            "0.001), lm_storage_srid())"
        )
        params.update(zip(("x0", "y0", "x1", "y1"), selection.bbox, strict=True))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _shown(feature: dict[str, Any]) -> dict[str, Any]:
    """A feature's areas as every surface shows them: the exact mu PostGIS computed, rounded
    once (mu2)."""
    props = feature["properties"]
    for key in ("area_mu", "official_area_mu"):
        if props.get(key) is not None:
            props[key] = mu2(props[key])
    return feature


def feature_collection(
    session: Session, selection: ParcelFilter, next_href: Callable[[int], str] | None = None
) -> str:
    """A GeoJSON FeatureCollection, as text, ready to send: at most ``selection.limit``
    parcels from ``selection.offset`` in code order, with ``numberReturned``; when more follow,
    ``truncated`` and (given ``next_href(offset)``) a ``next`` link, as OGC API pages."""
    where, params = _where(selection)
    limit = min(selection.limit, MAX_FEATURES)
    params.update(limit=limit + 1, offset=selection.offset)
    sql = f"""
        SELECT {_feature(selection)}::text AS feature {_FROM} {where}
        ORDER BY p.code LIMIT :limit OFFSET :offset
    """
    rows = session.execute(text(sql), params).scalars().all()
    page: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [_shown(json.loads(row)) for row in rows[:limit]],
        "numberReturned": min(len(rows), limit),
        "truncated": len(rows) > limit,
    }
    if page["truncated"] and next_href is not None:
        href = next_href(selection.offset + limit)
        page["links"] = [{"rel": "next", "type": "application/geo+json", "href": href}]
    return json.dumps(page, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def get_feature(session: Session, code: str, as_of: dt.date | None = None) -> dict[str, Any] | None:
    row = session.execute(
        text(
            f"SELECT {_feature(ParcelFilter(as_of=as_of))}::text {_FROM} "
            f"WHERE p.code = :code AND {in_force_sql()}"
        ),
        {"code": code, "as_of": as_of},
    ).scalar()
    return _shown(json.loads(row)) if row else None


@dataclass(frozen=True)
class StageFigure(Result):
    """Parcels at an acquisition stage and their mu."""

    parcels: int
    mu: float


def by_stage(session: Session, selection: ParcelFilter) -> dict[str, StageFigure]:
    """Parcels and their exact mu (not rounded: callers round what they show) at each
    acquisition stage on ``selection.as_of`` (else now), every stage listed in order, of the
    whole parcels ``selection`` picks by zone, project and batch (not by stage or box): the
    one by-stage sum over parcels."""
    clauses, params = filter_sql(replace(selection, stage=None))
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    stage = state_sql("p", bool(selection.as_of))["stage"]
    rows = session.execute(
        text(f"""SELECT {stage} AS stage, count(*) AS parcels, sum(p.area_mu) AS mu
                 FROM parcel p {where} GROUP BY 1"""),
        params,
    )
    found = {row.stage: StageFigure(row.parcels, row.mu) for row in rows}
    return {s.value: found.get(s.value, StageFigure(0, 0.0)) for s in Stage}


def stages_summary(session: Session, selection: ParcelFilter) -> dict[str, Any]:
    """Parcels and mu at each acquisition stage (on ``selection.as_of``, else now), every
    stage listed, and their total: the figures of a map's legend, as the page around the map
    shows them. A zone alone (no project or batch) takes the zone's figures by its rule
    (zones.zone_summary: the parts inside its boundary in force that day); otherwise by_stage
    of the parcels ``selection`` picks, whole, or of every parcel. Each mu is an exact sum
    rounded once; the total is the rounded exact sum."""
    day = selection.as_of.isoformat() if selection.as_of else None
    if selection.zone and selection.project_id is None and selection.batch_id is None:
        from landmap.services import zones

        found = zones.zone_summary(session, selection.zone, selection.as_of)
        if found is not None:
            figures = found.as_dict()
            total = {"parcels": figures["parcel_count"], "mu": figures["parcels_mu_inside"]}
            return {"as_of": day, "stages": figures["mu_by_stage"], "total": total}
    stages = by_stage(session, selection)
    total = StageFigure(
        sum(figure.parcels for figure in stages.values()),
        mu2(sum(figure.mu for figure in stages.values())),
    )
    return {
        "as_of": day,
        "stages": {
            stage: {"parcels": figure.parcels, "mu": mu2(figure.mu)}
            for stage, figure in stages.items()
        },
        "total": total.as_dict(),
    }


MAX_QUERY = 100  # characters of a search
MAX_HITS = 50  # results of a search at most
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# What a search looks in, best first (a parcel's exact code comes before all of them): a
# project's name or its partner's (the enterprise), then a parcel's code, owner (权利人),
# location (坐落) and name. Each is a substring match (LIKE '%q%', ILIKE when q has letters:
# case-insensitive either way), which the pg_trgm GIN indexes of migration 0013 answer from 3
# characters on; a query of 1-2 characters has no trigram, and each parcel field is then read
# in code order up to the limit (the code's B-tree) or scanned: bounded either way, and fast
# enough at 100,000 parcels (scripts/bench_search.py).
_PARCEL_FIELDS = ("code", "owner", "location", "name")
_RANK = {"exact": 0, "project": 1, "partner": 2, **{f: 3 + i for i, f in enumerate(_PARCEL_FIELDS)}}


def _search_sql(like: str) -> str:
    """The search, matching with ``like`` (LIKE, or ILIKE for a query with cased letters:
    ILIKE folds case row by row, several times slower on Chinese text)."""
    contains = f"{like} :contains"
    parcel_hits = " UNION ALL ".join(
        [
            f"""(SELECT id, {_RANK["exact"]} AS rank, 'code' AS matched, code AS value
                 FROM parcel WHERE code IN (:q, upper(:q)) AND retired_on IS NULL)""",
            *(
                f"""(SELECT id, {_RANK[f]}, '{f}', {f} FROM parcel
                     WHERE {f} {contains} AND retired_on IS NULL
                     ORDER BY code LIMIT :limit)"""
                for f in _PARCEL_FIELDS
            ),
        ]
    )
    named = f"pr.name {contains}"
    return f"""
    WITH hits AS ({parcel_hits}),
    best AS (SELECT DISTINCT ON (id) id, rank, matched, value FROM hits ORDER BY id, rank)
    SELECT kind, key, label, matched, value, {_BOX} AS bbox FROM (
        SELECT 'parcel' AS kind, p.code AS key, concat_ws(' ', p.code, nullif(p.name, ''))
               AS label, b.matched, b.value, b.rank, Box2D(ST_Transform(p.geom, 4326)) AS box
        FROM best b JOIN parcel p ON p.id = b.id
        UNION ALL
        (SELECT 'project', pr.id::text, pr.name,
                CASE WHEN {named} THEN 'project' ELSE 'partner' END,
                CASE WHEN {named} THEN pr.name ELSE pr.partner END,
                CASE WHEN {named} THEN {_RANK["project"]} ELSE {_RANK["partner"]} END,
                ST_Extent(ST_Transform(p.geom, 4326))
         FROM project pr LEFT JOIN parcel p ON p.project_id = pr.id AND p.retired_on IS NULL
         WHERE {named} OR pr.partner {contains}
         GROUP BY pr.id ORDER BY 6, pr.name LIMIT :limit)
    ) t
    ORDER BY rank, kind, key LIMIT :limit
"""


_BOX = "ARRAY[ST_XMin(box), ST_YMin(box), ST_XMax(box), ST_YMax(box)]"
_SEARCH = {like: _search_sql(like) for like in ("LIKE", "ILIKE")}


@dataclass(frozen=True)
class SearchHit(Result):
    """A search result: a parcel (key: its code) or a project (key: its id), what matched
    (``matched``: code, owner, location, name; project, partner) and the text
    that did, and its extent in lon/lat for a map to zoom to (None: a project without
    parcels)."""

    kind: str
    key: str
    label: str
    matched: str
    matched_text: str
    bbox: list[float] | None


def search_problem(q: str, limit: int) -> Message | None:
    """Why a search cannot be run, if it cannot: too long, a control character, a limit out
    of 1..MAX_HITS."""
    if len(q) > MAX_QUERY:
        return msg(
            "search_too_long", "the search text is longer than %(most)s characters", most=MAX_QUERY
        )
    if _CONTROL.search(q):
        return msg("search_control", "the search text holds a control character")
    if not 1 <= limit <= MAX_HITS:
        return msg("search_limit", "a search returns from 1 to %(most)s results", most=MAX_HITS)
    return None


def search(session: Session, q: str, limit: int = 10) -> list[SearchHit]:
    """Parcels by any part of their code (its end: ``JA00002``), owner, location or name,
    and projects by any part of their name or their partner's (the enterprise), best first
    (see _RANK), at most ``limit``; each says what matched. Refused (400) for a query
    search_problem names."""
    problem = search_problem(q, limit)
    if problem is not None:
        raise Refused(problem)
    q = q.strip()
    if not q:
        return []
    like = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    sql = _SEARCH["ILIKE" if q.lower() != q.upper() else "LIKE"]
    rows = session.execute(text(sql), {"q": q, "contains": "%" + like + "%", "limit": limit})
    return [
        SearchHit(
            kind=row.kind,
            key=row.key,
            label=row.label if row.value in row.label else f"{row.label} · {row.value}",
            matched=row.matched,
            matched_text=row.value,
            bbox=[round(v, 7) for v in row.bbox] if row.bbox[0] is not None else None,
        )
        for row in rows
    ]


_MALFORMED = msg("coordinates_malformed", "the coordinates are malformed")


def lonlat_polygon(geometry: Any, max_vertices: int) -> list[list[float]]:
    """The positions of a GeoJSON Polygon or MultiPolygon sent in EPSG:4326 (RFC 7946), checked
    before PostGIS sees it: 2-D [lon, lat] positions, finite and on the globe, no ``crs``
    member, at most ``max_vertices`` of them. Refused (400) says what is wrong; whether the
    rings make a valid polygon is for PostGIS (ST_IsValid) to say."""
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind not in ("Polygon", "MultiPolygon"):
        raise Refused(
            msg("geometry_not_polygon", "the geometry must be a GeoJSON Polygon or MultiPolygon")
        )
    if "crs" in geometry:
        raise Refused(
            msg(
                "crs_not_accepted",
                "GeoJSON is EPSG:4326 (RFC 7946): a crs member is not accepted",
            )
        )
    coords = geometry.get("coordinates")
    polygons = coords if kind == "MultiPolygon" else [coords]
    if not isinstance(polygons, list) or not all(isinstance(p, list) for p in polygons):
        raise Refused(_MALFORMED)
    rings = [r for p in polygons for r in p]
    if not all(isinstance(r, list) for r in rings):
        raise Refused(_MALFORMED)
    if sum(len(r) for r in rings) > max_vertices:
        raise Refused(
            msg(
                "geometry_too_many_positions",
                "the geometry has more than %(most)s positions",
                most=max_vertices,
            )
        )
    positions = [q for r in rings for q in r]
    if not positions:
        raise Refused(msg("geometry_empty", "the geometry is empty"))
    for q in positions:
        numbers = isinstance(q, list) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in q
        )
        if not numbers or len(q) != 2:
            raise Refused(
                msg(
                    "geometry_position_not_2d",
                    "a position is two numbers, [longitude, latitude] (2-D)",
                )
            )
        if not (-180 <= q[0] <= 180 and -90 <= q[1] <= 90):  # false for NaN and infinity too
            raise Refused(
                msg(
                    "geometry_not_lonlat",
                    "the coordinates are not longitude/latitude: send GeoJSON in EPSG:4326"
                    " (RFC 7946)",
                )
            )
    return positions


def table(session: Session, zone: str, offset: int, limit: int) -> tuple[list[dict], int]:
    """One page of a zone's parcels for a table, and how many there are in all."""
    rows = (
        session.execute(
            text("""
        SELECT p.code, p.name, p.owner, p.land_use_code, p.land_use_name,
               p.area_mu, p.area_mismatch, p.stage,
               pr.name AS project, b.name AS batch, count(*) OVER () AS total
        FROM parcel p JOIN zone z ON z.id = p.zone_id
        LEFT JOIN project pr ON pr.id = p.project_id
        LEFT JOIN acquisition_batch b ON b.id = p.batch_id
        WHERE z.code = :zone AND p.retired_on IS NULL
        ORDER BY p.code OFFSET :offset LIMIT :limit"""),
            {"zone": zone, "offset": offset, "limit": limit},
        )
        .mappings()
        .all()
    )
    total = rows[0]["total"] if rows else 0
    return [{**r, "area_mu": mu2(r["area_mu"])} for r in rows], total


def extent(session: Session, project_id: int, batch_id: int | None) -> list[float] | None:
    """lon/lat box of a project's (or batch's) parcels."""
    box = session.execute(
        text("""SELECT ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] FROM (
                    SELECT ST_Extent(ST_Transform(geom, 4326)) AS e FROM parcel
                    WHERE project_id = :p AND (CAST(:b AS integer) IS NULL OR batch_id = :b)
                      AND retired_on IS NULL) x"""),
        {"p": project_id, "b": batch_id},
    ).scalar()
    return [round(v, 7) for v in box] if box and box[0] is not None else None
