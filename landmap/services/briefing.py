"""What a PDF briefing (landmap.maps.pdf) shows of a zone, a project or a draft's check: the
figures from the services every page and API answer from (zones.zone_summary,
parcels.stages_summary, projects.project_list, acquisition.progress, quota.ledger,
adjustment.check), and the shapes of its maps in the storage CRS (metres), polygons wound
outer counter-clockwise so that holes stay holes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import shape
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.services import acquisition, adjustment, parcels, projects, quota, zones
from landmap.services.acquisition import Progress
from landmap.services.adjustment import DraftCheck
from landmap.services.parcels import ParcelFilter, filter_sql, state_sql
from landmap.services.projects import ProjectRow
from landmap.services.quota import QuotaBook
from landmap.services.zones import ZoneSummary

MAX_CHARTS = 4  # progress charts of a zone's projects (those with batches, most target first)


@dataclass(frozen=True)
class MapParcel:
    code: str
    stage: str  # on the briefing's day
    look: str  # maps.styles.PARCEL_STYLES: plain, commercial, dispute
    geom: Any  # shapely, storage CRS


@dataclass(frozen=True)
class MapBoundary:
    zone: str
    geom: Any


@dataclass(frozen=True)
class ZoneBriefing:
    summary: ZoneSummary
    day: dt.date  # the day the figures stand on (as_of, else the register's last day)
    as_of: dt.date | None
    legend: dict[str, Any]  # parcels.stages_summary: the map's legend, as the zone page's
    parcels: list[MapParcel]
    boundaries: list[MapBoundary]
    projects: list[ProjectRow]
    progress: list[Progress]
    quota: QuotaBook


@dataclass(frozen=True)
class ProjectBriefing:
    project: dict[str, Any]  # projects.get_project
    day: dt.date
    as_of: dt.date | None
    legend: dict[str, Any]
    parcels: list[MapParcel]
    boundaries: list[MapBoundary]
    progress: Progress  # the whole project
    batches: list[Progress]
    quota: QuotaBook


@dataclass(frozen=True)
class CheckMaps:
    """A draft's check (adjustment.check) and its two maps' shapes: the boundary it is checked
    against (and the current one, for a stale draft), the draft, the check's shapes by kind
    (added, removed, farmland, overlap), the parcels it cuts."""

    check: DraftCheck
    zone_name: str
    before: list[tuple[str, Any]]  # (kind: current | base, geom)
    draft: Any
    shapes: list[tuple[str, Any]]
    parcels: list[MapParcel]
    cut: list[MapParcel]


def _parcels_sql(where: list[str], as_of: bool) -> str:
    state = state_sql("p", as_of)
    return f"""
        SELECT p.code, {state["stage"]} AS stage, {state["dispute"]} AS dispute,
               c.parcel_id IS NOT NULL AS commercial,
               ST_AsBinary(ST_ForcePolygonCCW(p.geom)) AS wkb
        FROM parcel p LEFT JOIN commercial_plot c ON c.parcel_id = p.id
        WHERE {" AND ".join(where)} ORDER BY p.code"""


def _look(row: Any) -> str:
    return "dispute" if row.dispute else "commercial" if row.commercial else "plain"


def _map_parcels(rows: list[Any]) -> list[MapParcel]:
    geoms = shapely.from_wkb([bytes(r.wkb) for r in rows]) if rows else []
    return [MapParcel(r.code, r.stage, _look(r), g) for r, g in zip(rows, geoms, strict=True)]


def zone_parcels(session: Session, code: str, as_of: dt.date | None) -> list[MapParcel]:
    """The parcels reaching into zone ``code``'s boundary in force on ``as_of`` (the zone
    summary's parcels), with their stage on that day."""
    where, params = filter_sql(ParcelFilter(as_of=as_of))
    where.append(f"""EXISTS (SELECT 1 FROM zone_boundary b JOIN zone z ON z.id = b.zone_id
        WHERE z.code = :zone AND {zones.in_force("b")} AND ST_Intersects(b.geom, p.geom))""")
    params.update(zone=code, day=as_of)
    return _map_parcels(session.execute(text(_parcels_sql(where, bool(as_of))), params).all())


def project_parcels(session: Session, project_id: int, as_of: dt.date | None) -> list[MapParcel]:
    where, params = filter_sql(ParcelFilter(project_id=project_id, as_of=as_of))
    return _map_parcels(session.execute(text(_parcels_sql(where, bool(as_of))), params).all())


