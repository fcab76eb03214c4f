"""Zones and projects: the catalogue that parcels refer to, and what projects hold."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from landmap.db.models import AcquisitionBatch, Project, ProjectTarget, Zone
from landmap.domain import ProjectKind, ProjectStage
from landmap.geo.units import mu2
from landmap.messages import msg
from landmap.services import Refused, Result, acquisition


class CatalogError(Refused):
    """A zone or project description is not acceptable; the message says what to fix."""


def find_project(session: Session, key: int | str) -> int | None:
    """The id of the project with this id (a whole number) or this name (text); None when
    there is none."""
    column = Project.id if isinstance(key, int) else Project.name
    return session.scalar(select(Project.id).where(column == key))


def project_of_batch(session: Session, batch_id: int) -> int | None:
    """The project an acquisition batch belongs to; None for an unknown batch."""
    return session.scalar(
        select(AcquisitionBatch.project_id).where(AcquisitionBatch.id == batch_id)
    )


def _date(value: Any, what: str) -> dt.date:
    try:
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise CatalogError(
            msg(
                "catalogue_bad_date",
                "%(what)s: %(value)s is not a date (YYYY-MM-DD)",
                what=what,
                value=repr(value)[:40],
            )
        ) from exc


def upsert_zones(session: Session, zones: list[dict[str, Any]]) -> int:
    """Create or rename zones by code; returns how many rows changed."""
    changed = 0
    for z in zones:
        row = session.scalar(select(Zone).where(Zone.code == z["code"]))
        if row is None:
            session.add(Zone(code=z["code"], name=z["name"], name_en=z.get("name_en", "")))
            changed += 1
        elif (row.name, row.name_en) != (z["name"], z.get("name_en", "")):
            row.name, row.name_en = z["name"], z.get("name_en", "")
            changed += 1
    session.flush()
    return changed


def _set(obj: Any, values: dict[str, Any]) -> bool:
    dirty = False
    for k, v in values.items():
        if getattr(obj, k) != v:
            setattr(obj, k, v)
            dirty = True
    return dirty


def _upsert_child(session: Session, rows, model, project_id: int, key: str, given, values) -> int:
    """Add a project's target or batch named by ``given[key]``, or update the one there is;
    1 when anything was written."""
    row = next((x for x in rows if getattr(x, key) == given[key]), None)
    if row is None:
        session.add(model(project_id=project_id, **{key: given[key]}, **values))
        return 1
    return int(_set(row, values))


def upsert_projects(session: Session, projects: list[dict[str, Any]]) -> int:
    """Create or update projects with their dated targets and acquisition batches, by name.

    Returns how many rows (projects, targets, batches) were inserted or changed."""
    zones = {z.code: z.id for z in session.scalars(select(Zone))}
    changed = 0
    for p in projects:
        name = p["name"]
        try:
            kind = ProjectKind.parse(p["kind"]).value
            stage = ProjectStage.parse(p["stage"]).value
        except Refused as exc:
            why = exc.message
            raise CatalogError(
                msg("catalogue_bad_project", "project %(name)s: %(why)s", name=name, why=why)
            ) from exc
        if p.get("zone") and p["zone"] not in zones:
            raise CatalogError(
                msg(
                    "catalogue_unknown_zone",
                    "project %(name)s: there is no zone %(zone)s",
                    name=name,
                    zone=repr(p["zone"])[:40],
                )
            )
        values = {
            "kind": kind,
            "stage": stage,
            "zone_id": zones.get(p.get("zone") or ""),
            "partner": p.get("partner", ""),
            "financing": p.get("financing", ""),
            "description": p.get("description", ""),
        }
        row = session.scalar(select(Project).where(Project.name == name))
        if row is None:
            row = Project(name=name, **values)
            session.add(row)
            session.flush()
            changed += 1
        else:
            changed += _set(row, values)
        for t in p.get("targets", []):
            mu = Decimal(str(t["target_mu"])) if t.get("target_mu") is not None else None
            tv = {"due": _date(t["due"], f"{name} target"), "target_mu": mu}
            changed += _upsert_child(session, row.targets, ProjectTarget, row.id, "label", t, tv)
        for b in p.get("batches", []):
            bv = {
                "target_mu": Decimal(str(b["target_mu"])),
                "due": _date(b["due"], f"{name} batch"),
            }
            changed += _upsert_child(session, row.batches, AcquisitionBatch, row.id, "name", b, bv)
    session.flush()
    return changed


_PROJECT_ROWS = """
    SELECT p.id, p.name, z.code AS zone, p.kind, p.stage, p.partner, p.financing,
           p.description, coalesce(a.area_mu, 0) AS area_mu, coalesce(a.parcels, 0) AS parcels
    FROM project p
    LEFT JOIN zone z ON z.id = p.zone_id
    LEFT JOIN (SELECT project_id, sum(area_mu) AS area_mu, count(*) AS parcels
               FROM parcel GROUP BY project_id) a ON a.project_id = p.id
