"""From cleared land to working land: a parcel's supply (供地), its construction events (动工,
停工, 复工, 竣工, 投产) and its building facts (migration 0018).

The rules (the one place each lives):
- supply: land is supplied once it is 整理到位 (cleared) or 国有已收储 (state land in hand) on
  the supply date, and only once: a later change is a correction, a new row naming the one it
  corrects (which needs no stage). The contracted start lies on or after the supply date, the
  contracted completion on or after the start.
- construction: under the supply in force on its day, never before the supply date, never
  dated before the parcel's last event; in the order NEXT gives (started before completed
  before commissioned; stopped and resumed only between started and completed); a stop
  carries its reason.
- buildings: as measured on a day (today unless given); the footprint of buildings,
  structures and yards (industrial building coefficient) is at least the building footprint.

Every table is append-only; the database keeps the as-of (lm_supply_in_force,
lm_construction_as_of, lm_building_as_of), the parcel's land user and a commercial plot's
transfer in step with the supply, and audits every row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from landmap.db.errors import pg_message
from landmap.db.models import ConstructionEvent as EventRow
from landmap.db.models import LandSupply, ParcelBuilding
from landmap.domain import (
    EARLIEST_DATE,
    READY_FOR_SUPPLY,
    ConstructionEvent,
    LabelledEnum,
    Stage,
    SupplyMethod,
    TransferWay,
    iso_day,
    today,
)
from landmap.geo.units import mu2
from landmap.messages import Message, msg, term
from landmap.services import Refused, Result
from landmap.services.acquisition import before_last_change, event_day_problem
from landmap.services.enterprises import find_enterprise, text_value

LATEST_DUE = dt.date(2100, 12, 31)  # the latest contracted date the register takes
MAX_MONEY = Decimal("999999999999.99")  # numeric(14, 2): 万元, or m²
MAX_ID = 2**31 - 1
MAX_CONTRACT = 100
MAX_NOTE = 2000

# what may follow a parcel's last construction event (None: nothing recorded yet)
NEXT: dict[ConstructionEvent | None, tuple[ConstructionEvent, ...]] = {
    None: (ConstructionEvent.STARTED,),
    ConstructionEvent.STARTED: (ConstructionEvent.STOPPED, ConstructionEvent.COMPLETED),
    ConstructionEvent.STOPPED: (ConstructionEvent.RESUMED,),
    ConstructionEvent.RESUMED: (ConstructionEvent.STOPPED, ConstructionEvent.COMPLETED),
    ConstructionEvent.COMPLETED: (ConstructionEvent.COMMISSIONED,),
    ConstructionEvent.COMMISSIONED: (),
}

# the fields of the requests, as people call them
FIELDS = {
    "method": term("supply method"),
    "way": term("transfer way"),
    "date": term("date"),
    "contract_no": term("contract number"),
    "enterprise": term("land user"),
    "price_wan": term("price (10,000 yuan)"),
    "start_due": term("contracted start date"),
    "completion_due": term("contracted completion date"),
    "investment_wan": term("planned investment (10,000 yuan)"),
    "floor_area_m2": term("floor area (m²)"),
    "note": term("note"),
    "corrects": term("supply corrected"),
    "event": term("construction event"),
    "developed_m2": term("area developed (m²)"),
    "invested_wan": term("investment made (10,000 yuan)"),
    "footprint_m2": term("building footprint (m²)"),
    "industrial_cover_m2": term("footprint of buildings, structures and yards (m²)"),
}


# --- reading a request ---------------------------------------------------------------------


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:40] + "…"


def _required(name: str) -> Refused:
    return Refused(msg("supply_field_required", "%(what)s is required", what=FIELDS[name]))


def _absent(value: Any) -> bool:
    return value is None or value == ""


def _choice(data: Mapping[str, Any], name: str, enum: type[LabelledEnum], required: bool):
    """A member of ``enum`` by its id or label (LabelledEnum.parse); None when absent."""
    value = data.get(name)
    if _absent(value):
        if required:
            raise _required(name)
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise Refused(
            msg(
                "supply_not_a_choice",
                "%(what)s must be one of: %(choices)s",
                what=FIELDS[name],
                choices=list(enum),
            )
        )
    return enum.parse(value)


def _day(
    data: Mapping[str, Any], name: str, required: bool = True, future: bool = False
) -> dt.date | None:
    """A YYYY-MM-DD date: an event's from EARLIEST_DATE to today, a contracted one (``future``)
    up to LATEST_DUE."""
    value = data.get(name)
    if _absent(value):
        if required:
            raise _required(name)
        return None
    try:
        day = iso_day(value)
    except ValueError as exc:
        raise Refused(
            msg(
                "not_a_day",
                "%(name)s must be a date YYYY-MM-DD; got %(value)s",
                name=FIELDS[name],
                value=_shown(value),
            )
        ) from exc
    if future and not EARLIEST_DATE <= day <= LATEST_DUE:
        raise Refused(
            msg(
                "supply_due_out_of_range",
                "%(name)s must lie from %(earliest)s to %(latest)s; got %(value)s",
                name=FIELDS[name],
                earliest=EARLIEST_DATE,
                latest=LATEST_DUE,
                value=_shown(value),
            )
        )
    why = None if future else event_day_problem(day)
    if why:
        raise Refused(why)
    return day


def _amount(data: Mapping[str, Any], name: str, required: bool) -> Decimal | None:
    """A figure (万元 or m²) from 0 to MAX_MONEY, exact; None when absent."""
    value = data.get(name)
    if _absent(value):
        if required:
            raise _required(name)
        return None
    number = None
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            number = Decimal(str(value).strip()) if len(str(value)) <= 40 else None
        except InvalidOperation:
            number = None
    if number is None or not number.is_finite() or not 0 <= number <= MAX_MONEY:
        raise Refused(
            msg(
                "not_a_number",
                "%(name)s must be a number from %(lo)s to %(hi)s; got %(value)s",
                name=FIELDS[name],
                lo=0,
                hi=MAX_MONEY,
                value=_shown(value),
            )
        )
    return number.quantize(Decimal("0.01"))


def _note(data: Mapping[str, Any], name: str = "note") -> str:
    return text_value(data.get(name), FIELDS[name], MAX_NOTE)


def _supply_id(data: Mapping[str, Any]) -> int | None:
    value = data.get("corrects")
    if _absent(value):
        return None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 10:
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID:
        raise Refused(
            msg(
                "supply_corrects_not_an_id",
                "%(what)s must be the id of a supply; got %(value)s",
                what=FIELDS["corrects"],
                value=_shown(value),
            )
        )
    return value


@dataclass(frozen=True)
class SupplyInput:
    """A supply as asked for, checked field by field."""

    method: SupplyMethod
    way: TransferWay | None
    day: dt.date
    contract_no: str
    enterprise: Any
    price_wan: Decimal
    start_due: dt.date
    completion_due: dt.date
    investment_wan: Decimal | None
    floor_area_m2: Decimal | None
    note: str
    corrects: int | None


def supply_input(data: Mapping[str, Any]) -> SupplyInput:
    """The API shape of a supply (see the module), checked; Refused (400) naming the field."""
    method = _choice(data, "method", SupplyMethod, True)
    way = _choice(data, "way", TransferWay, False)
    if way is not None and method is not SupplyMethod.TRANSFER:
        raise Refused(
            msg(
                "supply_way_only_for_transfer",
                "a transfer way (%(way)s) goes only with a transfer, not with %(method)s",
                way=way,
                method=method,
            )
        )
    found = SupplyInput(
        method=method,
        way=way,
        day=_day(data, "date"),  # type: ignore[arg-type]
        contract_no=text_value(
            data.get("contract_no"), FIELDS["contract_no"], MAX_CONTRACT, required=True
        ),
        enterprise=None if _absent(data.get("enterprise")) else data.get("enterprise"),
        price_wan=_amount(data, "price_wan", True),  # type: ignore[arg-type]
        start_due=_day(data, "start_due", future=True),  # type: ignore[arg-type]
        completion_due=_day(data, "completion_due", future=True),  # type: ignore[arg-type]
        investment_wan=_amount(data, "investment_wan", False),
        floor_area_m2=_amount(data, "floor_area_m2", False),
        note=_note(data),
        corrects=_supply_id(data),
    )
    _check_dues(found)
    return found


def _check_dues(found: SupplyInput) -> None:
    if found.start_due < found.day:
        raise Refused(
            msg(
                "supply_start_before_supply",
                "the contracted start date %(start)s lies before the supply date %(day)s",
                start=found.start_due,
                day=found.day,
            )
        )
    if found.completion_due < found.start_due:
        raise Refused(
            msg(
                "supply_completion_before_start",
                "the contracted completion date %(end)s lies before the contracted start "
                "date %(start)s",
                end=found.completion_due,
                start=found.start_due,
            )
        )
    if found.floor_area_m2 is not None and found.floor_area_m2 <= 0:
        raise Refused(
            msg(
                "supply_floor_area_zero",
                "%(what)s must be more than 0",
                what=FIELDS["floor_area_m2"],
            )
        )


# --- writing ---------------------------------------------------------------------------------


def _parcel(session: Session, code: Any) -> Any:
    """The parcel ``code`` (in the register now), locked; Refused (404) otherwise."""
    shown = str(code)[:80]
    row = None
    if isinstance(code, str) and len(code) <= 80:
        row = session.execute(
            text("""SELECT p.id, p.code, p.stage, p.created_on FROM parcel p
                    WHERE p.code = :c AND p.retired_on IS NULL FOR UPDATE OF p"""),
            {"c": code},
        ).first()
    if row is None:
        raise Refused(msg("no_such_parcel", "there is no parcel %(code)s", code=shown), 404)
    return row


def _insert(session: Session, row: Any) -> None:
    """Add ``row``; what the database refuses is a 409 saying why."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except DBAPIError as exc:
        why = pg_message(exc)
        raise Refused(
            msg("register_refused_change", "the register refused the change: %(why)s", why=why),
            409,
        ) from exc


