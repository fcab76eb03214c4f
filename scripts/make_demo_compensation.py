"""Generate the demo's compensation and resettlement data, data/demo/compensation.json (run
once; the output is committed). Deterministic: the same inputs give the same file.

Reads data/demo/stage_history.csv (which parcels reach 调查登记 and later, and on which days)
and the parcels layer of data/demo/demo.gpkg (project, batch and land use of each). Writes:
- the 2011 standard of the whole development zone (area ""), effective 2011-01-01, with
  invented but plausible Zhangjiajie rates;
- 1-3 households on every parcel whose history reaches 调查登记 (surveyed), with invented
  heads, ID numbers (region 430802, real birth dates, right check digit) and phones;
- an agreement for each household of a parcel that reaches 协议签订, dated between the
  parcel's 调查登记/方案公告 day and its 协议签订 day; its amount is the computed total (the
  demo computes it when it loads) plus the adjustments written here;
- payments as shares of the agreed amount: in full (one or two payments) by the parcel's 补偿兑付
  day when it reaches it; partly or not at all when the parcel is at 协议签订;
- the budget and resettlement flats planned of batch 1 of the zone C 1000-mu project.

    .venv/bin/python scripts/make_demo_compensation.py
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import random
import sys
from collections import defaultdict
from pathlib import Path

import pyogrio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from landmap.domain import Stage  # noqa: E402
from landmap.services.personal import check_character  # noqa: E402

DEMO = ROOT / "data" / "demo"
OUT = DEMO / "compensation.json"

ORDER = [s.value for s in Stage.workflow()]
LAST_DAY = dt.date(2011, 12, 31)  # the demo's last day (supply.json)
C_PROJECT = "C区1000亩土地开发项目"
FIRST_BATCH = "第一批"
# the computed total of batch 1's households on the loaded demo (GET
# /api/projects/<id>/compensation?batch=<id>: computed_yuan), measured once; the budget is a
# little more than it, rounded up to 100,000 元
BATCH_1_COMPUTED_YUAN = 18_417_792.67
BUDGET_MARGIN = 1.05

STANDARD = {
    "year": 2011,
    "effective_from": "2011-01-01",
    "area": "",
    "note": "张家界经济开发区集体土地征收补偿安置标准（2011年，示例数据）",
    "items": [
        {"kind": "land", "class": "cultivated", "rate_yuan": 32000},
        {"kind": "land", "class": "garden", "rate_yuan": 28000},
        {"kind": "land", "class": "forest", "rate_yuan": 16000},
        {"kind": "land", "class": "other_agricultural", "rate_yuan": 20000},
        {"kind": "land", "class": "construction", "rate_yuan": 26000},
        {"kind": "land", "class": "unused", "rate_yuan": 8000},
        {"kind": "crops", "class": "cultivated", "rate_yuan": 1200},
        {"kind": "crops", "class": "garden", "rate_yuan": 2500},
        {"kind": "crops", "class": "forest", "rate_yuan": 1500},
        {"kind": "crops", "class": "other_agricultural", "rate_yuan": 800},
        {"kind": "social_security", "rate_yuan": 8500},
        {"kind": "house", "class": "frame", "rate_yuan": 820},
        {"kind": "house", "class": "brick_concrete", "rate_yuan": 680},
        {"kind": "house", "class": "brick_wood", "rate_yuan": 520},
        {"kind": "house", "class": "earth_wood", "rate_yuan": 380},
        {"kind": "house", "class": "simple", "rate_yuan": 150},
        {"kind": "attachment", "class": "果树", "rate_yuan": 60},
        {"kind": "attachment", "class": "水井", "rate_yuan": 800},
        {"kind": "attachment", "class": "坟墓", "rate_yuan": 2000},
        {"kind": "attachment", "class": "猪牛栏", "rate_yuan": 600},
        {"kind": "attachment", "class": "沼气池", "rate_yuan": 1500},
        {"kind": "relocation", "rate_yuan": 2000},
        {"kind": "transition", "rate_yuan": 300, "months": 12},
        {"kind": "early_award", "rate_yuan": 5000, "until": "2011-06-30"},
    ],
}
HOUSE_RATE = {i["class"]: i["rate_yuan"] for i in STANDARD["items"] if i["kind"] == "house"}

SURNAMES = "向田覃彭张李王刘杨黄龚吴谷朱卓符熊胡邓唐周陈罗"
_GIVEN = (
    "建国国华德明志强春生玉兰秋菊金华光明永红长青福生德胜桂花小平"
    "世杰家富远山水生银芝明亮先锋立新爱民菊香兴旺正清友才昌盛松林"
)
GIVEN = [_GIVEN[i : i + 2] for i in range(0, len(_GIVEN), 2)]
# (structure, share of houses, m² range, storeys range)
STRUCTURES = [
    ("brick_concrete", 40, (90, 240), (1, 3)),
    ("brick_wood", 20, (60, 160), (1, 2)),
    ("earth_wood", 15, (50, 140), (1, 1)),
    ("frame", 10, (150, 300), (2, 4)),
    ("simple", 15, (10, 40), (1, 1)),
]


def id_number(rng: random.Random, taken: set[str]) -> str:
    """A resident ID number of Yongding district (430802) with a real birth date of 1940-1988
    and its right check digit; never born 1980-01-01 (the tests' own numbers)."""
    while True:
        born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(49 * 365))
        if born == dt.date(1980, 1, 1):
            continue
        base = f"430802{born:%Y%m%d}{rng.randrange(1, 1000):03d}"
        number = base + check_character(base)
        if number not in taken:
            taken.add(number)
            return number


