"""The illustrative demo zone (data/demo/): zones, projects and parcels, loaded through the
same loader as any surveyor's file; then the supplies, construction, buildings (supply.json)
and the core enterprises' 2011 monthly statistics (statistics.csv), inserted through the
models so that the database's triggers and constraints apply. Loading it twice changes
nothing."""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from landmap import loaders
from landmap.config import PROJECT_ROOT, Settings
from landmap.db.models import (
    ConstructionEvent,
    EnterpriseStatistic,
    LandSupply,
    Parcel,
    ParcelBuilding,
)
from landmap.domain import READY_FOR_SUPPLY, Stage
from landmap.loaders import LoadOptions, LoadReport
from landmap.messages import msg
from landmap.services import Refused, acquisition, enterprises, projects, quota
from landmap.services.acquisition import Move
from landmap.services.projects import CatalogError

DEMO_DIR = PROJECT_ROOT / "data" / "demo"


@dataclass
class DemoResult:
    catalogue_changes: int
    zones: LoadReport
    parcels: LoadReport
    history_entries: int = 0
    # supplies, construction events, building facts and monthly statistics written
    works: int = 0

    @property
    def changed(self) -> bool:
        return bool(
            self.catalogue_changes
            or self.zones.inserted
            or self.parcels.inserted
            or self.parcels.updated
            or self.history_entries
            or self.works
        )


def load_demo(session: Session, settings: Settings, folder: Path = DEMO_DIR) -> DemoResult:
    meta = json.loads((folder / "projects.json").read_text(encoding="utf-8"))
    savepoint = session.begin_nested()
    try:
        result = _load(session, settings, folder, meta)
    except BaseException:
        savepoint.rollback()
        raise
    # an unchanged demo leaves no trace, not even an import record
    (savepoint.commit if result.changed else savepoint.rollback)()
    return result


def _load(session: Session, settings: Settings, folder: Path, meta: dict) -> DemoResult:
    changes = projects.upsert_zones(session, meta["zones"])
    gpkg = folder / "demo.gpkg"
    valid_from = min(dt.date.fromisoformat(z["valid_from"]) for z in meta["zones"])
    zones = loaders.load(
        session,
        settings,
        "zones",
        gpkg,
        LoadOptions(layer="zones", valid_from=valid_from, run_by="demo", note="demo zone"),
    )
    changes += _enterprises(session, meta.get("enterprises", []))
    changes += projects.upsert_projects(session, meta["projects"])
    parcels = loaders.load(
        session, settings, "parcels", gpkg, LoadOptions(layer="parcels", run_by="demo")
    )
    entries = _history(session, folder / "stage_history.csv")
    for layer, name in (("landuse", "dltb"), ("farmland", "jbnt")):
        report = loaders.load(
            session, settings, layer, gpkg, LoadOptions(layer=name, run_by="demo")
        )
        changes += report.inserted + report.updated
    changes += _quota(session, meta.get("quota", {}))
    works = _works(session, folder)
    return DemoResult(changes, zones, parcels, entries, works)


def _enterprises(session: Session, rows: list[dict]) -> int:
    """The seed's enterprises and the projects' partners (before the projects that name
    them); how many were written."""
    written = 0
    for row in rows:
        fields = {k: v for k, v in row.items() if k != "name"}
        written += enterprises.ensure_enterprise(session, row["name"], **fields)[1]
    return written


def _quota(session: Session, book: dict) -> int:
    """The demo's quota ledger, for years that have no entries yet."""
    count = 0
    for y in book.get("years", []):
        quota.set_target(session, y["year"], Decimal(str(y["target_mu"])), y.get("note", ""))
    years_done = set(session.execute(text("SELECT DISTINCT year FROM quota_entry")).scalars())
    ids = dict(session.execute(text("SELECT name, id FROM project")).all())
    for e in book.get("entries", []):
        if e["year"] in years_done:
            continue
        project = ids.get(e.get("project"))
        batch = session.execute(
            text("SELECT id FROM acquisition_batch WHERE project_id = :p AND name = :n"),
            {"p": project, "n": e.get("batch")},
        ).scalar()
        day = dt.date.fromisoformat(e["date"]) if e.get("date") else None
        if e["kind"] == "reserve_demand":
            quota.reserve_demand(
                session,
                e["year"],
                e["source"],
                project,
                batch,
                "demo",
                e.get("ref", ""),
                e.get("note", ""),
                day,
            )
        else:
            mu = quota.to_mu(e.get("mu"), e.get("ha"))
            quota.record(
                session,
                quota.Entry(
                    e["year"],
                    e["kind"],
                    e["source"],
                    mu,
                    project,
                    batch,
                    None,
                    e.get("ref", ""),
                    e.get("note", ""),
                    day,
                ),
                "demo",
            )
        count += 1
    return count


