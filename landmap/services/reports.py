"""Workbooks the officers keep beside the map (openpyxl); each leaves through xlsx.to_bytes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.domain import Stage
from landmap.services import acquisition, xlsx

BOLD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
WARN = Font(color="B71C1C")


def _sheet_title(name: str) -> str:
    bad = "[]:*?/\\"
    return "".join("_" if ch in bad else ch for ch in name)[:31] or "sheet"


def _header(ws, columns: list[str]) -> None:
    ws.append(columns)
    for cell in ws[ws.max_row]:
        cell.font = BOLD
        cell.fill = HEAD_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    ws.freeze_panes = ws.cell(row=ws.max_row + 1, column=1)


def _widths(ws, widths: list[int]) -> None:
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w


def _parcel_rows(session: Session, project_id: int, as_of: dt.date) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in session.execute(
            text("""
            SELECT p.code, p.owner, p.location, p.land_use_code, p.land_use_name, p.area_mu,
                   b.name AS batch, lm_stage_as_of(p.id, p.stage, :day) AS stage,
                   lm_dispute_as_of(p.id, p.dispute, :day) AS dispute, p.dispute_reason,
                   (SELECT json_object_agg(x.to_stage, x.day) FROM (
                        SELECT c.to_stage, max(c.happened_on) AS day FROM stage_change c
                        WHERE c.parcel_id = p.id AND c.kind = 'stage' AND c.happened_on <= :day
                        GROUP BY c.to_stage) x) AS reached
            FROM parcel p LEFT JOIN acquisition_batch b ON b.id = p.batch_id
            WHERE p.project_id = :project
            ORDER BY b.due NULLS LAST, b.name, p.code"""),
            {"project": project_id, "day": as_of},
        ).mappings()
    ]


def acquisition_ledger(session: Session, project_id: int, as_of: dt.date) -> bytes | None:
    """The 拆迁台账 of a project: a summary sheet, then one sheet per batch with a row per
    parcel (stage, the date each stage was reached, dispute) and the batch's totals."""
    project = session.execute(
        text("SELECT name, partner FROM project WHERE id = :p"), {"p": project_id}
    ).first()
    if project is None:
        return None
    flow = Stage.workflow()[1:]
    rows = _parcel_rows(session, project_id, as_of)
    wb = Workbook()
    summary = wb.active
    summary.title = "汇总"
    summary.append([f"{project.name} 征地拆迁台账", f"截至 {as_of.isoformat()}"])
    summary["A1"].font = Font(bold=True, size=13)
    _header(summary, ["批次", "目标（亩）", "宗地数", "面积（亩）", "已整理到位（亩）",
                      "争议宗地", "完成期限", "按当前进度预计完成", "能否按期"])  # fmt: skip
    batches = session.execute(
        text("SELECT id, name FROM acquisition_batch WHERE project_id = :p ORDER BY due, name"),
        {"p": project_id},
    ).all()
    for batch_id, name in batches:
        pr = acquisition.progress(session, project_id, batch_id, as_of)
        assert pr is not None
        in_batch = [r for r in rows if r["batch"] == name]
        summary.append([
            name, pr["target_mu"], len(in_batch), pr["area_mu"], pr["cleared_mu"],
            pr["disputes"]["parcels"], pr["due"], pr["projected_completion"] or "无法预计",
            "是" if pr["on_track"] else "否",
        ])  # fmt: skip
        if not pr["on_track"]:
            summary.cell(row=summary.max_row, column=9).font = WARN
    _widths(summary, [14, 11, 8, 11, 14, 9, 12, 18, 9])
    for batch in [*(b[1] for b in batches), None]:
        in_batch = [r for r in rows if r["batch"] == batch]
        if not in_batch:
            continue
        ws = wb.create_sheet(_sheet_title(batch or "未分批"))
        _header(ws, ["宗地代码", "权利人", "坐落", "地类", "面积（亩）", "当前阶段",
                     *(s.label_zh for s in flow), "争议"])  # fmt: skip
        for r in in_batch:
            reached = r["reached"] or {}
            ws.append([
                r["code"], r["owner"], r["location"],
                f"{r['land_use_code']} {r['land_use_name']}".strip(), round(r["area_mu"], 2),
                Stage(r["stage"]).label_zh,
                *(dt.date.fromisoformat(reached[s.value]) if s.value in reached else None
                  for s in flow),
                (r["dispute_reason"] or "是") if r["dispute"] else "",
            ])  # fmt: skip
        first, last = 2, ws.max_row
        total = round(sum(r["area_mu"] for r in in_batch), 2)
        ws.append(["合计", f"{len(in_batch)} 宗", None, None, total])
        ws.append([])
        ws.append(["阶段", "面积（亩）"])
        for s in Stage:
            mu = sum(r["area_mu"] for r in in_batch if r["stage"] == s.value)
            if mu:
                ws.append([s.label_zh, round(mu, 2)])
        for cell in ws[first - 1 + len(in_batch) + 1]:
            cell.font = BOLD
        for row in ws.iter_rows(min_row=first, max_row=last, min_col=7, max_col=6 + len(flow)):
            for cell in row:
                cell.number_format = "yyyy-mm-dd"
        _widths(ws, [22, 22, 24, 16, 10, 12, *([12] * len(flow)), 24])
    return xlsx.to_bytes(wb)


