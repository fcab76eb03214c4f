"""Parcels out of the register: GeoJSON built by PostGIS (EPSG:4326, 7 decimals), search."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.domain import Stage
from landmap.geo.units import mu2
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
            'project', pr.name, 'project_id', pr.id, 'batch', b.name,
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


def filter_sql(selection, alias: str = "p") -> tuple[list[str], dict[str, Any]]:
    """The conditions every parcel view filters by (zone, stage on the day, project, batch)
    over the parcel table as ``alias``, and their parameters. ``selection`` has those
    attributes and ``as_of`` (a ParcelFilter, a tiles.TileFilter)."""
    clauses, params = [], {"as_of": selection.as_of}
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


def feature_collection(session: Session, selection: ParcelFilter) -> str:
    """A GeoJSON FeatureCollection, as text, ready to send."""
    where, params = _where(selection)
    params["limit"] = min(selection.limit, MAX_FEATURES)
    sql = f"""
        SELECT {_feature(selection)}::text AS feature {_FROM} {where}
        ORDER BY p.code LIMIT :limit
    """
    features = (_shown(json.loads(row)) for row in session.execute(text(sql), params).scalars())
    return json.dumps(
        {"type": "FeatureCollection", "features": list(features)},
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ":"),
    )


def get_feature(session: Session, code: str, as_of: dt.date | None = None) -> dict[str, Any] | None:
    row = session.execute(
        text(f"SELECT {_feature(ParcelFilter(as_of=as_of))}::text {_FROM} WHERE p.code = :code"),
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


def search(session: Session, q: str, limit: int = 10) -> list[dict[str, Any]]:
    """Parcels whose code starts with q, then projects whose name contains q, with their
    extent in lon/lat so that a map can zoom to them."""
    q = q.strip()
    if not q:
        return []
    like = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = session.execute(
        text("""
        SELECT kind, key, label,
               ARRAY[ST_XMin(box), ST_YMin(box), ST_XMax(box), ST_YMax(box)] AS bbox
        FROM (
            (SELECT 'parcel' AS kind, p.code AS key, concat_ws(' ', p.code, p.name) AS label,
                    ST_Extent(ST_Transform(p.geom, 4326)) AS box
             FROM parcel p WHERE p.code ILIKE :prefix GROUP BY p.code, p.name
             ORDER BY p.code LIMIT :limit)
            UNION ALL
            (SELECT 'project', pr.id::text, pr.name, ST_Extent(ST_Transform(p.geom, 4326))
             FROM project pr JOIN parcel p ON p.project_id = pr.id
             WHERE pr.name ILIKE :contains GROUP BY pr.id, pr.name ORDER BY pr.name LIMIT :limit)
        ) t
        """),
        {"prefix": like + "%", "contains": "%" + like + "%", "limit": limit},
    )
    return [
        {"kind": kind, "key": key, "label": label, "bbox": [round(v, 7) for v in bbox]}
        for kind, key, label, bbox in rows
    ][:limit]


def lonlat_polygon(geometry: Any, max_vertices: int) -> list[list[float]]:
    """The positions of a GeoJSON Polygon or MultiPolygon sent in EPSG:4326 (RFC 7946), checked
    before PostGIS sees it: 2-D [lon, lat] positions, finite and on the globe, no ``crs``
    member, at most ``max_vertices`` of them. Refused (400) says what is wrong; whether the
    rings make a valid polygon is for PostGIS (ST_IsValid) to say."""
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind not in ("Polygon", "MultiPolygon"):
        raise Refused("the geometry must be a GeoJSON Polygon or MultiPolygon")
    if "crs" in geometry:
        raise Refused("GeoJSON is EPSG:4326 (RFC 7946): a crs member is not accepted")
    coords = geometry.get("coordinates")
    polygons = coords if kind == "MultiPolygon" else [coords]
    if not isinstance(polygons, list) or not all(isinstance(p, list) for p in polygons):
        raise Refused("the coordinates are malformed")
    rings = [r for p in polygons for r in p]
    if not all(isinstance(r, list) for r in rings):
        raise Refused("the coordinates are malformed")
    if sum(len(r) for r in rings) > max_vertices:
        raise Refused(f"the geometry has more than {max_vertices} positions")
    positions = [q for r in rings for q in r]
    if not positions:
        raise Refused("the geometry is empty")
    for q in positions:
        numbers = isinstance(q, list) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in q
        )
        if not numbers or len(q) != 2:
            raise Refused("a position is two numbers, [longitude, latitude] (2-D)")
        if not (-180 <= q[0] <= 180 and -90 <= q[1] <= 90):  # false for NaN and infinity too
            raise Refused(
                "the coordinates are not longitude/latitude: send GeoJSON in EPSG:4326 (RFC 7946)"
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
        WHERE z.code = :zone ORDER BY p.code OFFSET :offset LIMIT :limit"""),
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
                    WHERE project_id = :p AND (CAST(:b AS integer) IS NULL OR batch_id = :b)) x"""),
        {"p": project_id, "b": batch_id},
    ).scalar()
    return [round(v, 7) for v in box] if box and box[0] is not None else None
