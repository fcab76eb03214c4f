"""The zone's land intensive-use evaluation (开发区土地集约利用评价, after TD/T 1029), computed
live from the register: now, or as on a day.

The land of every figure is the parcels in force that reach into the zone's boundary in force,
each counted with *its part inside* (the rule of landmap.services.zones, one rule for every
zone figure); a parcel's building facts, investment and tax count in the same share (the part
inside over the whole parcel). Without a zone: every zone, each parcel's parts inside them.

What each indicator counts (the definitions are also the texts the page shows):

- land meeting supply conditions (具备供地条件): parcels at 整理到位 or 国有已收储 on the day
  (stage history), or supplied;
- supplied (已供应国有建设用地): parcels with a supply in force on the day
  (``lm_supply_in_force``);
- built (已建成): supplied parcels with a 竣工 (completed) or 投产 (commissioned) event under
  the supply in force, by the day;
- industrial and storage land (工矿仓储): the parcel's land-use code 0601 or 0604 (GB/T 21010;
  for supplied land the register's code is the use it is supplied for);
- floor area, footprint, structures and yards: the parcel's building facts measured by the
  day (``lm_building_as_of``), of built parcels only;
- investment: the fixed-asset investment (enterprise_statistic.investment_wan) its land user
  (the enterprise of the supply in force) recorded up to the day's month, cumulated;
- tax: the tax of the 12 months ending with the day's month (the year up to the day);
- an enterprise's investment and tax are shared among the parcels supplied to it on the day
  in proportion to their mu, so that an enterprise with land in two zones or of two uses is
  counted once;
- idle land (闲置土地): the parcels landmap.services.idle calls idle on the day (the rule of
  the 2012 idle-land rules, in that one place).

Figures are exact sums; each is rounded once, at the edge (as_dict): mu to 2 decimals, m² and
万元 to 2, hectares to 4, percentages to 2 and ratios to 4.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.domain import READY_FOR_SUPPLY, Stage, today
from landmap.geo.units import M2_PER_MU, MU_PER_HA, mu2
from landmap.messages import Message, msg, rendered
from landmap.services import Result, idle, plain, xlsx
from landmap.services.xlsx import MONEY, MU
from landmap.services.zones import NOISE_MU, in_force, parts_sql

INDUSTRIAL_CODES = ("0601", "0604")  # GB/T 21010: 工业用地, 仓储用地
REFERENCE_NOTE = msg(
    "evaluation_reference_note",
    "Reference value (参考值): national figures published in an evaluation bulletin (通报) "
    "of development zones' land intensive use; the year of the bulletin is not confirmed.",
)


def _facts_sql(as_of: dt.date | None) -> str:
    """Per parcel reaching into the zone: its part inside (``mu``), stage on the day,
    supply in force, whether built, building facts, and its share of its
    land user's investment and tax."""
    stage = "lm_stage_as_of(t.id, t.stage, CAST(:day AS date))" if as_of else "t.stage"
    return f"""
    WITH {parts_sql(stage)},
    u AS (
        SELECT id, code, land_use_code, stage, max(area_mu) AS area_mu, sum(inside_mu) AS mu
        FROM part GROUP BY id, code, land_use_code, stage
    ), f AS (
        SELECT u.*, s.id AS supply_id, s.enterprise_id,
               bl.floor_area_m2, bl.footprint_m2, bl.industrial_cover_m2,
               EXISTS (SELECT 1 FROM construction_event e JOIN land_supply es
                       ON es.id = e.supply_id WHERE es.origin = s.origin
                       AND e.event IN ('completed', 'commissioned')
                       AND e.happened_on <= CAST(:today AS date)) AS built
        FROM u
        LEFT JOIN land_supply s ON s.id = lm_supply_in_force(u.id, CAST(:day AS date))
        LEFT JOIN parcel_building bl ON bl.id = lm_building_as_of(u.id, CAST(:day AS date))
    ), holding AS (  -- each land user's land on the day: whole parcels supplied to it, mu
        SELECT s.enterprise_id, sum(p.area_mu) AS mu
        FROM parcel p JOIN land_supply s ON s.id = lm_supply_in_force(p.id, CAST(:day AS date))
        WHERE p.id IN (SELECT parcel_id FROM land_supply) AND s.enterprise_id IS NOT NULL
          AND lm_parcel_in_force(p.created_on, p.retired_on, CAST(:day AS date))
        GROUP BY s.enterprise_id
    ), money AS (
        SELECT enterprise_id,
               sum(tax_wan) FILTER (
                   WHERE make_date(year, month, 1) > CAST(:month AS date) - interval '1 year'
               ) AS tax_wan,
               sum(investment_wan) AS investment_wan
        FROM enterprise_statistic WHERE make_date(year, month, 1) <= CAST(:month AS date)
        GROUP BY enterprise_id
    )
    SELECT f.code, f.land_use_code, f.stage, f.mu, f.mu / f.area_mu AS share,
           f.supply_id IS NOT NULL AS supplied, f.supply_id IS NOT NULL AND f.built AS built,
           f.floor_area_m2, f.footprint_m2, coalesce(f.industrial_cover_m2, f.footprint_m2)
               AS cover_m2,
           f.enterprise_id, coalesce(m.investment_wan, 0) * f.mu / h.mu AS investment_wan,
           coalesce(m.tax_wan, 0) * f.mu / h.mu AS tax_wan
    FROM f LEFT JOIN holding h ON h.enterprise_id = f.enterprise_id
    LEFT JOIN money m ON m.enterprise_id = f.enterprise_id
    ORDER BY f.code"""


