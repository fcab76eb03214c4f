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
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from landmap import landuse
from landmap.db.errors import pg_message
from landmap.domain import MAX_MU, LabelledEnum, QuotaKind, QuotaSource, today
from landmap.geo.units import MU_PER_HA, mu2
from landmap.messages import Message, msg
from landmap.services import Refused, Result
from landmap.services.acquisition import event_day_problem

CENT = Decimal("0.01")
FIRST_YEAR = 1990
# a ledger year may lie this far ahead: the land-use master plans (国土空间总体规划) run 15 years
YEARS_AHEAD = 15
# entries that move a reservation: each names the project (and batch) it is for
FOR_A_PROJECT = (QuotaKind.RESERVE, QuotaKind.CONSUME, QuotaKind.RELEASE)


def last_year() -> int:
    """The last year the ledger keeps books for (FIRST_YEAR..last_year())."""
    return today().year + YEARS_AHEAD


def year_problem(year: int) -> Message | None:
    last = last_year()
    if not FIRST_YEAR <= year <= last:
        return msg(
            "quota_year_out_of_range",
            "the year must be from %(first)s to %(last)s",
            first=FIRST_YEAR,
            last=last,
        )
    return None


class QuotaRefused(Refused):
    status = 409


def to_mu(mu: Any = None, ha: Any = None) -> Decimal:
    """An amount given in mu or in hectares (1 ha = 15 mu), as mu; exactly one of the two."""
    if (mu is None) == (ha is None):
        raise QuotaRefused(
            msg("quota_amount_mu_or_ha", "give the amount in mu or in hectares (one of them)"),
            400,
        )
    try:
        value = Decimal(str(mu if mu is not None else ha))
    except ArithmeticError as exc:
        raise QuotaRefused(
            msg("quota_amount_not_a_number", "the amount must be a number"), 400
        ) from exc
    if not value.is_finite() or value <= 0:
        raise QuotaRefused(
            msg("quota_amount_not_positive", "the amount must be a positive number"), 400
        )
    value = value if mu is not None else value * MU_PER_HA
    if value > MAX_MU:
        raise QuotaRefused(
            msg("quota_amount_too_large", "the amount must be at most %(max)s mu", max=MAX_MU),
            400,
        )
    return value


@dataclass(frozen=True)
class Entry:
    """An entry to record: ``kind`` and ``source`` as QuotaKind / QuotaSource or their ids."""

    year: int
    kind: QuotaKind | str
    source: QuotaSource | str = QuotaSource.PLAN
    mu: Decimal | None = None
    project_id: int | None = None
    batch_id: int | None = None
    reverses: int | None = None
    ref: str = ""
    note: str = ""
    day: dt.date | None = None  # the document's date; today when not given


# --- typed results ----------------------------------------------------------------------


@dataclass(frozen=True)
class Balance(Result):
    """A year's quota buckets, in mu rounded once: remaining = granted - reserved - consumed
    (each a rounded exact figure)."""

    granted: float
    reserved: float
    consumed: float
    remaining: float


@dataclass(frozen=True)
class LedgerRow(Result):
    """One entry of the ledger as recorded: ``granted``, ``reserved`` and ``consumed`` are what
    it did to the year's buckets (negative: taken out)."""

    id: int
    year: int
    source: QuotaSource
    kind: QuotaKind
    mu: float
    granted: float
    reserved: float
    consumed: float
    project_id: int | None
    project: str | None
    batch_id: int | None
    batch: str | None
    reverses: int | None  # the entry a correction reverses
    reversed_by: int | None  # the correction that reversed this entry
    ref: str
    note: str
    user: str
    date: dt.date  # the document's date
    at: dt.datetime  # when it was recorded


@dataclass(frozen=True)
class QuotaBook(Result):
    """A year's books: its target, the buckets in all and per source, its entries."""

    year: int
    target_mu: float | None
    granted_mu: float
    reserved_mu: float
    consumed_mu: float
    remaining_mu: float
    by_source: dict[str, Balance]
    entries: tuple[LedgerRow, ...]


@dataclass(frozen=True)
class BatchQuota(Result):
    """An acquisition batch in a year's ledger: the quota its land demands (agricultural and
    cultivated mu, see demand) against what is reserved and consumed for it that year, and
    where it stands (``status``, SQL lm_quota_status of the year: the map's colour)."""

    id: int
    name: str
    project_id: int
    project: str
    zone: str | None
    year: int
    agricultural_mu: float
    cultivated_mu: float
    reserved_mu: float
    consumed_mu: float
    status: str  # consumed, reserved or none
    parcels: int
    area_mu: float