def _stage_on(session: Session, parcel: Any, day: dt.date) -> Stage:
    found = session.execute(
        text("SELECT lm_stage_as_of(:p, :s, :d)"), {"p": parcel.id, "s": parcel.stage, "d": day}
    ).scalar_one()
    return Stage(found)


def _check_suppliable(session: Session, parcel: Any, asked: SupplyInput) -> None:
    """A first supply: of land cleared or in state hands on its day, not supplied yet."""
    if parcel.created_on and asked.day < parcel.created_on:
        raise Refused(
            msg(
                "supply_before_parcel",
                "%(code)s is in the register only from %(created)s, not on %(day)s",
                code=parcel.code,
                created=parcel.created_on,
                day=asked.day,
            ),
            409,
        )
    stage = _stage_on(session, parcel, asked.day)
    if stage not in READY_FOR_SUPPLY:
        raise Refused(
            msg(
                "supply_needs_cleared_land",
                "%(code)s cannot be supplied on %(day)s: it is at %(stage)s; land is supplied "
                "once it is %(ready)s or %(state)s",
                code=parcel.code,
                day=asked.day,
                stage=stage,
                ready=Stage.CLEARED,
                state=Stage.STATE_OWNED,
            ),
            409,
        )
    current = _in_force_row(session, parcel.id, None)
    if current is not None:
        raise Refused(
            msg(
                "supply_already_supplied",
                "%(code)s is already supplied (contract %(contract)s of %(day)s): record a "
                "correction of that supply instead",
                code=parcel.code,
                contract=current.contract_no,
                day=current.supplied_on,
            ),
            409,
        )