# --- what is counted --------------------------------------------------------------------


@dataclass(frozen=True)
class Fact(Result):
    """One parcel as the evaluation counts it (exact figures; its part inside the zone)."""

    code: str
    land_use_code: str | None
    stage: str
    mu: float  # the part inside the zone
    share: float  # the part inside / the whole parcel: its buildings and money count so
    supplied: bool
    built: bool
    idle: bool
    floor_area_m2: float | None
    footprint_m2: float | None
    cover_m2: float | None  # structures and yards (else the footprint)
    enterprise_id: int | None
    investment_wan: float  # its share of its land user's cumulated investment
    tax_wan: float  # its share of its land user's tax of the 12 months

    @property
    def ready(self) -> bool:
        return self.supplied or self.stage in READY_FOR_SUPPLY

    @property
    def industrial(self) -> bool:
        return (self.land_use_code or "")[:4] in INDUSTRIAL_CODES


@dataclass(frozen=True)
class Measure:
    """A numerator or denominator: which parcels it takes, how much each gives, in what."""

    unit: str
    keep: Callable[[Fact], bool]
    amount: Callable[[Fact], float | None]
    empty: Message | None = None  # why a ratio over it has no value when it is 0


def _built(f: Fact) -> bool:
    return f.built


def _industrial(f: Fact) -> bool:
    return f.built and f.industrial


def _scaled(name: str, per: float = 1.0) -> Callable[[Fact], float | None]:
    def amount(f: Fact) -> float | None:
        value = getattr(f, name)
        return None if value is None else float(value) * f.share * per

    return amount


def _area(per: float) -> Callable[[Fact], float]:
    return lambda f: f.mu * per


