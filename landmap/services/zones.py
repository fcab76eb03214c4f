"""Zones: their current boundaries and what lies in them, in mu."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap import landuse


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
    out["area_mu"] = round(out["area_mu"] or 0, 2)
    out["bbox"] = [round(v, 7) for v in out["bbox"]] if out["bbox"][0] is not None else None
    return out


def feature_collection(session: Session) -> str:
    """Current zone boundaries as a GeoJSON FeatureCollection (EPSG:4326), as text."""
    return session.execute(
        text("""
        SELECT json_build_object('type', 'FeatureCollection', 'features',
            coalesce(json_agg(json_build_object(
                'type', 'Feature', 'id', z.code,
                'geometry', ST_AsGeoJSON(ST_Transform(zb.geom, 4326), 7)::json,
                'properties', json_build_object(
                    'code', z.code, 'name', z.name, 'name_en', z.name_en,
                    'area_mu', round(zb.area_mu::numeric, 2), 'valid_from', zb.valid_from,
                    'parcels', (SELECT count(*) FROM parcel p WHERE p.zone_id = z.id),
                    'parcels_mu', (SELECT round(coalesce(sum(p.area_mu), 0)::numeric, 2)
                                   FROM parcel p WHERE p.zone_id = z.id))
            ) ORDER BY z.code), '[]'::json))::text
        FROM zone z JOIN zone_boundary zb ON zb.zone_id = z.id AND zb.status = 'current'
    """)
    ).scalar_one()


def mu_by_stage(
    session: Session, zone: str | None = None, as_of: dt.date | None = None
) -> dict[str, dict[str, float]]:
    """stage -> {parcels, mu} for a zone (or all parcels), now or as of a day."""
    stage = "lm_stage_as_of(p.id, p.stage, CAST(:as_of AS date))" if as_of else "p.stage"
    rows = session.execute(
        text(f"""
        SELECT {stage} AS stage, count(*) AS n, sum(p.area_mu) AS mu
        FROM parcel p LEFT JOIN zone z ON z.id = p.zone_id
        WHERE (CAST(:zone AS text) IS NULL OR z.code = :zone)
        GROUP BY 1"""),
        {"zone": zone, "as_of": as_of},
    )
    return {stage: {"parcels": n, "mu": round(mu, 2)} for stage, n, mu in rows}


def mu_by_land_use(session: Session, zone: str) -> list[dict[str, Any]]:
    """First-level GB/T 21010 class -> parcels and mu (unknown working codes by themselves)."""
    rows = session.execute(
        text("""
        SELECT CASE WHEN p.land_use_code ~ '^[0-9]{2}' THEN left(p.land_use_code, 2)
                    ELSE p.land_use_code END AS cls,
               count(*) AS n, sum(p.area_mu) AS mu
        FROM parcel p JOIN zone z ON z.id = p.zone_id
        WHERE z.code = :zone GROUP BY 1 ORDER BY 1"""),
        {"zone": zone},
    )
    return [
        {"code": cls, "name": landuse.name_of(cls) or "?", "parcels": n, "mu": round(mu, 2)}
        for cls, n, mu in rows
    ]


def summary(session: Session) -> list[dict[str, Any]]:
    """Per zone: boundary mu, parcels and their mu (the CLI's `info`)."""
    rows = session.execute(
        text("""
        SELECT z.code, z.name, zb.area_mu AS zone_mu, count(p.id) AS parcels,
               coalesce(sum(p.area_mu), 0) AS parcels_mu
        FROM zone z
        LEFT JOIN zone_boundary zb ON zb.zone_id = z.id AND zb.status = 'current'
        LEFT JOIN parcel p ON p.zone_id = z.id
        GROUP BY z.code, z.name, zb.area_mu ORDER BY z.code""")
    )
    out = [dict(r._mapping) for r in rows]
    outside = session.execute(
        text("SELECT count(*), coalesce(sum(area_mu), 0) FROM parcel WHERE zone_id IS NULL")
    ).one()
    if outside[0]:
        out.append(
            {
                "code": "-",
                "name": "outside any zone",
                "zone_mu": None,
                "parcels": outside[0],
                "parcels_mu": outside[1],
            }
        )
    return out