def boundaries(session: Session, as_of: dt.date | None) -> list[MapBoundary]:
    """Every zone's boundary in force on ``as_of`` (the current ones without)."""
    rows = session.execute(
        text(f"""SELECT z.code, ST_AsBinary(ST_ForcePolygonCCW(b.geom)) AS wkb
                 FROM zone_boundary b JOIN zone z ON z.id = b.zone_id
                 WHERE {zones.in_force("b")} ORDER BY z.code"""),
        {"day": as_of},
    ).all()
    return [MapBoundary(r.code, shapely.from_wkb(bytes(r.wkb))) for r in rows]


def zone_briefing(session: Session, code: str, as_of: dt.date | None) -> ZoneBriefing | None:
    """A zone's briefing on ``as_of`` (now without); None for an unknown zone."""
    summary = zones.zone_summary(session, code, as_of)
    if summary is None:
        return None
    day = as_of or acquisition.last_day_with_data(session)
    rows = [row for row in projects.project_list(session, as_of) if row.zone == code]
    charted = [
        found
        for row in sorted(rows, key=lambda r: -r.target_mu)
        if (found := acquisition.progress(session, row.id, None, day)) and found.due
    ]
    return ZoneBriefing(
        summary=summary,
        day=day,
        as_of=as_of,
        legend=parcels.stages_summary(session, ParcelFilter(zone=code, as_of=as_of)),
        parcels=zone_parcels(session, code, as_of),
        boundaries=boundaries(session, as_of),
        projects=rows,
        progress=charted[:MAX_CHARTS],
        quota=quota.ledger(session, day.year, as_of),
    )


def project_briefing(
    session: Session, project_id: int, as_of: dt.date | None
) -> ProjectBriefing | None:
    """A project's briefing on ``as_of`` (the register's last day with data without, as its
    page); None for an unknown project."""
    project = projects.get_project(session, project_id)
    if project is None:
        return None
    day = as_of or acquisition.last_day_with_data(session)
    overall = acquisition.progress(session, project_id, None, day)
    assert overall is not None
    return ProjectBriefing(
        project=project,
        day=day,
        as_of=as_of,
        legend=parcels.stages_summary(session, ParcelFilter(project_id=project_id, as_of=as_of)),
        parcels=project_parcels(session, project_id, as_of),
        boundaries=boundaries(session, as_of),
        progress=overall,
        batches=[
            found
            for batch in project["batches"]
            if (found := acquisition.progress(session, project_id, batch["id"], day))
        ],
        quota=quota.ledger(session, day.year, as_of),
    )


def _from_geojson(geometries: list[dict[str, Any]], srid: int) -> list[Any]:
    """GeoJSON geometries (EPSG:4326, as the compare map gets them) in the storage CRS,
    polygons wound as PostGIS's ST_ForcePolygonCCW winds them."""
    to_storage = Transformer.from_crs(4326, srid, always_xy=True)

    def moved(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(to_storage.transform(xy[:, 0], xy[:, 1]))

    return [shapely.orient_polygons(shapely.transform(shape(g), moved)) for g in geometries]


def _boundary(session: Session, boundary_id: int) -> Any:
    wkb = session.execute(
        text("SELECT ST_AsBinary(ST_ForcePolygonCCW(geom)) FROM zone_boundary WHERE id = :b"),
        {"b": boundary_id},
    ).scalar_one()
    return shapely.from_wkb(bytes(wkb))


def parcels_near(session: Session, boundary_ids: list[int]) -> list[MapParcel]:
    """The parcels in force now within the box of these boundaries, with their stage now."""
    where, params = filter_sql(ParcelFilter())
    where.append("""p.geom && (SELECT ST_Extent(geom) FROM zone_boundary
                                WHERE id = ANY(CAST(:ids AS integer[])))""")
    params["ids"] = boundary_ids
    return _map_parcels(session.execute(text(_parcels_sql(where, False)), params).all())


def check_maps(session: Session, check: DraftCheck, zone_name: str, srid: int) -> CheckMaps:
    """The two maps of a draft's check: the shapes the compare page draws, in metres."""
    before = [("base" if check.stale else "current", check.compared_with)]
    if check.stale and check.current_id:
        before.append(("current", check.current_id))
    found = adjustment.check_geojson(session, check.draft_id, check.compared_with)["features"]
    shapes = _from_geojson([f["geometry"] for f in found], srid)
    near = parcels_near(session, [bid for _, bid in before] + [check.draft_id])
    cut = {p.code for p in check.parcels_cut}
    return CheckMaps(
        check=check,
        zone_name=zone_name,
        before=[(kind, _boundary(session, bid)) for kind, bid in before],
        draft=_boundary(session, check.draft_id),
        shapes=[(f["properties"]["kind"], g) for f, g in zip(found, shapes, strict=True)],
        parcels=near,
        cut=[p for p in near if p.code in cut],
    )
