"""Enterprise statistics (月统计) and 亩均效益: recording and replacing a month, refusals, the
workbook template and upload (all or nothing), tax per mu against the enterprise's parcels,
classes by thresholds, the ranking, the map theme and the period workbooks' sheets."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from conftest import client_for
from openpyxl import Workbook, load_workbook
from sqlalchemy import text

from landmap.db.models import LandSupply
from landmap.domain import today
from landmap.geo.units import mu2
from landmap.services import enterprises

MONTH = {
    "output_wan": 1200.5,
    "revenue_wan": 1100,
    "tax_wan": 60.25,
    "investment_wan": 30,
    "employees": 120,
    "energy_tce": 44.4,
}


def free_parcels(db, n: int) -> list[tuple[int, str, float]]:
    """Parcels in force that were never supplied: (id, code, exact mu)."""
    return db.execute(
        text("""SELECT id, code, area_mu FROM parcel p WHERE retired_on IS NULL
                AND NOT EXISTS (SELECT 1 FROM land_supply s WHERE s.parcel_id = p.id)
                ORDER BY area_mu DESC, code LIMIT :n"""),
        {"n": n},
    ).all()


def supply(db, parcel_id: int, enterprise_id: int, day=dt.date(2022, 6, 1)) -> None:
    db.add(
        LandSupply(
            parcel_id=parcel_id,
            method="transfer",
            transfer_way="listing",
            supplied_on=day,
            contract_no=f"T-{parcel_id}",
            enterprise_id=enterprise_id,
            price_wan=100,
            start_due=day,
            completion_due=day + dt.timedelta(days=700),
        )
    )
    db.flush()


@pytest.fixture
def firm(db):
    """A new enterprise using two parcels supplied in 2022: (id, name, parcel codes, mu)."""
    row = enterprises.create_enterprise(db, {"name": "测试亩均企业", "credit_code": ""})
    parcels = free_parcels(db, 2)
    for pid, _code, _mu in parcels:
        supply(db, pid, row.id)
    return row.id, row.name, sorted(c for _i, c, _m in parcels), sum(m for *_x, m in parcels)


def post_month(client, eid, year, month, **figures):
    return client.post(
        f"/api/enterprises/{eid}/statistics",
        json={"year": year, "month": month, **MONTH, **figures},
    )


def test_a_month_is_recorded_read_back_and_replaced(client, firm):
    eid = firm[0]
    first = post_month(client, eid, 2023, 5)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["replaced"] is False and first.get_json()["tax_wan"] == 60.25
    again = post_month(client, eid, 2023, 5, tax_wan=70)
    assert again.status_code == 200 and again.get_json()["replaced"] is True
    months = client.get(f"/api/enterprises/{eid}/statistics?year=2023").get_json()
    assert [(m["month"], m["tax_wan"], m["employees"]) for m in months] == [(5, 70.0, 120)]
    assert client.get(f"/api/enterprises/{eid}/statistics?year=2022").get_json() == []


def test_a_correction_is_audited(client, firm, db):
    eid = firm[0]
    post_month(client, eid, 2023, 6)
    post_month(client, eid, 2023, 6, tax_wan=1)
    kinds = db.execute(
        text(
            "SELECT count(*) FROM audit_log WHERE entity = 'statistic' AND key = :k"
            " AND before IS NOT NULL"
        ),
        {"k": f"{eid}/2023-6"},
    ).scalar()
    assert kinds == 1  # the month as it was before the correction


@pytest.mark.parametrize(
    "change, code",
    [
        ({"tax_wan": -1}, "statistic_out_of_range"),
        ({"output_wan": "lots"}, "statistic_out_of_range"),
        ({"employees": 1.5}, "statistic_out_of_range"),
        ({"revenue_wan": 1e15}, "statistic_out_of_range"),
        ({"tax_wan": None}, "statistic_required"),
        ({"month": 13}, "statistic_bad_month"),
        ({"month": 0}, "statistic_bad_month"),
        ({"year": 1989}, "statistic_bad_year"),
    ],
)
def test_bad_figures_are_refused_in_chinese(client, firm, change, code):
    body = {"year": 2023, "month": 4, **MONTH, **change}
    resp = client.post(f"/api/enterprises/{firm[0]}/statistics", json=body)
    assert resp.status_code == 400 and resp.get_json()["code"] == code, resp.get_json()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in resp.get_json()["error"])


def test_a_future_month_and_an_unknown_enterprise_are_refused(client, firm):
    later = today().replace(day=28) + dt.timedelta(days=5)
    resp = post_month(client, firm[0], later.year, later.month)
    assert resp.status_code == 400 and resp.get_json()["code"] == "statistic_future_month"
    resp = post_month(client, 2_000_000_000, 2023, 1)
    assert resp.status_code == 404 and resp.get_json()["code"] == "no_such_enterprise"


def test_a_viewer_may_read_but_not_record(app, accounts, firm):
    viewer = client_for(app, accounts["viewer"]["token"])
    assert post_month(viewer, firm[0], 2023, 1).status_code == 403
    assert viewer.get(f"/api/enterprises/{firm[0]}/efficiency").status_code == 200
    officer = client_for(app, accounts["officer"]["token"])
    assert post_month(officer, firm[0], 2023, 1).status_code == 201


# --- 亩均效益 -------------------------------------------------------------------------------


def test_tax_per_mu_is_the_recorded_tax_over_the_mu_of_its_parcels(client, firm, db):
    eid, _name, codes, exact_mu = firm
    for month in range(1, 13):
        assert post_month(client, eid, 2023, month, tax_wan=10 + month).status_code == 201
    for month in (1, 2, 3):
        assert post_month(client, eid, 2024, month, tax_wan=100).status_code == 201
    year = client.get(f"/api/enterprises/{eid}/efficiency?year=2023").get_json()
    tax_2023 = sum(10 + m for m in range(1, 13))
    assert year["parcels"] == codes and year["mu"] == mu2(exact_mu)
    assert year["tax_wan"] == tax_2023 and year["months"] == 12
    assert year["tax_per_mu"] == pytest.approx(round(tax_2023 / year["mu"], 2), abs=1e-9)
    assert year["output_per_mu"] == pytest.approx(round(12 * 1200.5 / year["mu"], 2), abs=1e-9)
    # the trailing 12 months of the year end at its last month recorded: 2023-01..2023-12
    assert year["trailing_12_months"]["from"] == "2023-01"
    assert year["trailing_12_months"]["tax_wan"] == tax_2023
    # as of 2024-03-31: 2023-04 .. 2024-03
    trailing = client.get(
        f"/api/enterprises/{eid}/efficiency?year=2024&as_of=2024-03-31"
    ).get_json()
    expected = sum(10 + m for m in range(4, 13)) + 300
    t12 = trailing["trailing_12_months"]
    assert (t12["from"], t12["to"], t12["tax_wan"]) == ("2023-04", "2024-03", expected)
    assert t12["tax_per_mu"] == pytest.approx(round(expected / t12["mu"], 2), abs=1e-9)
    assert trailing["tax_wan"] == 300 and trailing["months"] == 3


def test_no_land_gives_no_class_and_says_why(client, db):
    row = enterprises.create_enterprise(db, {"name": "无地企业"})
    assert post_month(client, row.id, 2023, 1).status_code == 201
    found = client.get(f"/api/enterprises/{row.id}/efficiency?year=2023").get_json()
    assert found["mu"] == 0 and found["class"] is None and found["tax_per_mu"] is None
    assert found["reason_code"] == "efficiency_no_land" and found["rank"] is None


def put_classes(client, a, b, c):
    return client.put("/api/efficiency-classes", json={"A": a, "B": b, "C": c})


def test_classes_follow_the_thresholds_and_rank(client, firm):
    eid, *_rest, exact_mu = firm
    mu = mu2(exact_mu)
    post_month(client, eid, 2023, 12, tax_wan=round(mu * 10, 2), output_wan=1)
    assert put_classes(client, 20, 9, 4).status_code == 200
    found = client.get(f"/api/enterprises/{eid}/efficiency?year=2023").get_json()
    assert found["class"] == "B" and found["tax_per_mu"] == pytest.approx(10, abs=0.01)
    assert put_classes(client, 10, 9, 4).get_json() == {"A": 10.0, "B": 9.0, "C": 4.0}
    assert client.get(f"/api/enterprises/{eid}/efficiency?year=2023").get_json()["class"] == "A"
    put_classes(client, 30, 20, 11)
    assert client.get(f"/api/enterprises/{eid}/efficiency?year=2023").get_json()["class"] == "D"
    ranking = client.get("/api/efficiency?year=2023").get_json()
    ours = next(r for r in ranking["enterprises"] if r["enterprise_id"] == eid)
    assert ours["rank"] == 1 + sum(
        1
        for r in ranking["enterprises"]
        if r["tax_per_mu"] and r["class"] and r["tax_per_mu"] > ours["tax_per_mu"]
    )


@pytest.mark.parametrize("a, b, c", [(5, 8, 3), (8, 8, 3), (15, 8, 0), (15, "x", 3)])
def test_thresholds_out_of_order_are_refused(client, app, accounts, a, b, c):
    resp = put_classes(client, a, b, c)
    assert resp.status_code == 400 and resp.get_json()["code"].startswith("efficiency_class")
    assert client.get("/api/efficiency-classes").get_json() == {"A": 15.0, "B": 8.0, "C": 3.0}
    officer = client_for(app, accounts["officer"]["token"])
    assert put_classes(officer, 30, 20, 10).status_code == 403


def test_the_map_theme_colours_the_parcels_by_class(client, firm):
    eid, name, codes, _mu = firm
    post_month(client, eid, 2023, 12, tax_wan=1)
    resp = client.get("/api/efficiency/parcels?year=2023")
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    ours = [f for f in resp.get_json()["features"] if f["properties"]["enterprise_id"] == eid]
    assert sorted(f["properties"]["code"] for f in ours) == codes
    assert {f["properties"]["class"] for f in ours} == {"D"}
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in ours)
    page = client.get("/").get_data(as_text=True)
    assert "/api/efficiency/parcels" in page and "#d73027" in page


# --- the workbook ---------------------------------------------------------------------------


def template(client, year=2023, month=7):
    resp = client.get(f"/statistics/template.xlsx?year={year}&month={month}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return load_workbook(io.BytesIO(resp.data))


def upload(client, wb, name="statistics.xlsx"):
    out = io.BytesIO()
    wb.save(out)
    return client.post(
        "/statistics/upload",
        data={"file": (io.BytesIO(out.getvalue()), name)},
        content_type="multipart/form-data",
    )


def fill(ws, row, values):
    for col, value in enumerate(values, start=5):
        ws.cell(row=row, column=col, value=value)


def find_row(ws, name):
    return next(r for r in range(2, ws.max_row + 1) if ws.cell(row=r, column=1).value == name)


def test_the_template_round_trip(client, firm):
    eid, name, *_rest = firm
    wb = template(client)
    assert wb.sheetnames[0] == "说明" and "月度统计" in wb.sheetnames
    ws = wb["月度统计"]
    assert [c.value for c in ws[1]][:6] == [
        "企业名称",
        "统一社会信用代码",
        "年",
        "月",
        "工业总产值(万元)",
        "营业收入(万元)",
    ]
    row = find_row(ws, name)
    assert (ws.cell(row=row, column=3).value, ws.cell(row=row, column=4).value) == (2023, 7)
    fill(ws, row, [500, 480.5, "12.34", 0, 33, None])
    resp = upload(client, wb)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["stored"] == 1  # the rows left empty are skipped
    months = client.get(f"/api/enterprises/{eid}/statistics?year=2023").get_json()
    assert [(m["month"], m["tax_wan"], m["source"]) for m in months] == [(7, 12.34, "workbook")]
    again = template(client)["月度统计"]  # the month's figures come back in the template
    assert again.cell(row=find_row(again, name), column=7).value == 12.34
    fill(again, find_row(again, name), [500, 480.5, 13, 0, 33, None])
    wb2 = again.parent
    assert upload(client, wb2).get_json()["replaced"] == 1


def test_one_bad_row_stores_nothing_and_is_named(client, firm, db):
    eid, name, *_rest = firm
    other = enterprises.create_enterprise(db, {"name": "另一家测试企业"})
    wb = template(client)
    ws = wb["月度统计"]
    fill(ws, find_row(ws, name), [500, 480, 12, 0, 33, None])
    bad = find_row(ws, other.name)
    fill(ws, bad, [500, -480, 12, 0, 33, None])
    ws.cell(row=bad, column=4, value=13)
    resp = upload(client, wb)
    body = resp.get_json()
    assert resp.status_code == 422 and body["code"] == "statistics_upload_refused", body
    assert any(f"第 {bad} 行" in p and "营业收入" in p for p in body["problems"]), body
    assert any(f"第 {bad} 行" in p and "月" in p for p in body["problems"]), body
    assert client.get(f"/api/enterprises/{eid}/statistics?year=2023").get_json() == []


def test_unknown_enterprises_formulas_and_duplicates_are_refused(client, firm):
    eid, name, *_rest = firm
    wb = Workbook()
    ws = wb.active
    ws.title = "月度统计"
    ws.append(
        [
            "企业名称",
            "统一社会信用代码",
            "年",
            "月",
            "工业总产值(万元)",
            "营业收入(万元)",
            "税收(万元)",
            "固定资产投资(万元)",
            "从业人员(人)",
            "综合能耗(吨标准煤)",
        ]
    )
    ws.append([name, None, 2023, 8, 1, 1, "=1+1", 0, 1, None])
    ws.append(['=HYPERLINK("http://evil.example","x")', None, 2023, 8, 1, 1, 1, 0, 1, None])
    ws.append([name, None, 2023, 8, 1, 1, 1, 0, 1, None])
    ws.append([name, None, 2023, 8, 2, 2, 2, 0, 1, None])  # row 4's enterprise and month
    body = upload(client, wb).get_json()
    assert body["code"] == "statistics_upload_refused"
    problems = "\n".join(body["problems"])
    assert "第 2 行" in problems and "公式" in problems
    assert "第 3 行“企业名称”列：不接受公式" in problems
    assert not any(p.startswith("第 4 行") for p in body["problems"])
    assert "第 5 行" in problems and "第 4 行的企业和月份重复" in problems
    assert len(body["problems"]) == 3
    assert client.get(f"/api/enterprises/{eid}/statistics?year=2023").get_json() == []


def xlsm_bytes() -> bytes:
    out = io.BytesIO()
    wb = Workbook()
    wb.save(out)
    buf = io.BytesIO(out.getvalue())
    with zipfile.ZipFile(buf, "a") as z:
        z.writestr("xl/vbaProject.bin", b"\0" * 10)
    return buf.getvalue()


@pytest.mark.parametrize(
    "data, name, status, code",
    [
        (b"not a zip at all", "s.xlsx", 415, "statistics_upload_not_xlsx"),
        (b"PK\x03\x04", "s.xlsx", 415, "statistics_upload_not_xlsx"),
        (b"x", "s.xlsm", 415, "statistics_upload_kind"),
        (None, "s.xlsx", 415, "statistics_upload_macros"),
    ],
)
def test_hostile_files_are_refused(client, data, name, status, code):
    resp = client.post(
        "/statistics/upload",
        data={"file": (io.BytesIO(data if data is not None else xlsm_bytes()), name)},
        content_type="multipart/form-data",
    )
    assert resp.status_code == status and resp.get_json()["code"] == code, resp.get_json()


def test_a_workbook_without_the_sheet_or_headers_is_refused(client):
    wb = Workbook()
    wb.active.title = "Sheet1"
    assert upload(client, wb).get_json()["code"] == "statistics_upload_no_sheet"
    wb.active.title = "月度统计"
    wb.active.append(["name", "tax"])
    assert upload(client, wb).get_json()["code"] == "statistics_upload_bad_header"


def test_the_upload_needs_the_statistics_permission(app, accounts):
    viewer = client_for(app, accounts["viewer"]["token"])
    assert viewer.post("/statistics/upload").status_code == 403


# --- the page and the period workbooks ------------------------------------------------------


def test_the_page_shows_the_ranking_and_forms(client, firm):
    eid, name, *_rest = firm
    post_month(client, eid, 2023, 12)
    page = client.get("/statistics?year=2023")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert name in html and 'id="ranking-table"' in html and 'id="upload-form"' in html
    assert 'id="classes-form"' in html and "/statistics/template.xlsx" in html


def test_the_month_form_refuses_beside_it(client, firm):
    resp = client.post(
        "/statistics/entries",
        data={
            "enterprise": str(firm[0]),
            "year": "2023",
            "month": "13",
            **{k: str(v) for k, v in MONTH.items()},
        },
    )
    assert resp.status_code == 400 and 'id="entry-error"' in resp.get_data(as_text=True)


def test_the_period_workbooks_have_the_statistics_sheets(client, firm):
    eid, name, *_rest = firm
    post_month(client, eid, 2023, 11, tax_wan=7)
    post_month(client, eid, 2023, 12, tax_wan=8, employees=130)
    resp = client.get("/reports/quarterly.xlsx?quarter=2023-Q4")
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.data))
    assert "企业统计" in wb.sheetnames and "亩均效益" in wb.sheetnames
    rows = {r[0]: r for r in wb["企业统计"].iter_rows(min_row=2, values_only=True)}
    assert rows[name][4] == 15 and rows[name][6] == 130 and rows[name][7] == 2
    efficiency = {r[0]: r for r in wb["亩均效益"].iter_rows(min_row=2, values_only=True)}
    assert efficiency[name][2] == 15
    monthly = load_workbook(io.BytesIO(client.get("/reports/monthly.xlsx?month=2023-12").data))
    assert {"企业统计", "亩均效益"} <= set(monthly.sheetnames)