def period_workbook(session: Session, first: dt.date, last: dt.date, title: str) -> bytes:
    """月统计 / 季分析: quota movements in the period and the balances at its end,
    acquisition progress at its end, projects by stage, mu per zone and land-use class."""
    from landmap.services import quota

    wb = Workbook()
    ws = wb.active
    ws.title = "用地指标"
    ws.append([f"{title}（{first.isoformat()} 至 {last.isoformat()}）"])
    ws["A1"].font = Font(bold=True, size=13)
    _header(ws, ["日期", "年度", "来源", "类型", "亩", "项目", "批次", "文号", "备注", "经办人"])
    entries = session.execute(
        text("""SELECT e.*, p.name AS project, b.name AS batch FROM quota_entry e
                LEFT JOIN project p ON p.id = e.project_id
                LEFT JOIN acquisition_batch b ON b.id = e.batch_id
                WHERE e.entry_date BETWEEN :a AND :b ORDER BY e.entry_date, e.id"""),
        {"a": first, "b": last},
    ).mappings()
    for e in entries:
        ws.append([
            e["entry_date"], e["year"],
            quota.SOURCE_LABELS[e["source"]][0], quota.KIND_LABELS[e["kind"]][0],
            float(e["mu"]), e["project"], e["batch"], e["ref"], e["note"], e["recorded_by"],
        ])  # fmt: skip
        ws.cell(row=ws.max_row, column=1).number_format = "yyyy-mm-dd"
    ws.append([])
    ws.append([f"{last.year} 年度指标（截至报表日）"])
    ws.cell(row=ws.max_row, column=1).font = BOLD
    book = quota.ledger(session, last.year)
    _header(ws, ["来源", "下达", "预留", "已使用", "剩余"])
    for source, b in book["by_source"].items():
        ws.append([quota.SOURCE_LABELS[source][0], b["granted"], b["reserved"], b["consumed"],
                   b["remaining"]])  # fmt: skip
    ws.append(["合计", book["granted_mu"], book["reserved_mu"], book["consumed_mu"],
               book["remaining_mu"]])  # fmt: skip
    ws.append(["年度目标", book["target_mu"]])
    _widths(ws, [12, 8, 14, 10, 10, 24, 10, 28, 30, 10])

    ws = wb.create_sheet("征拆进度")
    _header(ws, ["项目", "批次", "目标（亩）", "已整理到位（亩）", "本期新增整理到位（亩）",
                 "争议宗地", "期限", "预计完成", "能否按期"])  # fmt: skip
    for pid, bid, project, batch in session.execute(
        text("""
            SELECT p.id, b.id, p.name, b.name FROM acquisition_batch b
            JOIN project p ON p.id = b.project_id ORDER BY p.name, b.due""")
    ):
        now = acquisition.progress(session, pid, bid, last)
        before = acquisition.progress(session, pid, bid, first - dt.timedelta(days=1))
        assert now is not None and before is not None
        ws.append([project, batch, now["target_mu"], now["cleared_mu"],
                   round(now["cleared_mu"] - before["cleared_mu"], 2),
                   now["disputes"]["parcels"], now["due"],
                   now["projected_completion"] or "无法预计",
                   "是" if now["on_track"] else "否"])  # fmt: skip
    _widths(ws, [26, 10, 11, 15, 20, 9, 12, 14, 9])

    ws = wb.create_sheet("项目")
    _header(ws, ["项目", "区块", "类型", "阶段", "宗地数", "面积（亩）", "合作方"])
    from landmap.domain import ProjectKind, ProjectStage
    from landmap.services import projects

    for p in projects.list_projects(session):
        ws.append([p["name"], p["zone"], ProjectKind(p["kind"]).label_zh,
                   ProjectStage(p["stage"]).label_zh, p["parcels"], p["area_mu"],
                   p["partner"]])  # fmt: skip
    _widths(ws, [26, 6, 10, 10, 8, 11, 24])

    ws = wb.create_sheet("分区地类")
    _header(ws, ["区块", "地类代码", "地类", "宗地数", "面积（亩）"])
    from landmap.services import zones

    for code in zones.zone_codes(session):
        for r in zones.mu_by_land_use(session, code):
            ws.append([code, r["code"], r["name"], r["parcels"], r["mu"]])
    _widths(ws, [6, 10, 24, 8, 11])
    return xlsx.to_bytes(wb)


