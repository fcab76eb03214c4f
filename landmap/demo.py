"""The illustrative demo zone (data/demo/): zones, projects and parcels, loaded through the
same loader as any surveyor's file. Loading it twice changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap import loaders
from landmap.config import PROJECT_ROOT, Settings
from landmap.domain import Stage
from landmap.loaders import LoadOptions, LoadReport
from landmap.services import acquisition, enterprises, projects, quota
from landmap.services.acquisition import Move

DEMO_DIR = PROJECT_ROOT / "data" / "demo"


@dataclass
class DemoResult:
    catalogue_changes: int
    zones: LoadReport
    parcels: LoadReport
    history_entries: int = 0

    @property
    def changed(self) -> bool:
        return bool(
            self.catalogue_changes
            or self.zones.inserted
            or self.parcels.inserted
            or self.parcels.updated
            or self.history_entries
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
    return DemoResult(changes, zones, parcels, entries)


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
