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

from landmap.domain import CHINA, ProjectKind, QuotaSource, Stage, today
from landmap.geo.units import mu2
from landmap.services import acquisition, compensation_workbook, quota, statistics, xlsx, zones
from landmap.services.adjustment import DraftCheck, ParcelAcross
from landmap.services.personal import Sealer
from landmap.services.xlsx import COUNT, MONEY, MU

MU_NOTE = (
    "亩（1 亩 = 10000/15 平方米），按精确面积计算，只在显示时四舍五入到两位小数；"
    "合计为精确值之和再取整"
)


def _sheet_title(name: str) -> str:
    bad = "[]:*?/\\"
    return "".join("_" if ch in bad else ch for ch in name)[:31] or "sheet"


def _made() -> str:
    return dt.datetime.now(CHINA).strftime("%Y-%m-%d %H:%M")


def _parcel_rows(session: Session, project_id: int, as_of: dt.date) -> list[dict[str, Any]]:
    return [
        dict(row)
        for row in session.execute(
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
              AND lm_parcel_in_force(p.created_on, p.retired_on, :day)
            ORDER BY b.due NULLS LAST, b.name, p.code"""),
            {"project": project_id, "day": as_of},
        ).mappings()
    ]


def _expected(progress: acquisition.Progress) -> list[Any]:
    """Due date, projected completion and whether it is on track, as the sheets show them."""
    return [
        progress.due,
        progress.projected_completion or "无法预计",
        "是" if progress.on_track else "否",
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
    rows = _parcel_rows(session, project_id, as_of)
    batches = session.execute(
        text("SELECT id, name FROM acquisition_batch WHERE project_id = :p ORDER BY due, name"),
        {"p": project_id},
    ).all()
    wb = Workbook()
    _ledger_summary(wb.active, session, project_id, batches, rows, as_of)
    sheets = _batch_sheets(wb, [name for _, name in batches], rows)
    xlsx.describe(
        wb,
        f"{project.name} 征地拆迁台账",
        [
            ("截至", as_of),
            ("合作方", project.partner or ""),
            ("生成于", _made()),
            ("面积单位", MU_NOTE),
            ("汇总", "各批次截至当日的目标、面积、各阶段面积、整理到位、争议宗地与预计完成日期"),
            *((name, "该批次每宗地截至当日所处阶段、到达各阶段的日期、争议") for name in sheets),
        ],
    )
    return xlsx.to_bytes(wb)


def _ledger_summary(ws, session: Session, project_id: int, batches, rows, as_of: dt.date) -> None:
    """The 汇总 sheet: each batch's progress as of the day."""
    ws.title = "汇总"
    workflow = Stage.workflow()
    lines = []
    for batch_id, name in batches:
        progress = acquisition.progress(session, project_id, batch_id, as_of)
        assert progress is not None
        lines.append(
            [
                name,
                progress.target_mu,
                sum(1 for row in rows if row["batch"] == name),
                progress.area_mu,
                *(progress.mu_by_stage[stage.value] for stage in workflow),
                progress.cleared_mu,
                progress.disputes.parcels,
                *_expected(progress),
            ]
        )
    xlsx.write_table(
        ws,
        [
            "批次",
            "目标（亩）",
            "宗地数",
            "面积（亩）",
            *(f"{stage.label_zh}（亩）" for stage in workflow),
            "已整理到位（亩）",
            "争议宗地",
            "完成期限",
            "按当前进度预计完成",
            "能否按期",
        ],
        lines,
        [None, MU, COUNT, MU, *([MU] * len(workflow)), MU, COUNT],
    )


def _batch_sheets(wb, batch_names: list[str], rows: list[dict[str, Any]]) -> list[str]:
    """A sheet per batch (and one for parcels in none) with a row per parcel and the total;
    returns the sheets' titles."""
    reached = Stage.workflow()[1:]
    titles = []
    for batch in [*batch_names, None]:
        in_batch = [row for row in rows if row["batch"] == batch]
        if not in_batch:
            continue
        ws = wb.create_sheet(_sheet_title(batch or "未分批"))
        titles.append(ws.title)
        xlsx.write_table(
            ws,
            [
                "宗地代码",
                "权利人",
                "坐落",
                "地类",
                "面积（亩）",
                "所处阶段",
                *(f"{stage.label_zh}日期" for stage in reached),
                "争议",
            ],
            (
                [
                    row["code"],
                    row["owner"],
                    row["location"],
                    f"{row['land_use_code']} {row['land_use_name']}".strip(),
                    mu2(row["area_mu"]),
                    Stage(row["stage"]).label_zh,
                    *(_day((row["reached"] or {}).get(stage.value)) for stage in reached),
                    (row["dispute_reason"] or "是") if row["dispute"] else "",
                ]
                for row in in_batch
            ),
            [None, None, None, None, MU],
            totals=[
                [
                    "合计",
                    f"{len(in_batch)} 宗",
                    None,
                    None,
                    mu2(sum(row["area_mu"] for row in in_batch)),
                ]
            ],
        )
    return titles


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


# --- 月统计 / 季分析 ------------------------------------------------------------------------


def period_workbook(
    session: Session, first: dt.date, last: dt.date, title: str, sealer: Sealer
) -> bytes:
    """月统计 / 季分析 of the period ``first``..``last``, every sheet as of the period's last
    day (today when the period has not ended — its last day counts as under way until it is
    over — and then the title says 截至 today): the quota
    books of its year and the entries dated in it, acquisition progress, projects by
    acquisition stage, mu per zone and land-use class, and the compensation money of each
    project with households (and of its batches; ``sealer`` opens the households' records)."""
    as_of = min(last, today())
    name = f"{title}（{first.isoformat()} 至 {last.isoformat()}）"
    if last >= today():
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
    _enterprise_statistics(wb, session, first, as_of)
    xlsx.write_table(
        wb.create_sheet("补偿安置"),
        compensation_workbook.PERIOD_HEADERS,
        compensation_workbook.period_rows(session, sealer, as_of),
        compensation_workbook.PERIOD_FORMATS,
    )
    xlsx.describe(
        wb,
        name,
        [
            ("期间", f"{first.isoformat()} 至 {last.isoformat()}"),
            ("截至", as_of),
            ("生成于", _made()),
            ("面积单位", MU_NOTE),
            ("用地指标", f"{as_of.year} 年度用地指标截至当日的下达、预留、已使用、剩余（按来源）"),
            ("指标变动", "本期内（截至当日）记录的用地指标台账条目"),
            ("征拆进度", "各批次截至当日的整理到位面积、本期新增、争议宗地与预计完成日期"),
            ("项目", "各项目宗地截至当日所处征拆阶段的面积"),
            ("分区地类", "各区块宗地按地类（GB/T 21010 一级类）的宗地数与面积"),
            ("企业统计", "各企业本期（截至当日）月度统计合计，从业人员为期末人数"),
            ("亩均效益", "各企业当年与近 12 个月的亩均税收、亩均产值（万元/亩）、分类与排名"),
            (
                "补偿安置",
                "有安置户的各项目（全部批次与各批次）截至当日的预算、测算补偿、协议金额、"
                "已兑付、未兑付（元）与各状态户数",
            ),
        ],
    )
    return xlsx.to_bytes(wb)


def _enterprise_statistics(wb, session: Session, first: dt.date, as_of: dt.date) -> None:
    """The sheets 企业统计 (the period's figures per enterprise) and 亩均效益 (the ranking of
    the year, as of the period's last day)."""
    xlsx.write_table(
        wb.create_sheet("企业统计"),
        [
            "企业",
            "统一社会信用代码",
            "工业总产值（万元）",
            "营业收入（万元）",
            "税收（万元）",
            "固定资产投资（万元）",
            "期末从业人员（人）",
            "已报月数",
        ],
        statistics.period_rows(session, first, as_of),
        [None, None, MONEY, MONEY, MONEY, MONEY, COUNT, COUNT],
    )
    period = [
        "面积（亩）",
        "税收（万元）",
        "产值（万元）",
        "亩均税收（万元/亩）",
        "亩均产值（万元/亩）",
    ]
    period += ["分类", "排名"]
    found = statistics.ranking(session, as_of.year, as_of)
    trailing = found.rows[0].trailing if found.rows else None
    span = f"{trailing.first}至{trailing.last}" if trailing else "近12个月"
    xlsx.write_table(
        wb.create_sheet("亩均效益"),
        ["企业", *(f"{as_of.year}年{h}" for h in period), *(f"{span}{h}" for h in period)],
        statistics.efficiency_rows(found),
        [None, *([MU, MONEY, MONEY, MONEY, MONEY, None, COUNT] * 2)],
    )


def _quota_books(ws, session: Session, as_of: dt.date) -> None:
    ws.title = "用地指标"
    book = quota.ledger(session, as_of.year, as_of)
    xlsx.write_table(
        ws,
        ["来源", "下达（亩）", "预留（亩）", "已使用（亩）", "剩余（亩）"],
        (
            [
                QuotaSource(source).label_zh,
                balance.granted,
                balance.reserved,
                balance.consumed,
                balance.remaining,
            ]
            for source, balance in book.by_source.items()
        ),
        [None, MU, MU, MU, MU],
        totals=[
            ["合计", book.granted_mu, book.reserved_mu, book.consumed_mu, book.remaining_mu],
            ["年度目标", book.target_mu],
        ],
    )


def _quota_entries(ws, session: Session, first: dt.date, as_of: dt.date) -> None:
    xlsx.write_table(
        ws,
        ["日期", "年度", "来源", "类型", "面积（亩）", "项目", "批次", "文号", "备注", "经办人"],
        (
            [
                entry.date,
                entry.year,
                entry.source.label_zh,
                entry.kind.label_zh,
                entry.mu,
                entry.project,
                entry.batch,
                entry.ref,
                entry.note,
                entry.user,
            ]
            for entry in quota.entries_between(session, first, as_of)
        ),
        [None, COUNT, None, None, MU],
    )


def _acquisition(ws, session: Session, first: dt.date, as_of: dt.date) -> None:
    lines = []
    for project_id, batch_id, project, batch in session.execute(
        text("""SELECT p.id, b.id, p.name, b.name FROM acquisition_batch b
                JOIN project p ON p.id = b.project_id ORDER BY p.name, b.due""")
    ):
        progress = acquisition.progress(session, project_id, batch_id, as_of)
        assert progress is not None
        gained = _cleared_gain(session, batch_id, first - dt.timedelta(days=1), as_of)
        lines.append(
            [
                project,
                batch,
                progress.target_mu,
                progress.cleared_mu,
                mu2(gained),
                progress.disputes.parcels,
                *_expected(progress),
            ]
        )
    xlsx.write_table(
        ws,
        [
            "项目",
            "批次",
            "目标（亩）",
            "已整理到位（亩）",
            "本期新增整理到位（亩）",
            "争议宗地",
            "期限",
            "预计完成",
            "能否按期",
        ],
        lines,
        [None, None, MU, MU, MU, COUNT],
    )


def _cleared_gain(session: Session, batch_id: int, before: dt.date, as_of: dt.date) -> float:
    """Exact mu of a batch cleared on ``as_of`` less that cleared on ``before``."""
    return session.execute(
        text("""SELECT coalesce(sum(area_mu) FILTER (
                           WHERE lm_stage_as_of(id, stage, :d) = 'cleared'
                             AND lm_parcel_in_force(created_on, retired_on, :d)), 0)
                     - coalesce(sum(area_mu) FILTER (
                           WHERE lm_stage_as_of(id, stage, :b) = 'cleared'
                             AND lm_parcel_in_force(created_on, retired_on, :b)), 0)
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
            AND lm_parcel_in_force(pa.created_on, pa.retired_on, :d)
        GROUP BY p.id, p.name, z.code, p.kind, 5 ORDER BY z.code, p.name"""),
        {"d": as_of},
    ).mappings()
    projects: dict[int, dict[str, Any]] = {}
    for row in rows:
        project = projects.setdefault(
            row["id"], {**row, "n": 0, "mu": 0.0, "disputes": 0, "by": {}}
        )
        if row["n"]:
            project["n"] += row["n"]
            project["mu"] += row["mu"]
            project["disputes"] += row["disputes"]
            project["by"][row["stage"]] = row["mu"]
    xlsx.write_table(
        ws,
        [
            "项目",
            "区块",
            "类型",
            "宗地数",
            "面积（亩）",
            *(f"{stage.label_zh}（亩）" for stage in Stage),
            "争议宗地",
        ],
        (
            [
                project["name"],
                project["zone"],
                ProjectKind(project["kind"]).label_zh,
                project["n"],
                mu2(project["mu"]),
                *(mu2(project["by"].get(stage.value, 0.0)) for stage in Stage),
                project["disputes"],
            ]
            for project in projects.values()
        ),
        [None, None, None, COUNT, MU, *([MU] * len(Stage)), COUNT],
    )


def zone_land_use(session: Session, as_of: dt.date) -> list[list[Any]]:
    """The 分区地类 sheet's rows on ``as_of``: zone, class code, class name, parcels, mu (the
    zone's figures by zones.zone_summary, as its page shows them that day)."""
    return [
        [code, use.code, use.name, use.parcels, use.mu]
        for code in zones.zone_codes(session)
        for use in zones.zone_summary(session, code, as_of).mu_by_land_use
    ]


# --- a zone draft's check ---------------------------------------------------------------


def adjustment_workbook(check: DraftCheck) -> bytes:
    """The check of a zone boundary draft, for the file that goes to the approval meeting:
    its figures, its problems, the parcels it moves, the land it adds, the farmland it takes."""
    wb = Workbook()
    _check_figures(wb.active, check)
    problems = [[problem.message.render("zh_CN")] for problem in check.problems] or [["无"]]
    xlsx.write_table(wb.create_sheet("问题"), ["问题"], problems)
    for title, parcels in (
        ("调入宗地", check.parcels_entering),
        ("调出宗地", check.parcels_leaving),
        ("被切割宗地", check.parcels_cut),
    ):
        _parcels_across(wb.create_sheet(title), parcels)
    xlsx.write_table(
        wb.create_sheet("调入地类"),
        ["地类代码", "地类", "类别", "面积（亩）"],
        (
            [use.code, use.name, use.category_label.render("zh_CN"), use.mu]
            for use in check.added_by_land_use
        ),
        [None, None, None, MU],
    )
    xlsx.write_table(
        wb.create_sheet("基本农田"),
        ["图斑", "占用（亩）", "在调入范围"],
        (
            [patch.code, patch.mu, "是" if patch.in_added_area else "否"]
            for patch in check.farmland_patches
        ),
        [None, MU],
    )
    xlsx.describe(
        wb,
        f"{check.zone}区边界调整草案 #{check.draft_id} 核查表",
        [
            ("草案说明", check.note or ""),
            ("草案编制人", check.author),
            ("指标年度", check.quota_year),
            ("核查于", _made()),
            ("面积单位", MU_NOTE),
        ],
    )
    return xlsx.to_bytes(wb)


def _check_figures(ws, check: DraftCheck) -> None:
    ws.title = "核查汇总"
    xlsx.write_table(
        ws,
        ["指标", "数值"],
        [
            ("调整前面积（亩）", check.area_before_mu),
            ("调整后面积（亩）", check.area_after_mu),
            ("调入面积（亩）", check.added_mu),
            ("调出面积（亩）", check.removed_mu),
            ("与其他区块重叠（亩）", check.overlap_other_zones_mu),
            ("占用永久基本农田（亩）", check.farmland_conflict_mu),
            ("调入农用地（亩）", check.agricultural_added_mu),
            ("其中耕地（亩）", check.cultivated_added_mu),
            ("需用地指标（亩）", check.quota_needed_mu),
            (f"{check.quota_year}年剩余指标（亩）", check.quota_remaining_mu),
        ],
        [None, MU],
    )


def _parcels_across(ws, parcels: tuple[ParcelAcross, ...]) -> None:
    xlsx.write_table(
        ws,
        ["宗地代码", "名称", "权利人", "项目", "面积（亩）", "界内（亩）", "界外（亩）"],
        (
            [
                parcel.code,
                parcel.name,
                parcel.owner,
                parcel.project,
                parcel.area_mu,
                parcel.inside_mu,
                parcel.outside_mu,
            ]
            for parcel in parcels
        ),
        [None, None, None, None, MU, MU, MU],
    )
