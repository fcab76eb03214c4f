"""Reading the audit trail the database writes (triggers in migrations 0005, 0008, 0011).

Each entry keeps the row before and after as JSON (geometries as fingerprints ``*_md5``,
no secrets). Read here as people read it: only the fields that changed, each by its label,
values as every surface shows them (mu rounded by ``mu2``, stages by their label, times in
China time), a boundary change as its area before and after.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.domain import (
    CHINA,
    CompensationKind,
    HouseStructure,
    ProjectKind,
    ProjectStage,
    QuotaKind,
    QuotaSource,
    Resettlement,
    Role,
    Stage,
    TransferStatus,
    Unit,
)
from landmap.geo.units import mu2
from landmap.messages import DEFAULT_LOCALE, Message, Term, msg, shown, term
from landmap.services import xlsx

PAGE = 50  # rows a page of the audit trail shows
MAX_LIMIT = 500  # rows one API request may ask for
EXPORT_LIMIT = 1000  # rows the workbook holds unless asked for more


@dataclass(frozen=True)
class AuditFilter:
    entity: str | None = None
    key: str | None = None
    user: str | None = None
    day: dt.date | None = None  # China time
    limit: int = PAGE
    offset: int = 0


# --- what the entries say, by label ----------------------------------------------------------

ACTIONS: dict[str, Message] = {
    "insert": msg("audit_action_insert", "added"),
    "update": msg("audit_action_update", "changed"),
    "delete": msg("audit_action_delete", "deleted"),
    "stage": msg("audit_action_stage", "stage moved"),
    "dispute": msg("audit_action_dispute", "dispute flagged"),
    "resolve": msg("audit_action_resolve", "dispute resolved"),
    "view_personal": msg("audit_action_view_personal", "ID and phone numbers read"),
}

ENTITIES: dict[str, Term] = {
    "parcel": term("parcel"),
    "commercial_plot": term("commercial plot"),
    "project": term("project"),
    "batch": term("acquisition batch"),
    "zone": term("zone boundary"),
    "quota_entry": term("quota entry"),
    "quota_year": term("quota year"),
    "import": term("import"),
    "user": term("user"),
    "token": term("API token"),
    "enterprise": term("enterprise"),
    "target": term("project target"),
    "parcel_lineage": term("split or merge"),
    "parcel_correction": term("parcel correction"),
    "compensation_standard": term("compensation standard"),
    "compensation_rate": term("compensation rate"),
    "household": term("household"),
    "household_parcel": term("household's parcel"),
    "household_house": term("household's house"),
    "household_attachment": term("household's attachment"),
    "agreement": term("compensation agreement"),
    "payment": term("compensation payment"),
}

# column -> label, for the columns of every audited table (0005's AUDITED) and of the
# history's entries (lm_audit_stage_change); ENTITY_FIELDS where a table means otherwise
FIELDS: dict[str, Term] = {
    "id": term("ID"),
    "code": term("parcel code"),
    "name": term("name"),
    "owner": term("owner"),
    "location": term("location"),
    "land_use_code": term("land-use code"),
    "land_use_name": term("land-use class"),
    "official_area_m2": term("registered area (m²)"),
    "zone_id": term("zone"),
    "stage": term("stage"),
    "project_id": term("project"),
    "batch_id": term("batch"),
    "attributes": term("other attributes"),
    "geom": term("boundary"),
    "drawn": term("drawn boundary"),
    "area_mu": term("area (mu)"),
    "created_at": term("created at"),
    "created_by": term("created by"),
    "dispute": term("dispute"),
    "dispute_reason": term("dispute reason"),
    "date": term("date"),
    "note": term("note"),
    "correction": term("correction"),
    "reason": term("reason"),
    "recorded_by": term("recorded by"),
    "recorded_at": term("recorded at"),
    "parcel_id": term("parcel"),
    "planned_use": term("planned use"),
    "plot_ratio_max": term("maximum plot ratio"),
    "building_density_max": term("maximum building density"),
    "green_ratio_min": term("minimum green ratio"),
    "height_limit_m": term("height limit (m)"),
    "transfer_status": term("land sale status"),
    "transfer_date": term("land sale date"),
    "reserve_price_wan": term("reserve price (10,000 yuan)"),
    "kind": term("kind"),
    "partner": term("partner"),
    "financing": term("financing"),
    "description": term("description"),
    "target_mu": term("target (mu)"),
    "due": term("due"),
    "status": term("status"),
    "valid_from": term("valid from"),
    "valid_to": term("valid to"),
    "approved_by": term("approved by"),
    "approved_at": term("approved at"),
    "base_id": term("drawn on boundary"),
    "rebased_from": term("rebased from"),
    "op": term("operation"),
    "year": term("year"),
    "source": term("quota source"),
    "mu": term("mu"),
    "d_granted": term("granted (mu)"),
    "d_reserved": term("reserved (mu)"),
    "d_consumed": term("consumed (mu)"),
    "reverses": term("reverses entry"),
    "ref": term("document number"),
    "entry_date": term("entry date"),
    "layer": term("layer"),
    "file_name": term("file name"),
    "sha256": term("SHA-256"),
    "run_by": term("run by"),
    "run_at": term("run at"),
    "crs": term("coordinate system"),
    "crs_reason": term("coordinate system found from"),
    "encoding": term("encoding"),
    "encoding_reason": term("encoding found from"),
    "records_read": term("records read"),
    "inserted": term("inserted"),
    "updated": term("updated"),
    "rejected": term("rejected"),
    "total_mu": term("total (mu)"),
    "options": term("options"),
    "display_name": term("display name"),
    "role": term("role"),
    "active": term("active"),
    "user_id": term("user"),
    "label": term("label"),
    "revoked_at": term("revoked at"),
    "closed_on": term("closed on"),
    "enterprise_id": term("enterprise"),
    "land_user_id": term("land user"),
    "credit_code": term("unified social credit code"),
    "industry": term("industry"),
    "contact": term("contact person"),
    "phone": term("phone"),
    "created_on": term("in the register from"),
    "retired_on": term("retired on"),
    "old_parcel_id": term("former parcel"),
    "new_parcel_id": term("new parcel"),
    "report": term("report"),
    "before": term("before"),
    "after": term("after"),
    "happened_on": term("day of the change"),
    # compensation and resettlement (0024)
    "head": term("head of household"),
    "members": term("members"),
    "resettlement": term("resettlement"),
    "flat_area_m2": term("flat area (m²)"),
    "structure": term("house structure"),
    "area_m2": term("floor area (m²)"),
    "storeys": term("storeys"),
    "legal": term("registered"),
    "item": term("item"),
    "quantity": term("quantity"),
    "household_id": term("household"),
    "number": term("agreement number"),
    "signed_on": term("signed on"),
    "version": term("version"),
    "supersedes": term("agreement corrected"),
    "standard_id": term("compensation standard"),
    "computed_yuan": term("computed (yuan)"),
    "adjustments": term("adjustments"),
    "amount_yuan": term("amount (yuan)"),
    "paid_on": term("paid on"),
    "voucher": term("voucher number"),
    "agreement_id": term("compensation agreement"),
    "class": term("class"),
    "unit": term("unit"),
    "rate_yuan": term("rate (yuan)"),
    "months": term("months"),
    "until": term("signed by"),
    "effective_from": term("effective from"),
    "area": term("area (区片)"),
}
ENTITY_FIELDS: dict[str, dict[str, Term]] = {
    "project": {
        "name": term("project name"),
        "stage": term("project stage"),
        "kind": term("project kind"),
    },
    "batch": {"name": term("batch name")},
    "quota_entry": {"kind": term("quota entry kind")},
    "compensation_rate": {"kind": term("compensation item kind")},
    "payment": {"reverses": term("payment reversed")},
}
# (entity, column) -> the enum its values are ids of: shown by their labels
ENUMS: dict[tuple[str, str], type] = {
    ("parcel", "stage"): Stage,
    ("project", "stage"): ProjectStage,
    ("project", "kind"): ProjectKind,
    ("quota_entry", "kind"): QuotaKind,
    ("quota_entry", "source"): QuotaSource,
    ("user", "role"): Role,
    ("commercial_plot", "transfer_status"): TransferStatus,
    ("compensation_rate", "kind"): CompensationKind,
    ("compensation_rate", "unit"): Unit,
    ("household", "resettlement"): Resettlement,
    ("household_house", "structure"): HouseStructure,
}
BOUNDARY_STATUS: dict[str, Term] = {
    "current": term("in force"),
    "superseded": term("superseded"),
    "draft": term("draft"),
}
MU_FIELDS = {"area_mu", "target_mu", "mu", "d_granted", "d_reserved", "d_consumed", "total_mu"}
# kept by the audit but not worth a reader's eye (the trigger ignores most in comparisons;
# who recorded an entry is its user)
HIDDEN = {
    "updated_at",
    "area_mismatch",
    "session_version",
    "last_used_at",
    "change_set",
    "recorded_by",
}
FINGERPRINT = "_md5"
YES, NO, NOTHING = term("yes"), term("no"), "—"


def label(entity: str, column: str) -> Term:
    own = ENTITY_FIELDS.get(entity, {})
    return own.get(column) or FIELDS.get(column) or Term(column)


@dataclass(frozen=True)
class Change:
    """One field of an entry: ``before`` and ``after`` as the API gives them (mu rounded,
    enum ids, times ISO 8601 in China time); a boundary's are its areas in mu (None when
    not known)."""

    entity: str
    field: str
    before: Any
    after: Any

    def shown(self, locale: str = DEFAULT_LOCALE) -> str:
        """``label: before → after`` in ``locale`` (a boundary as its summary)."""
        if self.field in ("geom", "drawn"):
            return boundary_summary(self.before, self.after).render(locale)
        name = shown(label(self.entity, self.field), locale)
        colon = ": " if locale.startswith("en") else "："
        name = name[:1].upper() + name[1:]
        old = value_shown(self.entity, self.field, self.before, locale)
        new = value_shown(self.entity, self.field, self.after, locale)
        return f"{name}{colon}{new}" if self.before is None else f"{name}{colon}{old} → {new}"


def shown_mu(value: float | None) -> str:
    """Mu as pages show them: rounded by mu2, two decimals."""
    return NOTHING if value is None else f"{mu2(value):.2f}"


def boundary_summary(before: float | None, after: float | None) -> Message:
    """A boundary's change by its area in mu (when known)."""
    if before is not None and after is not None:
        before, after = shown_mu(before), shown_mu(after)
        return msg(
            "audit_boundary_changed_area",
            "boundary changed (area %(before)s → %(after)s mu)",
            before=before,
            after=after,
        )
    area = after if after is not None else before
    if area is not None:
        area = shown_mu(area)
        return msg("audit_boundary_area", "boundary (area %(area)s mu)", area=area)
    return msg("audit_boundary_changed", "boundary changed")


