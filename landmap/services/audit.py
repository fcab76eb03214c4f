"""Reading the audit trail the database writes (triggers in migration 0005)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.services import xlsx

CHINA = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class AuditFilter:
    entity: str | None = None
    key: str | None = None
    user: str | None = None
    day: dt.date | None = None  # China time
    limit: int = 1000


def rows(session: Session, f: AuditFilter) -> list[dict[str, Any]]:
    result = session.execute(
        text("""
        SELECT id, at, actor, address, entity, key, action, before, after FROM audit_log
        WHERE (CAST(:entity AS text) IS NULL OR entity = :entity)
          AND (CAST(:key AS text) IS NULL OR key = :key)
          AND (CAST(:user AS text) IS NULL OR actor = :user)
          AND (CAST(:day AS date) IS NULL OR (at AT TIME ZONE 'Asia/Shanghai')::date = :day)
        ORDER BY at DESC, id DESC LIMIT :limit"""),
        {"entity": f.entity, "key": f.key, "user": f.user, "day": f.day, "limit": f.limit},
    ).mappings()
    return [
        {"id": r["id"], "at": r["at"].isoformat(), "user": r["actor"], "address": r["address"],
         "entity": r["entity"], "key": r["key"], "action": r["action"], "before": r["before"],
         "after": r["after"]}
        for r in result
    ]  # fmt: skip


def workbook(session: Session, f: AuditFilter) -> bytes:
    """The rows ``f`` selects (newest first, at most ``f.limit``) as a workbook: 说明 (what was
    asked for, when it was exported), then one row per change, the time in China time."""
    found = rows(session, f)
    wb = Workbook()
    ws = wb.active
    ws.title = "审计日志"
    xlsx.write_table(
        ws, ["时间", "用户", "地址", "对象", "标识", "操作", "修改前", "修改后"],
        ([_china(r["at"]), r["user"], r["address"], r["entity"], r["key"], r["action"],
          _json(r["before"]), _json(r["after"])] for r in found),
    )  # fmt: skip
    now = dt.datetime.now(CHINA).replace(tzinfo=None, microsecond=0)
    xlsx.describe(wb, f"审计日志（导出于 {now:%Y-%m-%d %H:%M}）", [
        ("对象", f.entity or "全部"), ("标识", f.key or "全部"), ("用户", f.user or "全部"),
        ("日期", f.day or "全部"), ("行数", len(found)), ("最多行数", f.limit),
        ("导出于", now), ("时间", "中国时间（UTC+8），新的在前"),
    ])  # fmt: skip
    return xlsx.to_bytes(wb)


def _china(at: str) -> dt.datetime:
    """An ISO timestamp as China time, without a zone (a workbook cell cannot hold one)."""
    return dt.datetime.fromisoformat(at).astimezone(CHINA).replace(tzinfo=None)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if value else ""
