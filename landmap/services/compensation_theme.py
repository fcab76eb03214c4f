"""The 补偿 map theme: parcels with households, as GeoJSON (EPSG:4326, 7 decimals), each by
the least advanced status of its households (services.compensation.parcel_status, the one
rule), now."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.domain import HouseholdStatus
from landmap.geo.units import mu2
from landmap.services import compensation


def feature_collection(session: Session, zone: str | None, locale: str) -> str:
    """The parcels with households (of ``zone``, else all), each with its code, ``status``
    (and its label in ``locale``), its households and mu."""
    statuses = compensation.parcel_status(session)
    rows = session.execute(
        text("""SELECT p.code, p.area_mu, count(*) AS households,
                       ST_AsGeoJSON(ST_Transform(p.geom, 4326), 7) AS geometry
                FROM parcel p JOIN household_parcel hp ON hp.parcel_id = p.id
                WHERE p.code = ANY(:codes) AND p.retired_on IS NULL
                  AND (CAST(:zone AS text) IS NULL
                       OR p.zone_id = (SELECT id FROM zone WHERE code = :zone))
                GROUP BY p.id ORDER BY p.code"""),
        {"codes": list(statuses), "zone": zone},
    )
    features = [
        {
            "type": "Feature",
            "id": code,
            "geometry": json.loads(geometry),
            "properties": {
                "code": code,
                "status": statuses[code],
                "status_label": HouseholdStatus(statuses[code]).label(locale),
                "households": households,
                "mu": mu2(area_mu),
            },
        }
        for code, area_mu, households, geometry in rows
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
