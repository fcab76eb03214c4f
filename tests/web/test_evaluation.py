"""The zone's land intensive-use evaluation (开发区土地集约利用评价): /api/evaluation on zone B,
with supplies, construction and buildings this test records on a few of its cleared or
state-owned parcels, against a computation of its own from /api/parcels, the zone summary and
the rows in the tables; the page in both languages; the workbook."""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from landmap.db.models import (
    ConstructionEvent,
    Enterprise,
    EnterpriseStatistic,
    LandSupply,
    ParcelBuilding,
)
from landmap.domain import today
from landmap.geo.units import M2_PER_MU

KEYS = {
    "land_development_rate",
    "land_supply_rate",
    "land_built_rate",
    "industrial_land_rate",
    "composite_far",
    "building_density",
    "industrial_far",
    "industrial_building_coefficient",
    "industrial_investment_intensity",
    "industrial_tax_per_ha",
    "composite_tax_per_ha",
    "idle_land_rate",
}
FIELDS = {
    "value",
    "numerator",
    "denominator",
    "unit",
    "numerator_parcels",
    "denominator_parcels",
    "reference",
}
D = dt.date


def _get(client, url: str) -> dict:
    resp = client.get(url)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def _pick(db) -> dict[str, str]:
    """Four parcels of zone B wholly inside its boundary, at 整理到位 or 国有已收储 with no
    supply: two industrial (0601), two of other uses."""
    rows = db.execute(
        text("""
        SELECT p.code, p.land_use_code = '0601' AS industrial FROM parcel p
        JOIN zone z ON z.id = p.zone_id AND z.code = 'B'
        JOIN zone_boundary b ON b.zone_id = z.id AND b.status = 'current'
        WHERE p.stage IN ('cleared', 'state_owned') AND p.retired_on IS NULL
          AND ST_Covers(b.geom, p.geom)
          AND NOT EXISTS (SELECT 1 FROM land_supply s WHERE s.parcel_id = p.id)
        ORDER BY p.code""")
    ).all()
    industrial = [c for c, i in rows if i]
    other = [c for c, i in rows if not i]
    assert len(industrial) >= 2 and len(other) >= 2, rows
    return {"ind1": industrial[0], "ind2": industrial[1], "other": other[0], "idle": other[1]}


def _id(db, code: str) -> int:
    return db.execute(text("SELECT id FROM parcel WHERE code = :c"), {"c": code}).scalar_one()


def _supply(db, code, day, enterprise=None, start_due=None, investment=None) -> LandSupply:
    row = LandSupply(
        parcel_id=_id(db, code),
        method="transfer",
        transfer_way="listing",
        supplied_on=day,
        contract_no=f"TEST-{code}",
        enterprise_id=enterprise,
        price_wan=500,
        start_due=start_due or day + dt.timedelta(days=90),
        completion_due=(start_due or day) + dt.timedelta(days=900),
        investment_wan=investment,
    )
    db.add(row)
    db.flush()
    return row


def _event(db, code, event, day):
    db.add(ConstructionEvent(parcel_id=_id(db, code), supply_id=0, event=event, happened_on=day))
    db.flush()


def _building(db, code, day, floor, footprint, cover=None):
    db.add(
        ParcelBuilding(
            parcel_id=_id(db, code),
            measured_on=day,
            floor_area_m2=floor,
            footprint_m2=footprint,
            industrial_cover_m2=cover,
        )
    )
    db.flush()