def _history(session: Session, path: Path) -> int:
    """Replay the demo's 2011 acquisition timeline through the workflow, for parcels that
    have no history yet."""
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    done = set(
        session.execute(
            text("SELECT DISTINCT p.code FROM parcel p JOIN stage_change c ON c.parcel_id = p.id")
        ).scalars()
    )
    count = 0
    for r in rows:
        if r["ZDDM"] in done:
            continue
        day = dt.date.fromisoformat(r["date"])
        if r["kind"] == "stage":
            acquisition.move(session, [r["ZDDM"]], Move(Stage(r["stage"]), day, r["note"]), "demo")
        else:
            acquisition.set_dispute(session, r["ZDDM"], True, day, r["reason"], "demo")
        count += 1
    return count


def _works(session: Session, folder: Path) -> int:
    """From cleared land to working land: the demo's supplies, construction events and
    building facts (supply.json), then the monthly statistics (statistics.csv), each row only
    when it is not there yet; how many rows were written."""
    path = folder / "supply.json"
    if not path.exists():
        return 0
    book = json.loads(path.read_text(encoding="utf-8"))
    written = _enterprises(session, book.get("enterprises", []))
    written += sum(_supply(session, s) for s in book.get("supplies", []))
    for e in book.get("construction", []):
        for code in e["parcels"]:
            written += _add_new(
                session,
                ConstructionEvent,
                {
                    "parcel_id": _parcel(session, code),
                    "event": e["event"],
                    "happened_on": _day(e["date"]),
                },
                note=e.get("note", ""),
                developed_m2=_money(e.get("developed_m2")),
                invested_wan=_money(e.get("invested_wan")),
            )
    for b in book.get("buildings", []):
        key = {"parcel_id": _parcel(session, b["code"]), "measured_on": _day(b["measured_on"])}
        figures = ("floor_area_m2", "footprint_m2", "industrial_cover_m2")
        written += _add_new(session, ParcelBuilding, key, **{f: _money(b.get(f)) for f in figures})
    return written + _statistics(session, folder / "statistics.csv")


def _supply(session: Session, contract: dict) -> int:
    """One supply contract of the demo over its parcels (each parcel its own land_supply row,
    its price, investment and floor area its own); refused for land not cleared or state-owned
    on the supply's day."""
    day = _day(contract["date"])
    common = {
        "method": contract["method"],
        "transfer_way": contract.get("way"),
        "enterprise_id": enterprises.find_enterprise(session, contract["enterprise"]),
        "start_due": _day(contract["start_due"]),
        "completion_due": _day(contract["completion_due"]),
        "note": contract.get("note", ""),
    }
    written = 0
    for p in contract["parcels"]:
        parcel = _parcel(session, p["code"])
        stage = session.execute(
            text("SELECT lm_stage_as_of(id, stage, :d) FROM parcel WHERE id = :p"),
            {"d": day, "p": parcel},
        ).scalar_one()
        if stage not in READY_FOR_SUPPLY:
            raise CatalogError(
                msg(
                    "demo_supply_not_ready",
                    "parcel %(code)s is %(stage)s on %(day)s: only land that is %(ready)s or "
                    "%(state)s is supplied",
                    code=p["code"],
                    stage=Stage(stage),
                    day=day.isoformat(),
                    ready=Stage.CLEARED,
                    state=Stage.STATE_OWNED,
                )
            )
        figures = {f: _money(p.get(f)) for f in ("price_wan", "investment_wan", "floor_area_m2")}
        key = {"parcel_id": parcel, "contract_no": contract["contract_no"], "supplied_on": day}
        written += _add_new(session, LandSupply, key, **common, **figures)
    return written


def _statistics(session: Session, path: Path) -> int:
    """The core enterprises' monthly figures (source 'demo'), for months they have none."""
    if not path.exists():
        return 0
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    figures = ("output_wan", "revenue_wan", "tax_wan", "investment_wan", "energy_tce")
    written = 0
    for r in rows:
        key = {
            "enterprise_id": enterprises.find_enterprise(session, r["enterprise"]),
            "year": int(r["year"]),
            "month": int(r["month"]),
        }
        values = {f: _money(r.get(f) or None) for f in figures}
        values["employees"] = int(r["employees"])
        written += _add_new(session, EnterpriseStatistic, key, source="demo", **values)
    return written


def _add_new(session: Session, model: type, key: dict[str, Any], **values: Any) -> int:
    """Insert a ``model`` row (recorded by the demo) unless one with ``key`` exists: 1 or 0."""
    if session.scalar(select(model).filter_by(**key).limit(1)) is not None:
        return 0
    session.add(model(**key, **values, recorded_by="demo"))
    session.flush()
    return 1


def _parcel(session: Session, code: str) -> int:
    found = session.scalar(select(Parcel.id).where(Parcel.code == code))
    if found is None:
        raise Refused(msg("no_such_parcel", "there is no parcel %(code)s", code=code), 404)
    return found


def _day(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
