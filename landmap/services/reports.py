"""Workbooks the officers keep beside the map (openpyxl); each leaves through xlsx.to_bytes.

Every workbook has the same shape (services/xlsx.py): a first sheet 说明 saying what it is and
as of which day (also in the document's properties and on every printed page), then one table
per sheet with its header in row 1 and data from row 2, mu as numbers shown with two decimals.
Figures are of one day: a period report's are of the period's last day (today while it runs).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from openpyxl import Workbook
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.domain import ProjectKind, Stage
from landmap.geo.units import mu2
from landmap.services import acquisition, xlsx
from landmap.services.xlsx import COUNT, MU

MU_NOTE = (
    "亩（1 亩 = 10000/15 平方米），按精确面积计算，只在显示时四舍五入到两位小数；"
    "合计为精确值之和再取整"
)


def _sheet_title(name: str) -> str:
    bad = "[]:*?/\\"
    return "".join("_" if ch in bad else ch for ch in name)[:31] or "sheet"


def _made() -> str:
    return dt.datetime.now(acquisition.CHINA).strftime("%Y-%m-%d %H:%M")


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


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
    """The 拆迁台账 of a project as of a day: a summary sheet (per batch: target, area, mu at
    each stage, cleared, disputes, due and projected completion), then one sheet per batch
    with a row per parcel (stage, the date each stage was reached, dispute) and its total."""
    project = session.execute(
        text("SELECT name, partner FROM project WHERE id = :p"), {"p": project_id}
    ).first()
    if project is None:
        return None
    flow = Stage.workflow()[1:]
    rows = _parcel_rows(session, project_id, as_of)
    batches = session.execute(
        text("SELECT id, name FROM acquisition_batch WHERE project_id = :p ORDER BY due, name"),
        {"p": project_id},
    ).all()
    wb = Workbook()
    summary = wb.active
    summary.title = "汇总"
    lines = []
    for batch_id, name in batches:
        pr = acquisition.progress(session, project_id, batch_id, as_of)
        assert pr is not None
        lines.append([
            name, pr["target_mu"], sum(1 for r in rows if r["batch"] == name), pr["area_mu"],
            *(pr["mu_by_stage"][s.value] for s in Stage.workflow()), pr["cleared_mu"],
            pr["disputes"]["parcels"], _day(pr["due"]),
            _day(pr["projected_completion"]) or "无法预计", "是" if pr["on_track"] else "否",
        ])  # fmt: skip
    xlsx.write_table(
        summary,
        ["批次", "目标（亩）", "宗地数", "面积（亩）",
         *(f"{s.label_zh}（亩）" for s in Stage.workflow()), "已整理到位（亩）", "争议宗地",
         "完成期限", "按当前进度预计完成", "能否按期"],
        lines,
        [None, MU, COUNT, MU, *([MU] * len(Stage.workflow())), MU, COUNT],
    )  # fmt: skip
    sheets = []
    for batch in [*(b[1] for b in batches), None]:
        in_batch = [r for r in rows if r["batch"] == batch]
        if not in_batch:
            continue
        ws = wb.create_sheet(_sheet_title(batch or "未分批"))
        sheets.append(ws.title)
        xlsx.write_table(
            ws,
            ["宗地代码", "权利人", "坐落", "地类", "面积（亩）", "所处阶段",
             *(f"{s.label_zh}日期" for s in flow), "争议"],
            ([r["code"], r["owner"], r["location"],
              f"{r['land_use_code']} {r['land_use_name']}".strip(), mu2(r["area_mu"]),
              Stage(r["stage"]).label_zh,
              *(_day((r["reached"] or {}).get(s.value)) for s in flow),
              (r["dispute_reason"] or "是") if r["dispute"] else ""] for r in in_batch),
            [None, None, None, None, MU],
            totals=[["合计", f"{len(in_batch)} 宗", None, None,
                     mu2(sum(r["area_mu"] for r in in_batch))]],
        )  # fmt: skip
    xlsx.describe(wb, f"{project.name} 征地拆迁台账", [
        ("截至", as_of), ("合作方", project.partner or ""), ("生成于", _made()),
        ("面积单位", MU_NOTE),
        ("汇总", "各批次截至当日的目标、面积、各阶段面积、整理到位、争议宗地与预计完成日期"),
        *((name, "该批次每宗地截至当日所处阶段、到达各阶段的日期、争议") for name in sheets),
    ])  # fmt: skip
    return xlsx.to_bytes(wb)


# --- 月统计 / 季分析 ------------------------------------------------------------------------


def period_workbook(session: Session, first: dt.date, last: dt.date, title: str) -> bytes:
    """月统计 / 季分析 of the period ``first``..``last``, every sheet as of the period's last
    day (today when the period has not ended, and then the title says 截至 today): the quota
    books of its year and the entries dated in it, acquisition progress, projects by
    acquisition stage, mu per zone and land-use class."""
    as_of = min(last, acquisition.today())
    name = f"{title}（{first.isoformat()} 至 {last.isoformat()}）"
    if as_of < last:
        name += f" 截至 {as_of.isoformat()}"
    wb = Workbook()
    _quota_books(wb.active, session, as_of)
    _quota_entries(wb.create_sheet("指标变动"), session, first, as_of)
    _acquisition(wb.create_sheet("征拆进度"), session, first, as_of)
    _projects(wb.create_sheet("项目"), session, as_of)
    xlsx.write_table(
        wb.create_sheet("分区地类"),
        ["区块", "地类代码", "地类", "宗地数", "面积（亩）"],
        zone_land_use(session, as_of),
        [None, None, None, COUNT, MU],
    )
    xlsx.describe(wb, name, [
        ("期间", f"{first.isoformat()} 至 {last.isoformat()}"), ("截至", as_of),
        ("生成于", _made()), ("面积单位", MU_NOTE),
        ("用地指标", f"{as_of.year} 年度用地指标截至当日的下达、预留、已使用、剩余（按来源）"),
        ("指标变动", "本期内（截至当日）记录的用地指标台账条目"),
        ("征拆进度", "各批次截至当日的整理到位面积、本期新增、争议宗地与预计完成日期"),
        ("项目", "各项目宗地截至当日所处征拆阶段的面积"),
        ("分区地类", "各区块宗地按地类（GB/T 21010 一级类）的宗地数与面积"),
    ])  # fmt: skip
    return xlsx.to_bytes(wb)


def _quota_books(ws, session: Session, as_of: dt.date) -> None:
    from landmap.services import quota

    ws.title = "用地指标"
    book = quota.ledger(session, as_of.year, as_of)
    xlsx.write_table(
        ws, ["来源", "下达（亩）", "预留（亩）", "已使用（亩）", "剩余（亩）"],
        ([quota.SOURCE_LABELS[s][0], b["granted"], b["reserved"], b["consumed"],
          b["remaining"]] for s, b in book["by_source"].items()),
        [None, MU, MU, MU, MU],
        totals=[["合计", book["granted_mu"], book["reserved_mu"], book["consumed_mu"],
                 book["remaining_mu"]], ["年度目标", book["target_mu"]]],
    )  # fmt: skip


def _quota_entries(ws, session: Session, first: dt.date, as_of: dt.date) -> None:
    from landmap.services import quota

    entries = session.execute(
        text("""SELECT e.*, p.name AS project, b.name AS batch FROM quota_entry e
                LEFT JOIN project p ON p.id = e.project_id
                LEFT JOIN acquisition_batch b ON b.id = e.batch_id
                WHERE e.entry_date BETWEEN :a AND :b ORDER BY e.entry_date, e.id"""),
        {"a": first, "b": as_of},
    ).mappings()
    xlsx.write_table(
        ws, ["日期", "年度", "来源", "类型", "面积（亩）", "项目", "批次", "文号", "备注",
             "经办人"],
        ([e["entry_date"], e["year"], quota.SOURCE_LABELS[e["source"]][0],
          quota.KIND_LABELS[e["kind"]][0], mu2(e["mu"]), e["project"], e["batch"], e["ref"],
          e["note"], e["recorded_by"]] for e in entries),
        [None, COUNT, None, None, MU],
    )  # fmt: skip


def _acquisition(ws, session: Session, first: dt.date, as_of: dt.date) -> None:
    lines = []
    for pid, bid, project, batch in session.execute(
        text("""SELECT p.id, b.id, p.name, b.name FROM acquisition_batch b
                JOIN project p ON p.id = b.project_id ORDER BY p.name, b.due""")
    ):
        now = acquisition.progress(session, pid, bid, as_of)
        assert now is not None
        lines.append([
            project, batch, now["target_mu"], now["cleared_mu"],
            mu2(_cleared_gain(session, bid, first - dt.timedelta(days=1), as_of)),
            now["disputes"]["parcels"], _day(now["due"]),
            _day(now["projected_completion"]) or "无法预计", "是" if now["on_track"] else "否",
        ])  # fmt: skip
    xlsx.write_table(
        ws, ["项目", "批次", "目标（亩）", "已整理到位（亩）", "本期新增整理到位（亩）",
             "争议宗地", "期限", "预计完成", "能否按期"],
        lines, [None, None, MU, MU, MU, COUNT],
    )  # fmt: skip


def _cleared_gain(session: Session, batch_id: int, before: dt.date, as_of: dt.date) -> float:
    """Exact mu of a batch cleared on ``as_of`` less that cleared on ``before``."""
    return session.execute(
        text("""SELECT coalesce(sum(area_mu) FILTER (
                           WHERE lm_stage_as_of(id, stage, :d) = 'cleared'), 0)
                     - coalesce(sum(area_mu) FILTER (
                           WHERE lm_stage_as_of(id, stage, :b) = 'cleared'), 0)
                FROM parcel WHERE batch_id = :batch"""),
        {"d": as_of, "b": before, "batch": batch_id},
    ).scalar_one()


def _projects(ws, session: Session, as_of: dt.date) -> None:
    """Each project's parcels and their mu at each acquisition stage on ``as_of``."""
    rows = session.execute(
        text("""
        SELECT p.id, p.name, z.code AS zone, p.kind,
               lm_stage_as_of(pa.id, pa.stage, :d) AS stage, count(pa.id) AS n,
               sum(pa.area_mu) AS mu,
               count(pa.id) FILTER (WHERE lm_dispute_as_of(pa.id, pa.dispute, :d)) AS disputes
        FROM project p LEFT JOIN zone z ON z.id = p.zone_id
        LEFT JOIN parcel pa ON pa.project_id = p.id
        GROUP BY p.id, p.name, z.code, p.kind, 5 ORDER BY z.code, p.name"""),
        {"d": as_of},
    ).mappings()
    projects: dict[int, dict[str, Any]] = {}
    for r in rows:
        p = projects.setdefault(r["id"], {**r, "n": 0, "mu": 0.0, "disputes": 0, "by": {}})
        if r["n"]:
            p["n"] += r["n"]
            p["mu"] += r["mu"]
            p["disputes"] += r["disputes"]
            p["by"][r["stage"]] = r["mu"]
    xlsx.write_table(
        ws, ["项目", "区块", "类型", "宗地数", "面积（亩）",
             *(f"{s.label_zh}（亩）" for s in Stage), "争议宗地"],
        ([p["name"], p["zone"], ProjectKind(p["kind"]).label_zh, p["n"], mu2(p["mu"]),
          *(mu2(p["by"].get(s.value, 0.0)) for s in Stage), p["disputes"]]
         for p in projects.values()),
        [None, None, None, COUNT, MU, *([MU] * len(Stage)), COUNT],
    )  # fmt: skip