@pytest.fixture
def recorded(db):
    """ind1: supplied 2018, completed 2020, buildings; ind2: supplied 2019, started and
    commissioned, buildings; other: supplied 2019, started, not finished; idle: supplied
    2022 with its start due 2022-06-01 and never started. The land user of ind1 and ind2 has
    a year of statistics."""
    p = _pick(db)
    firm = Enterprise(name="测试评价企业")
    db.add(firm)
    db.flush()
    _supply(db, p["ind1"], D(2018, 3, 1), firm.id, investment=3000)
    _supply(db, p["ind2"], D(2019, 5, 1), firm.id)
    _supply(db, p["other"], D(2019, 7, 1))
    _supply(db, p["idle"], D(2022, 1, 10), start_due=D(2022, 6, 1))
    _event(db, p["ind1"], "started", D(2018, 9, 1))
    _event(db, p["ind1"], "completed", D(2020, 6, 1))
    _event(db, p["ind2"], "started", D(2019, 9, 1))
    _event(db, p["ind2"], "commissioned", D(2021, 4, 1))
    _event(db, p["other"], "started", D(2020, 1, 1))
    _building(db, p["ind1"], D(2020, 7, 1), 12000, 5000, 6500)
    _building(db, p["ind2"], D(2021, 5, 1), 8000, 3000)
    month = today().replace(day=1)
    for back in range(12):
        n = month.year * 12 + month.month - 1 - back
        db.add(
            EnterpriseStatistic(
                enterprise_id=firm.id,
                year=n // 12,
                month=n % 12 + 1,
                output_wan=100,
                revenue_wan=90,
                tax_wan=10,
                investment_wan=50,
            )
        )
    db.flush()
    return {**p, "enterprise": firm.id}


# --- an independent computation from the API's parcels and the tables' rows ---------------


def _parcel_mu(client) -> tuple[dict[str, float], dict[str, str]]:
    """Zone B's parcels with their mu inside its boundary and their stage, from /api/parcels
    and the zone summary's cross-boundary parcels."""
    parcels = _get(client, "/api/parcels?zone=B")["features"]
    mu = {f["properties"]["code"]: f["properties"]["area_mu"] for f in parcels}
    stage = {f["properties"]["code"]: f["properties"]["stage"] for f in parcels}
    for cut in _get(client, "/api/zones/B/summary")["cross_boundary"]:
        mu[cut["code"]] = cut["inside_mu"]
        if cut["code"] not in stage:
            other = _get(client, f"/api/parcels/{cut['code']}")
            stage[cut["code"]] = other["properties"]["stage"]
    return mu, stage


def _in_force(db, day: dt.date) -> dict[str, int]:
    """Parcel code -> the id of its supply in force on ``day``: the latest by then that no
    correction replaces."""
    rows = db.execute(
        text("""SELECT p.code, s.id, s.supplied_on, s.corrects FROM land_supply s
                JOIN parcel p ON p.id = s.parcel_id ORDER BY s.supplied_on, s.id""")
    ).all()
    corrected = {r.corrects for r in rows if r.corrects}
    found: dict[str, int] = {}
    for r in rows:
        if r.supplied_on <= day and r.id not in corrected:
            found[r.code] = r.id
    return found


def _expected(client, db, day: dt.date) -> dict[str, float]:
    mu, stage = _parcel_mu(client)
    supply = {c: s for c, s in _in_force(db, day).items() if c in mu}
    done = {
        r.supply_id
        for r in db.execute(
            text("""SELECT supply_id FROM construction_event
                    WHERE event IN ('completed', 'commissioned') AND happened_on <= :d"""),
            {"d": day},
        )
    }
    floor: dict[str, float] = defaultdict(float)
    for code, area, _measured in db.execute(
        text("""SELECT p.code, b.floor_area_m2, b.measured_on FROM parcel_building b
                JOIN parcel p ON p.id = b.parcel_id WHERE b.measured_on <= :d
                ORDER BY b.measured_on, b.id"""),
        {"d": day},
    ):
        floor[code] = float(area)  # the latest measured wins
    whole = {c: f["properties"]["area_mu"] for c, f in _features(client).items()}
    ready = [c for c in mu if stage[c] in ("cleared", "state_owned") or c in supply]
    built = [c for c, s in supply.items() if s in done]
    built_mu = sum(mu[c] for c in built)
    return {
        "ready_mu": sum(mu[c] for c in ready),
        "supplied_mu": sum(mu[c] for c in supply),
        "built_mu": built_mu,
        "floor_m2": sum(floor[c] * mu[c] / whole.get(c, mu[c]) for c in built),
        "built": set(built),
        "supplied": set(supply),
    }


