"""Idle land (闲置土地): supplied land that has not been developed as its contract says.

The rule, from 《闲置土地处置办法》 (国土资源部令第53号, 2012), held in ``RULE``:

- 第二条: land is idle when it has not started development a full year after the start date
  of its supply contract or allocation decision (约定、规定的动工开发日期满一年未动工开发), or
  when it started but stopped for a full year having developed less than a third of the area
  to develop or invested less than a quarter of the total investment.
- 第十四条: idle a full year, an idle fee of 20% of the price (出让或者划拨价款) is levied; idle
  two full years, the land use right may be taken back without compensation (无偿收回).

How landmap reads it (one function, ``assess``):

- The clock starts on the contract's start date (``start_due``) for land not started, on the
  day of the stop for land stopped; "a full year" is the same date a year later (29 February:
  28 February), as PostgreSQL's ``+ interval '1 year'``. ``days_overdue`` is the days from the
  clock's start to the day looked at (negative: the start date is still to come).
- The area to develop is the parcel's area (ST_Area in the storage CRS); the total investment
  is the supply's planned investment. A stop counts when a recorded share is under its
  threshold; a stop of a year whose shares are not recorded is not called idle (no fee is
  computed on a guess) but listed among the parcels to watch, to be checked.
- The fee and the recovery follow the idle time whichever way the land became idle; the fee
  is 20% of the recorded price of the supply in force, in 万元 rounded to the fen once.
- Land whose delay was the government's (第八条) is not idle under the rules: the register does
  not record that, so the list is what the officer checks it against.
- Parcels to watch (not idle, listed apart): not started after the start date (less than a
  year), the start date within ``due_soon_days`` (landmap's own setting, not the rules'), a
  stop of less than a year, a stop of a year with its shares not recorded.

Read straight from the tables of migration 0018 (land_supply, construction_event) through
lm_supply_in_force and lm_construction_as_of, as of any day.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from openpyxl import Workbook
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.domain import LabelledEnum, today
from landmap.geo.units import mu2
from landmap.messages import Message, msg, rendered, term
from landmap.services import Result, plain, xlsx
from landmap.services.parcels import in_force_sql

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class IdleRule:
    """The idle-land rule's thresholds, with their source."""

    source: str = "《闲置土地处置办法》（国土资源部令第53号，2012年6月1日公布，2012年7月1日起施行）"
    idle_text: str = (
        "第二条：超过国有建设用地使用权有偿使用合同或者划拨决定书约定、规定的动工开发日期满一年"
        "未动工开发的国有建设用地；已动工开发但开发建设用地面积占应动工开发建设用地总面积不足"
        "三分之一或者已投资额占总投资额不足百分之二十五，中止开发建设满一年的国有建设用地，"
        "也可以认定为闲置土地。"
    )
    consequence_text: str = (
        "第十四条：未动工开发满一年的，按照土地出让或者划拨价款的百分之二十征缴土地闲置费；"
        "未动工开发满两年的，无偿收回国有建设用地使用权。"
    )
    idle_years: int = 1  # 满一年
    developed_share_min: Fraction = Fraction(1, 3)  # 不足三分之一
    invested_share_min: Fraction = Fraction(1, 4)  # 不足百分之二十五
    fee_rate: Decimal = Decimal("0.20")  # 百分之二十
    recovery_years: int = 2  # 满两年
    # landmap's own, not the rules': a start date this near is shown as due soon
    due_soon_days: int = 90

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "articles": [self.idle_text, self.consequence_text],
            "idle_after_years": self.idle_years,
            "developed_share_min": float(self.developed_share_min),
            "invested_share_min": float(self.invested_share_min),
            "fee_rate": float(self.fee_rate),
            "recovery_after_years": self.recovery_years,
            "due_soon_days": self.due_soon_days,
        }


RULE = IdleRule()


