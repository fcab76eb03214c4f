"""Enterprises (企业): a project's enterprise and a parcel's land user (土地使用者), with the
unified social credit code (统一社会信用代码) checked as GB 32100-2015 defines it. The
database checks the same code (lm_credit_code_ok, migration 0014)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from landmap.db.models import Enterprise, Parcel, Project
from landmap.messages import Message, msg, term
from landmap.services import Refused, Result

# GB 32100-2015: the 31 characters a code is written in (no I, O, S, V, Z), the weights of
# its first 17 characters (3^i mod 31); the 18th is the check character.
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
MAX_NAME = 200
MAX_NOTE = 2000
# the text fields of an enterprise, with their longest value
TEXT_FIELDS = {"industry": MAX_NAME, "contact": MAX_NAME, "phone": 40, "note": MAX_NOTE}
FIELD_NAMES = {
    "name": term("enterprise name"),
    "credit_code": term("unified social credit code"),
    "industry": term("industry"),
    "contact": term("contact person"),
    "phone": term("phone"),
    "note": term("note"),
}


def credit_check_character(first17: str) -> str:
    """The check character (the 18th) of a code's first 17 characters (all of the alphabet)."""
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> Message | None:
    """Why ``code`` is not a unified social credit code; None when it is one."""
    shown = repr(code[:40])
    if len(code) != 18 or any(c not in CREDIT_ALPHABET for c in code):
        return msg(
            "credit_code_malformed",
            "the unified social credit code %(code)s must be 18 characters of 0-9 and the "
            "capital letters other than I, O, S, V and Z",
            code=shown,
        )
    if credit_check_character(code[:17]) != code[17]:
        return msg(
            "credit_code_check_digit",
            "the unified social credit code %(code)s is wrong: its check character is not "
            "what its first 17 characters give (a character mistyped?)",
            code=shown,
        )
    return None


@dataclass(frozen=True)
class EnterpriseRow(Result):
    id: int
    name: str
    credit_code: str | None
    industry: str
    contact: str
    phone: str
    note: str
    projects: int
    parcels: int


def text_value(value: Any, what: Any, most: int, required: bool = False) -> str:
    """A text field: stripped, at most ``most`` characters; Refused (400) otherwise."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Refused(msg("register_not_text", "%(what)s must be text", what=what))
    value = value.strip()
    if required and not value:
        raise Refused(msg("register_text_required", "%(what)s is required", what=what))
    if len(value) > most:
        raise Refused(
            msg(
                "register_text_too_long",
                "%(what)s is longer than %(most)s characters",
                what=what,
                most=most,
            )
        )
    return value


def _values(data: Mapping[str, Any], partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not partial or "name" in data:
        out["name"] = text_value(data.get("name"), FIELD_NAMES["name"], MAX_NAME, True)
    if not partial or "credit_code" in data:
        code = text_value(data.get("credit_code"), FIELD_NAMES["credit_code"], 40).upper()
        problem = credit_code_problem(code) if code else None
        if problem is not None:
            raise Refused(problem)
        out["credit_code"] = code or None
    for name, most in TEXT_FIELDS.items():
        if not partial or name in data:
            out[name] = text_value(data.get(name), FIELD_NAMES[name], most)
    return out


def _taken_by(session: Session, column, value: Any, own_id: int | None) -> str | None:
    if value is None:
        return None
    return session.scalar(
        select(Enterprise.name).where(column == value, Enterprise.id != (own_id or 0))
    )


def _refuse_taken(session: Session, values: dict[str, Any], own_id: int | None) -> None:
    """The name and the code belong to one enterprise each (409 otherwise)."""
    if _taken_by(session, Enterprise.name, values.get("name"), own_id):
        raise Refused(
            msg(
                "enterprise_name_taken",
                "there is already an enterprise named %(name)s",
                name=values["name"],
            ),
            409,
        )
    other = _taken_by(session, Enterprise.credit_code, values.get("credit_code"), own_id)
    if other:
        raise Refused(
            msg(
                "credit_code_taken",
                "the unified social credit code %(code)s is already that of %(other)s",
                code=values["credit_code"],
                other=other,
            ),
            409,
        )


def create_enterprise(session: Session, data: Mapping[str, Any]) -> EnterpriseRow:
    values = _values(data, partial=False)
    _refuse_taken(session, values, None)
    row = Enterprise(**values)
    session.add(row)
    session.flush()
    return get_enterprise(session, row.id)  # type: ignore[return-value]


def update_enterprise(
    session: Session, enterprise_id: int, data: Mapping[str, Any]
) -> EnterpriseRow:
    row = session.get(Enterprise, enterprise_id, with_for_update=True)
    if row is None:
        raise Refused(no_such_enterprise(enterprise_id), 404)
    values = _values(data, partial=True)
    _refuse_taken(session, values, enterprise_id)
    for key, value in values.items():
        setattr(row, key, value)
    session.flush()
    return get_enterprise(session, enterprise_id)  # type: ignore[return-value]


def no_such_enterprise(key: Any) -> Message:
    return msg("no_such_enterprise", "there is no enterprise %(key)s", key=repr(key)[:40])


def _rows(session: Session, where=None) -> list[EnterpriseRow]:
    projects = (
        select(func.count())
        .where(Project.enterprise_id == Enterprise.id)
        .scalar_subquery()
        .label("projects")
    )
    parcels = (
        select(func.count())
        .where(Parcel.land_user_id == Enterprise.id)
        .scalar_subquery()
        .label("parcels")
    )
    query = select(Enterprise, projects, parcels).order_by(Enterprise.name)
    if where is not None:
        query = query.where(where)
    return [
        EnterpriseRow(
            id=e.id,
            name=e.name,
            credit_code=e.credit_code,
            industry=e.industry,
            contact=e.contact,
            phone=e.phone,
            note=e.note,
            projects=n_projects,
            parcels=n_parcels,
        )
        for e, n_projects, n_parcels in session.execute(query)
    ]


def list_enterprises(session: Session) -> list[EnterpriseRow]:
    """Every enterprise, by name, with how many projects and parcels it has."""
    return _rows(session)


def get_enterprise(session: Session, enterprise_id: int) -> EnterpriseRow | None:
    found = _rows(session, Enterprise.id == enterprise_id)
    return found[0] if found else None


def find_enterprise(session: Session, key: Any) -> int:
    """The id of the enterprise given by its name or its id (a whole number, or its digits);
    Refused (400) for one there is not."""
    found, wanted = None, key
    if isinstance(wanted, str) and wanted.strip():
        wanted = wanted.strip()
        found = session.scalar(select(Enterprise.id).where(Enterprise.name == wanted))
        if found is None and wanted.isdigit() and len(wanted) < 10:
            wanted = int(wanted)
    if found is None and isinstance(wanted, int) and not isinstance(wanted, bool):
        found = session.scalar(select(Enterprise.id).where(Enterprise.id == wanted))
    if found is None:
        raise Refused(no_such_enterprise(key))
    return found


def ensure_enterprise(session: Session, name: str, **fields: Any) -> tuple[int, bool]:
    """The enterprise named ``name``, created (with ``fields``) when there is none, its
    ``fields`` updated where they differ otherwise: its id, and whether anything was written."""
    row = session.scalar(select(Enterprise).where(Enterprise.name == name.strip()))
    if row is None:
        return create_enterprise(session, {"name": name, **fields}).id, True
    values = _values(fields, partial=True)
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    if changed:
        update_enterprise(session, row.id, changed)
    return row.id, bool(changed)