NOTHING_BUILT = msg(
    "evaluation_nothing_built",
    "No value: no supplied land in the zone is completed or commissioned by this day.",
)
NO_INDUSTRY = msg(
    "evaluation_no_industrial_land",
    "No value: no built land in the zone is of industrial or storage use by this day.",
)
NO_READY = msg(
    "evaluation_no_ready_land", "No value: no land in the zone meets the supply conditions."
)
NOTHING_SUPPLIED = msg("evaluation_nothing_supplied", "No value: no land in the zone is supplied.")
HA, M2 = 1 / MU_PER_HA, M2_PER_MU
MEASURES: dict[str, Measure] = {
    "ready": Measure("亩", lambda f: f.ready, _area(1), NO_READY),
    "supplied": Measure("亩", lambda f: f.supplied, _area(1), NOTHING_SUPPLIED),
    "built": Measure("亩", _built, _area(1), NOTHING_BUILT),
    "industrial": Measure("亩", _industrial, _area(1), NO_INDUSTRY),
    "idle": Measure("亩", lambda f: f.idle, _area(1)),
    "to_build": Measure("亩", lambda f: f.supplied and not f.built, _area(1)),
    "built_m2": Measure("m²", _built, _area(M2), NOTHING_BUILT),
    "industrial_m2": Measure("m²", _industrial, _area(M2), NO_INDUSTRY),
    "built_ha": Measure("公顷", _built, _area(HA), NOTHING_BUILT),
    "industrial_ha": Measure("公顷", _industrial, _area(HA), NO_INDUSTRY),
    "floor": Measure("m²", _built, _scaled("floor_area_m2")),
    "footprint": Measure("m²", _built, _scaled("footprint_m2")),
    "industrial_floor": Measure("m²", _industrial, _scaled("floor_area_m2")),
    "industrial_cover": Measure("m²", _industrial, _scaled("cover_m2")),
    "industrial_investment": Measure("万元", _industrial, lambda f: f.investment_wan or None),
    "industrial_tax": Measure("万元", _industrial, lambda f: f.tax_wan or None),
    "tax": Measure("万元", _built, lambda f: f.tax_wan or None),
}
NO_BOUNDARY = msg("evaluation_no_boundary", "No value: the zone has no boundary in force.")


# --- the indicators ---------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    key: str
    name: Message
    definition: Message
    unit: str  # "%", "ratio", "万元/公顷" or "亩"
    numerator: str  # a MEASURES key
    denominator: str | None  # a MEASURES key, "zone" (its boundary's mu) or None
    reference: float | None = None


