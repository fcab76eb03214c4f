"""Reading the audit trail the database writes (triggers in migration 0005)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.services import xlsx


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
    wb = Workbook()
    ws = wb.active
    ws.title = "审计日志"
    ws.append(["时间", "用户", "地址", "对象", "标识", "操作", "修改前", "修改后"])
    for r in rows(session, f):
        ws.append([r["at"], r["user"], r["address"], r["entity"], r["key"], r["action"],
                   json.dumps(r["before"], ensure_ascii=False) if r["before"] else "",
                   json.dumps(r["after"], ensure_ascii=False) if r["after"] else ""])  # fmt: skip
    for col, width in zip("ABCDEFGH", (26, 14, 14, 14, 24, 10, 60, 60), strict=True):
        ws.column_dimensions[col].width = width
    return xlsx.to_bytes(wb)