class IdleStatus(LabelledEnum):
    """Where supplied land stands under the idle-land rule: idle (the first two) or watched."""

    RECOVERABLE = "recoverable"  # 闲置满两年: 可无偿收回
    IDLE = "idle"  # 闲置满一年: 征缴闲置费
    OVERDUE = "overdue"  # 逾期未动工, 不满一年
    DUE_SOON = "due_soon"  # 临近约定动工日期
    STOPPED = "stopped"  # 中止开发, 不满一年
    UNRECORDED = "unrecorded"  # 中止满一年, 开发面积与投资未登记: 待核实

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.RECOVERABLE: ("闲置满两年（可无偿收回）", "Idle two years (may be recovered)"),
            cls.IDLE: ("闲置满一年（征缴闲置费）", "Idle one year (idle fee due)"),
            cls.OVERDUE: ("逾期未动工（不满一年）", "Start overdue (under a year)"),
            cls.DUE_SOON: ("临近约定动工日期", "Start date near"),
            cls.STOPPED: ("中止开发（不满一年）", "Stopped (under a year)"),
            cls.UNRECORDED: ("中止满一年（待核实）", "Stopped a year (to check)"),
        }

    @property
    def idle(self) -> bool:
        return self in (IdleStatus.RECOVERABLE, IdleStatus.IDLE)

    @property
    def theme(self) -> str:
        """Its class on the idle-land map (maps.styles.IDLE_STYLES): recoverable, idle, watch."""
        return self.value if self.idle else "watch"


