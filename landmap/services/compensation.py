"""Compensation and resettlement (补偿安置, migration 0024): standards, households, the
compensation computed from the standard, agreements, payments, and the money of a project or
batch against its stages.

The rules (the one place each lives):
- standards: issued, never edited; the one in force for a household on a day is the latest
  of its zone's area (the zone's code) taking effect by then, else of the whole zone (area
  ""). A household's compensation is computed under the standard in force on its agreement's
  day (today, or the day asked, before it has one).
- the computation (compute): land and young crops per mu of each land class of the
  household's parcels (the land-use survey's DLTB patches over the parcel, the rest of the
  parcel by its own land-use code: landuse.land_class), each parcel's land shared equally
  among the households on it; social security per mu of its agricultural land; each legal
  house by its structure per m² (an unregistered house is listed at 0: an adjustment of the
  agreement may award it); attachments per item; the relocation subsidy once; the
  transitional subsidy per member for the standard's months; the early-signing award when
  signed by the standard's day. A quantity is rounded to 4 decimals, an amount to the fen
  (0.01 元) from the rounded quantity; the total is the sum of the amounts. What the
  household has and the standard has no rate for is listed as ``unrated``, outside the total.
- an agreement's amount is the computed total plus its adjustments, each with a reason; a
  household has one agreement, a correction is a new version naming the one in force.
- payments are append-only, after the agreement's day, never beyond what is agreed (the
  database's household_balance refuses it too); a correction reverses one payment exactly.
- the stages follow the money: lm_households_blocking (the database) says which households
  keep a parcel from 协议签订 and later (no agreement by the day) or from 补偿兑付 and later
  (not paid in full by the day); services.acquisition refuses the move naming them.
- ID and phone numbers are sealed (services.personal); shown masked unless the reader may
  handle agreements (permission "compensation"), and each unmasked read is audited.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from landmap import landuse
from landmap.db.errors import pg_message
from landmap.domain import (
    EARLIEST_DATE,
    NEEDS_AGREEMENT,
    CompensationKind,
    HouseholdStatus,
    HouseStructure,
    LabelledEnum,
    LandClass,
    Resettlement,
    Unit,
    iso_day,
    today,
)
from landmap.messages import Message, msg, term
from landmap.services import Refused
from landmap.services.personal import (
    Sealer,
    id_number_problem,
    mask_id,
    mask_phone,
    normal_id_number,
    phone_problem,
)

FEN = Decimal("0.01")
QUANTITY = Decimal("0.0001")
MAX_YUAN = Decimal("999999999999.99")  # numeric(14, 2)
MAX_RATE = Decimal("100000000")
MAX_ITEMS = 200  # rates in one standard, houses or attachments of one household
MAX_TEXT = 100
MAX_NOTE = 2000
MAX_PARCELS = 20  # parcels of one household
LATEST = dt.date(2100, 12, 31)

FIELDS = {
    "year": term("year"),
    "effective_from": term("effective from"),
    "area": term("area (区片)"),
    "items": term("rates"),
    "kind": term("compensation item kind"),
    "class": term("class"),
    "unit": term("unit"),
    "rate_yuan": term("rate (yuan)"),
    "months": term("months"),
    "until": term("signed by"),
    "head": term("head of household"),
    "id_number": term("ID number"),
    "phone": term("phone"),
    "members": term("members"),
    "houses": term("houses"),
    "structure": term("house structure"),
    "area_m2": term("floor area (m²)"),
    "storeys": term("storeys"),
    "legal": term("registered"),
    "attachments": term("attachments"),
    "item": term("item"),
    "quantity": term("quantity"),
    "resettlement": term("resettlement"),
    "flat_area_m2": term("flat area (m²)"),
    "parcels": term("parcels"),
    "number": term("agreement number"),
    "date": term("date"),
    "amount_yuan": term("amount (yuan)"),
    "adjustments": term("adjustments"),
    "reason": term("reason"),
    "supersedes": term("agreement corrected"),
    "voucher": term("voucher number"),
    "reverses": term("payment reversed"),
    "note": term("note"),
    "budget_yuan": term("budget (yuan)"),
    "as_of": term("as-of date"),
    "flats_planned": term("resettlement flats planned"),
}


class CompensationRefused(Refused):
    pass


# --- reading a request ---------------------------------------------------------------------


def _required(name: str) -> CompensationRefused:
    return CompensationRefused(
        msg("compensation_field_required", "%(what)s is required", what=FIELDS[name])
    )


def _bad(name: str, why: Message | None = None) -> CompensationRefused:
    if why is not None:
        return CompensationRefused(
            msg(
                "compensation_field_invalid",
                "%(what)s is not valid: %(why)s",
                what=FIELDS[name],
                why=why,
            )
        )
    return CompensationRefused(
        msg("compensation_field_malformed", "%(what)s is not valid", what=FIELDS[name])
    )


def _absent(value: Any) -> bool:
    return value is None or value == ""


class Reader:
    """Reads one JSON object of a request, refusing (400) what is missing or malformed, by
    the field's name as people call it."""

    def __init__(self, data: Any):
        if not isinstance(data, Mapping):
            raise CompensationRefused(msg("json_object_expected", "a JSON object is expected"))
        self.data = data

    def text(self, name: str, required: bool = True, most: int = MAX_TEXT) -> str:
        value = self.data.get(name)
        if _absent(value):
            if required:
                raise _required(name)
            return ""
        if not isinstance(value, str):
            raise _bad(name)
        value = value.strip()
        if not value:
            if required:
                raise _required(name)
            return ""
        if len(value) > most:
            raise _bad(name, msg("text_too_long", "longer than %(most)s characters", most=most))
        if any(ord(c) < 32 for c in value if c not in "\n\t"):
            raise _bad(name, msg("text_control", "it holds a control character"))
        return value

    def number(
        self,
        name: str,
        required: bool = True,
        least: Decimal = Decimal(0),
        most: Decimal = MAX_YUAN,
        places: int = 2,
        positive: bool = False,
    ) -> Decimal | None:
        value = self.data.get(name)
        if _absent(value):
            if required:
                raise _required(name)
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _bad(name, msg("value_not_a_number", "not a number"))
        if isinstance(value, float) and not math.isfinite(value):
            raise _bad(name, msg("value_not_a_number", "not a number"))
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise _bad(name, msg("value_not_a_number", "not a number")) from None
        if not number.is_finite():
            raise _bad(name, msg("value_not_a_number", "not a number"))
        if number < least or number > most or (positive and number <= 0):
            raise _bad(
                name,
                msg("number_out_of_range", "must be from %(least)s to %(most)s", least=least,
                    most=most),
            )  # fmt: skip
        if number != number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):
            raise _bad(
                name,
                msg("too_many_decimals", "at most %(places)s decimals", places=places),
            )
        return number

    def whole(self, name: str, least: int, most: int, required: bool = True) -> int | None:
        value = self.data.get(name)
        if _absent(value):
            if required:
                raise _required(name)
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
            raise _bad(
                name,
                msg("whole_out_of_range", "a whole number from %(least)s to %(most)s",
                    least=least, most=most),
            )  # fmt: skip
        return value

    def day(self, name: str, required: bool = True, future: bool = False) -> dt.date | None:
        value = self.data.get(name)
        if _absent(value):
            if required:
                raise _required(name)
            return None
        try:
            day = iso_day(value)
        except ValueError:
            raise _bad(name, msg("not_a_date", "not a date (YYYY-MM-DD)")) from None
        latest = LATEST if future else today()
        if not EARLIEST_DATE <= day <= latest:
            raise _bad(
                name,
                msg("date_out_of_range", "must be from %(first)s to %(last)s",
                    first=EARLIEST_DATE.isoformat(), last=latest.isoformat()),
            )  # fmt: skip
        return day

    def choice(self, name: str, enum: type[LabelledEnum], required: bool = True):
        value = self.data.get(name)
        if _absent(value):
            if required:
                raise _required(name)
            return None
        if not isinstance(value, str) or len(value) > 40:
            raise _bad(name, msg("one_of", "one of: %(choices)s", choices=list(enum)))
        try:
            return enum.parse(value)
        except Refused:
            raise _bad(name, msg("one_of", "one of: %(choices)s", choices=list(enum))) from None

    def flag(self, name: str, default: bool) -> bool:
        value = self.data.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise _bad(name, msg("not_true_false", "true or false"))
        return value

    def objects(self, name: str, required: bool = False) -> list[Reader]:
        value = self.data.get(name)
        if value is None or value == []:
            if required:
                raise _required(name)
            return []
        if not isinstance(value, list):
            raise _bad(name, msg("not_a_list", "a list is expected"))
        if len(value) > MAX_ITEMS:
            raise _bad(name, msg("list_too_long", "at most %(most)s entries", most=MAX_ITEMS))
        return [Reader(v) for v in value]