"""


def list_projects(session: Session, zone: str | None = None) -> list[dict[str, Any]]:
    sql = _PROJECT_ROWS + (" WHERE z.code = :zone" if zone else "") + " ORDER BY z.code, p.name"
    return [_project(r) for r in session.execute(text(sql), {"zone": zone}).mappings()]


def get_project(session: Session, project_id: int) -> dict[str, Any] | None:
    row = (
        session.execute(text(_PROJECT_ROWS + " WHERE p.id = :id"), {"id": project_id})
        .mappings()
        .first()
    )
    if row is None:
        return None
    out = _project(row)
    out["batches"] = [
        {
            "id": r.id,
            "name": r.name,
            "area_mu": mu2(r.area_mu),
            "target_mu": mu2(r.target_mu),
            "due": r.due.isoformat(),
            "parcels": r.parcels,
        }
        for r in session.execute(
            text("""
            SELECT b.id, b.name, b.target_mu, b.due, coalesce(sum(pa.area_mu), 0) AS area_mu,
                   count(pa.id) AS parcels
            FROM acquisition_batch b LEFT JOIN parcel pa ON pa.batch_id = b.id
            WHERE b.project_id = :id GROUP BY b.id ORDER BY b.due, b.name"""),
            {"id": project_id},
        )
    ]
    out["targets"] = [
        {
            "label": r.label,
            "due": r.due.isoformat(),
            "target_mu": mu2(r.target_mu) if r.target_mu is not None else None,
        }
        for r in session.execute(
            text(
                "SELECT label, due, target_mu FROM project_target "
                "WHERE project_id = :id ORDER BY due"
            ),
            {"id": project_id},
        )
    ]
    return out


def _project(r) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "zone": r.zone,
        "kind": r.kind,
        "stage": r.stage,
        "partner": r.partner,
        "financing": r.financing,
        "description": r.description,
        "area_mu": mu2(r.area_mu),
        "parcels": int(r.parcels),
    }


@dataclass(frozen=True)
class ProjectRow(Result):
    """A line of the project list: what a project is, where, how much land, and how far
    its acquisition has come (acquisition.progress: cleared mu against its target, as of a
    day). Mu rounded once, as everywhere."""

    id: int
    name: str
    kind: ProjectKind
    stage: ProjectStage
    zone: str | None
    area_mu: float
    parcels: int
    target_mu: float
    cleared_mu: float


def project_list(session: Session, as_of: dt.date | None = None) -> list[ProjectRow]:
    """Every project (list_projects' order: by zone, then name) with its acquisition
    progress as of ``as_of``, by default the register's last day with data (as the project
    page shows it)."""
    day = as_of or acquisition.last_day_with_data(session)
    rows = []
    for project in list_projects(session):
        progress = acquisition.progress(session, project["id"], None, day)
        if progress is None:
            continue
        rows.append(
            ProjectRow(
                id=project["id"],
                name=project["name"],
                kind=ProjectKind(project["kind"]),
                stage=ProjectStage(project["stage"]),
                zone=project["zone"],
                area_mu=project["area_mu"],
                parcels=project["parcels"],
                target_mu=progress.target_mu,
                cleared_mu=progress.cleared_mu,
            )
        )
    return rows