def _check_correction(session: Session, parcel: Any, corrects: int) -> None:
    row = session.execute(
        text("""SELECT s.parcel_id, c.id AS corrected_by FROM land_supply s
                LEFT JOIN land_supply c ON c.corrects = s.id WHERE s.id = :i"""),
        {"i": corrects},
    ).first()
    if row is None or row.parcel_id != parcel.id:
        raise Refused(
            msg(
                "supply_not_of_parcel",
                "supply %(id)s is not a supply of %(code)s",
                id=corrects,
                code=parcel.code,
            ),
            409,
        )
    if row.corrected_by is not None:
        raise Refused(
            msg(
                "supply_already_corrected",
                "supply %(id)s has already been corrected by supply %(by)s: correct that one",
                id=corrects,
                by=row.corrected_by,
            ),
            409,
        )


def record_supply(session: Session, code: Any, data: Mapping[str, Any], actor: str) -> Supply:
    """Record the supply of parcel ``code`` (the API shape: see supply_input); a correction
    (``corrects``) replaces the supply it names. Returns the supply now in force."""
    asked = supply_input(data)
    parcel = _parcel(session, code)
    if asked.corrects is None:
        _check_suppliable(session, parcel, asked)
    else:
        _check_correction(session, parcel, asked.corrects)
    enterprise_id = None if asked.enterprise is None else find_enterprise(session, asked.enterprise)
    row = LandSupply(
        parcel_id=parcel.id,
        method=asked.method.value,
        transfer_way=asked.way.value if asked.way else None,
        supplied_on=asked.day,
        contract_no=asked.contract_no,
        enterprise_id=enterprise_id,
        price_wan=asked.price_wan,
        start_due=asked.start_due,
        completion_due=asked.completion_due,
        investment_wan=asked.investment_wan,
        floor_area_m2=asked.floor_area_m2,
        note=asked.note,
        corrects=asked.corrects,
        recorded_by=actor,
    )
    _insert(session, row)
    return _supply(session, row.id)  # type: ignore[return-value]