def value_shown(entity: str, column: str, value: Any, locale: str) -> str:
    """A field's value as a person reads it in ``locale``."""
    if value is None or value == "":
        return NOTHING
    if column in MU_FIELDS and isinstance(value, int | float):
        return shown_mu(value)
    enum = ENUMS.get((entity, column))
    if enum is not None and value in enum._value2member_map_:
        return enum(value).label(locale)
    if entity == "zone" and column == "status" and value in BOUNDARY_STATUS:
        return shown(BOUNDARY_STATUS[value], locale)
    if isinstance(value, bool):
        return shown(YES if value else NO, locale)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {value_shown(entity, k, v, locale)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(value_shown(entity, column, v, locale) for v in value)
    if isinstance(value, str) and column.endswith("_at"):
        return value[:16].replace("T", " ")
    return str(value)


def _value(column: str, value: Any) -> Any:
    """A field's value as the API gives it: mu rounded once, times in China time."""
    if value is None:
        return None
    if column in MU_FIELDS and isinstance(value, int | float):
        return mu2(value)
    if column.endswith("_at") and isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value).astimezone(CHINA).isoformat()
        except ValueError:
            return value
    return value


def changes(entity: str, before: dict | None, after: dict | None) -> list[Change]:
    """The fields that differ between ``before`` and ``after`` (all kept fields of an added
    or deleted row), boundaries (``*_md5`` fingerprints) as their areas in mu."""
    old, new = before or {}, after or {}
    found = []
    for column in dict.fromkeys([*old, *new]):
        if column in HIDDEN or column == "area_mu" or old.get(column) == new.get(column):
            continue
        if column.endswith(FINGERPRINT):
            found.append(_boundary(entity, column.removesuffix(FINGERPRINT), before, after))
            continue
        if before is None and new.get(column) in (None, "", {}, False):
            continue
        found.append(
            Change(entity, column, _value(column, old.get(column)), _value(column, new.get(column)))
        )
    area = _area(before), _area(after)
    if area[0] != area[1] and not any(c.field == "geom" for c in found) and None not in area:
        found.append(Change(entity, "area_mu", *area))
    return found


