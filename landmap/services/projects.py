"""Zones and projects: the catalogue that parcels refer to, and what projects hold."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from landmap.db.models import AcquisitionBatch, Project, ProjectTarget, Zone
from landmap.domain import EARLIEST_DATE, MAX_MU, ProjectKind, ProjectStage, today
from landmap.geo.units import mu2
from landmap.messages import Message, msg, term
from landmap.services import Refused, Result, acquisition, compensation, enterprises


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
        if "enterprise" in p:
            given = p["enterprise"]
            values["enterprise_id"] = enterprises.find_enterprise(session, given) if given else None
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
           p.description, coalesce(a.area_mu, 0) AS area_mu, coalesce(a.parcels, 0) AS parcels,
           p.closed_on, p.enterprise_id, e.name AS enterprise
    FROM project p
    LEFT JOIN zone z ON z.id = p.zone_id
    LEFT JOIN enterprise e ON e.id = p.enterprise_id
    LEFT JOIN (SELECT project_id, sum(area_mu) AS area_mu, count(*) AS parcels
               FROM parcel WHERE lm_parcel_in_force(created_on, retired_on, NULL)
               GROUP BY project_id) a ON a.project_id = p.id
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
            "note": r.note,
            "budget_yuan": float(r.budget_yuan) if r.budget_yuan is not None else None,
            "flats_planned": r.flats_planned,
        }
        for r in session.execute(
            text("""
            SELECT b.id, b.name, b.target_mu, b.due, b.note, b.budget_yuan, b.flats_planned,
                   coalesce(sum(pa.area_mu), 0) AS area_mu,
                   count(pa.id) AS parcels
            FROM acquisition_batch b LEFT JOIN parcel pa ON pa.batch_id = b.id
                AND lm_parcel_in_force(pa.created_on, pa.retired_on, NULL)
            WHERE b.project_id = :id GROUP BY b.id ORDER BY b.due, b.name"""),
            {"id": project_id},
        )
    ]
    out["targets"] = [
        {
            "id": r.id,
            "label": r.label,
            "due": r.due.isoformat(),
            "target_mu": mu2(r.target_mu) if r.target_mu is not None else None,
        }
        for r in session.execute(
            text(
                "SELECT id, label, due, target_mu FROM project_target "
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
        "closed_on": r.closed_on.isoformat() if r.closed_on else None,
        "enterprise_id": r.enterprise_id,
        "enterprise": r.enterprise,
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
    closed_on: dt.date | None = None


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
                closed_on=dt.date.fromisoformat(project["closed_on"])
                if project["closed_on"]
                else None,
            )
        )
    return rows


# --- keeping projects, targets, batches and assignments (issue 15) ------------------------

MAX_NAME = 200
MAX_TEXT = 2000
MAX_BUDGET = Decimal("99999999999999.99")  # numeric(16, 2): a batch's compensation budget, 元
LAST_DUE = dt.date(2100, 12, 31)  # a due date lies from EARLIEST_DATE to this day
FINANCING = ("", "BT", "BOT")  # 建设-移交, 建设-经营-移交
FIELD_NAMES = {
    "name": term("project name"),
    "kind": term("project kind"),
    "stage": term("project stage"),
    "zone": term("zone"),
    "partner": term("partner"),
    "financing": term("financing"),
    "description": term("description"),
    "enterprise": term("enterprise"),
    "closed": term("closed"),
    "batch_name": term("batch name"),
    "target_mu": term("target (mu)"),
    "due": term("due date"),
    "note": term("note"),
    "label": term("target"),
}


@dataclass(frozen=True)
class ProjectRecord(Result):
    """A project as it is kept: what the project form shows and the API answers."""

    id: int
    name: str
    kind: ProjectKind
    stage: ProjectStage
    zone: str | None
    partner: str
    financing: str
    description: str
    enterprise_id: int | None
    enterprise: str | None
    closed_on: dt.date | None


@dataclass(frozen=True)
class BatchRecord(Result):
    id: int
    project_id: int
    name: str
    target_mu: float
    due: dt.date
    note: str
    budget_yuan: float | None = None  # the batch's compensation budget (元)
    flats_planned: int | None = None  # resettlement flats planned for it


@dataclass(frozen=True)
class TargetRecord(Result):
    id: int
    project_id: int
    label: str
    due: dt.date
    target_mu: float | None


@dataclass(frozen=True)
class Assignment(Result):
    """Parcels assigned to (or taken from) a project and batch: their codes and mu."""

    project_id: int
    batch_id: int | None
    codes: tuple[str, ...]
    count: int
    mu: float


def _text(data: Mapping[str, Any], name: str, most: int, required: bool = False) -> str:
    return enterprises.text_value(data.get(name), FIELD_NAMES[name], most, required)


def mu_value(value: Any, name: str = "target_mu", required: bool = True) -> Decimal | None:
    """A target in mu: a number above 0 and at most MAX_MU (None when absent and not
    ``required``); Refused (400) otherwise."""
    if value is None or value == "":
        if required:
            what = FIELD_NAMES[name]
            raise Refused(msg("register_value_required", "%(what)s is required", what=what))
        return None
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, bool) else None
    except ArithmeticError:
        number = None
    if number is None or not number.is_finite() or not 0 < number <= MAX_MU:
        raise Refused(
            msg(
                "register_bad_mu",
                "%(what)s must be a number of mu above 0 and at most %(most)s; got %(value)s",
                what=FIELD_NAMES[name],
                most=MAX_MU,
                value=repr(value)[:40],
            )
        )
    return number.quantize(Decimal("0.01"))


def due_value(value: Any, name: str = "due") -> dt.date:
    """A due date (YYYY-MM-DD, from EARLIEST_DATE to LAST_DUE: a due date may lie ahead)."""
    day = None
    if isinstance(value, dt.date):
        day = value
    elif isinstance(value, str) and len(value.strip()) == 10:
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            day = None
    if day is None or not EARLIEST_DATE <= day <= LAST_DUE:
        raise Refused(
            msg(
                "register_bad_due",
                "%(what)s must be a date YYYY-MM-DD from %(earliest)s to %(last)s; got %(value)s",
                what=FIELD_NAMES[name],
                earliest=EARLIEST_DATE,
                last=LAST_DUE,
                value=repr(value)[:40],
            )
        )
    return day


def _zone_id(session: Session, value: Any) -> int | None:
    code = enterprises.text_value(value, FIELD_NAMES["zone"], 8).upper()
    if not code:
        return None
    found = session.scalar(select(Zone.id).where(Zone.code == code))
    if found is None:
        known = list(session.scalars(select(Zone.code).order_by(Zone.code)))
        raise Refused(
            msg(
                "register_unknown_zone",
                "there is no zone %(given)s; the zones are %(known)s",
                given=repr(code)[:40],
                known=known,
            )
        )
    return found


def _financing(value: Any) -> str:
    given = enterprises.text_value(value, FIELD_NAMES["financing"], 8).upper()
    if given not in FINANCING:
        raise Refused(
            msg(
                "register_bad_financing",
                "financing must be BT, BOT or left empty; got %(given)s",
                given=repr(given)[:40],
            )
        )
    return given


def _closed(value: Any, closed_on: dt.date | None) -> dt.date | None:
    """closed_on after a request's "closed": kept when it says what is already so."""
    if not isinstance(value, bool):
        what = FIELD_NAMES["closed"]
        raise Refused(msg("register_not_yes_or_no", "%(what)s must be true or false", what=what))
    if not value:
        return None
    return closed_on or today()


