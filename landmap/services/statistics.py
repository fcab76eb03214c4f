"""Enterprise statistics (月统计) and 亩均效益 ("亩均论英雄": tax and output per mu of the land
an enterprise uses), ranked and classed A/B/C/D by the thresholds of efficiency_class.

- One row per enterprise and month (enterprise_statistic): output value (产值), revenue, tax,
  fixed-asset investment in 万元 (two decimals), employees, energy use in tce. A second entry
  for the same month replaces the first (the database's audit keeps what it was).
- The land an enterprise uses on a day: the parcels in force then whose supply in force
  (lm_supply_in_force) names it as the land user; its mu is the exact sum of their areas,
  shown (and divided by) as geo.units.mu2 gives it, so that tax_per_mu is tax_wan / mu of the
  figures every surface shows.
- A calendar year's figures: the months of the year recorded (up to the as-of day), on the
  land used at the year's end (or on the as-of day, today at the latest). The trailing 12
  months end at the latest month recorded by any enterprise up to the year's end or the as-of
  day (the same months for every enterprise, so that they rank together), on the land used at
  the end of that month.
- Class: tax per mu at least A's least is A, else at least B's is B, else at least C's is C,
  else D; no land or no month recorded gives no class, and the reason. Rank 1 is the most tax
  per mu among the enterprises with a class; equal figures share a rank.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from landmap.db.models import EfficiencyClass, Enterprise, EnterpriseStatistic
from landmap.domain import today
from landmap.geo.units import mu2
from landmap.messages import Message, Term, msg, term
from landmap.services import Refused, Result
from landmap.services.enterprises import no_such_enterprise

FIRST_YEAR = 1990
CENT = Decimal("0.01")
MAX_WAN = Decimal("100000000")  # 1 万亿元: more than any enterprise's month
MAX_EMPLOYEES = 1_000_000
MAX_TCE = Decimal("100000000")
MAX_NUMBER_CHARS = 40
CLASSES = ("A", "B", "C")  # D is the rest
MAX_TAX_PER_MU = Decimal("100000")  # 万元/亩: a threshold beyond any enterprise


@dataclass(frozen=True)
class Figure:
    """A monthly figure: its name in the API, as people call it, its workbook header, its
    largest value, whether it is a whole number and whether it may be left out."""

    name: str
    label: Term
    header: str
    most: Decimal | int
    whole: bool = False
    optional: bool = False


FIGURES = (
    Figure("output_wan", term("output value (10,000 yuan)"), "工业总产值(万元)", MAX_WAN),
    Figure("revenue_wan", term("revenue (10,000 yuan)"), "营业收入(万元)", MAX_WAN),
    Figure("tax_wan", term("tax paid (10,000 yuan)"), "税收(万元)", MAX_WAN),
    Figure(
        "investment_wan",
        term("fixed-asset investment (10,000 yuan)"),
        "固定资产投资(万元)",
        MAX_WAN,
    ),
    Figure("employees", term("employees"), "从业人员(人)", MAX_EMPLOYEES, whole=True),
    Figure("energy_tce", term("energy use (tce)"), "综合能耗(吨标准煤)", MAX_TCE, optional=True),
)


# --- reading a month's figures ----------------------------------------------------------


def _shown(value: Any) -> str:
    text_ = repr(value) if not isinstance(value, str) else value
    return text_ if len(text_) <= 40 else text_[:40] + "…"


def _number(value: Any) -> Decimal | None:
    """A finite Decimal from a number or its text (thousands separators allowed); None when
    it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    raw = value.strip().replace(",", "") if isinstance(value, str) else value
    if isinstance(raw, str) and (not raw or len(raw) > MAX_NUMBER_CHARS):
        return None
    try:
        number = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def figure_value(figure: Figure, value: Any) -> Decimal | int | None:
    """One figure of a month, checked: a number from 0 to its largest (a whole number of
    employees; money and energy rounded half up to 2 decimals); Refused naming it otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if figure.optional:
            return None
        raise Refused(msg("statistic_required", "%(what)s is required", what=figure.label))
    number = _number(value)
    if number is None or not 0 <= number <= figure.most or (figure.whole and number % 1):
        kind = term("a whole number") if figure.whole else term("a number")
        raise Refused(
            msg(
                "statistic_out_of_range",
                "%(what)s must be %(kind)s from 0 to %(most)s; got %(value)s",
                what=figure.label,
                kind=kind,
                most=figure.most,
                value=_shown(value),
            )
        )
    return int(number) if figure.whole else number.quantize(CENT, rounding=ROUND_HALF_UP)


def _whole(value: Any) -> int | None:
    """A whole number of a plausible size (a year, a month), else None: 1e308 % 1 is beyond
    Decimal's precision."""
    number = _number(value)
    if number is None or not number.is_finite() or abs(number) > 10**6:
        return None
    return int(number) if number % 1 == 0 else None