def zone_land_use(session: Session, as_of: dt.date) -> list[list[Any]]:
    """The 分区地类 sheet's rows on ``as_of``: zone, class code, class name, parcels, mu (the
    zone's figures by zones.zone_summary, as its page shows them that day)."""
    from landmap.services import zones

    return [
        [code, r.code, r.name, r.parcels, r.mu]
        for code in zones.zone_codes(session)
        for r in zones.zone_summary(session, code, as_of).mu_by_land_use
    ]


# --- a zone draft's check ---------------------------------------------------------------


def adjustment_workbook(c: dict[str, Any]) -> bytes:
    """The check of a zone boundary draft, for the file that goes to the approval meeting."""
    wb = Workbook()
    ws = wb.active
    ws.title = "核查汇总"
    xlsx.write_table(ws, ["指标", "数值"], [
        ("调整前面积（亩）", c["area_before_mu"]), ("调整后面积（亩）", c["area_after_mu"]),
        ("调入面积（亩）", c["added_mu"]), ("调出面积（亩）", c["removed_mu"]),
        ("与其他区块重叠（亩）", c["overlap_other_zones_mu"]),
        ("占用永久基本农田（亩）", c["farmland_conflict_mu"]),
        ("调入农用地（亩）", c["agricultural_added_mu"]),
        ("其中耕地（亩）", c["cultivated_added_mu"]),
        ("需用地指标（亩）", c["quota_needed_mu"]),
        (f"{c['quota_year']}年剩余指标（亩）", c["quota_remaining_mu"]),
    ], [None, MU])  # fmt: skip
    xlsx.write_table(wb.create_sheet("问题"), ["问题"],
                     [[p["message"]] for p in c["problems"] or [{"message": "无"}]])  # fmt: skip
    for title, key in (("调入宗地", "parcels_entering"), ("调出宗地", "parcels_leaving"),
                       ("被切割宗地", "parcels_cut")):  # fmt: skip
        xlsx.write_table(
            wb.create_sheet(title),
            ["宗地代码", "名称", "权利人", "项目", "面积（亩）", "界内（亩）", "界外（亩）"],
            ([p["code"], p["name"], p["owner"], p["project"], p["area_mu"], p["inside_mu"],
              p["outside_mu"]] for p in c[key]),
            [None, None, None, None, MU, MU, MU],
        )  # fmt: skip
    xlsx.write_table(wb.create_sheet("调入地类"), ["地类代码", "地类", "类别", "面积（亩）"],
                     ([r["code"], r["name"], r["category"], r["mu"]]
                      for r in c["added_by_land_use"]), [None, None, None, MU])  # fmt: skip
    xlsx.write_table(wb.create_sheet("基本农田"), ["图斑", "占用（亩）", "在调入范围"],
                     ([f["code"], f["mu"], "是" if f["in_added_area"] else "否"]
                      for f in c["farmland_patches"]), [None, MU])  # fmt: skip
    xlsx.describe(wb, f"{c['zone']}区边界调整草案 #{c['draft_id']} 核查表", [
        ("草案说明", c.get("note") or ""), ("草案编制人", c["author"]),
        ("指标年度", c["quota_year"]), ("核查于", _made()), ("面积单位", MU_NOTE),
    ])  # fmt: skip
    return xlsx.to_bytes(wb)
