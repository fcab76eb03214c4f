"""The land-use quota ledger (用地指标台账) and the quota the land itself demands.

Entries are append-only. What each kind does to a year's buckets (per source):

* grant: granted += mu (the province's annual plan quota, 增减挂钩 savings, other)
* reserve: reserved += mu, for a project or an approval batch (批次报批)
* consume: consumed += mu when the batch is approved; what was reserved for that project or
  batch is used first (reserved -= that part), the rest must fit in what remains
* release: reserved -= mu, an unused reservation handed back
* correct: the exact reversal of an earlier entry (a mistake is never edited away)

remaining = granted - reserved - consumed, never below zero. The service decides under a row
lock on the year's balance; the database's CHECK on the balance is the last word.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from landmap import landuse
from landmap.db.errors import pg_message
from landmap.domain import MAX_MU
from landmap.geo.units import MU_PER_HA, mu2
from landmap.services import Refused
from landmap.services.acquisition import event_day_problem, today

SOURCES = ("plan", "linkage", "other")  # 年度计划指标, 增减挂钩, 其他
KINDS = ("grant", "reserve", "consume", "release", "correct")
SOURCE_LABELS = {"plan": ("年度计划指标", "Annual plan quota"),
                 "linkage": ("增减挂钩节余", "Linkage savings"),
                 "other": ("其他", "Other")}  # fmt: skip
KIND_LABELS = {"grant": ("下达", "Grant"), "reserve": ("预留", "Reserve"),
               "consume": ("报批使用", "Consume"), "release": ("释放", "Release"),
               "correct": ("冲正", "Correction")}  # fmt: skip
CENT = Decimal("0.01")
FIRST_YEAR = 1990
# a ledger year may lie this far ahead: the land-use master plans (国土空间总体规划) run 15 years
YEARS_AHEAD = 15


def last_year() -> int:
    """The last year the ledger keeps books for (FIRST_YEAR..last_year())."""
    return today().year + YEARS_AHEAD


def year_problem(year: int) -> str | None:
    if not FIRST_YEAR <= year <= last_year():
        return f"year must be from {FIRST_YEAR} to {last_year()}"
    return None


class QuotaRefused(Refused):
    status = 409


def to_mu(mu: Any = None, ha: Any = None) -> Decimal:
    """An amount given in mu or in hectares (1 ha = 15 mu), as mu; exactly one of the two."""
    if (mu is None) == (ha is None):
        raise QuotaRefused("give the amount as mu or as ha (one of them)", 400)
    try:
        value = Decimal(str(mu if mu is not None else ha))
    except ArithmeticError as exc:
        raise QuotaRefused("the amount must be a number", 400) from exc
    if not value.is_finite() or value <= 0:
        raise QuotaRefused("the amount must be a positive number", 400)
    value = value if mu is not None else value * MU_PER_HA
    if value > MAX_MU:
        raise QuotaRefused(f"the amount must be at most {MAX_MU} mu", 400)
    return value


@dataclass(frozen=True)
class Entry:
    year: int
    kind: str
    source: str = "plan"
    mu: Decimal | None = None
    project_id: int | None = None
    batch_id: int | None = None
    reverses: int | None = None
    ref: str = ""
    note: str = ""
    day: dt.date | None = None  # the document's date; today when not given


def _fmt(v: Decimal | float) -> str:
    return str(Decimal(v).quantize(CENT, ROUND_HALF_UP))


def _validate(session: Session, e: Entry) -> None:
    if e.kind not in KINDS:
        raise QuotaRefused(f"kind must be one of {', '.join(KINDS)}", 400)
    if e.source not in SOURCES:
        raise QuotaRefused(f"source must be one of {', '.join(SOURCES)}", 400)
    why = year_problem(e.year)
    if why:
        raise QuotaRefused(why, 400)
    if e.kind in ("reserve", "consume", "release") and e.project_id is None:
        raise QuotaRefused(f"a {e.kind} entry names the project (and batch) it is for", 400)
    if (
        e.project_id is not None
        and session.execute(
            text("SELECT 1 FROM project WHERE id = :p"), {"p": e.project_id}
        ).first()
        is None
    ):
        raise QuotaRefused(f"unknown project {e.project_id}", 404)
    if (
        e.batch_id is not None
        and session.execute(
            text("SELECT 1 FROM acquisition_batch WHERE id = :b AND project_id = :p"),
            {"b": e.batch_id, "p": e.project_id},
        ).first()
        is None
    ):
        raise QuotaRefused(f"project {e.project_id} has no batch {e.batch_id}", 404)


def _lock_balance(session: Session, year: int, source: str) -> Any:
    session.execute(
        text("INSERT INTO quota_balance (year, source) VALUES (:y, :s) ON CONFLICT DO NOTHING"),
        {"y": year, "s": source},
    )
    return session.execute(
        text("SELECT * FROM quota_balance WHERE year = :y AND source = :s FOR UPDATE"),
        {"y": year, "s": source},
    ).one()


def _reserved_for(session: Session, e: Entry) -> Decimal:
    return session.execute(
        text("""SELECT coalesce(sum(d_reserved), 0) FROM quota_entry
                WHERE year = :y AND source = :s AND project_id = :p
                  AND batch_id IS NOT DISTINCT FROM CAST(:b AS integer)"""),
        {"y": e.year, "s": e.source, "p": e.project_id, "b": e.batch_id},
    ).scalar_one()


def _deltas(session: Session, e: Entry, remaining: Decimal) -> tuple[Entry, tuple]:
    """The entry as it will be stored (a correction takes its original's fields) and what
    it does to the buckets; refusals for amounts that do not fit."""
    if e.kind == "correct":
        orig = (
            session.execute(text("SELECT * FROM quota_entry WHERE id = :i"), {"i": e.reverses})
            .mappings()
            .first()
        )
        if orig is None:
            raise QuotaRefused(f"there is no entry {e.reverses} to reverse", 404)
        if orig["kind"] == "correct":
            raise QuotaRefused("a correction cannot itself be reversed; record a new entry", 409)
        done = session.execute(
            text("SELECT id FROM quota_entry WHERE reverses = :i"), {"i": e.reverses}
        ).scalar()
        if done is not None:
            raise QuotaRefused(f"entry {e.reverses} was already reversed by entry {done}", 409)
        e = Entry(orig["year"], "correct", orig["source"], orig["mu"], orig["project_id"],
                  orig["batch_id"], e.reverses, e.ref, e.note, e.day)  # fmt: skip
        return e, (-orig["d_granted"], -orig["d_reserved"], -orig["d_consumed"])
    mu = e.mu
    assert mu is not None
    if e.kind == "grant":
        return e, (mu, Decimal(0), Decimal(0))
    if e.kind == "reserve":
        if mu > remaining:
            raise QuotaRefused(
                f"cannot reserve {_fmt(mu)} mu: only {_fmt(remaining)} mu of the {e.year} "
                f"{e.source} quota remain"
            )
        return e, (Decimal(0), mu, Decimal(0))
    reserved = _reserved_for(session, e)
    if e.kind == "release":
        if mu > reserved:
            raise QuotaRefused(f"cannot release {_fmt(mu)} mu: only {_fmt(reserved)} mu are "
                               "reserved for it")  # fmt: skip
        return e, (Decimal(0), -mu, Decimal(0))
    taken = min(mu, reserved)  # consume
    if mu - taken > remaining:
        raise QuotaRefused(
            f"cannot consume {_fmt(mu)} mu: {_fmt(taken)} mu were reserved for it and only "
            f"{_fmt(remaining)} mu of the {e.year} {e.source} quota remain"
        )
    return e, (Decimal(0), -taken, mu)


def record(session: Session, e: Entry, user: str) -> dict[str, Any]:
    """Add an entry to the ledger, or raise QuotaRefused (409 when the quota does not cover it)."""
    if e.kind != "correct" and e.mu is None:
        raise QuotaRefused("the amount is missing", 400)
    if e.kind == "correct" and e.reverses is None:
        raise QuotaRefused("a correction names the entry it reverses", 400)
    if e.kind != "correct":
        _validate(session, e)
    why = event_day_problem(e.day) if e.day is not None else None
    if why:
        raise QuotaRefused(why, 400)
    year, source = e.year, e.source
    if e.kind == "correct":
        found = session.execute(text("SELECT year, source FROM quota_entry WHERE id = :i"),
                                {"i": e.reverses}).first()  # fmt: skip
        if found is None:
            raise QuotaRefused(f"there is no entry {e.reverses} to reverse", 404)
        year, source = found
    balance = _lock_balance(session, year, source)
    e, (dg, dr, dc) = _deltas(session, e, balance.remaining_mu)
    try:
        with session.begin_nested():
            entry_id = session.execute(
                text("""
                INSERT INTO quota_entry (year, source, kind, mu, d_granted, d_reserved,
                    d_consumed, project_id, batch_id, reverses, ref, note, entry_date,
                    recorded_by)
                VALUES (:year, :source, :kind, :mu, :dg, :dr, :dc, :project, :batch, :reverses,
                    :ref, :note, coalesce(CAST(:day AS date),
                        (now() AT TIME ZONE 'Asia/Shanghai')::date), :user) RETURNING id"""),
                {"year": e.year, "source": e.source, "kind": e.kind, "mu": e.mu, "dg": dg,
                 "dr": dr, "dc": dc, "project": e.project_id, "batch": e.batch_id,
                 "reverses": e.reverses, "ref": e.ref, "note": e.note, "day": e.day,
                 "user": user},
            ).scalar_one()  # fmt: skip
    except DBAPIError as exc:
        raise QuotaRefused(
            f"{pg_message(exc)} ({_fmt(balance.remaining_mu)} mu remain for {year} {source})"
        ) from exc
    return entry(session, entry_id)


def entry(session: Session, entry_id: int) -> dict[str, Any]:
    return _entry_rows(session, "e.id = :i", {"i": entry_id})[0]


def _entry_rows(session: Session, where: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    rows = session.execute(
        text(f"""
        SELECT e.*, p.name AS project, b.name AS batch, r.id AS reversed_by
        FROM quota_entry e LEFT JOIN project p ON p.id = e.project_id
        LEFT JOIN acquisition_batch b ON b.id = e.batch_id
        LEFT JOIN quota_entry r ON r.reverses = e.id
        WHERE {where} ORDER BY e.entry_date, e.id"""),
        params,
    ).mappings()
    return [
        {"id": r["id"], "year": r["year"], "source": r["source"], "kind": r["kind"],
         "mu": mu2(r["mu"]), "granted": mu2(r["d_granted"]),
         "reserved": mu2(r["d_reserved"]), "consumed": mu2(r["d_consumed"]),
         "project_id": r["project_id"], "project": r["project"], "batch_id": r["batch_id"],
         "batch": r["batch"], "reverses": r["reverses"], "reversed_by": r["reversed_by"],
         "ref": r["ref"], "note": r["note"], "user": r["recorded_by"],
         "date": r["entry_date"].isoformat(), "at": r["recorded_at"].isoformat()}
        for r in rows
    ]  # fmt: skip


def set_target(session: Session, year: int, target_mu: Decimal, note: str = "") -> None:
    if year_problem(year) or not (target_mu.is_finite() and 0 <= target_mu <= MAX_MU):
        raise QuotaRefused(f"a target is a year ({FIRST_YEAR}-{last_year()}) and a number of mu "
                           f"from 0 to {MAX_MU}", 400)  # fmt: skip
    session.execute(
        text("""INSERT INTO quota_year (year, target_mu, note) VALUES (:y, :t, :n)
                ON CONFLICT (year) DO UPDATE SET target_mu = EXCLUDED.target_mu,
                    note = EXCLUDED.note"""),
        {"y": year, "t": target_mu, "n": note},
    )


def ledger(session: Session, year: int, as_of: dt.date | None = None) -> dict[str, Any]:
    """The year's books: target, the buckets in all and per source, the entries; with
    ``as_of``, from the entries dated up to that day only (the books as they stood then)."""
    target = session.execute(
        text("SELECT target_mu FROM quota_year WHERE year = :y"), {"y": year}
    ).scalar()
    if as_of is None:
        sql = "SELECT * FROM quota_balance WHERE year = :y ORDER BY source"
    else:
        sql = """SELECT source, sum(d_granted) AS granted_mu, sum(d_reserved) AS reserved_mu,
                        sum(d_consumed) AS consumed_mu,
                        sum(d_granted - d_reserved - d_consumed) AS remaining_mu
                 FROM quota_entry WHERE year = :y AND entry_date <= :d
                 GROUP BY source ORDER BY source"""
    rows = session.execute(text(sql), {"y": year, "d": as_of}).mappings().all()

    def sums(rs) -> dict[str, float]:
        return {k: mu2(sum(r[f"{k}_mu"] for r in rs))
                for k in ("granted", "reserved", "consumed", "remaining")}  # fmt: skip

    total = sums(rows)
    return {
        "year": year,
        "target_mu": mu2(target) if target is not None else None,
        "granted_mu": total["granted"],
        "reserved_mu": total["reserved"],
        "consumed_mu": total["consumed"],
        "remaining_mu": total["remaining"],
        "by_source": {r["source"]: sums([r]) for r in rows},
        "entries": _entry_rows(
            session,
            "e.year = :y AND e.entry_date <= coalesce(CAST(:d AS date), e.entry_date)",
            {"y": year, "d": as_of},
        ),
    }


def by_project(session: Session, year: int) -> list[dict[str, Any]]:
    """Reserved and consumed per project and batch in a year, with each one's zone."""
    rows = session.execute(
        text("""
        SELECT p.id AS project_id, p.name AS project, z.code AS zone, b.id AS batch_id,
               b.name AS batch, sum(e.d_reserved) AS reserved, sum(e.d_consumed) AS consumed
        FROM quota_entry e JOIN project p ON p.id = e.project_id
        LEFT JOIN zone z ON z.id = p.zone_id LEFT JOIN acquisition_batch b ON b.id = e.batch_id
        WHERE e.year = :y GROUP BY p.id, p.name, z.code, b.id, b.name
        ORDER BY z.code, p.name, b.name"""),
        {"y": year},
    ).mappings()
    return [{**r, "reserved": mu2(r["reserved"]), "consumed": mu2(r["consumed"])}
            for r in rows]  # fmt: skip


def monthly(session: Session, year: int) -> list[dict[str, Any]]:
    """Granted, reserved and consumed per month (by the entries' dates), for the year's chart."""
    rows = session.execute(
        text("""
        SELECT m, coalesce(sum(e.d_granted), 0) AS granted, coalesce(sum(e.d_reserved), 0)
               AS reserved, coalesce(sum(e.d_consumed), 0) AS consumed
        FROM generate_series(1, 12) AS m
        LEFT JOIN quota_entry e ON e.year = :y AND extract(year FROM e.entry_date) = :y
             AND extract(month FROM e.entry_date) = m
        GROUP BY m ORDER BY m"""),
        {"y": year},
    )
    return [{"month": m, "granted": mu2(g), "reserved": mu2(r), "consumed": mu2(c)}
            for m, g, r, c in rows]  # fmt: skip


# --- what the land demands -------------------------------------------------------------------


def _scope(project_id: int | None, batch_id: int | None, codes: list[str] | None):
    if codes is not None:
        return "p.code = ANY(:codes)", {"codes": codes}
    if batch_id is not None:
        return "p.batch_id = :batch", {"batch": batch_id}
    if project_id is not None:
        return "p.project_id = :project", {"project": project_id}
    raise QuotaRefused("give a project, a batch or parcel codes", 400)


def demand(
    session: Session,
    project_id: int | None = None,
    batch_id: int | None = None,
    codes: list[str] | None = None,
) -> dict[str, Any]:
    """How much of a set of parcels is agricultural, cultivated and construction land by the
    land-use survey (三调 DLTB patches), in mu: the quota its approval will consume and the
    cultivated land that 占补平衡 must balance. Working codes outside GB/T 21010 are reported."""
    where, params = _scope(project_id, batch_id, codes)
    parcels = session.execute(
        text(f"SELECT count(*), coalesce(sum(p.area_mu), 0), array_agg(p.code) "
             f"FROM parcel p WHERE {where}"), params,
    ).one()  # fmt: skip
    if codes is not None:
        unknown = sorted(set(codes) - set(parcels[2] or []))
        if unknown:
            raise QuotaRefused(f"unknown parcel code(s): {', '.join(unknown)}", 404)
    rows = session.execute(
        text(f"""
        SELECT l.land_use_code, sum(lm_area_mu(ST_Intersection(p.geom, l.geom))) AS mu
        FROM parcel p JOIN landuse_patch l ON ST_Intersects(p.geom, l.geom)
        WHERE {where} GROUP BY l.land_use_code ORDER BY l.land_use_code"""),
        params,
    ).all()
    totals = {"agricultural": 0.0, "construction": 0.0, "other": 0.0, "unknown": 0.0}
    cultivated = 0.0
    classes, unknown_codes = [], []
    for code, mu in rows:
        kind = landuse.category(code)
        totals[kind] += mu
        if landuse.is_cultivated(code):
            cultivated += mu
        classes.append({"code": code, "name": landuse.name_of(code), "category": kind,
                        "mu": mu2(mu)})  # fmt: skip
        if kind == "unknown":
            unknown_codes.append({"code": code, "mu": mu2(mu)})
    covered = sum(totals.values())
    return {
        "parcels": parcels[0],
        "parcels_mu": mu2(parcels[1]),
        "agricultural_mu": mu2(totals["agricultural"]),
        "cultivated_mu": mu2(cultivated),
        "construction_mu": mu2(totals["construction"]),
        "other_mu": mu2(totals["other"]),
        "unknown_mu": mu2(totals["unknown"]),
        "unknown_codes": unknown_codes,
        "not_surveyed_mu": mu2(max(parcels[1] - covered, 0.0)),
        "by_class": classes,
    }


def reserve_demand(
    session: Session, year: int, source: str, project_id: int, batch_id: int | None, user: str,
    ref: str = "", note: str = "", day: dt.date | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Reserve, in one step, the agricultural land a project or batch takes."""
    need = demand(session, project_id=project_id, batch_id=batch_id)
    mu = Decimal(str(need["agricultural_mu"]))
    if mu <= 0:
        raise QuotaRefused("this land takes no agricultural land: nothing to reserve", 409)
    return record(session, Entry(year, "reserve", source, mu, project_id, batch_id, None, ref,
                                 note or "按地类核算的用地需求", day), user)  # fmt: skip


def demand_vs_reserved(session: Session, year: int) -> list[dict[str, Any]]:
    """Each acquisition batch: the quota its land demands against what is reserved and
    consumed for it in the year."""
    out = []
    batches = session.execute(text("""
        SELECT b.id, b.name, b.project_id, p.name AS project, z.code AS zone
        FROM acquisition_batch b JOIN project p ON p.id = b.project_id
        LEFT JOIN zone z ON z.id = p.zone_id
        ORDER BY z.code, p.name, b.due""")).mappings().all()  # fmt: skip
    for b in batches:
        need = demand(session, batch_id=b["id"])
        booked = session.execute(
            text("""SELECT coalesce(sum(d_reserved), 0), coalesce(sum(d_consumed), 0)
                    FROM quota_entry WHERE year = :y AND batch_id = :b"""),
            {"y": year, "b": b["id"]},
        ).one()
        out.append({**b, "agricultural_mu": need["agricultural_mu"],
                    "cultivated_mu": need["cultivated_mu"],
                    "reserved_mu": mu2(booked[0]), "consumed_mu": mu2(booked[1])})  # fmt: skip
    return out