class Deltas(NamedTuple):
    """What an entry does to the year's buckets, exact."""

    granted: Decimal
    reserved: Decimal
    consumed: Decimal


# --- recording --------------------------------------------------------------------------


def _fmt(v: Decimal | float) -> str:
    return str(Decimal(v).quantize(CENT, ROUND_HALF_UP))


def _member(kind: type[LabelledEnum], value: Any):
    """A member from its id or its label; unknown ones are refused naming the choices by
    their labels."""
    if isinstance(value, kind):
        return value
    try:
        return kind.parse(str(value))
    except Refused as exc:
        raise QuotaRefused(exc.message, 400) from None


def _exists(session: Session, sql: str, params: dict[str, Any]) -> bool:
    return session.execute(text(sql), params).first() is not None


def _validate(session: Session, entry: Entry) -> None:
    why = year_problem(entry.year)
    if why:
        raise QuotaRefused(why, 400)
    if entry.kind in FOR_A_PROJECT and entry.project_id is None:
        raise QuotaRefused(
            msg(
                "quota_entry_needs_project",
                "an entry of kind %(kind)s names the project (and batch) it is for",
                kind=entry.kind,
            ),
            400,
        )
    keys = {"p": entry.project_id, "b": entry.batch_id}
    if entry.project_id is not None and not _exists(
        session, "SELECT 1 FROM project WHERE id = :p", keys
    ):
        raise QuotaRefused(
            msg(
                "quota_unknown_project", "there is no project %(project)s", project=entry.project_id
            ),
            404,
        )
    if entry.batch_id is not None and not _exists(
        session, "SELECT 1 FROM acquisition_batch WHERE id = :b AND project_id = :p", keys
    ):
        raise QuotaRefused(
            msg(
                "quota_project_has_no_batch",
                "project %(project)s has no batch %(batch)s",
                project=entry.project_id,
                batch=entry.batch_id,
            ),
            404,
        )


def _lock_balance(session: Session, year: int, source: str) -> Any:
    session.execute(
        text("INSERT INTO quota_balance (year, source) VALUES (:y, :s) ON CONFLICT DO NOTHING"),
        {"y": year, "s": source},
    )
    return session.execute(
        text("SELECT * FROM quota_balance WHERE year = :y AND source = :s FOR UPDATE"),
        {"y": year, "s": source},
    ).one()


def _reserved_for(session: Session, entry: Entry) -> Decimal:
    return session.execute(
        text("""SELECT coalesce(sum(d_reserved), 0) FROM quota_entry
                WHERE year = :y AND source = :s AND project_id = :p
                  AND batch_id IS NOT DISTINCT FROM CAST(:b AS integer)"""),
        {"y": entry.year, "s": entry.source, "p": entry.project_id, "b": entry.batch_id},
    ).scalar_one()


def _reversal(session: Session, correction: Entry) -> tuple[Entry, Deltas]:
    """A correction as it will be stored (its original's fields) and its exact reversal of
    the original's deltas."""
    original = (
        session.execute(text("SELECT * FROM quota_entry WHERE id = :i"), {"i": correction.reverses})
        .mappings()
        .first()
    )
    if original is None:
        raise QuotaRefused(_no_entry(correction.reverses), 404)
    if original["kind"] == QuotaKind.CORRECT:
        raise QuotaRefused(
            msg(
                "quota_correction_not_reversible",
                "a correction cannot itself be reversed; record a new entry",
            ),
            409,
        )
    done = session.execute(
        text("SELECT id FROM quota_entry WHERE reverses = :i"), {"i": correction.reverses}
    ).scalar()
    if done is not None:
        raise QuotaRefused(
            msg(
                "quota_entry_already_reversed",
                "entry %(entry)s was already reversed by entry %(by)s",
                entry=correction.reverses,
                by=done,
            ),
            409,
        )
    stored = Entry(
        original["year"],
        QuotaKind.CORRECT,
        original["source"],
        original["mu"],
        original["project_id"],
        original["batch_id"],
        correction.reverses,
        correction.ref,
        correction.note,
        correction.day,
    )
    reversal = Deltas(-original["d_granted"], -original["d_reserved"], -original["d_consumed"])
    return stored, reversal