def month_value(year: Any, month: Any) -> tuple[int, int]:
    """(year, month) of a statistic: a year from 1990, a month 1 to 12, not after this month
    (China time). Refused naming what is wrong."""
    now = today()
    y = _whole(year)
    if y is None or not FIRST_YEAR <= y <= now.year + 1:
        raise Refused(
            msg(
                "statistic_bad_year",
                "the year must be a whole number from %(first)s to %(last)s; got %(value)s",
                first=FIRST_YEAR,
                last=now.year + 1,
                value=_shown(year),
            )
        )
    m = _whole(month)
    if m is None or not 1 <= m <= 12:
        raise Refused(
            msg(
                "statistic_bad_month",
                "the month must be from 1 to 12; got %(value)s",
                value=_shown(month),
            )
        )
    if (y, m) > (now.year, now.month):
        raise Refused(
            msg(
                "statistic_future_month",
                "%(year)s-%(month)s has not begun: figures are recorded for months that have",
                year=y,
                month=f"{m:02d}",
            )
        )
    return y, m


def month_figures(data: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of ``data`` checked (see figure_value), by their API names."""
    return {f.name: figure_value(f, data.get(f.name)) for f in FIGURES}


# --- recording ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Month(Result):
    """An enterprise's figures of one month (万元 but employees and energy in tce)."""

    enterprise_id: int
    enterprise: str
    year: int
    month: int
    output_wan: float
    revenue_wan: float
    tax_wan: float
    investment_wan: float
    employees: int
    energy_tce: float | None
    source: str
    recorded_by: str
    replaced: bool = False


def _enterprise_name(session: Session, enterprise_id: int) -> str:
    name = session.scalar(select(Enterprise.name).where(Enterprise.id == enterprise_id))
    if name is None:
        raise Refused(no_such_enterprise(enterprise_id), 404)
    return name


def _store(
    session: Session, enterprise_id: int, year: int, month: int, figures: dict, by: str, source: str
) -> bool:
    """Insert the month, or replace the one recorded; whether one was replaced."""
    values = {**figures, "source": source, "recorded_by": by[:200]}
    stmt = insert(EnterpriseStatistic).values(
        enterprise_id=enterprise_id, year=year, month=month, **values
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["enterprise_id", "year", "month"],
        set_={**values, "recorded_at": text("now()")},
    ).returning(text("xmax <> 0"))
    return bool(session.execute(stmt).scalar_one())


def record_month(
    session: Session,
    enterprise_id: int,
    data: Mapping[str, Any],
    by: str = "",
    source: str = "form",
) -> Month:
    """Record an enterprise's figures of a month (``data``: year, month and FIGURES by their
    API names); a second entry for the month replaces the first (``replaced``)."""
    name = _enterprise_name(session, enterprise_id)
    year, month = month_value(data.get("year"), data.get("month"))
    figures = month_figures(data)
    replaced = _store(session, enterprise_id, year, month, figures, by, source)
    return _month(name, enterprise_id, year, month, figures, source, by, replaced)


def _month(name, enterprise_id, year, month, figures, source, by, replaced=False) -> Month:
    def money(v):
        return None if v is None else float(v)

    return Month(
        enterprise_id=enterprise_id,
        enterprise=name,
        year=year,
        month=month,
        output_wan=money(figures["output_wan"]),
        revenue_wan=money(figures["revenue_wan"]),
        tax_wan=money(figures["tax_wan"]),
        investment_wan=money(figures["investment_wan"]),
        employees=int(figures["employees"]),
        energy_tce=money(figures["energy_tce"]),
        source=source,
        recorded_by=by,
        replaced=replaced,
    )


def months(session: Session, enterprise_id: int, year: int | None = None) -> list[Month]:
    """The months recorded for an enterprise (of ``year``), oldest first."""
    name = _enterprise_name(session, enterprise_id)
    query = select(EnterpriseStatistic).where(EnterpriseStatistic.enterprise_id == enterprise_id)
    if year is not None:
        query = query.where(EnterpriseStatistic.year == year)
    rows = session.scalars(query.order_by(EnterpriseStatistic.year, EnterpriseStatistic.month))
    return [
        _month(
            name,
            enterprise_id,
            r.year,
            r.month,
            {f.name: getattr(r, f.name) for f in FIGURES},
            r.source,
            r.recorded_by,
        )
        for r in rows
    ]


# --- class thresholds ---------------------------------------------------------------------


def classes(session: Session) -> dict[str, float]:
    """The least tax per mu (万元/亩) of classes A, B and C; D is the rest."""
    rows = session.scalars(select(EfficiencyClass))
    return {r.class_: float(r.min_tax_per_mu) for r in sorted(rows, key=lambda r: r.class_)}


def set_classes(session: Session, data: Mapping[str, Any]) -> dict[str, float]:
    """Set the thresholds (``data``: A, B, C → 万元/亩, each above 0; A above B above C)."""
    wanted: dict[str, Decimal] = {}
    for cls in CLASSES:
        given = data.get(cls)
        number = _number(given)
        if number is None or not 0 < number <= MAX_TAX_PER_MU:
            raise Refused(
                msg(
                    "efficiency_class_bad_threshold",
                    "the least tax per mu of class %(cls)s must be a number above 0 and at "
                    "most %(most)s; got %(value)s",
                    cls=cls,
                    most=MAX_TAX_PER_MU,
                    value=_shown(given),
                )
            )
        wanted[cls] = number.quantize(CENT, rounding=ROUND_HALF_UP)
    if not wanted["A"] > wanted["B"] > wanted["C"]:
        raise Refused(
            msg(
                "efficiency_classes_out_of_order",
                "class A needs more tax per mu than class B, and B more than C; got A %(a)s, "
                "B %(b)s, C %(c)s",
                a=wanted["A"],
                b=wanted["B"],
                c=wanted["C"],
            )
        )
    for cls, least in wanted.items():
        stmt = insert(EfficiencyClass).values(class_=cls, min_tax_per_mu=least)
        session.execute(
            stmt.on_conflict_do_update(index_elements=["class"], set_={"min_tax_per_mu": least})
        )
    return classes(session)


def class_of(tax_per_mu: Decimal, thresholds: Mapping[str, float]) -> str:
    """A, B, C by the least tax per mu of each (taken in order), else D."""
    for cls in CLASSES:
        if cls in thresholds and tax_per_mu >= Decimal(repr(thresholds[cls])):
            return cls
    return "D"


# --- 亩均效益 -------------------------------------------------------------------------------


def _index(year: int, month: int) -> int:
    return year * 12 + month - 1


def _ym(index: int) -> tuple[int, int]:
    return index // 12, index % 12 + 1


def _month_end(index: int) -> dt.date:
    year, month = _ym(index + 1)
    return dt.date(year, month, 1) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Figures:
    """An enterprise's 亩均效益 over a period of months (``first`` .. ``last``, YYYY-MM) on
    the land it used on ``land_on``."""

    first: str
    last: str
    land_on: dt.date
    months: int
    mu: float
    tax_wan: float
    output_wan: float
    revenue_wan: float
    tax_per_mu: float | None
    output_per_mu: float | None
    efficiency_class: str | None
    reason: Message | None
    parcels: tuple[str, ...]
    rank: int | None = None
    exact_tax_per_mu: Decimal | None = field(default=None, repr=False, compare=False)

    def as_dict(self, locale: str) -> dict[str, Any]:
        return {
            "from": self.first,
            "to": self.last,
            "land_on": self.land_on.isoformat(),
            "months": self.months,
            "mu": self.mu,
            "tax_wan": self.tax_wan,
            "output_wan": self.output_wan,
            "revenue_wan": self.revenue_wan,
            "tax_per_mu": self.tax_per_mu,
            "output_per_mu": self.output_per_mu,
            "class": self.efficiency_class,
            "rank": self.rank,
            "reason": self.reason.render(locale) if self.reason else None,
            "reason_code": self.reason.code if self.reason else None,
            "parcels": list(self.parcels),
        }


@dataclass(frozen=True)
class Efficiency:
    """An enterprise's 亩均效益: of the calendar year and of the trailing 12 months."""

    enterprise_id: int
    enterprise: str
    credit_code: str | None
    year: int
    of_year: Figures
    trailing: Figures

    def as_dict(self, locale: str) -> dict[str, Any]:
        return {
            "enterprise_id": self.enterprise_id,
            "enterprise": self.enterprise,
            "credit_code": self.credit_code,
            "year": self.year,
            **self.of_year.as_dict(locale),
            "trailing_12_months": self.trailing.as_dict(locale),
        }


@dataclass(frozen=True)
class Ranking:
    year: int
    as_of: dt.date | None
    classes: dict[str, float]
    rows: list[Efficiency]

    def as_dict(self, locale: str) -> dict[str, Any]:
        return {
            "year": self.year,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "classes": self.classes,
            "enterprises": [row.as_dict(locale) for row in self.rows],
        }


def _land(session: Session, day: dt.date) -> dict[int, tuple[float, list[str]]]:
    """Per enterprise: the exact mu of the parcels in force on ``day`` whose supply in force
    names it, and their codes."""
    rows = session.execute(
        text("""
        SELECT s.enterprise_id, sum(p.area_mu), array_agg(p.code ORDER BY p.code)
        FROM (SELECT DISTINCT parcel_id FROM land_supply) x
        JOIN parcel p ON p.id = x.parcel_id
        JOIN land_supply s ON s.id = lm_supply_in_force(p.id, CAST(:day AS date))
        WHERE s.enterprise_id IS NOT NULL
          AND lm_parcel_in_force(p.created_on, p.retired_on, CAST(:day AS date))
        GROUP BY s.enterprise_id"""),
        {"day": day},
    )
    return {eid: (float(mu or 0), list(codes)) for eid, mu, codes in rows}


def _sums(
    session: Session, first: int, last: int
) -> dict[int, tuple[Decimal, Decimal, Decimal, int]]:
    """Per enterprise: tax, output, revenue and the months recorded from ``first`` to
    ``last`` (month indexes)."""
    rows = session.execute(
        text("""
        SELECT enterprise_id, sum(tax_wan), sum(output_wan), sum(revenue_wan), count(*)
        FROM enterprise_statistic WHERE year * 12 + month - 1 BETWEEN :first AND :last
        GROUP BY enterprise_id"""),
        {"first": first, "last": last},
    )
    return {eid: (tax, output, revenue, n) for eid, tax, output, revenue, n in rows}


def _latest(session: Session, bound: int) -> int | None:
    """The latest month (index) any enterprise recorded, up to ``bound``."""
    return session.scalar(
        text("""SELECT max(year * 12 + month - 1) FROM enterprise_statistic
                WHERE year * 12 + month - 1 <= :bound"""),
        {"bound": bound},
    )


def _per_mu(amount: Decimal, mu: float) -> Decimal:
    return Decimal(amount) / Decimal(repr(mu2(mu)))


def _round(value: Decimal | None) -> float | None:
    return None if value is None else float(value.quantize(CENT, rounding=ROUND_HALF_UP))


NO_LAND = msg(
    "efficiency_no_land",
    "no class: no land is supplied to this enterprise (no supply in force names it)",
)
NO_MONTHS = msg("efficiency_no_months", "no class: no monthly figures are recorded for the period")


def _figures(first: int, last: int, land_on: dt.date, land, sums, thresholds) -> Figures:
    mu, codes = land or (0.0, [])
    tax, output, revenue, n = sums or (Decimal(0), Decimal(0), Decimal(0), 0)
    has_land = mu2(mu) > 0
    tax_per_mu = _per_mu(tax, mu) if has_land else None
    output_per_mu = _per_mu(output, mu) if has_land else None
    reason = NO_LAND if not has_land else NO_MONTHS if not n else None
    fy, fm = _ym(first)
    ly, lm = _ym(last)
    return Figures(
        first=f"{fy}-{fm:02d}",
        last=f"{ly}-{lm:02d}",
        land_on=land_on,
        months=n,
        mu=mu2(mu),
        tax_wan=float(tax),
        output_wan=float(output),
        revenue_wan=float(revenue),
        tax_per_mu=_round(tax_per_mu),
        output_per_mu=_round(output_per_mu),
        efficiency_class=class_of(tax_per_mu, thresholds) if reason is None else None,
        reason=reason,
        parcels=tuple(codes),
        exact_tax_per_mu=tax_per_mu if reason is None else None,
    )


def _ranked(figures: dict[int, Figures]) -> dict[int, Figures]:
    """The figures with their rank: 1 is the most tax per mu; equal figures share a rank."""
    classed = sorted(
        (f.exact_tax_per_mu, eid) for eid, f in figures.items() if f.exact_tax_per_mu is not None
    )
    ranks: dict[int, int] = {}
    values = [value for value, _ in classed]
    for value, eid in classed:
        ranks[eid] = sum(1 for v in values if v > value) + 1
    return {eid: _with_rank(f, ranks.get(eid)) for eid, f in figures.items()}


def _with_rank(f: Figures, rank: int | None) -> Figures:
    return replace(f, rank=rank)


def _periods(session: Session, year: int | None, as_of: dt.date | None) -> tuple[int, tuple, tuple]:
    """The year, and the two periods (first month, last month, land day): the year's months
    up to the as-of day, and the trailing 12 months (see the module's docstring)."""
    day = min(as_of or today(), today())
    if year is None:
        latest = _latest(session, _index(day.year, day.month))
        year = as_of.year if as_of else (_ym(latest)[0] if latest is not None else day.year)
    bound = min(_index(year, 12), _index(day.year, day.month))
    year_land = min(dt.date(year, 12, 31), day)
    end = _latest(session, bound)
    end = bound if end is None else end
    trailing_land = min(_month_end(end), day)
    return year, (_index(year, 1), bound, year_land), (end - 11, end, trailing_land)


def ranking(session: Session, year: int | None = None, as_of: dt.date | None = None) -> Ranking:
    """Every enterprise's 亩均效益 of ``year`` (see _periods for the default) and of the
    trailing 12 months, by rank of the year (enterprises without a class last, by name)."""
    year, of_year, trailing = _periods(session, year, as_of)
    thresholds = classes(session)
    per_period = []
    for first, last, land_on in (of_year, trailing):
        land, sums = _land(session, land_on), _sums(session, first, last)
        enterprises = session.execute(select(Enterprise.id, Enterprise.name)).all()
        per_period.append(
            _ranked(
                {
                    eid: _figures(first, last, land_on, land.get(eid), sums.get(eid), thresholds)
                    for eid, _name in enterprises
                }
            )
        )
    rows = [
        Efficiency(e.id, e.name, e.credit_code, year, per_period[0][e.id], per_period[1][e.id])
        for e in session.scalars(select(Enterprise))
    ]
    rows.sort(key=lambda r: (r.of_year.rank is None, r.of_year.rank or 0, r.enterprise))
    return Ranking(year=year, as_of=as_of, classes=thresholds, rows=rows)


def efficiency(
    session: Session, enterprise_id: int, year: int | None = None, as_of: dt.date | None = None
) -> Efficiency:
    """One enterprise's 亩均效益 (its row of the ranking: its rank among all)."""
    _enterprise_name(session, enterprise_id)
    found = ranking(session, year, as_of)
    return next(row for row in found.rows if row.enterprise_id == enterprise_id)


# --- the map theme --------------------------------------------------------------------------


def features(session: Session, found: Ranking, locale: str) -> str:
    """The parcels each enterprise used at the end of the ranking's year, as GeoJSON (EPSG:4326,
    7 decimals) with the enterprise, its class (``none`` without one) and figures."""
    by_code = {
        code: row for row in found.rows for code in row.of_year.parcels
    }  # a parcel has one land user on a day
    rows = session.execute(
        text("""SELECT code, ST_AsGeoJSON(ST_Transform(geom, 4326), 7) FROM parcel
                WHERE code = ANY(:codes) ORDER BY code"""),
        {"codes": list(by_code)},
    )
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                _feature(code, geometry, by_code[code], locale) for code, geometry in rows
            ],
        },
        ensure_ascii=False,
    )