def _unknown_fields(data: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(str(k)[:40] for k in data if k not in known)
    if unknown:
        raise CompensationRefused(
            msg("unknown_fields", "unknown fields: %(fields)s", fields=", ".join(unknown))
        )


def yuan(value: Decimal | float | None) -> float | None:
    """An amount of 元 as the API sends it: a number to the fen."""
    return None if value is None else float(Decimal(value).quantize(FEN, ROUND_HALF_UP))


# --- standards -----------------------------------------------------------------------------


def _area(session: Session, value: str) -> str:
    """'' (the whole zone) or a zone's code."""
    if not value or value in ("*", "全区"):
        return ""
    code = session.execute(
        text("SELECT code FROM zone WHERE code = :c OR name = :c LIMIT 1"), {"c": value}
    ).scalar()
    if code is None:
        raise CompensationRefused(
            msg(
                "compensation_area_unknown",
                "no zone %(area)s: a standard's area is a zone's code, or empty for the whole "
                "development zone",
                area=repr(value[:40]),
            ),
            400,
        )
    return code


def issue_standard(session: Session, data: Any, user: str) -> dict[str, Any]:
    """Issue a standard (see the module's rules); its id and what was issued."""
    r = Reader(data)
    _unknown_fields(r.data, {"year", "effective_from", "area", "items", "note"})
    year = r.whole("year", 1990, 2100)
    effective = r.day("effective_from", future=True)
    if effective.year != year:
        raise _bad(
            "effective_from",
            msg("standard_year_mismatch", "a standard of %(year)s takes effect in %(year)s",
                year=str(year)),
        )  # fmt: skip
    area = _area(session, r.text("area", required=False, most=16))
    note = r.text("note", required=False, most=MAX_NOTE)
    rates = []
    seen = set()
    for item in r.objects("items", required=True):
        _unknown_fields(item.data, {"kind", "class", "unit", "rate_yuan", "months", "until"})
        kind = item.choice("kind", CompensationKind)
        klass = _rate_class(kind, item)
        unit = item.choice("unit", Unit, required=False) or Unit(kind.unit)
        if unit.value != kind.unit:
            raise _bad(
                "unit",
                msg("rate_unit_wrong", "%(kind)s is per %(unit)s", kind=kind,
                    unit=Unit(kind.unit)),
            )  # fmt: skip
        rate = item.number("rate_yuan", most=MAX_RATE)
        months = item.whole("months", 1, 120, required=kind is CompensationKind.TRANSITION)
        until = item.day("until", required=kind is CompensationKind.EARLY_AWARD, future=True)
        if kind is not CompensationKind.TRANSITION and months is not None:
            raise _bad("months", msg("months_only_transition", "only for the transitional subsidy"))
        if kind is not CompensationKind.EARLY_AWARD and until is not None:
            raise _bad("until", msg("until_only_award", "only for the early-signing award"))
        if (kind, klass) in seen:
            raise CompensationRefused(
                msg("rate_twice", "%(kind)s %(class)s is given twice", kind=kind,
                    **{"class": klass or term("none")}),
            )  # fmt: skip
        seen.add((kind, klass))
        rates.append(
            {"kind": kind.value, "class": klass, "unit": kind.unit, "rate": rate,
             "months": months, "until": until}
        )  # fmt: skip
    if session.execute(
        text("SELECT 1 FROM compensation_standard WHERE area = :a AND effective_from = :d"),
        {"a": area, "d": effective},
    ).first():
        raise CompensationRefused(
            msg(
                "standard_exists",
                "a standard for this area already takes effect on %(date)s: a standard is never "
                "edited; issue one that takes effect on another day",
                date=effective.isoformat(),
            ),
            409,
        )
    standard_id = session.execute(
        text("""INSERT INTO compensation_standard (year, effective_from, area, note, recorded_by)
                VALUES (:y, :d, :a, :n, :u) RETURNING id"""),
        {"y": year, "d": effective, "a": area, "n": note, "u": user},
    ).scalar_one()
    session.execute(
        text("""INSERT INTO compensation_rate
                    (standard_id, kind, class, unit, rate_yuan, months, until)
                VALUES (:s, :kind, :class, :unit, :rate, :months, :until)"""),
        [{"s": standard_id, **rate} for rate in rates],
    )
    return standard(session, standard_id)


def _rate_class(kind: CompensationKind, item: Reader) -> str:
    if kind in (CompensationKind.LAND, CompensationKind.CROPS):
        return item.choice("class", LandClass).value
    if kind is CompensationKind.HOUSE:
        return item.choice("class", HouseStructure).value
    if kind is CompensationKind.ATTACHMENT:
        return item.text("class", most=50)
    if not _absent(item.data.get("class")):
        raise _bad("class", msg("rate_has_no_class", "%(kind)s has no class", kind=kind))
    return ""


def _class_label(kind: str, klass: str) -> Any:
    if kind in ("land", "crops"):
        return LandClass(klass)
    if kind == "house":
        return HouseStructure(klass)
    return klass


def standard(session: Session, standard_id: int) -> dict[str, Any] | None:
    row = (
        session.execute(
            text("SELECT * FROM compensation_standard WHERE id = :i"), {"i": standard_id}
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    rates = (
        session.execute(
            text("""SELECT kind, class, unit, rate_yuan, months, until FROM compensation_rate
                    WHERE standard_id = :i ORDER BY id"""),
            {"i": standard_id},
        )
        .mappings()
        .all()
    )
    return {
        "id": row["id"],
        "year": row["year"],
        "effective_from": row["effective_from"].isoformat(),
        "area": row["area"],
        "note": row["note"],
        "recorded_by": row["recorded_by"],
        "items": [
            {
                "kind": r["kind"],
                "kind_label": CompensationKind(r["kind"]),
                "class": r["class"],
                "class_label": _class_label(r["kind"], r["class"]),
                "unit": r["unit"],
                "unit_label": Unit(r["unit"]),
                "rate_yuan": yuan(r["rate_yuan"]),
                **({"months": r["months"]} if r["months"] is not None else {}),
                **({"until": r["until"].isoformat()} if r["until"] is not None else {}),
            }
            for r in rates
        ],
    }


def standards(session: Session, day: dt.date | None = None) -> list[dict[str, Any]]:
    """Every standard (latest first), or those in force on ``day`` (one per area)."""
    if day is None:
        ids = session.execute(
            text("SELECT id FROM compensation_standard ORDER BY effective_from DESC, area")
        ).scalars()
    else:
        ids = session.execute(
            text("""SELECT lm_standard_in_force(area, :d) FROM
                    (SELECT DISTINCT area FROM compensation_standard) a
                    WHERE lm_standard_in_force(area, :d) IS NOT NULL ORDER BY area"""),
            {"d": day},
        ).scalars()
    return [standard(session, i) for i in list(ids)]


# --- households ----------------------------------------------------------------------------


def _parcel_ids(session: Session, codes: Sequence[str]) -> dict[str, int]:
    found = dict(
        session.execute(
            text("SELECT code, id FROM parcel WHERE code = ANY(:c) AND retired_on IS NULL"),
            {"c": list(codes)},
        ).all()
    )
    missing = [c for c in codes if c not in found]
    if missing:
        raise CompensationRefused(
            msg("compensation_parcels_unknown", "no such parcels in the register: %(codes)s",
                codes=missing),
            404,
        )  # fmt: skip
    return found


def add_household(
    session: Session, sealer: Sealer, parcel_code: str, data: Any, user: str
) -> dict[str, Any]:
    """A household on the parcel ``parcel_code`` (and any other ``parcels`` it names), with
    its houses and attachments; its id."""
    r = Reader(data)
    _unknown_fields(
        r.data,
        {"head", "id_number", "phone", "members", "houses", "attachments", "resettlement",
         "flat_area_m2", "parcels", "note"},
    )  # fmt: skip
    head = r.text("head")
    id_number = normal_id_number(r.text("id_number", most=30))
    why = id_number_problem(id_number)
    if why is not None:
        raise _bad("id_number", why)
    phone = r.text("phone", required=False, most=30)
    if phone and (why := phone_problem(phone)) is not None:
        raise _bad("phone", why)
    members = r.whole("members", 1, 50)
    resettlement = r.choice("resettlement", Resettlement, required=False) or Resettlement.MONEY
    flat = r.number("flat_area_m2", required=False, most=Decimal(1000), positive=True)
    if resettlement is Resettlement.FLAT and flat is None:
        raise CompensationRefused(
            msg("flat_needs_area", "a flat exchange (产权调换) needs the flat's area (m²)")
        )
    if resettlement is Resettlement.MONEY and flat is not None:
        raise _bad("flat_area_m2", msg("flat_area_only_flat", "only for a flat exchange"))
    note = r.text("note", required=False, most=MAX_NOTE)
    houses = []
    for h in r.objects("houses"):
        _unknown_fields(h.data, {"structure", "area_m2", "storeys", "legal"})
        houses.append(
            {"structure": h.choice("structure", HouseStructure).value,
             "area": h.number("area_m2", most=Decimal(100000), positive=True),
             "storeys": h.whole("storeys", 1, 100, required=False) or 1,
             "legal": h.flag("legal", True)}
        )  # fmt: skip
    attachments: dict[str, Decimal] = {}
    for a in r.objects("attachments"):
        _unknown_fields(a.data, {"item", "quantity"})
        item = a.text("item", most=50)
        if item in attachments:
            raise CompensationRefused(
                msg("attachment_twice", "the attachment %(item)s is given twice", item=item)
            )
        attachments[item] = a.number("quantity", most=Decimal(1000000), positive=True)
    others = r.data.get("parcels") or []
    if not isinstance(others, list) or not all(isinstance(c, str) for c in others):
        raise _bad("parcels", msg("not_a_list_of_codes", "a list of parcel codes"))
    codes = list(dict.fromkeys([parcel_code, *(c.strip() for c in others if c.strip())]))
    if len(codes) > MAX_PARCELS:
        raise _bad("parcels", msg("list_too_long", "at most %(most)s entries", most=MAX_PARCELS))
    parcel_ids = _parcel_ids(session, codes)
    digest = sealer.digest(id_number)
    existing = session.execute(
        text("SELECT id FROM household WHERE id_digest = :d"), {"d": digest}
    ).scalar()
    if existing is not None:
        raise CompensationRefused(
            msg(
                "household_exists",
                "a household with this ID number is registered already (household %(id)s)",
                id=existing,
            ),
            409,
        )
    try:
        with session.begin_nested():
            household_id = session.execute(
                text("""INSERT INTO household (head, id_sealed, id_digest, phone_sealed, members,
                            resettlement, flat_area_m2, note, recorded_by)
                        VALUES (:head, :id, :digest, :phone, :members, :res, :flat, :note, :u)
                        RETURNING id"""),
                {"head": head, "id": sealer.seal(id_number), "digest": digest,
                 "phone": sealer.seal(phone) if phone else None, "members": members,
                 "res": resettlement.value, "flat": flat, "note": note, "u": user},
            ).scalar_one()  # fmt: skip
    except IntegrityError:  # the same person registered at the same moment
        raise CompensationRefused(
            msg("household_exists_now", "a household with this ID number is registered already"),
            409,
        ) from None
    session.execute(
        text("INSERT INTO household_parcel (household_id, parcel_id) VALUES (:h, :p)"),
        [{"h": household_id, "p": parcel_ids[c]} for c in codes],
    )
    if houses:
        session.execute(
            text("""INSERT INTO household_house (household_id, structure, area_m2, storeys, legal)
                    VALUES (:h, :structure, :area, :storeys, :legal)"""),
            [{"h": household_id, **h} for h in houses],
        )
    if attachments:
        session.execute(
            text("""INSERT INTO household_attachment (household_id, item, quantity)
                    VALUES (:h, :item, :q)"""),
            [{"h": household_id, "item": k, "q": v} for k, v in attachments.items()],
        )
    return {"id": household_id, "parcels": codes}


def _status_rows(session: Session, where: str, params: dict[str, Any], as_of: dt.date | None):
    """Households with their status, agreed and paid amounts (as of a day: the agreement in
    force then and the payments made by then)."""
    return (
        session.execute(
            text(f"""
        WITH h AS (SELECT h.* FROM household h WHERE {where}),
        agreement AS (
            SELECT DISTINCT ON (a.household_id) a.household_id, a.id, a.number, a.version,
                   a.signed_on, a.amount_yuan, a.computed_yuan
            FROM compensation_agreement a JOIN h ON h.id = a.household_id
            WHERE CAST(:as_of AS date) IS NULL OR a.signed_on <= :as_of
            ORDER BY a.household_id, a.version DESC),
        paid AS (
            SELECT pay.household_id, sum(pay.amount_yuan) AS paid_yuan, max(pay.paid_on) AS last
            FROM compensation_payment pay JOIN h ON h.id = pay.household_id
            WHERE CAST(:as_of AS date) IS NULL OR pay.paid_on <= :as_of
            GROUP BY pay.household_id)
        SELECT h.id, h.head, h.id_sealed, h.phone_sealed, h.members, h.resettlement,
               h.flat_area_m2, h.note, a.id AS agreement_id, a.number, a.version, a.signed_on,
               a.amount_yuan AS agreed_yuan, coalesce(p.paid_yuan, 0) AS paid_yuan,
               p.last AS last_paid_on,
               lm_household_status(a.id IS NOT NULL, a.amount_yuan, coalesce(p.paid_yuan, 0))
                   AS status,
               (SELECT array_agg(pc.code ORDER BY pc.code) FROM household_parcel hp
                JOIN parcel pc ON pc.id = hp.parcel_id
                WHERE hp.household_id = h.id AND pc.retired_on IS NULL) AS parcels
        FROM h LEFT JOIN agreement a ON a.household_id = h.id
        LEFT JOIN paid p ON p.household_id = h.id
        ORDER BY h.head, h.id"""),
            {**params, "as_of": as_of},
        )
        .mappings()
        .all()
    )


def _household_dict(row: Mapping[str, Any], sealer: Sealer, unmasked: bool) -> dict[str, Any]:
    id_number = sealer.open(row["id_sealed"])
    phone = sealer.open(row["phone_sealed"])
    agreed = row["agreed_yuan"]
    paid = row["paid_yuan"]
    status = HouseholdStatus(row["status"])
    return {
        "id": row["id"],
        "head": row["head"],
        "id_number": id_number if unmasked and id_number else mask_id(id_number),
        "phone": phone if unmasked else mask_phone(phone),
        "masked": not unmasked,
        "members": row["members"],
        "resettlement": row["resettlement"],
        "resettlement_label": Resettlement(row["resettlement"]),
        "flat_area_m2": float(row["flat_area_m2"]) if row["flat_area_m2"] is not None else None,
        "parcels": list(row["parcels"] or []),
        "status": status.value,
        "status_label": status,
        "colour": status.colour,
        "agreement": None
        if row["agreement_id"] is None
        else {
            "id": row["agreement_id"],
            "number": row["number"],
            "version": row["version"],
            "date": row["signed_on"].isoformat(),
        },
        "agreed_yuan": yuan(agreed) if agreed is not None else None,
        "paid_yuan": yuan(paid),
        "outstanding_yuan": yuan(max((agreed or Decimal(0)) - paid, Decimal(0))),
        "note": row["note"],
    }


def record_unmasked_view(
    session: Session, household_ids: Sequence[int], actor: str, address: str
) -> None:
    """Audit that ``actor`` read these households' ID and phone numbers unmasked."""
    session.execute(
        text("""INSERT INTO audit_log (actor, address, entity, key, action)
                VALUES (:actor, :address, 'household', :key, 'view_personal')"""),
        [{"actor": actor, "address": address[:100], "key": str(i)} for i in household_ids],
    )


def parcel_households(
    session: Session, sealer: Sealer, code: str, unmasked: bool
) -> list[dict[str, Any]] | None:
    """The households on a parcel with their status (None: no such parcel)."""
    parcel = session.execute(text("SELECT id FROM parcel WHERE code = :c"), {"c": code}).scalar()
    if parcel is None:
        return None
    rows = _status_rows(
        session,
        "h.id IN (SELECT household_id FROM household_parcel WHERE parcel_id = :p)",
        {"p": parcel},
        None,
    )
    return [_household_dict(r, sealer, unmasked) for r in rows]


def household(
    session: Session, sealer: Sealer, household_id: int, unmasked: bool
) -> dict[str, Any] | None:
    """One household: who, what it holds (houses, attachments), where it stands."""
    rows = _status_rows(session, "h.id = :h", {"h": household_id}, None)
    if not rows:
        return None
    out = _household_dict(rows[0], sealer, unmasked)
    out["houses"] = [
        {"structure": h.structure, "structure_label": HouseStructure(h.structure),
         "area_m2": float(h.area_m2), "storeys": h.storeys, "legal": h.legal}
        for h in session.execute(
            text("""SELECT structure, area_m2, storeys, legal FROM household_house
                    WHERE household_id = :h ORDER BY id"""), {"h": household_id})
    ]  # fmt: skip
    out["attachments"] = [
        {"item": a.item, "quantity": float(a.quantity)}
        for a in session.execute(
            text("""SELECT item, quantity FROM household_attachment WHERE household_id = :h
                    ORDER BY id"""), {"h": household_id})
    ]  # fmt: skip
    out["payments"] = [
        {"id": p.id, "date": p.paid_on.isoformat(), "amount_yuan": yuan(p.amount_yuan),
         "voucher": p.voucher, "reverses": p.reverses, "note": p.note}
        for p in session.execute(
            text("""SELECT id, paid_on, amount_yuan, voucher, reverses, note
                    FROM compensation_payment WHERE household_id = :h ORDER BY paid_on, id"""),
            {"h": household_id})
    ]  # fmt: skip
    out["agreements"] = [
        {"id": a.id, "version": a.version, "number": a.number, "date": a.signed_on.isoformat(),
         "computed_yuan": yuan(a.computed_yuan), "adjustments": a.adjustments,
         "amount_yuan": yuan(a.amount_yuan), "supersedes": a.supersedes, "note": a.note}
        for a in session.execute(
            text("""SELECT * FROM compensation_agreement WHERE household_id = :h
                    ORDER BY version"""), {"h": household_id})
    ]  # fmt: skip
    return out


# --- the computation -----------------------------------------------------------------------


@dataclass
class Item:
    kind: str
    klass: str
    unit: str
    quantity: Decimal
    rate: Decimal
    note: Message | None = None

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.rate).quantize(FEN, ROUND_HALF_UP)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "kind_label": CompensationKind(self.kind),
            "class": self.klass,
            "class_label": _class_label(self.kind, self.klass),
            "unit": self.unit,
            "unit_label": Unit(self.unit),
            "quantity": float(self.quantity),
            "rate_yuan": yuan(self.rate),
            "amount_yuan": yuan(self.amount),
            **({"note": self.note} if self.note is not None else {}),
        }


@dataclass
class Computation:
    household_id: int
    day: dt.date
    standard_id: int | None
    items: list[Item] = field(default_factory=list)
    unrated: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((i.amount for i in self.items), Decimal(0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "household": self.household_id,
            "date": self.day.isoformat(),
            "standard": self.standard_id,
            "items": [i.as_dict() for i in self.items],
            "unrated": self.unrated,
            "total_yuan": yuan(self.total),
        }


def _q(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(QUANTITY, ROUND_HALF_UP)


def _standards_for(
    session: Session, household_ids: Sequence[int], days: Mapping[int, dt.date]
) -> dict[int, int | None]:
    """The standard in force for each household on its day: its first parcel's zone's area,
    else the whole zone's."""
    rows = session.execute(
        text("""
        SELECT h.id, coalesce(lm_standard_in_force(z.code, d.day), lm_standard_in_force('', d.day))
        FROM unnest(CAST(:ids AS integer[]), CAST(:days AS date[])) AS d(id, day)
        JOIN household h ON h.id = d.id
        LEFT JOIN LATERAL (SELECT z.code FROM household_parcel hp
                           JOIN parcel p ON p.id = hp.parcel_id
                           JOIN zone z ON z.id = p.zone_id WHERE hp.household_id = h.id
                           ORDER BY p.code LIMIT 1) z ON true"""),
        {"ids": list(household_ids), "days": [days[i] for i in household_ids]},
    ).all()
    return dict(rows)


def _land(session: Session, household_ids: Sequence[int]) -> dict[int, dict[str, Decimal]]:
    """Each household's mu by land class: the DLTB patches over each of its parcels, the rest
    of the parcel by its own land-use code, shared equally among the parcel's households."""
    rows = session.execute(
        text("""
        WITH hp AS (  -- the parcels in force (a split's pieces, not the parcel split)
            SELECT hp.household_id, hp.parcel_id,
                   (SELECT count(*) FROM household_parcel o WHERE o.parcel_id = hp.parcel_id) AS n
            FROM household_parcel hp JOIN parcel q ON q.id = hp.parcel_id
            WHERE hp.household_id = ANY(:ids) AND q.retired_on IS NULL),
        patches AS (
            SELECT p.id, l.land_use_code, sum(lm_area_mu(ST_Intersection(p.geom, l.geom))) AS mu
            FROM parcel p JOIN landuse_patch l ON ST_Intersects(p.geom, l.geom)
            WHERE p.id IN (SELECT parcel_id FROM hp)
            GROUP BY p.id, l.land_use_code),
        pieces AS (
            SELECT id, land_use_code, mu FROM patches
            UNION ALL
            SELECT p.id, p.land_use_code,
                   p.area_mu - coalesce((SELECT sum(mu) FROM patches s WHERE s.id = p.id), 0)
            FROM parcel p WHERE p.id IN (SELECT parcel_id FROM hp))
        SELECT hp.household_id, x.land_use_code, x.mu / hp.n AS mu
        FROM hp JOIN pieces x ON x.id = hp.parcel_id WHERE x.mu > 0.00005"""),
        {"ids": list(household_ids)},
    ).all()
    out: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for household_id, code, mu in rows:
        out[household_id][landuse.land_class(code or "")] += Decimal(str(mu))
    return out


def compute_many(
    session: Session, household_ids: Sequence[int], day: dt.date | None = None
) -> dict[int, Computation]:
    """The compensation of each household under the standard in force on its agreement's
    day (``day`` or today before it has one)."""
    if not household_ids:
        return {}
    ids = list(dict.fromkeys(household_ids))
    signed = dict(
        session.execute(
            text("""SELECT DISTINCT ON (household_id) household_id, signed_on
                    FROM compensation_agreement WHERE household_id = ANY(:ids)
                    ORDER BY household_id, version DESC"""),
            {"ids": ids},
        ).all()
    )
    return _compute(session, ids, {i: signed.get(i) or day or today() for i in ids})


def _compute(session: Session, ids: list[int], days: dict[int, dt.date]) -> dict[int, Computation]:
    standard_of = _standards_for(session, ids, days)
    rates: dict[int, dict[tuple[str, str], Any]] = defaultdict(dict)
    used = sorted({s for s in standard_of.values() if s is not None})
    for r in session.execute(
        text("SELECT * FROM compensation_rate WHERE standard_id = ANY(:s)"), {"s": used}
    ).mappings():
        rates[r["standard_id"]][(r["kind"], r["class"])] = r
    land = _land(session, ids)
    houses = defaultdict(list)
    for h in session.execute(
        text("SELECT * FROM household_house WHERE household_id = ANY(:ids) ORDER BY id"),
        {"ids": ids},
    ).mappings():
        houses[h["household_id"]].append(h)
    attachments = defaultdict(list)
    for a in session.execute(
        text("SELECT * FROM household_attachment WHERE household_id = ANY(:ids) ORDER BY id"),
        {"ids": ids},
    ).mappings():
        attachments[a["household_id"]].append(a)
    members = dict(
        session.execute(
            text("SELECT id, members FROM household WHERE id = ANY(:ids)"), {"ids": ids}
        ).all()
    )
    out = {}
    for i in ids:
        c = Computation(i, days[i], standard_of.get(i))
        out[i] = c
        if c.standard_id is None:
            continue
        book = rates[c.standard_id]

        def rated(kind: str, klass: str, quantity: Decimal, note: Message | None = None) -> None:
            rate = book.get((kind, klass))  # noqa: B023
            if rate is None:
                c.unrated.append(  # noqa: B023
                    {"kind": kind, "kind_label": CompensationKind(kind), "class": klass,
                     "class_label": _class_label(kind, klass), "quantity": float(quantity)}
                )  # fmt: skip
                return
            c.items.append(Item(kind, klass, rate["unit"], quantity, rate["rate_yuan"], note))  # noqa: B023

        by_class = land.get(i, {})
        for klass in LandClass:
            mu = _q(by_class.get(klass.value, 0))
            if mu <= 0:
                continue
            rated("land", klass.value, mu)
            if klass.agricultural and ("crops", klass.value) in book:
                rated("crops", klass.value, mu)
        farm = _q(sum((v for k, v in by_class.items() if LandClass(k).agricultural), Decimal(0)))
        if farm > 0 and ("social_security", "") in book:
            rated("social_security", "", farm)
        for h in houses[i]:
            if h["legal"] or ("house", h["structure"]) not in book:
                rated("house", h["structure"], _q(h["area_m2"]))
            else:  # unregistered: listed, at no rate
                c.items.append(
                    Item("house", h["structure"], "m2", _q(h["area_m2"]), Decimal(0),
                         msg("house_unregistered", "unregistered: the standard pays nothing "
                             "for it (an adjustment of the agreement may award it)"))
                )  # fmt: skip
        for a in attachments[i]:
            rated("attachment", a["item"], _q(a["quantity"]))
        if ("relocation", "") in book:
            rated("relocation", "", Decimal(1))
        transition = book.get(("transition", ""))
        if transition is not None:
            rated(
                "transition",
                "",
                _q(members[i] * transition["months"]),
                msg("transition_quantity", "%(members)s members × %(months)s months",
                    members=members[i], months=transition["months"]),
            )  # fmt: skip
        award = book.get(("early_award", ""))
        if award is not None and c.day <= award["until"]:
            rated(
                "early_award",
                "",
                Decimal(1),
                msg("early_award_by", "signed by %(date)s", date=award["until"].isoformat()),
            )
    return out


def compute(session: Session, household_id: int, day: dt.date | None = None) -> Computation:
    return compute_many(session, [household_id], day)[household_id]


def no_standard(day: dt.date) -> CompensationRefused:
    return CompensationRefused(
        msg(
            "no_standard_in_force",
            "no compensation standard is in force on %(date)s: issue one first",
            date=day.isoformat(),
        ),
        409,
    )


def exists(session: Session, household_id: int) -> bool:
    return (
        session.execute(text("SELECT 1 FROM household WHERE id = :h"), {"h": household_id}).first()
        is not None
    )


def _exists(session: Session, household_id: int) -> None:
    if not exists(session, household_id):
        raise CompensationRefused(msg("no_such_household", "no such household"), 404)


# --- agreements and payments ---------------------------------------------------------------


def _in_force(session: Session, household_id: int) -> Any:
    """The household's agreement in force (the one no later version supersedes), or None."""
    return session.execute(
        text("""SELECT id, number, signed_on FROM compensation_agreement a
                WHERE household_id = :h AND NOT EXISTS (
                    SELECT 1 FROM compensation_agreement b WHERE b.supersedes = a.id)"""),
        {"h": household_id},
    ).first()


def agree(session: Session, household_id: int, data: Any, user: str) -> dict[str, Any]:
    """The household's agreement, or (naming the one in force: ``supersedes``) its
    correction; its amount must be the computed total plus the adjustments."""
    r = Reader(data)
    _unknown_fields(r.data, {"number", "date", "amount_yuan", "adjustments", "supersedes", "note"})
    _exists(session, household_id)
    number = r.text("number")
    day = r.day("date")
    amount = r.number("amount_yuan")
    note = r.text("note", required=False, most=MAX_NOTE)
    adjustments = []
    for a in r.objects("adjustments"):
        _unknown_fields(a.data, {"reason", "amount_yuan"})
        reason = a.text("reason", most=500)
        value = a.number("amount_yuan", least=-MAX_YUAN)
        if value == 0:
            raise _bad("amount_yuan", msg("adjustment_zero", "an adjustment is not 0"))
        adjustments.append({"reason": reason, "amount_yuan": float(value)})
    supersedes = r.whole("supersedes", 1, 2**31 - 1, required=False)
    session.execute(
        text("SELECT 1 FROM household_balance WHERE household_id = :h FOR UPDATE"),
        {"h": household_id},
    )
    current = _in_force(session, household_id)
    if current is not None and supersedes != current.id:
        raise CompensationRefused(
            msg(
                "agreement_exists",
                "this household has agreement %(number)s (id %(id)s) already: a correction is "
                "a new version that names it (supersedes: %(id)s)",
                number=current.number,
                id=current.id,
            ),
            409,
        )
    if current is None and supersedes is not None:
        raise _bad("supersedes", msg("nothing_to_supersede", "the household has no agreement"))
    if current is not None and not note:
        raise CompensationRefused(
            msg("agreement_correction_needs_note", "a corrected agreement says why (note)")
        )
    other = session.execute(
        text(
            """SELECT household_id FROM compensation_agreement
               WHERE number = :n AND household_id <> :h"""
        ),
        {"n": number, "h": household_id},
    ).scalar()
    if other is not None:
        raise CompensationRefused(
            msg("agreement_number_taken", "agreement number %(number)s is another household's",
                number=number),
            409,
        )  # fmt: skip
    # under the standard in force on this agreement's day, not an earlier version's
    computation = compute_many_at(session, [household_id], day)[household_id]
    if computation.standard_id is None:
        raise no_standard(day)
    computed = computation.total
    expected = computed + sum((Decimal(str(a["amount_yuan"])) for a in adjustments), Decimal(0))
    if amount != expected:
        raise CompensationRefused(
            msg(
                "agreement_amount_unexplained",
                "the amount %(amount)s yuan is not the computed %(computed)s yuan plus the "
                "adjustments (%(expected)s yuan): give each difference as an adjustment with "
                "its reason",
                amount=f"{amount:,.2f}",
                computed=f"{computed:,.2f}",
                expected=f"{expected:,.2f}",
            ),
            409,
        )
    paid = session.execute(
        text("SELECT paid_yuan FROM household_balance WHERE household_id = :h"),
        {"h": household_id},
    ).scalar_one()
    if amount < paid:
        raise CompensationRefused(
            msg("agreement_below_paid", "%(paid)s yuan is paid already: more than %(amount)s",
                paid=f"{paid:,.2f}", amount=f"{amount:,.2f}"),
            409,
        )  # fmt: skip
    try:
        with session.begin_nested():
            row = session.execute(
                text("""INSERT INTO compensation_agreement (household_id, version, supersedes,
                            number, signed_on, standard_id, computed_yuan, adjustments,
                            amount_yuan, note, recorded_by)
                        VALUES (:h, 1, :s, :n, :d, :std, :c, CAST(:adj AS jsonb), :a, :note, :u)
                        RETURNING id, version"""),
                {"h": household_id, "s": supersedes, "n": number, "d": day,
                 "std": computation.standard_id, "c": computed,
                 "adj": json.dumps(adjustments, ensure_ascii=False), "a": amount,
                 "note": note, "u": user},
            ).one()  # fmt: skip
    except DBAPIError as exc:
        raise CompensationRefused(
            msg("agreement_refused", "the agreement was refused: %(why)s", why=pg_message(exc)),
            409,
        ) from None
    return {
        "id": row.id,
        "version": row.version,
        "number": number,
        "date": day.isoformat(),
        "standard": computation.standard_id,
        "computed_yuan": yuan(computed),
        "adjustments": adjustments,
        "amount_yuan": yuan(amount),
    }


def compute_many_at(
    session: Session, household_ids: Sequence[int], day: dt.date
) -> dict[int, Computation]:
    """compute_many with every household on ``day``, agreed or not (a new agreement's)."""
    ids = list(dict.fromkeys(household_ids))
    return _compute(session, ids, {i: day for i in ids})


def pay(session: Session, household_id: int, data: Any, user: str) -> dict[str, Any]:
    """A payment (or, with ``reverses``, the reversal of one); refused (409) beyond what the
    agreement in force leaves outstanding."""
    r = Reader(data)
    _unknown_fields(r.data, {"date", "amount_yuan", "voucher", "reverses", "note"})
    _exists(session, household_id)
    day = r.day("date")
    voucher = r.text("voucher")
    note = r.text("note", required=False, most=MAX_NOTE)
    reverses = r.whole("reverses", 1, 2**31 - 1, required=False)
    balance = session.execute(
        text("""SELECT agreed_yuan, paid_yuan FROM household_balance
                WHERE household_id = :h FOR UPDATE"""),
        {"h": household_id},
    ).one()
    current = _in_force(session, household_id)
    if current is None:
        raise CompensationRefused(
            msg("payment_needs_agreement", "the household has no agreement: nothing is due"), 409
        )
    if reverses is not None:
        original = session.execute(
            text("""SELECT amount_yuan FROM compensation_payment
                    WHERE id = :p AND household_id = :h AND reverses IS NULL
                      AND NOT EXISTS (SELECT 1 FROM compensation_payment x
                                      WHERE x.reverses = :p)"""),
            {"p": reverses, "h": household_id},
        ).scalar()
        if original is None:
            raise CompensationRefused(
                msg("payment_not_reversible",
                    "payment %(id)s is not one of this household's, or is reversed already",
                    id=reverses),
                409,
            )  # fmt: skip
        if not note:
            raise CompensationRefused(
                msg("reversal_needs_note", "a reversed payment says why (note)")
            )
        amount = -original
    else:
        amount = r.number("amount_yuan", positive=True)
        first_signed = session.execute(
            text("SELECT min(signed_on) FROM compensation_agreement WHERE household_id = :h"),
            {"h": household_id},
        ).scalar()
        if day < first_signed:
            raise CompensationRefused(
                msg("payment_before_agreement",
                    "a payment is not made before the agreement was signed (%(date)s)",
                    date=first_signed.isoformat()),
                409,
            )  # fmt: skip
        outstanding = balance.agreed_yuan - balance.paid_yuan
        if amount > outstanding:
            raise CompensationRefused(
                msg(
                    "payment_beyond_agreed",
                    "%(amount)s yuan is more than the agreement leaves to pay: agreed "
                    "%(agreed)s, paid %(paid)s, outstanding %(outstanding)s yuan",
                    amount=f"{amount:,.2f}",
                    agreed=f"{balance.agreed_yuan:,.2f}",
                    paid=f"{balance.paid_yuan:,.2f}",
                    outstanding=f"{outstanding:,.2f}",
                ),
                409,
            )
    if session.execute(
        text("SELECT 1 FROM compensation_payment WHERE voucher = :v"), {"v": voucher}
    ).first():
        raise CompensationRefused(
            msg("voucher_taken", "voucher %(voucher)s is recorded already", voucher=voucher), 409
        )
    try:
        with session.begin_nested():
            payment_id = session.execute(
                text("""INSERT INTO compensation_payment (household_id, agreement_id, paid_on,
                            amount_yuan, voucher, reverses, note, recorded_by)
                        VALUES (:h, :a, :d, :amount, :v, :r, :note, :u) RETURNING id"""),
                {"h": household_id, "a": current.id, "d": day, "amount": amount, "v": voucher,
                 "r": reverses, "note": note, "u": user},
            ).scalar_one()  # fmt: skip
    except DBAPIError as exc:  # the database's guard: the balance, the voucher
        raise CompensationRefused(
            msg("payment_refused", "the payment was refused: %(why)s", why=pg_message(exc)), 409
        ) from None
    agreed, paid, status = session.execute(
        text("""SELECT agreed_yuan, paid_yuan, status FROM household_status
                WHERE household_id = :h"""),
        {"h": household_id},
    ).one()
    return {
        "id": payment_id,
        "date": day.isoformat(),
        "amount_yuan": yuan(amount),
        "voucher": voucher,
        "agreed_yuan": yuan(agreed),
        "paid_yuan": yuan(paid),
        "outstanding_yuan": yuan(agreed - paid),
        "status": status,
    }


# --- the stages follow the money -----------------------------------------------------------


def stage_blockers(
    session: Session, parcels: Sequence[tuple[int, str]], stage: str, day: dt.date
) -> dict[str, Message]:
    """Why each parcel (id, code) cannot move to ``stage`` on ``day`` for its households:
    those without an agreement by then, and those not paid in full by then, by name."""
    if not parcels or stage not in NEEDS_AGREEMENT:
        return {}
    rows = session.execute(
        text("""SELECT p.id, b.head, b.lacks
                FROM unnest(CAST(:ids AS integer[])) AS p(id),
                     LATERAL lm_households_blocking(p.id, :stage, :day) b"""),
        {"ids": [p[0] for p in parcels], "stage": stage, "day": day},
    ).all()
    lacking: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for parcel_id, head, lacks in rows:
        lacking[parcel_id][lacks].append(head)
    out = {}
    from landmap.domain import Stage

    for parcel_id, code in parcels:
        if parcel_id not in lacking:
            continue
        unsigned = lacking[parcel_id].get("agreement", [])
        unpaid = lacking[parcel_id].get("payment", [])
        if unsigned and unpaid:
            why = msg(
                "households_unsigned_unpaid",
                "cannot move to %(stage)s: households without an agreement: %(unsigned)s; not "
                "paid in full: %(unpaid)s",
                stage=Stage(stage),
                unsigned=unsigned,
                unpaid=unpaid,
            )
        elif unsigned:
            why = msg(
                "households_unsigned",
                "cannot move to %(stage)s: households without an agreement: %(unsigned)s",
                stage=Stage(stage),
                unsigned=unsigned,
            )
        else:
            why = msg(
                "households_unpaid",
                "cannot move to %(stage)s: households not paid in full: %(unpaid)s",
                stage=Stage(stage),
                unpaid=unpaid,
            )
        out[code] = why
    return out


# --- a project's or batch's money ----------------------------------------------------------


def _scope(project_id: int, batch_id: int | None) -> tuple[str, dict[str, Any]]:
    where = """h.id IN (SELECT hp.household_id FROM household_parcel hp
                        JOIN parcel p ON p.id = hp.parcel_id
                        WHERE p.project_id = :project AND p.retired_on IS NULL
                          AND (CAST(:batch AS integer) IS NULL OR p.batch_id = :batch))"""
    return where, {"project": project_id, "batch": batch_id}


def households_of(
    session: Session,
    sealer: Sealer,
    project_id: int,
    batch_id: int | None = None,
    as_of: dt.date | None = None,
    unmasked: bool = False,
) -> list[dict[str, Any]]:
    """The households of a project (or batch) with their status and amounts computed,
    agreed, paid and outstanding (as of a day: agreements signed and payments made by
    then)."""
    where, params = _scope(project_id, batch_id)
    rows = _status_rows(session, where, params, as_of)
    computed = compute_many(session, [r["id"] for r in rows], as_of)
    out = []
    for r in rows:
        h = _household_dict(r, sealer, unmasked)
        h["computed_yuan"] = yuan(computed[r["id"]].total)
        h["standard"] = computed[r["id"]].standard_id
        out.append(h)
    return out


def summary(
    session: Session,
    sealer: Sealer,
    project_id: int,
    batch_id: int | None = None,
    as_of: dt.date | None = None,
    rows: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A project's (or batch's) money: budget, computed, agreed, paid, outstanding, the
    households by status, and the resettlement flats needed against those planned; the sums
    of ``rows`` when given (households_of's of the same project, batch and day: a page that
    lists them too computes them once)."""
    if rows is None:
        rows = households_of(session, sealer, project_id, batch_id, as_of)
    budget, flats_planned = session.execute(
        text("""SELECT sum(budget_yuan), sum(flats_planned), count(budget_yuan),
                       count(flats_planned) FROM acquisition_batch
                WHERE project_id = :p AND (CAST(:b AS integer) IS NULL OR id = :b)"""),
        {"p": project_id, "b": batch_id},
    ).one()[:2]

    def total(key: str) -> float:
        return yuan(sum((Decimal(str(h[key] or 0)) for h in rows), Decimal(0)))

    by_status = {s.value: 0 for s in HouseholdStatus}
    for h in rows:
        by_status[h["status"]] += 1
    flats = [h for h in rows if h["resettlement"] == Resettlement.FLAT.value]
    return {
        "project": project_id,
        "batch": batch_id,
        "as_of": (as_of or today()).isoformat(),
        "budget_yuan": yuan(budget) if budget is not None else None,
        "computed_yuan": total("computed_yuan"),
        "agreed_yuan": total("agreed_yuan"),
        "paid_yuan": total("paid_yuan"),
        "outstanding_yuan": total("outstanding_yuan"),
        "households": {
            "total": len(rows),
            **by_status,
            "labels": {s.value: s for s in HouseholdStatus},
            "colours": {s.value: s.colour for s in HouseholdStatus},
        },
        "flats_needed": len(flats),
        "flat_area_needed_m2": round(sum(h["flat_area_m2"] for h in flats), 2),
        "flats_planned": int(flats_planned) if flats_planned is not None else None,
    }


def parcel_status(session: Session, codes: Sequence[str] | None = None) -> dict[str, str]:
    """Each parcel with households: the least advanced status of its households (the 补偿
    map theme)."""
    order = [s.value for s in HouseholdStatus]
    rows = session.execute(
        text("""SELECT p.code, s.status FROM household_parcel hp
                JOIN parcel p ON p.id = hp.parcel_id
                JOIN household_status s ON s.household_id = hp.household_id
                WHERE p.retired_on IS NULL
                  AND (CAST(:codes AS text[]) IS NULL OR p.code = ANY(:codes))"""),
        {"codes": list(codes) if codes is not None else None},
    ).all()
    out: dict[str, str] = {}
    for code, status in rows:
        if code not in out or order.index(status) < order.index(out[code]):
            out[code] = status
    return out