def add_years(day: dt.date, years: int) -> dt.date:
    """The same date ``years`` later (29 February: 28 February), as PostgreSQL adds years."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class Facts:
    """What the rule looks at of one supplied parcel on a day."""

    start_due: dt.date
    price_wan: Decimal
    area_m2: float
    investment_wan: Decimal | None
    last_event: str | None  # the last construction event by the day, None: none
    event_on: dt.date | None
    developed_m2: Decimal | None
    invested_wan: Decimal | None


@dataclass(frozen=True)
class Assessment:
    status: IdleStatus
    clock_from: dt.date  # the start date, or the day of the stop
    idle_from: dt.date  # the day a full year has passed since clock_from
    days_overdue: int  # days from clock_from to the day (negative: not yet)
    reason: Message
    consequence: Message | None
    fee_wan: Decimal | None  # idle: RULE.fee_rate of the price
    recovery: bool  # idle RULE.recovery_years or more
    developed_share: float | None
    invested_share: float | None


def _share(part: Decimal | None, whole: Decimal | float | None) -> Fraction | None:
    if part is None or not whole:
        return None
    return Fraction(Decimal(str(part))) / Fraction(Decimal(str(whole)))


def _percent(share: Fraction | None) -> Any:
    return term("not recorded") if share is None else f"{float(share) * 100:.1f}%"


def assess(facts: Facts, day: dt.date, rule: IdleRule = RULE) -> Assessment | None:
    """Where one supplied parcel stands on ``day`` under ``rule`` (see the module); None when
    it is neither idle nor to watch (started and going, finished, or its start far off)."""
    developed = _share(facts.developed_m2, facts.area_m2)
    invested = _share(facts.invested_wan, facts.investment_wan)
    if facts.last_event is None:
        clock, reason = facts.start_due, _not_started(facts.start_due, day)
    elif facts.last_event == "stopped" and facts.event_on is not None:
        clock = facts.event_on
        reason = msg(
            "idle_stopped",
            "started, then stopped on %(stopped_on)s with %(developed)s of the area developed "
            "and %(invested)s of the investment made",
            stopped_on=clock,
            developed=_percent(developed),
            invested=_percent(invested),
        )
    else:
        return None
    idle_from = add_years(clock, rule.idle_years)
    status = _status(facts, day, clock, idle_from, developed, invested, rule)
    if status is None:
        return None
    recovery = status is IdleStatus.RECOVERABLE
    fee = (facts.price_wan * rule.fee_rate).quantize(_CENT, ROUND_HALF_UP) if status.idle else None
    return Assessment(
        status=status,
        clock_from=clock,
        idle_from=idle_from,
        days_overdue=(day - clock).days,
        reason=reason,
        consequence=_consequence(status, rule),
        fee_wan=fee,
        recovery=recovery,
        developed_share=None if developed is None else float(developed),
        invested_share=None if invested is None else float(invested),
    )


def _not_started(start_due: dt.date, day: dt.date) -> Message:
    if start_due > day:
        return msg(
            "idle_start_ahead",
            "not started; the contracted start date %(start_due)s is in %(days)s days",
            start_due=start_due,
            days=(start_due - day).days,
        )
    return msg(
        "idle_not_started",
        "not started %(days)s days after the contracted start date %(start_due)s",
        start_due=start_due,
        days=(day - start_due).days,
    )


def _status(
    facts: Facts,
    day: dt.date,
    clock: dt.date,
    idle_from: dt.date,
    developed: Fraction | None,
    invested: Fraction | None,
    rule: IdleRule,
) -> IdleStatus | None:
    if facts.last_event is None and clock > day:
        soon = (clock - day).days <= rule.due_soon_days
        return IdleStatus.DUE_SOON if soon else None
    if facts.last_event == "stopped":
        under = (developed is not None and developed < rule.developed_share_min) or (
            invested is not None and invested < rule.invested_share_min
        )
        if not under:
            unknown = developed is None or invested is None
            if not unknown:
                return None
            return IdleStatus.UNRECORDED if day >= idle_from else IdleStatus.STOPPED
    if day < idle_from:
        return IdleStatus.STOPPED if facts.last_event == "stopped" else IdleStatus.OVERDUE
    if day >= add_years(clock, rule.recovery_years):
        return IdleStatus.RECOVERABLE
    return IdleStatus.IDLE


def _consequence(status: IdleStatus, rule: IdleRule) -> Message | None:
    rate = f"{rule.fee_rate * 100:.0f}%"
    if status is IdleStatus.RECOVERABLE:
        return msg(
            "idle_recoverable",
            "idle two years or more: the land use right may be taken back without "
            "compensation (an idle fee of %(rate)s of the price was due after the first year)",
            rate=rate,
        )
    if status is IdleStatus.IDLE:
        return msg(
            "idle_fee_due", "idle one year or more: an idle fee of %(rate)s of the price", rate=rate
        )
    if status is IdleStatus.UNRECORDED:
        return msg(
            "idle_check_shares",
            "record the area developed and the investment made to decide whether it is idle",
        )
    return None


# --- the register's supplied parcels on a day ---------------------------------------------

_SUPPLIED = """
    SELECT p.id, p.code, z.code AS zone, p.area_mu, ST_Area(p.geom) AS area_m2,
           s.id AS supply_id, s.method, s.supplied_on, s.contract_no, s.price_wan, s.start_due,
           s.completion_due, s.investment_wan, e.id AS land_user_id, e.name AS land_user,
           c.event AS last_event, c.happened_on AS event_on, c.developed_m2, c.invested_wan
    FROM parcel p
    JOIN land_supply s ON s.id = lm_supply_in_force(p.id, CAST(:as_of AS date))
    LEFT JOIN zone z ON z.id = p.zone_id
    LEFT JOIN enterprise e ON e.id = s.enterprise_id
    LEFT JOIN construction_event c ON c.id = lm_construction_as_of(p.id, CAST(:as_of AS date))
    WHERE p.id IN (SELECT parcel_id FROM land_supply) AND {in_force}
      AND (CAST(:zone AS text) IS NULL OR z.code = :zone)
    ORDER BY p.code