def _features(client) -> dict[str, dict]:
    return {f["properties"]["code"]: f for f in _get(client, "/api/parcels?zone=B")["features"]}


def close(a: float, b: float) -> bool:
    return a == pytest.approx(b, rel=1e-3)


# --- the API --------------------------------------------------------------------------------


def test_the_indicators_have_the_issues_shape(client, recorded):
    found = _get(client, "/api/evaluation?zone=B")["indicators"]
    assert set(found) >= KEYS
    for key in KEYS:
        assert set(found[key]) >= FIELDS, key
        assert found[key]["definition"] and found[key]["name"]
    assert found["land_supply_rate"]["reference"] == 92.68
    assert found["composite_far"]["unit"] == "ratio"
    assert found["industrial_tax_per_ha"]["unit"] == "万元/公顷"
    assert found["land_to_build"]["unit"] == "亩"


def test_supply_built_rate_and_far_equal_an_own_computation(client, db, recorded):
    found = _get(client, "/api/evaluation?zone=B")["indicators"]
    own = _expected(client, db, today())
    assert {recorded["ind1"], recorded["ind2"]} <= own["built"]
    supply, built, far = (
        found[k] for k in ("land_supply_rate", "land_built_rate", "composite_far")
    )
    assert close(supply["value"], 100 * own["supplied_mu"] / own["ready_mu"])
    assert close(built["value"], 100 * own["built_mu"] / own["supplied_mu"])
    assert close(far["value"], own["floor_m2"] / (own["built_mu"] * M2_PER_MU))
    assert close(supply["numerator"], own["supplied_mu"])
    assert close(far["numerator"], own["floor_m2"])


def test_the_parcels_behind_each_figure(client, db, recorded):
    found = _get(client, "/api/evaluation?zone=B")["indicators"]
    own = _expected(client, db, today())
    p = recorded
    assert set(found["land_supply_rate"]["numerator_parcels"]) == own["supplied"]
    assert set(found["land_built_rate"]["numerator_parcels"]) == own["built"]
    assert set(found["land_built_rate"]["denominator_parcels"]) == own["supplied"]
    assert {p["ind1"], p["ind2"]} <= set(found["industrial_land_rate"]["numerator_parcels"])
    assert p["other"] not in found["industrial_land_rate"]["numerator_parcels"]
    assert p["idle"] in found["idle_land_rate"]["numerator_parcels"]
    assert p["other"] not in found["idle_land_rate"]["numerator_parcels"]
    assert {p["other"], p["idle"]} <= set(found["land_to_build"]["numerator_parcels"])
    assert p["ind1"] not in found["land_to_build"]["numerator_parcels"]


def test_money_is_shared_by_mu_and_given_per_mu_beside(client, db, recorded):
    found = _get(client, "/api/evaluation?zone=B")["indicators"]
    tax = found["industrial_tax_per_ha"]
    mu, _ = _parcel_mu(client)
    own_ha = sum(mu[c] for c in tax["denominator_parcels"]) / 15
    # the test's land user: 12 months of 10 万元, all its land these two built parcels
    assert {recorded["ind1"], recorded["ind2"]} <= set(tax["numerator_parcels"])
    assert tax["numerator"] >= 120.0 - 0.01
    assert close(tax["denominator"], own_ha)
    # money per hectare and per mu are given to the fen (0.01 万元)
    assert tax["value"] == pytest.approx(tax["numerator"] / own_ha, abs=0.006)
    assert tax["value_per_mu"] == pytest.approx(tax["numerator"] / own_ha / 15, abs=0.006)
    assert found["industrial_investment_intensity"]["numerator"] > 0


def test_nothing_built_gives_no_value_with_a_reason(client, db, recorded):
    first = db.execute(
        text("""SELECT min(happened_on) FROM construction_event
                WHERE event IN ('completed', 'commissioned')""")
    ).scalar_one()
    day = first - dt.timedelta(days=1)
    found = _get(client, f"/api/evaluation?zone=B&as_of={day}")["indicators"]
    for key in (
        "composite_far",
        "industrial_land_rate",
        "building_density",
        "composite_tax_per_ha",
    ):
        assert found[key]["value"] is None, key
        assert found[key]["reason"], key
        assert found[key]["numerator_parcels"] == [] or key == "industrial_land_rate"
    assert found["land_built_rate"]["value"] in (0, None)