def _out_of_order(event: ConstructionEvent, last: ConstructionEvent | None) -> Message | None:
    allowed = NEXT[last]
    if event in allowed:
        return None
    if last is None:
        return msg(
            "construction_needs_start",
            "%(event)s needs %(started)s first",
            event=event,
            started=ConstructionEvent.STARTED,
        )
    return msg(
        "construction_out_of_order",
        "%(event)s cannot follow %(last)s; what may follow it: %(next)s",
        event=event,
        last=last,
        next=list(allowed) or term("nothing"),
    )


def _check_event(session: Session, parcel: Any, event: ConstructionEvent, day: dt.date) -> None:
    """Refused (409) unless ``event`` on ``day`` follows the parcel's events in order."""
    supply = _in_force_row(session, parcel.id, day)
    if supply is None:
        raise Refused(
            msg(
                "construction_not_supplied",
                "%(code)s was not supplied on %(day)s: construction is recorded on supplied "
                "land, from its supply date",
                code=parcel.code,
                day=day,
            ),
            409,
        )
    last = session.execute(
        text("""SELECT max(happened_on) FROM construction_event WHERE parcel_id = :p"""),
        {"p": parcel.id},
    ).scalar()
    if last and day < last:
        raise Refused(before_last_change(day, last), 409)
    previous = session.execute(
        text("""SELECT e.event FROM construction_event e
                WHERE e.id = lm_construction_as_of(:p, NULL)"""),
        {"p": parcel.id},
    ).scalar()
    why = _out_of_order(event, ConstructionEvent(previous) if previous else None)
    if why:
        raise Refused(why, 409)


