"""Reading the audit trail the database writes (triggers in migration 0005)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.domain import CHINA
from landmap.services import xlsx


@dataclass(frozen=True)
class AuditFilter:
    entity: str | None = None
    key: str | None = None
    user: str | None = None
    day: dt.date | None = None  # China time
    limit: int = 1000


def rows(session: Session, selection: AuditFilter) -> list[dict[str, Any]]:
    result = session.execute(
        text("""
        SELECT id, at, actor, address, entity, key, action, before, after FROM audit_log
        WHERE (CAST(:entity AS text) IS NULL OR entity = :entity)
          AND (CAST(:key AS text) IS NULL OR key = :key)
          AND (CAST(:user AS text) IS NULL OR actor = :user)
          AND (CAST(:day AS date) IS NULL OR (at AT TIME ZONE 'Asia/Shanghai')::date = :day)
        ORDER BY at DESC, id DESC LIMIT :limit"""),
        {
            "entity": selection.entity,
            "key": selection.key,
            "user": selection.user,
            "day": selection.day,
            "limit": selection.limit,
        },
    ).mappings()
    return [
        {
            "id": row["id"],
            "at": row["at"].isoformat(),
            "user": row["actor"],
            "address": row["address"],
            "entity": row["entity"],
            "key": row["key"],
            "action": row["action"],
            "before": row["before"],
            "after": row["after"],
        }
        for row in result
    ]


def workbook(session: Session, selection: AuditFilter) -> bytes:
    """The rows ``selection`` picks (newest first, at most ``selection.limit``) as a workbook:
    说明 (what was asked for, when it was exported), then one row per change, the time in
    China time."""
    found = rows(session, selection)
    wb = Workbook()
    ws = wb.active
    ws.title = "审计日志"
    xlsx.write_table(
        ws,
        ["时间", "用户", "地址", "对象", "标识", "操作", "修改前", "修改后"],
        (
            [
                _china(row["at"]),
                row["user"],
                row["address"],
                row["entity"],
                row["key"],
                row["action"],
                _json(row["before"]),
                _json(row["after"]),
            ]
            for row in found
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


def _china(at: str) -> dt.datetime:
    """An ISO timestamp as China time, without a zone (a workbook cell cannot hold one)."""
    return dt.datetime.fromisoformat(at).astimezone(CHINA).replace(tzinfo=None)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if value else ""