def _deltas(session: Session, entry: Entry, remaining: Decimal) -> Deltas:
    """What an entry that is not a correction does to the buckets; refusals for amounts that
    do not fit."""
    mu, zero = entry.mu, Decimal(0)
    assert mu is not None
    amount, left, year, source = _fmt(mu), _fmt(remaining), entry.year, entry.source
    if entry.kind == QuotaKind.GRANT:
        return Deltas(mu, zero, zero)
    if entry.kind == QuotaKind.RESERVE:
        if mu > remaining:
            raise QuotaRefused(
                msg(
                    "quota_reserve_over_remaining",
                    "cannot reserve %(mu)s mu: only %(remaining)s mu of the %(year)s "
                    "%(source)s remain",
                    mu=amount,
                    remaining=left,
                    year=year,
                    source=source,
                )
            )
        return Deltas(zero, mu, zero)
    reserved = _reserved_for(session, entry)
    if entry.kind == QuotaKind.RELEASE:
        if mu > reserved:
            held = _fmt(reserved)
            raise QuotaRefused(
                msg(
                    "quota_release_over_reserved",
                    "cannot release %(mu)s mu: only %(reserved)s mu are reserved for it",
                    mu=amount,
                    reserved=held,
                )
            )
        return Deltas(zero, -mu, zero)
    taken = min(mu, reserved)  # consume: what was reserved for it first
    if mu - taken > remaining:
        held = _fmt(taken)
        raise QuotaRefused(
            msg(
                "quota_consume_over_remaining",
                "cannot consume %(mu)s mu: %(reserved)s mu were reserved for it and only "
                "%(remaining)s mu of the %(year)s %(source)s remain",
                mu=amount,
                reserved=held,
                remaining=left,
                year=year,
                source=source,
            )
        )
    return Deltas(zero, -taken, mu)


def _checked(session: Session, entry: Entry) -> Entry:
    """The entry with its kind (and source) as members, checked as far as it can be before
    the year's balance is locked. A correction takes its original's source and amount."""
    kind = _member(QuotaKind, entry.kind)
    source = entry.source
    if kind == QuotaKind.CORRECT:
        if entry.reverses is None:
            raise QuotaRefused(
                msg("quota_correction_needs_entry", "a correction names the entry it reverses"),
                400,
            )
    else:
        if entry.mu is None:
            raise QuotaRefused(msg("quota_amount_missing", "the amount is missing"), 400)
        source = _member(QuotaSource, entry.source)
    entry = replace(entry, kind=kind, source=source)
    if kind != QuotaKind.CORRECT:
        _validate(session, entry)
    why = event_day_problem(entry.day) if entry.day is not None else None
    if why:
        raise QuotaRefused(why, 400)
    return entry


def record(session: Session, entry: Entry, user: str) -> LedgerRow:
    """Add an entry to the ledger, or raise QuotaRefused (409 when the quota does not cover it)."""
    entry = _checked(session, entry)
    year, source = entry.year, entry.source
    if entry.kind == QuotaKind.CORRECT:
        found = session.execute(
            text("SELECT year, source FROM quota_entry WHERE id = :i"), {"i": entry.reverses}
        ).first()
        if found is None:
            raise QuotaRefused(_no_entry(entry.reverses), 404)
        year, source = found[0], QuotaSource(found[1])
    balance = _lock_balance(session, year, source)
    if entry.kind == QuotaKind.CORRECT:
        entry, deltas = _reversal(session, entry)
    else:
        deltas = _deltas(session, entry, balance.remaining_mu)
    try:
        with session.begin_nested():
            entry_id = _insert(session, entry, deltas, user)
    except DBAPIError as exc:
        why, left = pg_message(exc), _fmt(balance.remaining_mu)
        raise QuotaRefused(
            msg(
                "quota_refused_by_database",
                "the ledger refused the entry (%(why)s): %(remaining)s mu of the %(year)s "
                "%(source)s remain",
                why=why,
                remaining=left,
                year=year,
                source=source,
            )
        ) from exc
    return ledger_row(session, entry_id)


def _no_entry(entry_id: int | None) -> Message:
    return msg("quota_no_entry", "there is no entry %(entry)s to reverse", entry=entry_id)


def _insert(session: Session, entry: Entry, deltas: Deltas, user: str) -> int:
    return session.execute(
        text("""
        INSERT INTO quota_entry (year, source, kind, mu, d_granted, d_reserved,
            d_consumed, project_id, batch_id, reverses, ref, note, entry_date, recorded_by)
        VALUES (:year, :source, :kind, :mu, :granted, :reserved, :consumed, :project, :batch,
            :reverses, :ref, :note, :day, :user) RETURNING id"""),
        {
            "year": entry.year,
            "source": entry.source,
            "kind": entry.kind,
            "mu": entry.mu,
            "granted": deltas.granted,
            "reserved": deltas.reserved,
            "consumed": deltas.consumed,
            "project": entry.project_id,
            "batch": entry.batch_id,
            "reverses": entry.reverses,
            "ref": entry.ref,
            "note": entry.note,
            "day": entry.day or today(),
            "user": user,
        },
    ).scalar_one()