def _project_values(session: Session, data: Mapping[str, Any], partial: bool) -> dict[str, Any]:
    """The columns a request (JSON or a form's fields) sets, checked; ``partial``: only the
    fields it gives (an edit), else all of them with their defaults (a new project)."""
    given = (lambda name: name in data) if partial else (lambda name: True)
    out: dict[str, Any] = {}
    if given("name"):
        out["name"] = _text(data, "name", MAX_NAME, required=True)
    if given("kind"):
        out["kind"] = ProjectKind.parse(str(data.get("kind") or "")).value
    if given("stage"):
        out["stage"] = ProjectStage.parse(str(data.get("stage") or "pre_stage")).value
    if given("zone"):
        out["zone_id"] = _zone_id(session, data.get("zone"))
    for name, most in (("partner", MAX_NAME), ("description", MAX_TEXT)):
        if given(name):
            out[name] = _text(data, name, most)
    if given("financing"):
        out["financing"] = _financing(data.get("financing"))
    if given("enterprise"):
        key = data.get("enterprise")
        out["enterprise_id"] = enterprises.find_enterprise(session, key) if key else None
    return out


def _refuse_taken_name(session: Session, name: str | None, own_id: int | None) -> None:
    if name is None:
        return
    other = session.scalar(
        select(Project.id).where(Project.name == name, Project.id != (own_id or 0))
    )
    if other is not None:
        raise Refused(
            msg("project_name_taken", "there is already a project named %(name)s", name=name), 409
        )