"""


@dataclass(frozen=True)
class IdleParcel(Result):
    """A supplied parcel that is idle, or to watch, on the report's day."""

    code: str
    zone: str | None
    mu: float
    land_user: str | None
    land_user_id: int | None
    method: str
    contract_no: str
    supplied_on: dt.date
    price_wan: float
    start_due: dt.date
    status: IdleStatus
    clock_from: dt.date
    idle_from: dt.date
    days_overdue: int
    idle: bool
    reason: Message
    consequence: Message | None
    fee_wan: float | None
    recovery: bool
    developed_share: float | None
    invested_share: float | None
    area_mu_exact: float = field(repr=False, default=0.0)

    def shown(self, locale: str) -> dict[str, Any]:
        """As the API sends it: messages and the status in ``locale``."""
        out = rendered(plain(self), locale)
        del out["area_mu_exact"]
        out["status_label"] = self.status.label(locale)
        out["theme"] = self.status.theme
        return out


@dataclass(frozen=True)
class IdleReport(Result):
    as_of: dt.date
    zone: str | None
    parcels: tuple[IdleParcel, ...]  # idle: RECOVERABLE then IDLE, most overdue first
    watch: tuple[IdleParcel, ...]  # not idle, to watch
    total_mu: float  # of the idle parcels: the exact sum, rounded once
    total_fee_wan: float
    recoverable_mu: float

    def shown(self, locale: str) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "zone": self.zone,
            "rule": RULE.as_dict(),
            "parcels": [p.shown(locale) for p in self.parcels],
            "watch": [p.shown(locale) for p in self.watch],
            "total_mu": self.total_mu,
            "total_fee_wan": self.total_fee_wan,
            "recoverable_mu": self.recoverable_mu,
            "count": len(self.parcels),
        }


def _parcel(row: Any, found: Assessment) -> IdleParcel:
    return IdleParcel(
        code=row.code,
        zone=row.zone,
        mu=mu2(row.area_mu),
        land_user=row.land_user,
        land_user_id=row.land_user_id,
        method=row.method,
        contract_no=row.contract_no,
        supplied_on=row.supplied_on,
        price_wan=float(row.price_wan),
        start_due=row.start_due,
        status=found.status,
        clock_from=found.clock_from,
        idle_from=found.idle_from,
        days_overdue=found.days_overdue,
        idle=found.status.idle,
        reason=found.reason,
        consequence=found.consequence,
        fee_wan=None if found.fee_wan is None else float(found.fee_wan),
        recovery=found.recovery,
        developed_share=found.developed_share,
        invested_share=found.invested_share,
        area_mu_exact=float(row.area_mu or 0),
    )


def idle_land(
    session: Session, as_of: dt.date | None = None, zone: str | None = None
) -> IdleReport:
    """The idle parcels (and those to watch) of the register on ``as_of`` (None: today), in
    ``zone`` (a zone code) or all zones: see the module for the rule."""
    day = as_of or today()
    rows = session.execute(
        text(_SUPPLIED.format(in_force=in_force_sql("p"))), {"as_of": as_of, "zone": zone}
    )
    found: list[IdleParcel] = []
    for row in rows:
        facts = Facts(
            start_due=row.start_due,
            price_wan=row.price_wan,
            area_m2=row.area_m2,
            investment_wan=row.investment_wan,
            last_event=row.last_event,
            event_on=row.event_on,
            developed_m2=row.developed_m2,
            invested_wan=row.invested_wan,
        )
        assessed = assess(facts, day)
        if assessed is not None:
            found.append(_parcel(row, assessed))
    order = list(IdleStatus)
    found.sort(key=lambda p: (order.index(p.status), -p.days_overdue, p.code))
    idle = tuple(p for p in found if p.idle)
    fee = sum((Decimal(str(p.fee_wan)) for p in idle), Decimal(0))
    return IdleReport(
        as_of=day,
        zone=zone,
        parcels=idle,
        watch=tuple(p for p in found if not p.idle),
        total_mu=mu2(sum(p.area_mu_exact for p in idle)),
        total_fee_wan=float(fee),
        recoverable_mu=mu2(sum(p.area_mu_exact for p in idle if p.recovery)),
    )