def ledger_row(session: Session, entry_id: int) -> LedgerRow:
    return _ledger_rows(session, "e.id = :i", {"i": entry_id})[0]


def entries_between(session: Session, first: dt.date, last: dt.date) -> tuple[LedgerRow, ...]:
    """The entries dated from ``first`` to ``last``, of every year, in date order."""
    return _ledger_rows(session, "e.entry_date BETWEEN :a AND :b", {"a": first, "b": last})


def _ledger_rows(session: Session, where: str, params: dict[str, Any]) -> tuple[LedgerRow, ...]:
    rows = session.execute(
        text(f"""
        SELECT e.*, p.name AS project, b.name AS batch, r.id AS reversed_by
        FROM quota_entry e LEFT JOIN project p ON p.id = e.project_id
        LEFT JOIN acquisition_batch b ON b.id = e.batch_id
        LEFT JOIN quota_entry r ON r.reverses = e.id
        WHERE {where} ORDER BY e.entry_date, e.id"""),
        params,
    ).mappings()
    return tuple(
        LedgerRow(
            id=r["id"],
            year=r["year"],
            source=QuotaSource(r["source"]),
            kind=QuotaKind(r["kind"]),
            mu=mu2(r["mu"]),
            granted=mu2(r["d_granted"]),
            reserved=mu2(r["d_reserved"]),
            consumed=mu2(r["d_consumed"]),
            project_id=r["project_id"],
            project=r["project"],
            batch_id=r["batch_id"],
            batch=r["batch"],
            reverses=r["reverses"],
            reversed_by=r["reversed_by"],
            ref=r["ref"],
            note=r["note"],
            user=r["recorded_by"],
            date=r["entry_date"],
            at=r["recorded_at"],
        )
        for r in rows
    )


def set_target(session: Session, year: int, target_mu: Decimal, note: str = "") -> None:
    if year_problem(year) or not (target_mu.is_finite() and 0 <= target_mu <= MAX_MU):
        last = last_year()
        raise QuotaRefused(
            msg(
                "quota_bad_target",
                "a target is for a year from %(first)s to %(last)s and is a number of mu "
                "from 0 to %(max)s",
                first=FIRST_YEAR,
                last=last,
                max=MAX_MU,
            ),
            400,
        )
    session.execute(
        text("""INSERT INTO quota_year (year, target_mu, note) VALUES (:y, :t, :n)
                ON CONFLICT (year) DO UPDATE SET target_mu = EXCLUDED.target_mu,
                    note = EXCLUDED.note"""),
        {"y": year, "t": target_mu, "n": note},
    )


# --- the books --------------------------------------------------------------------------

_BALANCES_NOW = "SELECT * FROM quota_balance WHERE year = :y ORDER BY source"
_BALANCES_AS_OF = """
    SELECT source, sum(d_granted) AS granted_mu, sum(d_reserved) AS reserved_mu,
           sum(d_consumed) AS consumed_mu, sum(d_granted - d_reserved - d_consumed) AS remaining_mu
    FROM quota_entry WHERE year = :y AND entry_date <= :d
    GROUP BY source ORDER BY source"""


def _balance(rows: list[Any]) -> Balance:
    """The buckets of balance rows together: each the rounded exact sum."""
    return Balance(
        *(
            mu2(sum(r[f"{bucket}_mu"] for r in rows))
            for bucket in ("granted", "reserved", "consumed", "remaining")
        )
    )


def ledger(session: Session, year: int, as_of: dt.date | None = None) -> QuotaBook:
    """The year's books: target, the buckets in all and per source, the entries; with
    ``as_of``, from the entries dated up to that day only (the books as they stood then)."""
    target = session.execute(
        text("SELECT target_mu FROM quota_year WHERE year = :y"), {"y": year}
    ).scalar()
    sql = _BALANCES_NOW if as_of is None else _BALANCES_AS_OF
    rows = session.execute(text(sql), {"y": year, "d": as_of}).mappings().all()
    total = _balance(rows)
    return QuotaBook(
        year=year,
        target_mu=mu2(target) if target is not None else None,
        granted_mu=total.granted,
        reserved_mu=total.reserved,
        consumed_mu=total.consumed,
        remaining_mu=total.remaining,
        by_source={r["source"]: _balance([r]) for r in rows},
        entries=_ledger_rows(
            session,
            "e.year = :y AND e.entry_date <= coalesce(CAST(:d AS date), e.entry_date)",
            {"y": year, "d": as_of},
        ),
    )


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
    return [{**r, "reserved": mu2(r["reserved"]), "consumed": mu2(r["consumed"])} for r in rows]


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
    return [
        {
            "month": month,
            "granted": mu2(granted),
            "reserved": mu2(reserved),
            "consumed": mu2(consumed),
        }
        for month, granted, reserved, consumed in rows
    ]