SPECS = (
    Spec(
        "land_development_rate",
        msg("evaluation_name_development", "Land development rate (土地开发率)"),
        msg(
            "evaluation_def_development",
            "Land meeting the supply conditions (acquired and consolidated and handed over, "
            "整理到位, or state land in hand, 国有已收储, on the day; or already supplied) over "
            "the zone's area (its boundary in force), in %.",
        ),
        "%",
        "ready",
        "zone",
        89.46,
    ),
    Spec(
        "land_supply_rate",
        msg("evaluation_name_supply", "Land supply rate (土地供应率)"),
        msg(
            "evaluation_def_supply",
            "Supplied state construction land (parcels with a supply in force on the day) over "
            "the land meeting the supply conditions, in %.",
        ),
        "%",
        "supplied",
        "ready",
        92.68,
    ),
    Spec(
        "land_built_rate",
        msg("evaluation_name_built", "Land built rate (土地建成率)"),
        msg(
            "evaluation_def_built",
            "Built construction land (supplied parcels with completion, 竣工, or "
            "commissioning, 投产, recorded under the supply in force by the day) over the "
            "supplied land, in %.",
        ),
        "%",
        "built",
        "supplied",
        92.77,
    ),
    Spec(
        "industrial_land_rate",
        msg("evaluation_name_industrial_rate", "Industrial land rate (工业用地率)"),
        msg(
            "evaluation_def_industrial_rate",
            "Built land of industrial or storage use (land-use code 0601 or 0604; for supplied "
            "land the use it is supplied for) over the built construction land, in %.",
        ),
        "%",
        "industrial",
        "built",
        48.52,
    ),
    Spec(
        "composite_far",
        msg("evaluation_name_far", "Composite floor area ratio (综合容积率)"),
        msg(
            "evaluation_def_far",
            "Total floor area of the buildings on built land (the latest building facts "
            "measured by the day) over the built construction land, both in m².",
        ),
        "ratio",
        "floor",
        "built_m2",
        0.98,
    ),
    Spec(
        "building_density",
        msg("evaluation_name_density", "Building density (建筑密度)"),
        msg(
            "evaluation_def_density",
            "Building footprint on built land over the built construction land, in %.",
        ),
        "%",
        "footprint",
        "built_m2",
    ),
    Spec(
        "industrial_far",
        msg("evaluation_name_industrial_far", "Industrial floor area ratio (工业用地综合容积率)"),
        msg(
            "evaluation_def_industrial_far",
            "Floor area on built industrial and storage land over that land, both in m².",
        ),
        "ratio",
        "industrial_floor",
        "industrial_m2",
        0.93,
    ),
    Spec(
        "industrial_building_coefficient",
        msg("evaluation_name_coefficient", "Industrial building coefficient (工业用地建筑系数)"),
        msg(
            "evaluation_def_coefficient",
            "Footprint of buildings, structures and open yards (the recorded figure, else the "
            "building footprint) on built industrial and storage land over that land, in %.",
        ),
        "%",
        "industrial_cover",
        "industrial_m2",
    ),
    Spec(
        "industrial_investment_intensity",
        msg(
            "evaluation_name_investment",
            "Industrial fixed-asset investment intensity (工业用地固定资产投入强度)",
        ),
        msg(
            "evaluation_def_investment",
            "Fixed-asset investment of the land users of built industrial and storage land, "
            "cumulated in their monthly statistics up to the day's month, over that land in "
            "hectares (per mu beside). A land user's figures are shared among the parcels "
            "supplied to it in proportion to their mu.",
        ),
        "万元/公顷",
        "industrial_investment",
        "industrial_ha",
        8984.3,
    ),
    Spec(
        "industrial_tax_per_ha",
        msg("evaluation_name_industrial_tax", "Industrial tax per hectare (工业用地地均税收)"),
        msg(
            "evaluation_def_industrial_tax",
            "Tax of the 12 months ending with the day's month paid by the land users of built "
            "industrial and storage land, over that land in hectares (per mu beside), shared "
            "among a land user's parcels by mu.",
        ),
        "万元/公顷",
        "industrial_tax",
        "industrial_ha",
        678.99,
    ),
    Spec(
        "composite_tax_per_ha",
        msg("evaluation_name_tax", "Composite tax per hectare (综合地均税收)"),
        msg(
            "evaluation_def_tax",
            "Tax of the 12 months ending with the day's month paid by the land users of all "
            "built construction land, over that land in hectares (per mu beside), shared among "
            "a land user's parcels by mu.",
        ),
        "万元/公顷",
        "tax",
        "built_ha",
        539.96,
    ),
    Spec(
        "idle_land_rate",
        msg("evaluation_name_idle", "Idle land rate (闲置土地率)"),
        msg(
            "evaluation_def_idle",
            "Idle land (闲置土地: supplied land not started more than one year after its "
            "contracted start date, or stopped for a year after starting on less than a third "
            "of its area or under a quarter of its investment) over the supplied land, in %.",
        ),
        "%",
        "idle",
        "supplied",
    ),
    Spec(
        "land_to_build",
        msg("evaluation_name_to_build", "Land to build (待建地)"),
        msg(
            "evaluation_def_to_build",
            "Supplied land not yet completed or commissioned, in mu: the zone's potential.",
        ),
        "亩",
        "to_build",
        None,
    ),
)

PLACES = {"亩": 2, "m²": 2, "万元": 2, "公顷": 4, "%": 2, "ratio": 4, "万元/公顷": 2, "万元/亩": 2}
SCALE = {"%": 100.0, "ratio": 1.0, "万元/公顷": 1.0, "亩": 1.0}


def _round(value: float | None, unit: str) -> float | None:
    if value is None:
        return None
    return mu2(value) if unit == "亩" else round(value, PLACES[unit])


@dataclass(frozen=True)
class Indicator(Result):
    """One indicator: its value (None, with the reason, when its denominator is 0), the
    figures it is made of with their units, the parcels behind each (codes), and the national
    reference figure (参考值) beside it."""

    key: str
    name: Message
    definition: Message
    value: float | None
    unit: str
    value_per_mu: float | None  # money per hectare also per mu (万元/亩); else None
    numerator: float
    numerator_unit: str
    denominator: float | None
    denominator_unit: str | None
    numerator_parcels: tuple[str, ...]
    denominator_parcels: tuple[str, ...]
    reference: float | None
    reference_note: Message | None
    reason: Message | None