def _area(row: dict | None) -> float | None:
    value = (row or {}).get("area_mu")
    return mu2(value) if isinstance(value, int | float) else None


def _boundary(entity: str, column: str, before: dict | None, after: dict | None) -> Change:
    if column != "geom":
        return Change(entity, column, None, None)
    return Change(entity, column, _area(before), _area(after))


# --- the entries -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    id: int
    at: dt.datetime  # in China time
    user: str
    address: str
    entity: str
    key: str
    action: str
    before: dict | None
    after: dict | None
    changes: list[Change] = field(default_factory=list)

    def action_label(self, locale: str = DEFAULT_LOCALE) -> str:
        known = ACTIONS.get(self.action)
        return known.render(locale) if known else self.action

    def entity_label(self, locale: str = DEFAULT_LOCALE) -> str:
        known = ENTITIES.get(self.entity)
        return shown(known, locale) if known else self.entity

    def summary(self, locale: str = DEFAULT_LOCALE) -> list[str]:
        return [c.shown(locale) for c in self.changes]

    def target(self) -> tuple[str, dict[str, Any]] | None:
        """What the entry is about, for a link: (kind, its identifiers) or None."""
        row = self.after or self.before or {}
        if self.entity in ("parcel", "commercial_plot"):
            return "parcel", {"parcel": self.key}
        if self.entity == "project" and row.get("id") is not None:
            return "project", {"project_id": row["id"]}
        if self.entity == "batch" and row.get("project_id") is not None:
            return "project", {"project_id": row["project_id"]}
        if self.entity == "quota_entry" and row.get("year") is not None:
            return "quota", {"year": row["year"]}
        if self.entity == "quota_year" and self.key.isdigit():
            return "quota", {"year": int(self.key)}
        if self.entity == "zone" and "#" in self.key:
            return "zone", {"code": self.key.split("#")[0]}
        return None

    def as_dict(self, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
        """The entry as the API gives it: the stored row before and after as they were, and
        ``changed`` (only the differing fields, ``[before, after]``) with ``summary`` (the
        same, in ``locale``, as people read it)."""
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "user": self.user,
            "address": self.address,
            "entity": self.entity,
            "entity_label": self.entity_label(locale),
            "key": self.key,
            "action": self.action,
            "action_label": self.action_label(locale),
            "before": self.before,
            "after": self.after,
            "changed": {c.field: [c.before, c.after] for c in self.changes},
            "summary": self.summary(locale),
        }


