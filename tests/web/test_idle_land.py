"""Idle land (闲置土地): the rule of 《闲置土地处置办法》 on supplied parcels, through the API, the
page, the map's GeoJSON and the workbook; supplies and events written straight to the tables
(the supply service is someone else's), dates relative to today."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from landmap.db.models import ConstructionEvent, Enterprise, LandSupply
from landmap.domain import today
from landmap.services.idle import RULE, Facts, IdleStatus, add_years, assess


def unsupplied(db, n: int, zone: str | None = None) -> list[str]:
    """Codes of parcels in force in a zone (``zone``, else any) without any supply."""
    return list(
        db.execute(
            text("""
        SELECT p.code FROM parcel p JOIN zone z ON z.id = p.zone_id
        WHERE p.retired_on IS NULL AND (CAST(:zone AS text) IS NULL OR z.code = :zone)
          AND NOT EXISTS (SELECT 1 FROM land_supply s WHERE s.parcel_id = p.id)
        ORDER BY p.code LIMIT :n"""),
            {"n": n, "zone": zone},
        ).scalars()
    )


def parcel(db, code: str):
    return db.execute(
        text(
            "SELECT p.id, ST_Area(p.geom) AS m2, z.code AS zone FROM parcel p "
            "LEFT JOIN zone z ON z.id = p.zone_id WHERE p.code = :c"
        ),
        {"c": code},
    ).one()


@pytest.fixture
def user(db) -> Enterprise:
    e = Enterprise(name="闲置测试企业有限公司")
    db.add(e)
    db.flush()
    return e


def supply(db, code: str, start_due: dt.date, user: Enterprise, price="1234.56", invest="5000"):
    s = LandSupply(
        parcel_id=parcel(db, code).id,
        method="transfer",
        transfer_way="listing",
        supplied_on=start_due - dt.timedelta(days=60),
        contract_no=f"ZJJ-CR-{code[-6:]}",
        enterprise_id=user.id,
        price_wan=Decimal(price),
        start_due=start_due,
        completion_due=add_years(start_due, 2),
        investment_wan=Decimal(invest) if invest else None,
    )
    db.add(s)
    db.flush()
    return s


def event(db, code: str, kind: str, day: dt.date, **facts):
    note = "资金链断裂，停工" if kind == "stopped" else ""
    db.add(
        ConstructionEvent(
            parcel_id=parcel(db, code).id, event=kind, happened_on=day, note=note, **facts
        )
    )
    db.flush()


def idle_codes(client, **args) -> dict[str, dict]:
    resp = client.get("/api/idle-land", query_string=args)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return {p["code"]: p for p in resp.get_json()["parcels"]}


def watched(client, **args) -> dict[str, dict]:
    return {
        p["code"]: p for p in client.get("/api/idle-land", query_string=args).get_json()["watch"]
    }


TWO_YEARS_AGO = add_years(today(), -2) - dt.timedelta(days=1)


def test_land_not_started_two_years_after_its_start_date_is_idle_with_fee_and_recovery(
    client, db, user
):
    code, started = unsupplied(db, 2)
    supply(db, code, TWO_YEARS_AGO, user)
    supply(db, started, TWO_YEARS_AGO, user)
    event(db, started, "started", TWO_YEARS_AGO + dt.timedelta(days=20))
    data = client.get("/api/idle-land").get_json()
    found = {p["code"]: p for p in data["parcels"]}
    assert code in found and started not in found
    assert started not in {p["code"] for p in data["watch"]}
    p = found[code]
    assert p["fee_wan"] == 246.91  # 20% of 1234.56, to the fen
    assert p["recovery"] is True and p["status"] == "recoverable"
    assert p["days_overdue"] == (today() - TWO_YEARS_AGO).days
    assert p["land_user"] == "闲置测试企业有限公司"
    assert p["mu"] > 0 and "未动工" in p["reason"]
    assert data["rule"]["fee_rate"] == 0.2 and "第53号" in data["rule"]["source"]
    assert data["rule"]["developed_share_min"] == pytest.approx(1 / 3)
    assert data["total_fee_wan"] >= 246.91 and data["total_mu"] >= p["mu"]


def test_one_year_is_the_fee_and_two_the_recovery(client, db, user):
    code = unsupplied(db, 1)[0]
    supply(db, code, add_years(today(), -1) - dt.timedelta(days=3), user, price="1000")
    p = idle_codes(client)[code]
    assert (p["status"], p["fee_wan"], p["recovery"]) == ("idle", 200.0, False)
    assert "闲置费" in p["consequence"]


def test_as_of_before_the_year_passed_it_is_not_idle_but_watched(client, db, user):
    code = unsupplied(db, 1)[0]
    supply(db, code, TWO_YEARS_AGO, user)
    before = (TWO_YEARS_AGO + dt.timedelta(days=200)).isoformat()
    assert code not in idle_codes(client, as_of=before)
    w = watched(client, as_of=before)[code]
    assert w["status"] == "overdue" and w["days_overdue"] == 200 and w["fee_wan"] is None
    year = add_years(TWO_YEARS_AGO, 1).isoformat()  # the same date a year later: idle
    assert idle_codes(client, as_of=year)[code]["status"] == "idle"
    day_before = (add_years(TWO_YEARS_AGO, 1) - dt.timedelta(days=1)).isoformat()
    assert code not in idle_codes(client, as_of=day_before)
    before_supply = (TWO_YEARS_AGO - dt.timedelta(days=90)).isoformat()
    assert code not in {
        **idle_codes(client, as_of=before_supply),
        **watched(client, as_of=before_supply),
    }


def test_stopped_a_year_on_under_a_third_of_the_area_is_idle_over_a_third_is_not(client, db, user):
    under, over, unknown = unsupplied(db, 3)
    start = add_years(today(), -3)
    stopped_on = add_years(today(), -1) - dt.timedelta(days=31)  # 13 months ago
    for code in (under, over, unknown):
        supply(db, code, start, user)
        event(db, code, "started", start + dt.timedelta(days=10))
    event(
        db,
        under,
        "stopped",
        stopped_on,
        developed_m2=Decimal(int(parcel(db, under).m2 * 0.2)),
        invested_wan=Decimal("3000"),
    )
    event(
        db,
        over,
        "stopped",
        stopped_on,
        developed_m2=Decimal(int(parcel(db, over).m2 * 0.5)),
        invested_wan=Decimal("3000"),
    )
    event(db, unknown, "stopped", stopped_on)
    found = idle_codes(client)
    assert under in found and over not in found and unknown not in found
    p = found[under]
    assert p["status"] == "idle" and p["fee_wan"] == 246.91
    assert p["clock_from"] == stopped_on.isoformat()
    assert p["days_overdue"] == (today() - stopped_on).days
    assert p["developed_share"] == pytest.approx(0.2, abs=0.01) and "中止" in p["reason"]
    watch = watched(client)
    assert over not in watch and watch[unknown]["status"] == "unrecorded"
    # a quarter of the investment not reached is idle too, whatever the area
    low = unsupplied(db, 1)[0]
    supply(db, low, start, user)
    event(db, low, "started", start + dt.timedelta(days=10))
    event(
        db,
        low,
        "stopped",
        stopped_on,
        developed_m2=Decimal(int(parcel(db, low).m2 * 0.9)),
        invested_wan=Decimal("1000"),
    )
    assert idle_codes(client)[low]["invested_share"] == 0.2
    # resumed: no longer idle
    event(db, under, "resumed", today())
    assert under not in idle_codes(client)


def test_the_zone_filter(client, db, user):
    zones = db.execute(text("SELECT code FROM zone ORDER BY code")).scalars().all()
    here, other = zones[0], zones[1]
    code = unsupplied(db, 1, here)[0]
    supply(db, code, TWO_YEARS_AGO, user)
    assert code in idle_codes(client, zone=here)
    assert code not in idle_codes(client, zone=other)
    assert all(p["zone"] == other for p in idle_codes(client, zone=other).values())
    bad = client.get("/api/idle-land?zone=NOPE")
    assert bad.status_code == 400 and bad.get_json()["code"] == "unknown_zone"
    future = client.get(f"/api/idle-land?as_of={today() + dt.timedelta(days=1)}")
    assert future.status_code == 400 and future.get_json()["code"] == "day_out_of_range"


def test_the_page_in_chinese_and_english(client, db, user):
    code, soon = unsupplied(db, 2)
    supply(db, code, TWO_YEARS_AGO, user)
    supply(db, soon, today() + dt.timedelta(days=30), user)
    zh = client.get("/idle-land").get_data(as_text=True)
    assert "闲置土地" in zh and "国土资源部令第53号" in zh and "可无偿收回" in zh
    assert f'href="/?parcel={code}"' in zh and "临近约定动工日期" in zh
    assert "246.91" in zh and "Idle land" not in zh
    en = client.get("/idle-land?lang=en").get_data(as_text=True)
    assert "Idle land" in en and "Idle two years (may be recovered)" in en
    assert "not started" in en and "Start date near" in en
    zone = parcel(db, code).zone
    only = client.get(f"/idle-land?zone={zone}").get_data(as_text=True)
    assert code in only
    assert client.get("/idle-land?as_of=yesterday").status_code == 400


def test_the_map_theme_geojson_and_the_maps_offer_it(client, db, user):
    code, soon = unsupplied(db, 2)
    supply(db, code, TWO_YEARS_AGO, user)
    supply(db, soon, today() + dt.timedelta(days=30), user)
    resp = client.get("/api/idle-land/features")
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    features = {f["id"]: f for f in resp.get_json()["features"]}
    assert features[code]["properties"]["theme"] == "recoverable"
    assert features[soon]["properties"]["theme"] == "watch"
    assert features[code]["geometry"]["type"] == "MultiPolygon"
    lon, lat = features[code]["geometry"]["coordinates"][0][0][0]
    assert 109 < lon < 112 and 28 < lat < 30
    for page in ("/", f"/zones/{parcel(db, code).zone}"):
        html = client.get(page).get_data(as_text=True)
        assert "LandMap.themeOverlay(" in html and "/api/idle-land/features" in html
        assert RULE and "#b71c1c" in html  # IDLE_STYLES' colour for recoverable, told by the server


def test_the_workbook(client, db, user):
    code = unsupplied(db, 1)[0]
    supply(db, code, TWO_YEARS_AGO, user)
    resp = client.get("/idle-land.xlsx")
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.data))
    assert wb.sheetnames == ["说明", "闲置土地", "关注宗地"]
    ws = wb["闲置土地"]
    rows = {r[0]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert rows[code][14] == pytest.approx(246.91) and rows[code][15] == "是"
    assert rows["合计"][2] == pytest.approx(client.get("/api/idle-land").get_json()["total_mu"])


def test_the_rule_in_one_place():
    facts = Facts(
        start_due=dt.date(2020, 2, 29),
        price_wan=Decimal("100"),
        area_m2=3000.0,
        investment_wan=None,
        last_event=None,
        event_on=None,
        developed_m2=None,
        invested_wan=None,
    )
    assert assess(facts, dt.date(2021, 2, 27)).status is IdleStatus.OVERDUE
    assert assess(facts, dt.date(2021, 2, 28)).status is IdleStatus.IDLE
    assert assess(facts, dt.date(2022, 2, 28)).status is IdleStatus.RECOVERABLE
    assert assess(facts, dt.date(2019, 12, 1)).status is IdleStatus.DUE_SOON
    assert assess(facts, dt.date(2019, 1, 1)) is None
    assert RULE.developed_share_min * 3 == 1 and RULE.invested_share_min * 4 == 1