# --- what the land demands -------------------------------------------------------------------


def _scope(project_id: int | None, batch_id: int | None, codes: list[str] | None):
    if codes is not None:
        return "p.code = ANY(:codes)", {"codes": codes}
    if batch_id is not None:
        return "p.batch_id = :batch", {"batch": batch_id}
    if project_id is not None:
        return "p.project_id = :project", {"project": project_id}
    raise QuotaRefused(
        msg("quota_demand_needs_scope", "give a project, a batch or parcel codes"), 400
    )


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
    where += " AND p.retired_on IS NULL"  # the parcels in force
    count, parcels_mu, found_codes = session.execute(
        text(
            f"SELECT count(*), coalesce(sum(p.area_mu), 0), array_agg(p.code) "
            f"FROM parcel p WHERE {where}"
        ),
        params,
    ).one()
    if codes is not None:
        unknown = sorted(set(codes) - set(found_codes or []))
        if unknown:
            raise QuotaRefused(
                msg("quota_unknown_parcels", "unknown parcel codes: %(codes)s", codes=unknown),
                404,
            )
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
        category = landuse.category(code)
        totals[category] += mu
        if landuse.is_cultivated(code):
            cultivated += mu
        classes.append(
            {"code": code, "name": landuse.name_of(code), "category": category, "mu": mu2(mu)}
        )
        if category == "unknown":
            unknown_codes.append({"code": code, "mu": mu2(mu)})
    return {
        "parcels": count,
        "parcels_mu": mu2(parcels_mu),
        "agricultural_mu": mu2(totals["agricultural"]),
        "cultivated_mu": mu2(cultivated),
        "construction_mu": mu2(totals["construction"]),
        "other_mu": mu2(totals["other"]),
        "unknown_mu": mu2(totals["unknown"]),
        "unknown_codes": unknown_codes,
        "not_surveyed_mu": mu2(max(parcels_mu - sum(totals.values()), 0.0)),
        "by_class": classes,
    }


def reserve_demand(
    session: Session,
    year: int,
    source: QuotaSource | str,
    project_id: int,
    batch_id: int | None,
    user: str,
    ref: str = "",
    note: str = "",
    day: dt.date | None = None,
) -> LedgerRow:
    """Reserve, in one step, the agricultural land a project or batch takes."""
    need = demand(session, project_id=project_id, batch_id=batch_id)
    mu = Decimal(str(need["agricultural_mu"]))
    if mu <= 0:
        raise QuotaRefused(
            msg(
                "quota_nothing_to_reserve",
                "this land takes no agricultural land: nothing to reserve",
            ),
            409,
        )
    entry = Entry(
        year,
        QuotaKind.RESERVE,
        source,
        mu,
        project_id,
        batch_id,
        None,
        ref,
        note or "按地类核算的用地需求",
        day,
    )
    return record(session, entry, user)


def demand_vs_reserved(session: Session, year: int) -> list[BatchQuota]:
    """Each acquisition batch in the year's ledger (see BatchQuota)."""
    batches = session.execute(
        text("""
        SELECT b.id, b.name, b.project_id, p.name AS project, z.code AS zone,
               lm_quota_status(b.project_id, b.id, :y) AS status,
               (SELECT coalesce(sum(d_reserved), 0) FROM quota_entry e
                WHERE e.year = :y AND e.batch_id = b.id) AS reserved,
               (SELECT coalesce(sum(d_consumed), 0) FROM quota_entry e
                WHERE e.year = :y AND e.batch_id = b.id) AS consumed
        FROM acquisition_batch b JOIN project p ON p.id = b.project_id
        LEFT JOIN zone z ON z.id = p.zone_id
        ORDER BY z.code, p.name, b.due"""),
        {"y": year},
    ).all()
    out = []
    for batch in batches:
        need = demand(session, batch_id=batch.id)
        out.append(
            BatchQuota(
                id=batch.id,
                name=batch.name,
                project_id=batch.project_id,
                project=batch.project,
                zone=batch.zone,
                year=year,
                agricultural_mu=need["agricultural_mu"],
                cultivated_mu=need["cultivated_mu"],
                reserved_mu=mu2(batch.reserved),
                consumed_mu=mu2(batch.consumed),
                status=batch.status,
                parcels=need["parcels"],
                area_mu=need["parcels_mu"],
            )
        )
    return out