def no_such_project(project_id: Any) -> Message:
    return msg("no_such_project", "there is no project %(id)s", id=project_id)


def _locked_project(session: Session, project_id: int, open_only: bool = False) -> Project:
    """The project, locked for the change; 404 for none, 409 (``open_only``) when closed."""
    row = session.get(Project, project_id, with_for_update=True)
    if row is None:
        raise Refused(no_such_project(project_id), 404)
    if open_only and row.closed_on is not None:
        raise Refused(
            msg(
                "project_closed",
                "the project %(name)s was closed on %(day)s: reopen it first",
                name=row.name,
                day=row.closed_on,
            ),
            409,
        )
    return row


def project_record(session: Session, project_id: int) -> ProjectRecord | None:
    row = session.get(Project, project_id)
    if row is None:
        return None
    return ProjectRecord(
        id=row.id,
        name=row.name,
        kind=ProjectKind(row.kind),
        stage=ProjectStage(row.stage),
        zone=row.zone.code if row.zone else None,
        partner=row.partner,
        financing=row.financing,
        description=row.description,
        enterprise_id=row.enterprise_id,
        enterprise=row.enterprise.name if row.enterprise else None,
        closed_on=row.closed_on,
    )


def create_project(session: Session, data: Mapping[str, Any]) -> ProjectRecord:
    """A new project from a request's fields: name and kind required; stage pre-stage,
    zone, partner, financing (BT, BOT), description and enterprise optional."""
    values = _project_values(session, data, partial=False)
    _refuse_taken_name(session, values["name"], None)
    row = Project(**values)
    session.add(row)
    session.flush()
    return project_record(session, row.id)  # type: ignore[return-value]


def update_project(session: Session, project_id: int, data: Mapping[str, Any]) -> ProjectRecord:
    """Change the fields a request gives; ``"closed": true`` closes the project (closed_on
    today, the project kept), false reopens it."""
    row = _locked_project(session, project_id)
    values = _project_values(session, data, partial=True)
    _refuse_taken_name(session, values.get("name"), project_id)
    if "closed" in data:
        values["closed_on"] = _closed(data["closed"], row.closed_on)
    _set(row, values)
    session.flush()
    session.expire(row)
    return project_record(session, project_id)  # type: ignore[return-value]


def ensure_project(
    session: Session,
    name: str,
    kind: ProjectKind | str = ProjectKind.INDUSTRIAL,
    stage: ProjectStage | str = ProjectStage.PRE_STAGE,
    zone: str | None = None,
) -> tuple[int, bool]:
    """The project named ``name`` (as a file's XMMC gives it), created with ``kind``,
    ``stage`` and ``zone`` when there is none: its id and whether it was created."""
    found = find_project(session, name.strip()) if isinstance(name, str) else None
    if found is not None:
        return found, False
    data = {"name": name, "kind": str(kind), "stage": str(stage), "zone": zone}
    return create_project(session, data).id, True


def _batch_record(row: AcquisitionBatch) -> BatchRecord:
    return BatchRecord(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        target_mu=mu2(row.target_mu),
        due=row.due,
        note=row.note,
        budget_yuan=float(row.budget_yuan) if row.budget_yuan is not None else None,
        flats_planned=row.flats_planned,
    )


