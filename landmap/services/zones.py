"""Zones: their boundaries (current, or in force on a day) and what lies in them, in mu.

The rule for parcels and zones, used by every figure (API, pages, workbooks, CLI):

- a parcel *belongs* to the zone whose boundary holds the larger part of it (SQL
  ``lm_zone_of``, kept in ``parcel.zone_id``);
- a zone's parcel figures (count, mu, by stage, by land-use class) take every parcel that
  reaches into its boundary with *the part inside* (``ST_Intersection``; ``ST_Covers`` first,
  so that a parcel wholly inside costs no intersection). A zone's parcel mu thus never exceed
  its boundary's, and a parcel of B that reaches into C adds its part inside C to C;
- parcels with a part outside the zone are its cross-boundary parcels (跨界宗地), listed with
  the mu inside and outside and the other zone holding most of the outside part (None when
  most of it lies outside every zone);
- a part under NOISE_MU is drawing noise (shared edges, float error): it neither makes a
  parcel count for a zone nor makes it cross the boundary.

Mu are computed exactly and rounded once, at the edge, with ``landmap.geo.units.mu2``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap import landuse
from landmap.domain import Stage
from landmap.geo.units import mu2
from landmap.services import Result
from landmap.services.parcels import StageFigure, in_force_sql

NOISE_MU = 0.005  # 3.3 m²: a part this small shows as 0.00 mu
SUBDIVIDE = 128  # vertices per piece of a boundary in the queries


def in_force(alias: str = "b", day: str = "day") -> str:
    """SQL condition: boundary row ``alias`` is in force on the date parameter ``:day``
    (status current or superseded, valid_from <= day < valid_to), or is the current one when
    ``:day`` is NULL. The one place that says which boundary holds on a day."""
    b = alias
    return f"""(CASE WHEN CAST(:{day} AS date) IS NULL THEN {b}.status = 'current'
        ELSE {b}.status IN ('current', 'superseded') AND {b}.valid_from <= CAST(:{day} AS date)
             AND ({b}.valid_to IS NULL OR {b}.valid_to > CAST(:{day} AS date)) END)"""


def parts_sql(stage: str = "t.stage") -> str:
    """CTEs ``b`` (the boundaries in force, see in_force; zone code in ``code``), ``piece``
    (the boundaries subdivided, so that each test meets a small polygon found by the index)
    and ``part``: each parcel reaching into the boundary of zone :zone (every zone when NULL)
    with its exact mu inside (``inside_mu``: the sum over the pieces, which do not overlap, of
    the whole parcel where a piece covers it, else the intersection), parts under :noise
    left out. ``stage`` is the SQL of the stage, from ``t.id`` and ``t.stage``."""
    return f"""
    b AS (
        SELECT zb.id, zb.zone_id, z.code, zb.geom, zb.area_mu, zb.valid_from, zb.valid_to
        FROM zone_boundary zb JOIN zone z ON z.id = zb.zone_id WHERE {in_force("zb")}
    ), piece AS MATERIALIZED (
        SELECT b.code, ST_Subdivide(b.geom, {SUBDIVIDE}) AS geom FROM b
    ), touch AS MATERIALIZED (
        SELECT pc.code AS zone, p.id, p.code, p.area_mu, p.land_use_code, p.stage,
               CASE WHEN ST_Covers(pc.geom, p.geom) THEN p.area_mu
                    WHEN ST_Intersects(pc.geom, p.geom)
                    THEN lm_area_mu(ST_Intersection(pc.geom, p.geom)) ELSE 0 END AS mu
        FROM piece pc JOIN parcel p ON pc.geom && p.geom  -- one test for a parcel inside
        WHERE (CAST(:zone AS text) IS NULL OR pc.code = :zone) AND {in_force_sql("p", "day")}
    ), part AS (
        SELECT t.zone, t.id, t.code, t.area_mu, t.land_use_code, {stage} AS stage,
               least(t.area_mu, sum(t.mu)) AS inside_mu
        FROM touch t GROUP BY t.zone, t.id, t.code, t.area_mu, t.land_use_code, t.stage
        HAVING sum(t.mu) >= :noise
    )"""


# --- typed results ----------------------------------------------------------------------


@dataclass(frozen=True)
class LandUseFigure:
    code: str | None  # first-level GB/T 21010 class, or an unknown working code as it is
    name: str
    parcels: int
    mu: float


@dataclass(frozen=True)
class CrossBoundaryParcel:
    """A parcel with parts on both sides of a zone's boundary (跨界宗地)."""

    code: str
    inside_mu: float
    outside_mu: float
    other_zone: str | None  # the zone holding most of the outside part; None: no zone