def record_construction(
    session: Session, code: Any, data: Mapping[str, Any], actor: str = ""
) -> Construction:
    """Record a construction event ``{"event", "date", "note", "developed_m2"?,
    "invested_wan"?}`` of parcel ``code``; a stop needs its reason in the note."""
    event = _choice(data, "event", ConstructionEvent, True)
    day = _day(data, "date")
    note = _note(data)
    if event is ConstructionEvent.STOPPED and not note:
        raise Refused(msg("construction_stop_needs_reason", "a stop needs its reason in the note"))
    developed = _amount(data, "developed_m2", False)
    invested = _amount(data, "invested_wan", False)
    parcel = _parcel(session, code)
    _check_event(session, parcel, event, day)  # type: ignore[arg-type]
    row = EventRow(
        parcel_id=parcel.id,
        event=event.value,
        happened_on=day,
        note=note,
        developed_m2=developed,
        invested_wan=invested,
        recorded_by=actor,
    )
    _insert(session, row)
    return _construction(session, row.id)  # type: ignore[return-value]


def record_buildings(
    session: Session, code: Any, data: Mapping[str, Any], actor: str = ""
) -> Buildings:
    """Record parcel ``code``'s building facts ``{"floor_area_m2", "footprint_m2",
    "industrial_cover_m2"?, "date"? (today), "note"?}`` (m²)."""
    floor = _amount(data, "floor_area_m2", True)
    footprint = _amount(data, "footprint_m2", True)
    cover = _amount(data, "industrial_cover_m2", False)
    day = _day(data, "date", required=False) or today()
    note = _note(data)
    if cover is not None and footprint is not None and cover < footprint:
        raise Refused(
            msg(
                "buildings_cover_below_footprint",
                "the footprint of buildings, structures and yards (%(cover)s m²) is less than "
                "the building footprint (%(footprint)s m²)",
                cover=cover,
                footprint=footprint,
            )
        )
    parcel = _parcel(session, code)
    row = ParcelBuilding(
        parcel_id=parcel.id,
        measured_on=day,
        floor_area_m2=floor,
        footprint_m2=footprint,
        industrial_cover_m2=cover,
        note=note,
        recorded_by=actor,
    )
    _insert(session, row)
    return _buildings(session, row.id)  # type: ignore[return-value]


# --- reading ---------------------------------------------------------------------------------


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Supply(Result):
    """A supply (供地): money in 万元, floor area in m²; labels in Chinese and English."""

    id: int
    method: str
    method_zh: str
    method_en: str
    way: str | None
    way_zh: str | None
    way_en: str | None
    date: dt.date
    contract_no: str
    enterprise_id: int | None
    enterprise: str | None
    price_wan: float
    start_due: dt.date
    completion_due: dt.date
    investment_wan: float | None
    floor_area_m2: float | None
    note: str
    corrects: int | None
    corrected_by: int | None
    recorded_at: dt.datetime
    recorded_by: str


@dataclass(frozen=True)
class Construction(Result):
    """A construction event (项目建设): developed area in m², investment in 万元."""

    id: int
    supply_id: int
    event: str
    event_zh: str
    event_en: str
    date: dt.date
    note: str
    developed_m2: float | None
    invested_wan: float | None
    recorded_at: dt.datetime
    recorded_by: str


@dataclass(frozen=True)
class Buildings(Result):
    """A parcel's building facts as measured on ``date`` (m²)."""

    id: int
    date: dt.date
    floor_area_m2: float
    footprint_m2: float
    industrial_cover_m2: float | None
    note: str
    recorded_at: dt.datetime
    recorded_by: str


_SUPPLY_SQL = """
    SELECT s.*, e.name AS enterprise, c.id AS corrected_by FROM land_supply s
    LEFT JOIN enterprise e ON e.id = s.enterprise_id
    LEFT JOIN land_supply c ON c.corrects = s.id
"""