def phone(rng: random.Random) -> str | None:
    if rng.random() < 0.1:
        return None
    if rng.random() < 0.15:  # a landline of Zhangjiajie (0744)
        return f"0744-8{rng.randrange(10**6):06d}"
    return f"1{rng.choice('3578')}{rng.randrange(10)}{rng.randrange(10**8):08d}"


def day_between(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randint(0, max((last - first).days, 0)))


def read_history() -> tuple[dict[str, dict[str, dt.date]], set[str]]:
    """Each parcel's first day at each stage, and the parcels with a dispute."""
    stages: dict[str, dict[str, dt.date]] = defaultdict(dict)
    disputed = set()
    with (DEMO / "stage_history.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["kind"] == "dispute":
                disputed.add(r["ZDDM"])
                continue
            stages[r["ZDDM"]].setdefault(r["stage"], dt.date.fromisoformat(r["date"]))
    return stages, disputed


def first_day(days: dict[str, dt.date], at_least: str) -> dt.date | None:
    """The first day the parcel was at ``at_least`` or later."""
    found = [d for s, d in days.items() if ORDER.index(s) >= ORDER.index(at_least)]
    return min(found) if found else None


def houses(rng: random.Random, homestead: bool) -> list[dict]:
    count = rng.choice([1, 1, 2, 2, 3]) if homestead else rng.choice([0, 0, 1, 1, 2])
    out = []
    for _ in range(count):
        structure, _share, (low, high), (s1, s2) = rng.choices(
            STRUCTURES, weights=[s[1] for s in STRUCTURES]
        )[0]
        house = {"structure": structure, "area_m2": round(rng.uniform(low, high), 1),
                 "storeys": rng.randint(s1, s2)}  # fmt: skip
        if rng.random() < 0.12:
            house["legal"] = False
        out.append(house)
    return out


def attachments(rng: random.Random, garden: bool, disputed: bool) -> list[dict]:
    out = []
    if garden or rng.random() < 0.3:
        out.append(
            {"item": "果树", "quantity": rng.randint(20, 120) if garden else rng.randint(3, 30)}
        )
    if rng.random() < 0.25:
        out.append({"item": "水井", "quantity": 1})
    if disputed or rng.random() < 0.08:
        out.append({"item": "坟墓", "quantity": rng.randint(1, 3)})
    if rng.random() < 0.2:
        out.append({"item": "猪牛栏", "quantity": rng.randint(1, 2)})
    if rng.random() < 0.1:
        out.append({"item": "沼气池", "quantity": 1})
    return out


def adjustments(rng: random.Random, held: list[dict]) -> list[dict]:
    out = []
    for h in held:
        if h.get("legal") is False:
            amount = round(HOUSE_RATE[h["structure"]] * h["area_m2"] * 0.5, 2)
            out.append({"reason": "未登记房屋按同类结构标准的50%给予补助", "amount_yuan": amount})
    if rng.random() < 0.06:
        out.append({"reason": "低保困难户生活补助", "amount_yuan": 5000})
    if held and rng.random() < 0.05:
        out.append({"reason": "房屋装修补偿（评估）", "amount_yuan": rng.randint(30, 200) * 100})
    return out


def payments(
    rng: random.Random, signed: dt.date, paid_by: dt.date | None, vouchers: list[int]
) -> list[dict]:
    """In full by ``paid_by``; without it (a parcel at 协议签订) partly or not at all."""

    def voucher() -> str:
        vouchers[0] += 1
        return f"张经开兑付〔2011〕第{vouchers[0]:04d}号"

    if paid_by is None:
        if rng.random() < 0.55:
            return []
        last = min(signed + dt.timedelta(days=45), LAST_DAY)
        share = rng.choice([0.3, 0.4, 0.5, 0.6])
        return [{"date": day_between(rng, signed, last).isoformat(), "voucher": voucher(),
                 "share": share}]  # fmt: skip
    if rng.random() < 0.4:
        return [{"date": day_between(rng, signed, paid_by).isoformat(), "voucher": voucher(),
                 "rest": True}]  # fmt: skip
    first = day_between(rng, signed, paid_by)
    return [
        {"date": first.isoformat(), "voucher": voucher(), "share": rng.choice([0.5, 0.6, 0.7])},
        {"date": day_between(rng, first, paid_by).isoformat(), "voucher": voucher(),
         "rest": True},
    ]  # fmt: skip


def build() -> dict:
    """The book compensation.json holds (the same on every run)."""
    rng = random.Random(19)
    history, disputed = read_history()
    layer = pyogrio.read_dataframe(DEMO / "demo.gpkg", layer="parcels", read_geometry=False)
    parcels = {r.ZDDM: r for r in layer.itertuples()}
    taken: set[str] = set()
    heads: set[str] = set()
    agreements = [0]
    vouchers = [0]
    households = []
    flats_in_batch_1 = 0
    for code in sorted(history):
        days = history[code]
        surveyed = first_day(days, "surveyed")
        if surveyed is None:
            continue
        parcel = parcels[code]
        signed_by = first_day(days, "agreement_signed")
        paid_by = first_day(days, "compensated")
        for _ in range(rng.choice([1, 1, 2, 2, 3])):
            head = rng.choice(SURNAMES) + rng.choice(GIVEN)
            while head in heads:
                head = rng.choice(SURNAMES) + rng.choice(GIVEN)
            heads.add(head)
            members = rng.choices(range(1, 8), weights=[4, 10, 18, 24, 22, 14, 8])[0]
            held = houses(rng, parcel.DLMC == "农村宅基地")
            h = {"parcel": code, "head": head, "id_number": id_number(rng, taken)}
            if (number := phone(rng)) is not None:
                h["phone"] = number
            h["members"] = members
            if held:
                h["houses"] = held
            if things := attachments(rng, parcel.DLMC == "果园", code in disputed):
                h["attachments"] = things
            if held and rng.random() < 0.3:
                h["resettlement"] = "flat"
                h["flat_area_m2"] = min(150, 45 + 5 * math.ceil(members * 15 / 5))
                if parcel.XMMC == C_PROJECT and parcel.PCMC == FIRST_BATCH:
                    flats_in_batch_1 += 1
            else:
                h["resettlement"] = "money"
            if signed_by is not None:
                start = days.get("plan_published", surveyed)
                signed = day_between(rng, start, signed_by)
                agreements[0] += 1
                agreement = {"number": f"张经开征补〔2011〕第{agreements[0]:04d}号",
                             "date": signed.isoformat()}  # fmt: skip
                if adjusted := adjustments(rng, held):
                    agreement["adjustments"] = adjusted
                h["agreement"] = agreement
                if paid := payments(rng, signed, paid_by, vouchers):
                    h["payments"] = paid
            households.append(h)
    batch = {"project": C_PROJECT, "batch": FIRST_BATCH,
             "flats_planned": 10 * math.ceil(flats_in_batch_1 * 1.2 / 10)}  # fmt: skip
    if BATCH_1_COMPUTED_YUAN:
        step = 100_000
        batch["budget_yuan"] = step * math.ceil(BATCH_1_COMPUTED_YUAN * BUDGET_MARGIN / step)
    return {
        "about": "示例数据（虚构）：补偿标准、被征收户、协议与兑付；见 data/README.md",
        "standards": [STANDARD],
        "batches": [batch],
        "households": households,
    }


def main() -> None:
    book = build()
    OUT.write_text(json.dumps(book, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    households = book["households"]
    agreements = [h for h in households if "agreement" in h]
    payments = sum(len(h.get("payments", [])) for h in households)
    print(f"{OUT}: {len(households)} households, {len(agreements)} agreements, "
          f"{payments} payments; batch 1: {book['batches'][0]}")  # fmt: skip


if __name__ == "__main__":
    main()