@dataclass(frozen=True)
class ZoneSummary(Result):
    """A zone's boundary and its parcels (inside parts, see the module doc), now or on a day.
    Mu rounded once with mu2; totals are rounded exact sums."""

    code: str
    name: str
    as_of: dt.date | None
    valid_from: dt.date | None  # of the boundary used; None: no boundary in force
    area_mu: float
    parcel_count: int
    parcels_mu_inside: float
    parcels_mu_outside: float
    mu_by_stage: dict[str, StageFigure]  # every stage, in workflow order
    mu_by_land_use: tuple[LandUseFigure, ...]
    cross_boundary: tuple[CrossBoundaryParcel, ...]


@dataclass(frozen=True)
class ZoneTotals(Result):
    """A zone's boundary mu and the parcels reaching into it (inside parts)."""

    code: str
    name: str
    area_mu: float | None  # None: no boundary in force
    parcel_count: int
    parcels_mu_inside: float


# --- queries ----------------------------------------------------------------------------


def zone_codes(session: Session) -> list[str]:
    return list(session.scalars(text("SELECT code FROM zone ORDER BY code")))


def get_zone(session: Session, code: str) -> dict[str, Any] | None:
    row = (
        session.execute(
            text("""
        SELECT z.id, z.code, z.name, z.name_en, zb.area_mu, zb.valid_from,
               ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] AS bbox
        FROM zone z
        LEFT JOIN zone_boundary zb ON zb.zone_id = z.id AND zb.status = 'current'
        LEFT JOIN LATERAL (SELECT Box2D(ST_Transform(zb.geom, 4326)) AS e) x ON true
        WHERE z.code = :code"""),
            {"code": code},
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    out = dict(row)
    out["area_mu"] = mu2(out["area_mu"] or 0)
    out["bbox"] = [round(v, 7) for v in out["bbox"]] if out["bbox"][0] is not None else None
    return out


def zone_summary(session: Session, code: str, as_of: dt.date | None = None) -> ZoneSummary | None:
    """The zone's figures with the boundary in force on ``as_of`` (the current one without),
    stages as on that day; None for an unknown zone."""
    stage = "lm_stage_as_of(t.id, t.stage, CAST(:day AS date))" if as_of else "t.stage"
    row = session.execute(
        text(f"""
        WITH {parts_sql(stage)},
        cut AS (  -- and where the outside part lies: the other zone holding most of it
            SELECT c.code, c.inside_mu, c.area_mu - c.inside_mu AS outside_mu,
                   o.code AS other, o.mu AS other_mu, coalesce(o.total, 0) AS others_mu
            FROM part c JOIN parcel p ON p.id = c.id
            LEFT JOIN LATERAL (
                SELECT x.code, x.mu, sum(x.mu) OVER () AS total FROM (
                    SELECT pc.code, sum(lm_area_mu(ST_Intersection(pc.geom, p.geom))) AS mu
                    FROM piece pc WHERE pc.code <> :zone AND ST_Intersects(pc.geom, p.geom)
                    GROUP BY pc.code) x
                ORDER BY x.mu DESC, x.code LIMIT 1) o ON true
            WHERE c.area_mu - c.inside_mu >= :noise
        )
        SELECT z.code, z.name, bz.area_mu, bz.valid_from,
            (SELECT count(*) FROM part), (SELECT sum(inside_mu) FROM part),
            (SELECT sum(area_mu - inside_mu) FROM part),
            (SELECT json_agg(json_build_array(stage, n, mu)) FROM (
                SELECT stage, count(*) AS n, sum(inside_mu) AS mu FROM part GROUP BY stage) s),
            (SELECT json_agg(json_build_array(cls, n, mu) ORDER BY cls) FROM (
                SELECT CASE WHEN land_use_code ~ '^[0-9]{{2}}' THEN left(land_use_code, 2)
                            ELSE land_use_code END AS cls,
                       count(*) AS n, sum(inside_mu) AS mu
                FROM part GROUP BY 1) u),
            (SELECT json_agg(json_build_array(code, inside_mu, outside_mu,
                    CASE WHEN other_mu > outside_mu - others_mu THEN other END) ORDER BY code)
             FROM cut)
        FROM zone z LEFT JOIN b bz ON bz.zone_id = z.id
        WHERE z.code = :zone"""),
        {"zone": code, "day": as_of, "noise": NOISE_MU},
    ).first()
    if row is None:
        return None
    zone, name, area, valid_from, count, inside, outside, stages, uses, cut = row
    found = {s: StageFigure(n, mu2(mu)) for s, n, mu in stages or []}
    return ZoneSummary(
        code=zone,
        name=name,
        as_of=as_of,
        valid_from=valid_from,
        area_mu=mu2(area),
        parcel_count=count,
        parcels_mu_inside=mu2(inside),
        parcels_mu_outside=mu2(outside),
        mu_by_stage={s.value: found.get(s.value, StageFigure(0, 0.0)) for s in Stage},
        mu_by_land_use=tuple(
            LandUseFigure(c, landuse.name_of(c) or "?", n, mu2(mu)) for c, n, mu in uses or []
        ),
        cross_boundary=tuple(CrossBoundaryParcel(c, mu2(i), mu2(o), z) for c, i, o, z in cut or []),
    )


def _totals_rows(session: Session, as_of: dt.date | None) -> list[Any]:
    """Per zone (every zone, in code order): its boundary in force and its parcels' inside
    parts, exact."""
    return session.execute(
        text(f"""
        WITH {parts_sql()},
        agg AS (SELECT zone, count(*) AS n, sum(inside_mu) AS mu FROM part GROUP BY zone)
        SELECT z.code, z.name, z.name_en, bz.id, bz.area_mu, bz.valid_from, bz.valid_to,
               ST_AsGeoJSON(ST_Transform(bz.geom, 4326), 7) AS geometry,
               coalesce(agg.n, 0) AS parcels, agg.mu AS parcels_mu
        FROM zone z LEFT JOIN b bz ON bz.zone_id = z.id LEFT JOIN agg ON agg.zone = z.code
        ORDER BY z.code"""),
        {"zone": None, "day": as_of, "noise": NOISE_MU},
    ).all()


def feature_collection(session: Session, as_of: dt.date | None = None) -> str:
    """The zone boundaries in force on ``as_of`` (the current ones without), as a GeoJSON
    FeatureCollection (EPSG:4326) text; ``parcels`` and ``parcels_mu`` as in zone_summary."""
    features = [
        {
            "type": "Feature",
            "id": r.code,
            "geometry": json.loads(r.geometry),
            "properties": {
                "code": r.code,
                "name": r.name,
                "name_en": r.name_en,
                "area_mu": mu2(r.area_mu),
                "valid_from": r.valid_from.isoformat(),
                "valid_to": r.valid_to.isoformat() if r.valid_to else None,
                "version": r.id,
                "parcels": r.parcels,
                "parcels_mu": mu2(r.parcels_mu),
            },
        }
        for r in _totals_rows(session, as_of)
        if r.id is not None
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def summary(session: Session) -> list[ZoneTotals]:
    """Per zone, current boundaries: boundary mu, parcels reaching in and their inside mu (the
    CLI's `info`; the same figures as /api/zones)."""
    return [
        ZoneTotals(
            r.code,
            r.name,
            mu2(r.area_mu) if r.id is not None else None,
            r.parcels,
            mu2(r.parcels_mu),
        )
        for r in _totals_rows(session, None)
    ]


def outside_every_zone(session: Session) -> tuple[int, float]:
    """Parcels with a part (of at least NOISE_MU) outside every current boundary, and the mu
    of those parts: what the zones' inside parts leave of each parcel (zones do not overlap;
    where they do, the overlap counts once per zone and the part outside is taken as 0)."""
    n, mu = session.execute(
        text(f"""
        WITH {parts_sql()},
        outside AS (
            SELECT p.area_mu - coalesce(sum(part.inside_mu), 0) AS mu
            FROM parcel p LEFT JOIN part ON part.id = p.id
            WHERE {in_force_sql("p", "day")} GROUP BY p.id, p.area_mu)
        SELECT count(*), sum(mu) FROM outside WHERE mu >= :noise"""),
        {"zone": None, "day": None, "noise": NOISE_MU},
    ).one()
    return n, mu2(mu)