@dataclass(frozen=True)
class Evaluation(Result):
    zone: str | None  # None: every zone
    as_of: dt.date | None
    day: dt.date  # the day figured (as_of, else today)
    tax_months: tuple[str, str]  # the first and last month of the tax counted (YYYY-MM)
    zone_mu: float | None  # the boundaries' mu; None: no boundary in force
    indicators: dict[str, Indicator]
    parcels: tuple[Fact, ...]

    def as_json(self, locale: str) -> dict[str, Any]:
        """The API's form in ``locale``: everything but the per-parcel facts."""
        out = rendered(plain(self), locale)
        del out["parcels"]
        return out


def _taken(measure: Measure, facts: Iterable[Fact]) -> tuple[float, tuple[str, ...]]:
    found = [(f.code, measure.amount(f)) for f in facts if measure.keep(f)]
    found = [(code, a) for code, a in found if a is not None]
    return math.fsum(a for _, a in found), tuple(code for code, _ in found)


def _indicator(spec: Spec, facts: tuple[Fact, ...], zone_mu: float | None) -> Indicator:
    num = MEASURES[spec.numerator]
    numerator, num_parcels = _taken(num, facts)
    den_unit, empty = None, None
    if spec.denominator is None:
        denominator, den_parcels, value = None, (), numerator
    else:
        if spec.denominator == "zone":
            denominator, den_parcels = zone_mu, tuple(f.code for f in facts)
            den_unit, empty = "亩", NO_BOUNDARY
        else:
            den = MEASURES[spec.denominator]
            denominator, den_parcels = _taken(den, facts)
            den_unit, empty = den.unit, den.empty
        value = numerator / denominator * SCALE[spec.unit] if denominator else None
    money = spec.unit == "万元/公顷"
    return Indicator(
        key=spec.key,
        name=spec.name,
        definition=spec.definition,
        value=_round(value, spec.unit),
        unit=spec.unit,
        value_per_mu=_round(value / MU_PER_HA, "万元/亩") if money and value is not None else None,
        numerator=_round(numerator, num.unit) or 0.0,
        numerator_unit=num.unit,
        denominator=_round(denominator, den_unit) if den_unit else None,
        denominator_unit=den_unit,
        numerator_parcels=num_parcels,
        denominator_parcels=den_parcels,
        reference=spec.reference,
        reference_note=REFERENCE_NOTE if spec.reference is not None else None,
        reason=empty if spec.denominator is not None and value is None else None,
    )


def _number(name: str, value: Any) -> Any:
    """Money and m² come from SQL as Decimal; the evaluation sums floats (math.fsum)."""
    return float(value) if name.endswith(("_m2", "_wan")) and value is not None else value


def _zone_mu(session: Session, zone: str | None, as_of: dt.date | None) -> float | None:
    return session.execute(
        text(f"""SELECT sum(b.area_mu) FROM zone_boundary b JOIN zone z ON z.id = b.zone_id
                 WHERE {in_force("b")} AND (CAST(:zone AS text) IS NULL OR z.code = :zone)"""),
        {"zone": zone, "day": as_of},
    ).scalar()