def test_as_of_before_a_supply_leaves_it_out(client, db, recorded):
    before_idle = _get(client, "/api/evaluation?zone=B&as_of=2021-12-31")["indicators"]
    assert recorded["idle"] not in before_idle["land_supply_rate"]["numerator_parcels"]
    assert recorded["ind1"] in before_idle["land_supply_rate"]["numerator_parcels"]
    first = db.execute(text("SELECT min(supplied_on) FROM land_supply")).scalar_one()
    found = _get(client, f"/api/evaluation?zone=B&as_of={first - dt.timedelta(days=1)}")
    supply = found["indicators"]["land_supply_rate"]
    assert supply["numerator"] == 0 and supply["numerator_parcels"] == []
    assert supply["value"] == 0 or supply["denominator"] == 0


def test_refusals_are_clear(client):
    resp = client.get("/api/evaluation?zone=Q")
    assert resp.status_code == 400 and resp.get_json()["code"] == "unknown_zone"
    resp = client.get("/api/evaluation?as_of=2999-01-01")
    assert resp.status_code == 400 and resp.get_json()["code"] == "day_out_of_range"


def test_every_zone_without_a_zone(client, recorded):
    found = _get(client, "/api/evaluation")
    assert found["zone"] is None
    supplied = found["indicators"]["land_supply_rate"]["numerator_parcels"]
    assert recorded["ind1"] in supplied


# --- the page and the workbook --------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "words"),
    [("zh_CN", ["土地供应率", "参考值", "分子"]), ("en", ["Land supply rate", "Reference value"])],
)
def test_the_page_shows_every_indicator(client, recorded, lang, words):
    client.get(f"/lang/{lang}")
    resp = client.get("/evaluation?zone=B")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    for word in words:
        assert word in html, word
    for key in KEYS:
        assert f'id="indicator-{key}"' in html
    assert f'data-codes="{recorded["ind1"]}' in html or recorded["ind1"] in html
    assert "js/evaluation.js" in html
    client.get("/lang/zh_CN")


def test_the_workbook_holds_the_apis_figures(client, recorded):
    api = _get(client, "/api/evaluation?zone=B")["indicators"]
    resp = client.get("/reports/evaluation.xlsx?zone=B")
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.data))
    assert wb.sheetnames[0] == "说明"
    ws = wb["评价指标"]
    head = [c.value for c in ws[1]]
    rows = [dict(zip(head, (c.value for c in row), strict=True)) for row in ws.iter_rows(min_row=2)]
    assert len(rows) == len(api)
    by_name = {r["指标"]: r for r in rows}
    for indicator in api.values():  # the API speaks the session's language: Chinese
        row = by_name[indicator["name"]]
        assert row["数值"] == indicator["value"], indicator["key"]
        assert row["分子"] == pytest.approx(indicator["numerator"])
        assert row["分母"] == indicator["denominator"]
        assert row["单位"] == indicator["unit"]
        assert row["参考值"] == indicator["reference"]
    behind = [(c[0].value, c[1].value, c[2].value) for c in wb["指标宗地"].iter_rows(min_row=2)]
    assert any(code == recorded["ind1"] and role == "分子" for _, role, code in behind)


def test_every_zone_has_a_page_and_a_workbook_too(client, recorded):
    resp = client.get("/evaluation")
    assert resp.status_code == 200
    assert recorded["ind1"] in resp.get_data(as_text=True)
    resp = client.get("/reports/evaluation.xlsx?as_of=2021-12-31")
    assert resp.status_code == 200
    about = load_workbook(io.BytesIO(resp.data))["说明"]
    facts = {row[0].value: row[1].value for row in about.iter_rows(min_row=2)}
    assert facts["报表"] == "全部园区土地集约利用评价"
    assert facts["评价日"].date() == D(2021, 12, 31)
    assert client.get("/evaluation?zone=Q").status_code == 400
