"""The 补偿安置台账 workbook of a project or of one of its batches (openpyxl, the shape of
services/xlsx.py): 说明, a 汇总 of the money, one row per household (补偿安置台账) and the
items each household's compensation is computed from (补偿明细).

Every figure is one the API shows: the totals are services.compensation.summary's (what
``GET /api/projects/<id>/compensation`` answers), the rows households_of's (what
``.../compensation/households`` answers) and the items compute_many's, the computation the
households' ``computed_yuan`` is the total of, on the same day. Nothing is summed here a
second way. ID numbers are masked unless the caller asks for them unmasked (and then the
caller records the view: services.compensation.record_unmasked_view).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.domain import CHINA, HouseholdStatus, HouseStructure, LabelledEnum, Resettlement, today
from landmap.messages import Message
from landmap.services import compensation, xlsx
from landmap.services.personal import Sealer
from landmap.services.xlsx import COUNT, MONEY

ZH = "zh_CN"
M2 = "0.00"
QUANTITY = "0.0000"  # a quantity is rounded to 4 decimals (services.compensation)
WAN = 10000  # 元 in a 万元
LEDGER = "补偿安置台账"
ITEMS = "补偿明细"
TOTALS = "汇总"


@dataclass(frozen=True)
class Book:
    """A workbook made: its bytes, the name to give the file, and the households it lists
    (whose numbers the caller must record as viewed when they are unmasked)."""

    data: bytes
    file_name: str
    households: list[int]


def _zh(value: Any) -> Any:
    if isinstance(value, LabelledEnum):
        return value.label_zh
    if isinstance(value, Message):
        return value.render(ZH)
    return value


def _houses(session: Session, ids: Sequence[int]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = defaultdict(list)
    for row in session.execute(
        text("""SELECT household_id, structure, area_m2, legal FROM household_house
                WHERE household_id = ANY(:ids) ORDER BY household_id, id"""),
        {"ids": list(ids)},
    ):
        found[row.household_id].append(row)
    return found


def _last_paid(session: Session, ids: Sequence[int], as_of: dt.date | None) -> dict[int, Any]:
    """The day of each household's last payment (or reversal) by ``as_of``, as the status
    of households_of counts them."""
    return dict(
        session.execute(
            text("""SELECT household_id, max(paid_on) FROM compensation_payment
                    WHERE household_id = ANY(:ids)
                      AND (CAST(:as_of AS date) IS NULL OR paid_on <= :as_of)
                    GROUP BY household_id"""),
            {"ids": list(ids), "as_of": as_of},
        ).all()
    )


def _house_text(houses: list[Any]) -> str:
    return "；".join(
        f"{HouseStructure(h.structure).label_zh} {h.area_m2:.2f} m²"
        + ("" if h.legal else "（无证）")
        for h in houses
    )


LEDGER_HEADERS = [
    "户号",
    "户主",
    "身份证号",
    "家庭人口",
    "宗地",
    "房屋（结构、面积）",
    "房屋面积（m²）",
    "安置方式",
    "安置房面积（m²）",
    "状态",
    "测算补偿（元）",
    "协议金额（元）",
    "已兑付（元）",
    "未兑付（元）",
    "协议编号",
    "协议版本",
    "协议日期",
    "最近兑付日期",
]
LEDGER_FORMATS = [COUNT, None, None, COUNT, None, None, M2, None, M2, None]
LEDGER_FORMATS += [MONEY] * 4 + [None, COUNT]


def _ledger_rows(households, houses, last_paid) -> list[list[Any]]:
    rows = []
    for h in households:
        held = houses.get(h["id"], [])
        agreement = h["agreement"]
        rows.append(
            [
                h["id"],
                h["head"],
                h["id_number"] or "",
                h["members"],
                "、".join(h["parcels"]),
                _house_text(held),
                sum(house.area_m2 for house in held) if held else None,
                Resettlement(h["resettlement"]).label_zh,
                h["flat_area_m2"],
                HouseholdStatus(h["status"]).label_zh,
                h["computed_yuan"],
                h["agreed_yuan"],
                h["paid_yuan"],
                h["outstanding_yuan"],
                agreement["number"] if agreement else None,
                agreement["version"] if agreement else None,
                dt.date.fromisoformat(agreement["date"]) if agreement else None,
                last_paid.get(h["id"]),
            ]
        )
    return rows


def _ledger_totals(households, rows, found: dict[str, Any]) -> list[Any]:
    return [
        "合计",
        f"{len(households)} 户",
        None,
        sum(h["members"] for h in households),
        None,
        None,
        sum(r[6] for r in rows if r[6] is not None),
        f"产权调换 {found['flats_needed']} 户",
        found["flat_area_needed_m2"],
        None,
        found["computed_yuan"],
        found["agreed_yuan"],
        found["paid_yuan"],
        found["outstanding_yuan"],
    ]


ITEM_HEADERS = ["户号", "户主", "补偿项目", "类别", "数量", "单位", "单价（元）", "金额（元）"]
ITEM_HEADERS += ["说明"]
ITEM_FORMATS = [COUNT, None, None, None, QUANTITY, None, MONEY, MONEY]


def _item_rows(households, computed: dict[int, compensation.Computation]) -> list[list[Any]]:
    """Each household's items (their amounts sum to its computed total), then what the
    standard has no rate for (no amount: outside the total)."""
    rows = []
    for h in households:
        c = computed[h["id"]]
        if c.standard_id is None:
            rows.append([h["id"], h["head"], *([None] * 6), f"{c.day} 无适用的补偿标准"])
            continue
        for item in c.items:
            i = item.as_dict()  # what GET /api/households/<id>/compensation shows
            rows.append(
                [
                    h["id"],
                    h["head"],
                    _zh(i["kind_label"]),
                    _zh(i["class_label"]),
                    i["quantity"],
                    _zh(i["unit_label"]),
                    i["rate_yuan"],
                    i["amount_yuan"],
                    _zh(i.get("note", "")),
                ]
            )
        for u in c.unrated:
            rows.append(
                [
                    h["id"],
                    h["head"],
                    _zh(u["kind_label"]),
                    _zh(u["class_label"]),
                    u["quantity"],
                    None,
                    None,
                    None,
                    "标准未列此项，不计入测算补偿",
                ]
            )
    return rows


def _money_rows(found: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for label, key in (
        ("预算", "budget_yuan"),
        ("测算补偿", "computed_yuan"),
        ("协议金额", "agreed_yuan"),
        ("已兑付", "paid_yuan"),
        ("未兑付", "outstanding_yuan"),
    ):
        value = found[key]
        rows.append([label, value, value / WAN if value is not None else None])
    return rows


def _scope_names(session: Session, project_id: int, batch_id: int | None) -> tuple[str, str]:
    project = session.execute(
        text("SELECT name FROM project WHERE id = :p"), {"p": project_id}
    ).scalar_one()
    batch = "全部批次"
    if batch_id is not None:
        batch = session.execute(
            text("SELECT name FROM acquisition_batch WHERE id = :b"), {"b": batch_id}
        ).scalar_one()
    return project, batch


def file_name(project: str, batch: str, day: dt.date) -> str:
    """The download's name: the project's and batch's names with what a file name cannot
    hold replaced."""
    bad = '<>:"/\\|?*'
    safe = "".join("_" if ch in bad or ord(ch) < 32 else ch for ch in f"{project}-{batch}")
    return f"{safe[:80]}-{LEDGER}-{day.isoformat()}.xlsx"


def ledger(
    session: Session,
    sealer: Sealer,
    project_id: int,
    batch_id: int | None = None,
    as_of: dt.date | None = None,
    unmasked: bool = False,
) -> Book:
    """The 补偿安置台账 of a project (or batch, already checked to be the project's) as of a
    day (agreements signed and payments made by then; today when not given)."""
    households = compensation.households_of(
        session, sealer, project_id, batch_id, as_of, unmasked=unmasked
    )
    # the totals are the sums of these very rows (one reading: no payment falls between)
    found = compensation.summary(session, sealer, project_id, batch_id, as_of, households)
    ids = [h["id"] for h in households]
    computed = compensation.compute_many(session, ids, as_of)
    rows = _ledger_rows(households, _houses(session, ids), _last_paid(session, ids, as_of))
    project, batch = _scope_names(session, project_id, batch_id)
    day = as_of or today()
    wb = Workbook()
    ws = wb.active
    ws.title = TOTALS
    xlsx.write_table(
        ws, ["项目", "金额（元）", "金额（万元）"], _money_rows(found), [None, MONEY, MONEY]
    )
    xlsx.write_table(
        wb.create_sheet(LEDGER),
        LEDGER_HEADERS,
        rows,
        LEDGER_FORMATS,
        totals=[_ledger_totals(households, rows, found)],
    )
    items = _item_rows(households, computed)
    xlsx.write_table(
        wb.create_sheet(ITEMS),
        ITEM_HEADERS,
        items,
        ITEM_FORMATS,
        totals=[["合计", None, None, None, None, None, None, found["computed_yuan"]]],
    )
    counts = found["households"]
    xlsx.describe(
        wb,
        f"{project} {batch} {LEDGER}（截至 {day.isoformat()}）",
        [
            ("项目", project),
            ("批次", batch),
            ("截至", day),
            ("生成于", dt.datetime.now(CHINA).strftime("%Y-%m-%d %H:%M")),
            ("户数", counts["total"]),
            *((s.label_zh, counts[s.value]) for s in HouseholdStatus),
            ("需安置房", f"{found['flats_needed']} 套，{found['flat_area_needed_m2']:.2f} m²"),
            ("计划安置房", "未设定" if found["flats_planned"] is None else found["flats_planned"]),
            ("身份证号", "完整显示（已记入审计日志）" if unmasked else "已脱敏"),
            ("金额", "元，保留两位小数；合计与系统接口的汇总数一致"),
            (
                "测算补偿",
                "按协议签订日（未签约的按截至日）适用的补偿标准逐项测算，"
                "见“补偿明细”；协议、兑付为截至日已签订、已支付的",
            ),
            (TOTALS, "预算、测算补偿、协议金额、已兑付、未兑付"),
            (LEDGER, "每户一行：户主、人口、宗地、房屋、安置方式、状态与金额"),
            (ITEMS, "每户补偿的逐项测算：数量 × 单价 = 金额；各户金额之和即其测算补偿"),
        ],
    )
    return Book(xlsx.to_bytes(wb), file_name(project, batch, day), ids)


# --- the money in the 月统计 / 季分析 workbooks ---------------------------------------------

PERIOD_HEADERS = [
    "项目",
    "批次",
    "预算（元）",
    "测算补偿（元）",
    "协议金额（元）",
    "已兑付（元）",
    "未兑付（元）",
    "户数",
    *(f"{s.label_zh}（户）" for s in HouseholdStatus),
    "需安置房（套）",
    "计划安置房（套）",
]
PERIOD_FORMATS = [None, None, *([MONEY] * 5), *([COUNT] * (3 + len(HouseholdStatus)))]


def period_rows(session: Session, sealer: Sealer, as_of: dt.date) -> list[list[Any]]:
    """Each project with households (its whole, then each of its batches) as of ``as_of``:
    the figures of services.compensation.summary."""
    projects = session.execute(
        text("""SELECT p.id, p.name FROM project p
                WHERE EXISTS (SELECT 1 FROM household_parcel hp JOIN parcel pa
                              ON pa.id = hp.parcel_id
                              WHERE pa.project_id = p.id AND pa.retired_on IS NULL)
                ORDER BY p.name, p.id""")
    ).all()
    rows = []
    for project_id, name in projects:
        batches = session.execute(
            text("""SELECT id, name FROM acquisition_batch WHERE project_id = :p
                    ORDER BY due, name"""),
            {"p": project_id},
        ).all()
        for batch_id, batch in [(None, "全部批次"), *batches]:
            found = compensation.summary(session, sealer, project_id, batch_id, as_of)
            counts = found["households"]
            rows.append(
                [
                    name,
                    batch,
                    *(found[k] for k in ("budget_yuan", "computed_yuan", "agreed_yuan")),
                    found["paid_yuan"],
                    found["outstanding_yuan"],
                    counts["total"],
                    *(counts[s.value] for s in HouseholdStatus),
                    found["flats_needed"],
                    found["flats_planned"],
                ]
            )
    return rows