def evaluation(
    session: Session, zone: str | None = None, as_of: dt.date | None = None
) -> Evaluation:
    """The zone's (every zone's, without one) intensive-use indicators on ``as_of`` (now
    without); see the module doc for what each counts."""
    day = as_of or today()
    month = day.replace(day=1)
    rows = session.execute(
        text(_facts_sql(as_of)),
        {
            "zone": zone,
            "day": as_of,
            "noise": NOISE_MU,
            "today": day,
            "month": month,
        },
    ).mappings()
    idle_codes = {p.code for p in idle.idle_land(session, as_of).parcels}
    facts = tuple(
        Fact(idle=r["code"] in idle_codes, **{k: _number(k, v) for k, v in r.items()}) for r in rows
    )
    zone_mu = _zone_mu(session, zone, as_of)
    back = month.year * 12 + month.month - 12  # 11 months before the day's month
    first = dt.date(back // 12, back % 12 + 1, 1)
    return Evaluation(
        zone=zone,
        as_of=as_of,
        day=day,
        tax_months=(f"{first:%Y-%m}", f"{month:%Y-%m}"),
        zone_mu=mu2(zone_mu) if zone_mu is not None else None,
        indicators={s.key: _indicator(s, facts, zone_mu) for s in SPECS},
        parcels=facts,
    )


# --- the workbook -----------------------------------------------------------------------

ROLES = (("numerator", "分子"), ("denominator", "分母"))


def workbook(found: Evaluation, zone_name: str) -> bytes:
    """The evaluation as a workbook (services/xlsx.py): 说明, the indicators (definition,
    numerator, denominator, units, value, 参考值), the parcels behind each figure, and each
    parcel as it was counted."""
    wb = Workbook()
    zh = "zh_CN"
    _indicators_sheet(wb.active, found)
    mu_of = {f.code: f.mu for f in found.parcels}
    xlsx.write_table(
        wb.create_sheet("指标宗地"),
        ["指标", "分子/分母", "宗地代码", "区内面积（亩）"],
        (
            [i.name.render(zh), label, code, mu2(mu_of[code])]
            for i in found.indicators.values()
            for role, label in ROLES
            for code in getattr(i, f"{role}_parcels")
        ),
        [None, None, None, MU],
    )
    _facts_sheet(wb.create_sheet("宗地明细"), found.parcels)
    xlsx.describe(
        wb,
        f"{zone_name}土地集约利用评价",
        [
            ("评价日", found.day),
            ("税收期间", f"{found.tax_months[0]} 至 {found.tax_months[1]}"),
            ("区块面积（亩）", found.zone_mu if found.zone_mu is not None else "无"),
            ("计算规则", "宗地按其在区块边界内的部分计；建筑与投资、税收按同一比例计"),
            ("参考值", REFERENCE_NOTE.render(zh)),
            ("面积单位", "亩（1 亩 = 10000/15 平方米）；1 公顷 = 15 亩"),
        ],
    )
    return xlsx.to_bytes(wb)


def _indicators_sheet(ws, found: Evaluation) -> None:
    ws.title = "评价指标"
    zh = "zh_CN"
    xlsx.write_table(
        ws,
        [
            "指标",
            "定义",
            "分子",
            "分子单位",
            "分母",
            "分母单位",
            "数值",
            "单位",
            "万元/亩",
            "参考值",
            "说明",
        ],
        (
            [
                i.name.render(zh),
                i.definition.render(zh),
                i.numerator,
                i.numerator_unit,
                i.denominator,
                i.denominator_unit or "",
                i.value,
                i.unit,
                i.value_per_mu,
                i.reference,
                i.reason.render(zh) if i.reason else "",
            ]
            for i in found.indicators.values()
        ),
        [None, None, MONEY, None, MONEY, None, "0.00##", None, MONEY, "0.00##"],
    )


def _facts_sheet(ws, facts: tuple[Fact, ...]) -> None:
    yes = {True: "是", False: "否"}
    xlsx.write_table(
        ws,
        [
            "宗地代码",
            "地类代码",
            "阶段",
            "区内面积（亩）",
            "区内比例",
            "已供应",
            "已建成",
            "闲置",
            "建筑面积（m²）",
            "建筑基底（m²）",
            "建构筑物及堆场（m²）",
            "投资（万元）",
            "税收（万元）",
        ],
        (
            [
                f.code,
                f.land_use_code or "",
                Stage(f.stage).label("zh_CN"),
                mu2(f.mu),
                f.share,
                yes[f.supplied],
                yes[f.built],
                yes[f.idle],
                f.floor_area_m2,
                f.footprint_m2,
                f.cover_m2,
                f.investment_wan,
                f.tax_wan,
            ]
            for f in facts
        ),
        [None, None, None, MU, "0.0000", None, None, None, MONEY, MONEY, MONEY, MONEY, MONEY],
    )