def _batch_values(data: Mapping[str, Any], partial: bool) -> dict[str, Any]:
    given = (lambda name: name in data) if partial else (lambda name: True)
    out: dict[str, Any] = {}
    if given("name"):
        out["name"] = enterprises.text_value(
            data.get("name"), FIELD_NAMES["batch_name"], MAX_NAME, required=True
        )
    if given("target_mu"):
        out["target_mu"] = mu_value(data.get("target_mu"))
    if given("due"):
        out["due"] = due_value(data.get("due"))
    if given("note"):
        out["note"] = _text(data, "note", MAX_TEXT)
    money = compensation.Reader(data)
    if "budget_yuan" in data:  # never required
        out["budget_yuan"] = money.number("budget_yuan", required=False, most=MAX_BUDGET)
    if "flats_planned" in data:
        flats = data["flats_planned"]
        if isinstance(flats, str) and re.fullmatch(r"[0-9]{1,6}", flats.strip()):  # a form's
            money = compensation.Reader({"flats_planned": int(flats)})
        out["flats_planned"] = money.whole("flats_planned", 0, 100000, required=False)
    return out


def _refuse_taken_batch(session: Session, project_id: int, name: str | None, own_id: int) -> None:
    if name is None:
        return
    taken = session.scalar(
        select(AcquisitionBatch.id).where(
            AcquisitionBatch.project_id == project_id,
            AcquisitionBatch.name == name,
            AcquisitionBatch.id != own_id,
        )
    )
    if taken is not None:
        raise Refused(
            msg("batch_name_taken", "the project already has a batch named %(name)s", name=name),
            409,
        )


def create_batch(session: Session, project_id: int, data: Mapping[str, Any]) -> BatchRecord:
    """A new acquisition batch of an open project: name, target_mu, due required, note."""
    _locked_project(session, project_id, open_only=True)
    values = _batch_values(data, partial=False)
    _refuse_taken_batch(session, project_id, values["name"], 0)
    row = AcquisitionBatch(project_id=project_id, **values)
    session.add(row)
    session.flush()
    return _batch_record(row)


def no_such_batch(batch_id: Any) -> Message:
    return msg("no_such_batch", "there is no batch %(id)s", id=batch_id)


def update_batch(session: Session, batch_id: int, data: Mapping[str, Any]) -> BatchRecord:
    """Change a batch's name, target, due date or note (of an open project)."""
    row = session.get(AcquisitionBatch, batch_id, with_for_update=True)
    if row is None:
        raise Refused(no_such_batch(batch_id), 404)
    _locked_project(session, row.project_id, open_only=True)
    values = _batch_values(data, partial=True)
    _refuse_taken_batch(session, row.project_id, values.get("name"), batch_id)
    _set(row, values)
    session.flush()
    return _batch_record(row)


def ensure_batch(
    session: Session,
    project_id: int,
    name: str,
    target_mu: Decimal | float | None = None,
    due: dt.date | None = None,
) -> tuple[int, bool]:
    """The batch ``name`` of the project (as a file's PCMC gives it), created when there is
    none (then ``target_mu`` is required; ``due`` defaults to the year's last day): its id
    and whether it was created."""
    found = session.scalar(
        select(AcquisitionBatch.id).where(
            AcquisitionBatch.project_id == project_id, AcquisitionBatch.name == name.strip()
        )
    )
    if found is not None:
        return found, False
    data = {"name": name, "target_mu": target_mu, "due": due or dt.date(today().year, 12, 31)}
    return create_batch(session, project_id, data).id, True


def set_target(
    session: Session, project_id: int, data: Mapping[str, Any]
) -> tuple[TargetRecord, bool]:
    """Add a dated target of a project (label, due, target_mu optional) or change the one of
    that label: the target, and whether it was added."""
    _locked_project(session, project_id, open_only=True)
    label = _text(data, "label", MAX_NAME, required=True)
    values = {
        "due": due_value(data.get("due")),
        "target_mu": mu_value(data.get("target_mu"), required=False),
    }
    row = session.scalar(
        select(ProjectTarget).where(
            ProjectTarget.project_id == project_id, ProjectTarget.label == label
        )
    )
    added = row is None
    if row is None:
        row = ProjectTarget(project_id=project_id, label=label, **values)
        session.add(row)
    else:
        _set(row, values)
    session.flush()
    mu = mu2(row.target_mu) if row.target_mu is not None else None
    return TargetRecord(row.id, project_id, row.label, row.due, mu), added