def _theme_label(f: Figures) -> Message:
    if f.efficiency_class is None:
        return f.reason or NO_MONTHS
    return msg(
        "efficiency_parcel_label",
        "class %(cls)s: tax per mu %(tax)s, output per mu %(output)s (10,000 yuan/mu), rank "
        "%(rank)s",
        cls=f.efficiency_class,
        tax=f"{f.tax_per_mu:.2f}",
        output=f"{f.output_per_mu:.2f}",
        rank=f.rank,
    )


def _feature(code: str, geometry: str, row: Efficiency, locale: str) -> dict[str, Any]:
    f = row.of_year
    return {
        "type": "Feature",
        "id": code,
        "geometry": json.loads(geometry),
        "properties": {
            "code": code,
            "enterprise": row.enterprise,
            "enterprise_id": row.enterprise_id,
            "land_user": row.enterprise,
            "class": f.efficiency_class or "none",
            "status_label": _theme_label(f).render(locale),
            "tax_per_mu": f.tax_per_mu,
            "output_per_mu": f.output_per_mu,
            "mu": f.mu,
            "rank": f.rank,
        },
    }


# --- the period workbooks' rows -------------------------------------------------------------


def period_rows(session: Session, first: dt.date, last: dt.date) -> list[list[Any]]:
    """Per enterprise with a month recorded from ``first`` to ``last``: output, revenue, tax,
    investment (sums, 万元), employees at the end (of its latest month in the period), months."""
    rows = session.execute(
        text("""
        SELECT e.name, e.credit_code, sum(s.output_wan), sum(s.revenue_wan), sum(s.tax_wan),
               sum(s.investment_wan),
               (array_agg(s.employees ORDER BY s.year DESC, s.month DESC))[1], count(*)
        FROM enterprise_statistic s JOIN enterprise e ON e.id = s.enterprise_id
        WHERE s.year * 12 + s.month - 1 BETWEEN :first AND :last
        GROUP BY e.id, e.name, e.credit_code ORDER BY e.name"""),
        {"first": _index(first.year, first.month), "last": _index(last.year, last.month)},
    )
    return [list(row) for row in rows]


def efficiency_rows(found: Ranking) -> Iterable[list[Any]]:
    """The 亩均效益 table (page and workbooks): enterprise, then per period mu, tax, output,
    tax per mu, output per mu, class, rank."""
    for row in found.rows:
        yield [
            row.enterprise,
            *(
                value
                for f in (row.of_year, row.trailing)
                for value in (
                    f.mu,
                    f.tax_wan,
                    f.output_wan,
                    f.tax_per_mu,
                    f.output_per_mu,
                    f.efficiency_class or "—",
                    f.rank,
                )
            ),
        ]
