"""The illustrative demo zone (data/demo/): zones, projects and parcels, loaded through the
same loader as any surveyor's file, with the land-use survey; the compensation standard,
households, agreements and payments (compensation.json) through services.compensation, before
the acquisition history that needs them; then the supplies, construction, buildings
(supply.json) and the core enterprises' 2011 monthly statistics (statistics.csv), inserted
through the models so that the database's triggers and constraints apply. Loading it twice
changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from landmap import loaders
from landmap.config import PROJECT_ROOT, Settings, personal_key
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
from landmap.services import Refused, acquisition, compensation, enterprises, projects, quota
from landmap.services.acquisition import Move
from landmap.services.personal import Sealer, normal_id_number
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
    # compensation standards, batch budgets, households, agreements and payments written
    compensation: int = 0

    @property
    def changed(self) -> bool:
        return bool(
            self.catalogue_changes
            or self.zones.inserted
            or self.parcels.inserted
            or self.parcels.updated
            or self.history_entries
            or self.works
            or self.compensation
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
    # the land-use survey before the compensation (its land part) and the compensation before
    # the history (协议签订 and later need the households' agreements and payments)
    for layer, name in (("landuse", "dltb"), ("farmland", "jbnt")):
        report = loaders.load(
            session, settings, layer, gpkg, LoadOptions(layer=name, run_by="demo")
        )
        changes += report.inserted + report.updated
    money = _compensation(session, settings, folder)
    entries = _history(session, folder / "stage_history.csv")
    changes += _quota(session, meta.get("quota", {}))
    works = _works(session, folder)
    return DemoResult(changes, zones, parcels, entries, works, money)


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


def _compensation(session: Session, settings: Settings, folder: Path) -> int:
    """The demo's compensation (compensation.json) through services.compensation: the
    standards not issued yet, the batch budgets not set yet, the households whose ID number
    is not registered yet, their agreements when they have none (the amount: the total
    computed under the standard on the agreement's day plus the adjustments) and the payments
    whose voucher is not recorded yet (a share of the agreed amount, or the rest of it); how
    many were written."""
    path = folder / "compensation.json"
    if not path.exists():
        return 0
    book = json.loads(path.read_text(encoding="utf-8"))
    written = 0
    for s in book.get("standards", []):
        issued = session.execute(
            text("SELECT 1 FROM compensation_standard WHERE area = :a AND effective_from = :d"),
            {"a": s.get("area", ""), "d": _day(s["effective_from"])},
        ).first()
        if issued is None:
            compensation.issue_standard(session, s, "demo")
            written += 1
    for b in book.get("batches", []):
        written += _batch_money(session, b)
    sealer = Sealer(personal_key(settings))
    # every household first: a parcel's land is shared among all its households, so each
    # agreement is computed with the parcel's households all registered
    households = []
    for h in book.get("households", []):
        household_id = _demo_household(session, sealer, h)
        if household_id is None:
            data = {k: v for k, v in h.items() if k not in ("parcel", "agreement", "payments")}
            added = compensation.add_household(session, sealer, h["parcel"], data, "demo")
            household_id = added["id"]
            written += 1
        households.append((household_id, h))
    for household_id, h in households:
        written += _agreement(session, household_id, h)
    return written


def _batch_money(session: Session, book: dict) -> int:
    """A batch's budget and flats planned, when it has none yet (1 or 0)."""
    batch_id, budget, flats = session.execute(
        text("""SELECT b.id, b.budget_yuan, b.flats_planned FROM acquisition_batch b
                JOIN project p ON p.id = b.project_id WHERE p.name = :p AND b.name = :b"""),
        {"p": book["project"], "b": book["batch"]},
    ).one()
    data = {}
    if budget is None and book.get("budget_yuan") is not None:
        data["budget_yuan"] = book["budget_yuan"]
    if flats is None and book.get("flats_planned") is not None:
        data["flats_planned"] = book["flats_planned"]
    if not data:
        return 0
    projects.update_batch(session, batch_id, data)
    return 1


def _agreement(session: Session, household_id: int, book: dict) -> int:
    """A demo household's agreement and payments, those not there yet."""
    written = 0
    agreement = book.get("agreement")
    if agreement is None:
        return 0
    signed = session.execute(
        text("SELECT 1 FROM compensation_agreement WHERE household_id = :h"), {"h": household_id}
    ).first()
    if signed is None:
        day = _day(agreement["date"])
        computed = compensation.compute_many_at(session, [household_id], day)[household_id].total
        adjusted = sum(
            (_money(a["amount_yuan"]) for a in agreement.get("adjustments", [])), Decimal(0)
        )
        amount = computed + adjusted
        compensation.agree(session, household_id, {**agreement, "amount_yuan": str(amount)}, "demo")
        written += 1
    for p in book.get("payments", []):
        recorded = session.execute(
            text("SELECT 1 FROM compensation_payment WHERE voucher = :v"), {"v": p["voucher"]}
        ).first()
        if recorded is not None:
            continue
        agreed, paid = session.execute(
            text("SELECT agreed_yuan, paid_yuan FROM household_balance WHERE household_id = :h"),
            {"h": household_id},
        ).one()
        if p.get("rest"):
            amount = agreed - paid
        else:
            amount = (agreed * _money(p["share"])).quantize(compensation.FEN, ROUND_HALF_UP)
        if amount <= 0:
            continue
        body = {"date": p["date"], "voucher": p["voucher"], "amount_yuan": str(amount)}
        compensation.pay(session, household_id, body, "demo")
        written += 1
    return written


def _demo_household(session: Session, sealer: Sealer, book: dict) -> int | None:
    """The demo household registered already: by its ID number's digest, or (the digest of
    another personal key) by its head on its parcel, as the demo recorded it."""
    digest = sealer.digest(normal_id_number(book["id_number"]))
    return session.execute(
        text("""SELECT h.id FROM household h WHERE h.id_digest = :d
                UNION ALL
                SELECT h.id FROM household h JOIN household_parcel hp ON hp.household_id = h.id
                JOIN parcel p ON p.id = hp.parcel_id
                WHERE h.recorded_by = 'demo' AND h.head = :head AND p.code = :code
                LIMIT 1"""),
        {"d": digest, "head": book["head"], "code": book["parcel"]},
    ).scalar()


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