def _codes(codes: Any) -> list[str]:
    """A request's parcel codes: a non-empty list of text, each given once."""
    if not isinstance(codes, list | tuple) or not all(isinstance(c, str) for c in codes):
        raise Refused(msg("codes_not_a_list", "codes must be a non-empty list of parcel codes"))
    wanted = list(dict.fromkeys(c.strip() for c in codes if c.strip()))
    if not wanted:
        raise Refused(msg("no_parcel_codes", "no parcel codes given"))
    if len(wanted) > acquisition.MAX_SELECTED:
        most = acquisition.MAX_SELECTED
        raise Refused(msg("too_many_codes", "at most %(most)s parcel codes at once", most=most))
    return wanted


def _locked_parcels(session: Session, codes: list[str]) -> list[Any]:
    """The parcels of ``codes``, locked; 404 listing the codes there are no parcels of."""
    rows = session.execute(
        text("""SELECT id, code, project_id, area_mu FROM parcel WHERE code = ANY(:c)
                AND lm_parcel_in_force(created_on, retired_on, NULL)
                ORDER BY code FOR UPDATE"""),
        {"c": codes},
    ).all()
    found = {r.code for r in rows}
    unknown = [c for c in codes if c not in found]
    if unknown:
        raise Refused(
            msg(
                "assign_unknown_parcels",
                "%(n)s of the codes are not parcels of the register: %(codes)s",
                n=len(unknown),
                codes=[c[:40] for c in unknown[:20]],
            ),
            404,
            unknown=unknown,
        )
    return rows


def _assignment(project_id: int, batch_id: int | None, rows: list[Any]) -> Assignment:
    codes = tuple(r.code for r in rows)
    return Assignment(project_id, batch_id, codes, len(codes), mu2(sum(r.area_mu for r in rows)))


def assign_parcels(
    session: Session, project_id: int, codes: Any, batch_id: int | None = None
) -> Assignment:
    """Put the parcels of ``codes`` in the open project (and its batch ``batch_id``, or no
    batch), all or none: 404 listing unknown codes, 400 for a batch of another project."""
    _locked_project(session, project_id, open_only=True)
    if batch_id is not None:
        owner = project_of_batch(session, batch_id)
        if owner is None:
            raise Refused(no_such_batch(batch_id), 404)
        if owner != project_id:
            raise Refused(
                msg(
                    "batch_of_another_project",
                    "batch %(batch)s belongs to another project, not to project %(project)s",
                    batch=batch_id,
                    project=project_id,
                )
            )
    rows = _locked_parcels(session, _codes(codes))
    session.execute(
        text("""UPDATE parcel SET project_id = :p, batch_id = :b, updated_at = now()
                WHERE id = ANY(:ids)
                  AND (project_id, batch_id) IS DISTINCT FROM (:p, :b)"""),
        {"p": project_id, "b": batch_id, "ids": [r.id for r in rows]},
    )
    return _assignment(project_id, batch_id, rows)


def unassign_parcels(session: Session, project_id: int, codes: Any) -> Assignment:
    """Take the parcels of ``codes`` out of the project (project and batch cleared), all or
    none: 404 listing unknown codes, 400 listing those that are not in the project."""
    _locked_project(session, project_id, open_only=True)
    rows = _locked_parcels(session, _codes(codes))
    elsewhere = [r.code for r in rows if r.project_id != project_id]
    if elsewhere:
        raise Refused(
            msg(
                "unassign_not_in_project",
                "%(n)s of the parcels are not in project %(project)s: %(codes)s",
                n=len(elsewhere),
                project=project_id,
                codes=[c[:40] for c in elsewhere[:20]],
            ),
            not_in_project=elsewhere,
        )
    session.execute(
        text("""UPDATE parcel SET project_id = NULL, batch_id = NULL, updated_at = now()
                WHERE id = ANY(:ids)"""),
        {"ids": [r.id for r in rows]},
    )
    return _assignment(project_id, None, rows)