def entries(session: Session, selection: AuditFilter) -> list[Entry]:
    """The entries ``selection`` picks, newest first, from its offset, at most its limit."""
    result = session.execute(
        text("""
        SELECT id, at, actor, address, entity, key, action, before, after FROM audit_log
        WHERE (CAST(:entity AS text) IS NULL OR entity = :entity)
          AND (CAST(:key AS text) IS NULL OR key = :key)
          AND (CAST(:user AS text) IS NULL OR actor = :user)
          AND (CAST(:day AS date) IS NULL OR (at AT TIME ZONE 'Asia/Shanghai')::date = :day)
        ORDER BY at DESC, id DESC LIMIT :limit OFFSET :offset"""),
        {
            "entity": selection.entity,
            "key": selection.key,
            "user": selection.user,
            "day": selection.day,
            "limit": selection.limit,
            "offset": selection.offset,
        },
    ).mappings()
    return [
        Entry(
            r["id"],
            r["at"].astimezone(CHINA),
            r["actor"],
            r["address"],
            r["entity"],
            r["key"],
            r["action"],
            r["before"],
            r["after"],
            changes(r["entity"], r["before"], r["after"]),
        )
        for r in result
    ]


def rows(session: Session, selection: AuditFilter) -> list[dict[str, Any]]:
    return [e.as_dict() for e in entries(session, selection)]


def workbook(session: Session, selection: AuditFilter) -> bytes:
    """The rows ``selection`` picks (newest first, at most ``selection.limit``) as a workbook:
    说明 (what was asked for, when it was exported), then one row per change, the time in
    China time, what changed as people read it beside the stored rows."""
    found = entries(session, selection)
    wb = Workbook()
    ws = wb.active
    ws.title = "审计日志"
    xlsx.write_table(
        ws,
        ["时间", "用户", "地址", "对象", "标识", "操作", "修改前", "修改后", "变更内容"],
        (
            [
                e.at.replace(tzinfo=None),
                e.user,
                e.address,
                e.entity_label(),
                e.key,
                e.action_label(),
                _json(e.before),
                _json(e.after),
                "；".join(e.summary()),
            ]
            for e in found
        ),
    )
    now = dt.datetime.now(CHINA).replace(tzinfo=None, microsecond=0)
    xlsx.describe(
        wb,
        f"审计日志（导出于 {now:%Y-%m-%d %H:%M}）",
        [
            ("对象", selection.entity or "全部"),
            ("标识", selection.key or "全部"),
            ("用户", selection.user or "全部"),
            ("日期", selection.day or "全部"),
            ("行数", len(found)),
            ("最多行数", selection.limit),
            ("导出于", now),
            ("时间", "中国时间（UTC+8），新的在前"),
        ],
    )
    return xlsx.to_bytes(wb)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if value else ""