def adjustment_workbook(c: dict[str, Any]) -> bytes:
    """The check of a zone boundary draft, for the file that goes to the approval meeting."""
    wb = Workbook()
    ws = wb.active
    ws.title = "核查汇总"
    ws.append([f"{c['zone']}区边界调整草案 #{c['draft_id']} 核查表", c.get("note") or ""])
    ws["A1"].font = Font(bold=True, size=13)
    rows = [
        ("调整前面积（亩）", c["area_before_mu"]), ("调整后面积（亩）", c["area_after_mu"]),
        ("调入面积（亩）", c["added_mu"]), ("调出面积（亩）", c["removed_mu"]),
        ("与其他区块重叠（亩）", c["overlap_other_zones_mu"]),
        ("占用永久基本农田（亩）", c["farmland_conflict_mu"]),
        ("调入农用地（亩）", c["agricultural_added_mu"]),
        ("其中耕地（亩）", c["cultivated_added_mu"]),
        ("需用地指标（亩）", c["quota_needed_mu"]),
        (f"{c['quota_year']}年剩余指标（亩）", c["quota_remaining_mu"]),
        ("草案编制人", c["author"]),
    ]  # fmt: skip
    for label, value in rows:
        ws.append([label, value])
    ws.append([])
    ws.append(["问题"])
    ws.cell(row=ws.max_row, column=1).font = BOLD
    for p in c["problems"] or [{"message": "无"}]:
        ws.append([p["message"]])
    _widths(ws, [28, 40])
    for title, key in (("调入宗地", "parcels_entering"), ("调出宗地", "parcels_leaving"),
                       ("被切割宗地", "parcels_cut")):  # fmt: skip
        sheet = wb.create_sheet(title)
        _header(
            sheet, ["宗地代码", "名称", "权利人", "项目", "面积（亩）", "界内（亩）", "界外（亩）"]
        )
        for p in c[key]:
            sheet.append([p["code"], p["name"], p["owner"], p["project"], p["area_mu"],
                          p["inside_mu"], p["outside_mu"]])  # fmt: skip
        _widths(sheet, [22, 20, 22, 24, 10, 10, 10])
    sheet = wb.create_sheet("调入地类")
    _header(sheet, ["地类代码", "地类", "类别", "面积（亩）"])
    for r in c["added_by_land_use"]:
        sheet.append([r["code"], r["name"], r["category"], r["mu"]])
    sheet = wb.create_sheet("基本农田")
    _header(sheet, ["图斑", "占用（亩）", "在调入范围"])
    for f in c["farmland_patches"]:
        sheet.append([f["code"], f["mu"], "是" if f["in_added_area"] else "否"])
    return xlsx.to_bytes(wb)