def _supply_of_row(r: Any) -> Supply:
    method = SupplyMethod(r.method)
    way = TransferWay(r.transfer_way) if r.transfer_way else None
    return Supply(
        id=r.id,
        method=method.value,
        method_zh=method.label_zh,
        method_en=method.label_en,
        way=way.value if way else None,
        way_zh=way.label_zh if way else None,
        way_en=way.label_en if way else None,
        date=r.supplied_on,
        contract_no=r.contract_no,
        enterprise_id=r.enterprise_id,
        enterprise=r.enterprise,
        price_wan=float(r.price_wan),
        start_due=r.start_due,
        completion_due=r.completion_due,
        investment_wan=_money(r.investment_wan),
        floor_area_m2=_money(r.floor_area_m2),
        note=r.note,
        corrects=r.corrects,
        corrected_by=r.corrected_by,
        recorded_at=r.recorded_at,
        recorded_by=r.recorded_by,
    )


def _construction_of_row(r: Any) -> Construction:
    event = ConstructionEvent(r.event)
    return Construction(
        id=r.id,
        supply_id=r.supply_id,
        event=event.value,
        event_zh=event.label_zh,
        event_en=event.label_en,
        date=r.happened_on,
        note=r.note,
        developed_m2=_money(r.developed_m2),
        invested_wan=_money(r.invested_wan),
        recorded_at=r.recorded_at,
        recorded_by=r.recorded_by,
    )


def _buildings_of_row(r: Any) -> Buildings:
    return Buildings(
        id=r.id,
        date=r.measured_on,
        floor_area_m2=float(r.floor_area_m2),
        footprint_m2=float(r.footprint_m2),
        industrial_cover_m2=_money(r.industrial_cover_m2),
        note=r.note,
        recorded_at=r.recorded_at,
        recorded_by=r.recorded_by,
    )


def _in_force_row(session: Session, parcel_id: int, day: dt.date | None) -> Any:
    return session.execute(
        text("SELECT * FROM land_supply WHERE id = lm_supply_in_force(:p, CAST(:d AS date))"),
        {"p": parcel_id, "d": day},
    ).first()


def _supply(session: Session, supply_id: int) -> Supply | None:
    row = session.execute(text(_SUPPLY_SQL + " WHERE s.id = :i"), {"i": supply_id}).first()
    return _supply_of_row(row) if row else None


def _construction(session: Session, event_id: int) -> Construction | None:
    row = session.execute(
        text("SELECT * FROM construction_event WHERE id = :i"), {"i": event_id}
    ).first()
    return _construction_of_row(row) if row else None


def _buildings(session: Session, building_id: int) -> Buildings | None:
    row = session.execute(
        text("SELECT * FROM parcel_building WHERE id = :i"), {"i": building_id}
    ).first()
    return _buildings_of_row(row) if row else None


def supply_of(session: Session, parcel_id: int, as_of: dt.date | None = None) -> Supply | None:
    """The supply in force on ``as_of`` (None: now), or None."""
    found = session.execute(
        text("SELECT lm_supply_in_force(:p, CAST(:d AS date))"), {"p": parcel_id, "d": as_of}
    ).scalar()
    return _supply(session, found) if found else None


def construction_of(
    session: Session, parcel_id: int, as_of: dt.date | None = None
) -> Construction | None:
    """The last construction event on ``as_of`` (None: now) under the supply in force then."""
    found = session.execute(
        text("SELECT lm_construction_as_of(:p, CAST(:d AS date))"), {"p": parcel_id, "d": as_of}
    ).scalar()
    return _construction(session, found) if found else None


def buildings_of(
    session: Session, parcel_id: int, as_of: dt.date | None = None
) -> Buildings | None:
    """The building facts last measured by ``as_of`` (None: now), or None."""
    found = session.execute(
        text("SELECT lm_building_as_of(:p, CAST(:d AS date))"), {"p": parcel_id, "d": as_of}
    ).scalar()
    return _buildings(session, found) if found else None


def _parcel_id(session: Session, code: Any) -> int | None:
    if not isinstance(code, str) or len(code) > 80:
        return None
    return session.execute(text("SELECT id FROM parcel WHERE code = :c"), {"c": code}).scalar()