_FEATURE_PROPERTIES = (
    "code",
    "zone",
    "mu",
    "status",
    "status_label",
    "idle",
    "days_overdue",
    "fee_wan",
    "recovery",
    "reason",
    "land_user",
    "theme",
)


def feature_collection(session: Session, report: IdleReport, locale: str) -> str:
    """The report's parcels (idle and to watch) as GeoJSON (EPSG:4326, 7 decimals): each with
    its code, status (and its label), mu, days overdue, fee and reason in ``locale``."""
    listed = {p.code: p for p in (*report.parcels, *report.watch)}
    rows = session.execute(
        text("""SELECT code, ST_AsGeoJSON(ST_Transform(geom, 4326), 7) AS geometry
                FROM parcel WHERE code = ANY(:codes) ORDER BY code"""),
        {"codes": list(listed)},
    )
    features = []
    for code, geometry in rows:
        shown = listed[code].shown(locale)
        properties = {key: shown[key] for key in _FEATURE_PROPERTIES}
        features.append(
            {
                "type": "Feature",
                "id": code,
                "geometry": json.loads(geometry),
                "properties": properties,
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


# --- the workbook ---------------------------------------------------------------------------

_HEADERS = [
    "宗地代码",
    "园区",
    "面积（亩）",
    "土地使用者",
    "合同编号",
    "供地日期",
    "出让/划拨价款（万元）",
    "约定动工日期",
    "起算日",
    "满一年之日",
    "逾期天数",
    "状态",
    "原因",
    "处置",
    "闲置费（万元）",
    "可无偿收回",
]
_FORMATS = [
    None,
    None,
    xlsx.MU,
    None,
    None,
    None,
    xlsx.MONEY,
    None,
    None,
    None,
    xlsx.COUNT,
    None,
    None,
    None,
    xlsx.MONEY,
    None,
]


def _workbook_row(p: IdleParcel) -> list[Any]:
    zh = "zh_CN"
    return [
        p.code,
        p.zone,
        p.mu,
        p.land_user or "",
        p.contract_no,
        p.supplied_on,
        p.price_wan,
        p.start_due,
        p.clock_from,
        p.idle_from,
        p.days_overdue,
        p.status.label(zh),
        p.reason.render(zh),
        p.consequence.render(zh) if p.consequence else "",
        p.fee_wan,
        "是" if p.recovery else "否",
    ]


def workbook(report: IdleReport) -> bytes:
    """The idle-land list as a workbook (说明, 闲置土地 with its totals, 关注宗地)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "闲置土地"
    total = ["合计", None, report.total_mu, *[None] * 11, report.total_fee_wan, None]
    xlsx.write_table(ws, _HEADERS, map(_workbook_row, report.parcels), _FORMATS, [total])
    xlsx.write_table(
        wb.create_sheet("关注宗地"), _HEADERS, map(_workbook_row, report.watch), _FORMATS
    )
    xlsx.describe(
        wb,
        f"闲置土地清单（{report.zone + '区' if report.zone else '全部园区'}）",
        [
            ("截至", report.as_of),
            ("依据", RULE.source),
            ("认定", RULE.idle_text),
            ("处置", RULE.consequence_text),
            ("说明", _WORKBOOK_NOTE),
            ("面积单位", "亩（1 亩 = 10000/15 平方米），合计为精确值之和再取整"),
        ],
    )
    return xlsx.to_bytes(wb)


_WORKBOOK_NOTE = (
    "起算日：未动工的为约定动工日期，中止开发的为中止之日；满一年之日为起算日次年同日。"
    "应动工开发建设用地总面积取宗地面积，总投资额取供地记录的计划投资；中止满一年而开发面积与"
    "投资均未登记的，列入关注宗地待核实，不计闲置费。因政府原因造成的闲置（第八条）本系统未登记，"
    "须逐宗核实。关注宗地不属闲置土地。"
)