def parcel_facts(session: Session, code: str, as_of: dt.date | None = None) -> dict[str, Any]:
    """``supply``, ``construction`` and ``buildings`` of parcel ``code`` on ``as_of`` (None:
    now), as the parcel's detail carries them (None where there is none)."""
    pid = _parcel_id(session, code)
    if pid is None:
        return {"supply": None, "construction": None, "buildings": None}
    found = (
        supply_of(session, pid, as_of),
        construction_of(session, pid, as_of),
        buildings_of(session, pid, as_of),
    )
    return {
        key: None if value is None else value.as_dict()
        for key, value in zip(("supply", "construction", "buildings"), found, strict=True)
    }


def history(session: Session, code: str) -> dict[str, list[dict[str, Any]]] | None:
    """Parcel ``code``'s supplies (corrections included), construction events and building
    facts, each oldest first; None for an unknown code."""
    pid = _parcel_id(session, code)
    if pid is None:
        return None
    supplies = session.execute(
        text(_SUPPLY_SQL + " WHERE s.parcel_id = :p ORDER BY s.supplied_on, s.id"), {"p": pid}
    )
    events = session.execute(
        text("""SELECT * FROM construction_event WHERE parcel_id = :p
                ORDER BY happened_on, id"""),
        {"p": pid},
    )
    buildings = session.execute(
        text("SELECT * FROM parcel_building WHERE parcel_id = :p ORDER BY measured_on, id"),
        {"p": pid},
    )
    return {
        "supply": [_supply_of_row(r).as_dict() for r in supplies],
        "construction": [_construction_of_row(r).as_dict() for r in events],
        "buildings": [_buildings_of_row(r).as_dict() for r in buildings],
    }


# --- a project's plots -----------------------------------------------------------------------


@dataclass(frozen=True)
class PlotState(Result):
    """Where one of a project's parcels stands in supply and construction on a day."""

    code: str
    mu: float
    supply: Supply | None
    started_on: dt.date | None
    completed_on: dt.date | None
    commissioned_on: dt.date | None
    last_event: str | None  # the last construction event's id (ConstructionEvent)
    days_late: int  # days past the contracted start without (or before) the start


def _first(events: list[Any], kind: ConstructionEvent) -> dt.date | None:
    return next((e.happened_on for e in events if e.event == kind.value), None)


def project_plots(session: Session, project_id: int, as_of: dt.date | None) -> list[PlotState]:
    """Each parcel of the project (in force on ``as_of``, None: now), by code, with its supply
    and construction then; ``days_late`` counted to ``as_of`` (else today)."""
    day = as_of or today()
    rows = session.execute(
        text("""SELECT p.id, p.code, p.area_mu, lm_supply_in_force(p.id, CAST(:as_of AS date))
                       AS supply_id
                FROM parcel p WHERE p.project_id = :pr
                  AND lm_parcel_in_force(p.created_on, p.retired_on, CAST(:as_of AS date))
                ORDER BY p.code"""),
        {"pr": project_id, "as_of": as_of},
    ).all()
    out = []
    for r in rows:
        supply = _supply(session, r.supply_id) if r.supply_id else None
        events = session.execute(
            text("""SELECT event, happened_on FROM construction_event
                    WHERE supply_id = :s AND happened_on <= :d ORDER BY happened_on, id"""),
            {"s": r.supply_id, "d": day},
        ).all()
        started = _first(events, ConstructionEvent.STARTED)
        late = 0
        if supply is not None:
            late = max(0, ((started or day) - supply.start_due).days)
        out.append(
            PlotState(
                code=r.code,
                mu=mu2(r.area_mu),
                supply=supply,
                started_on=started,
                completed_on=_first(events, ConstructionEvent.COMPLETED),
                commissioned_on=_first(events, ConstructionEvent.COMMISSIONED),
                last_event=events[-1].event if events else None,
                days_late=late,
            )
        )
    return out
