"""Figures that agree: a page as of a day is all of that day, a period report is of its last
day, mu are rounded once (half up, two decimals) and read the same everywhere, workbooks
keep numbers as numbers under one header row."""

import datetime as dt
import io
import json
import re

import pytest
from conftest import client_for, settle_households
from openpyxl import load_workbook
from sqlalchemy import text

from landmap import loaders
from landmap.domain import Stage
from landmap.geo.units import mu2
from landmap.loaders import LoadOptions
from landmap.services.acquisition import today

PROJECT = "C区1000亩土地开发项目"


def project_id(db) -> int:
    return db.execute(text("SELECT id FROM project WHERE name = :n"), {"n": PROJECT}).scalar_one()


def batch_id(db, name: str = "第一批") -> int:
    return db.execute(text("SELECT id FROM acquisition_batch WHERE name = :n"),
                      {"n": name}).scalar_one()  # fmt: skip


def workbook(client, url):
    resp = client.get(url)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return load_workbook(io.BytesIO(resp.data))


def legend_options(html: str) -> dict:
    """The options the page gives LandMap.legend (what the legend first shows)."""
    at = re.search(r"LandMap\.legend\([\w]+, ", html).end()
    return json.JSONDecoder().raw_decode(html[at:])[0]


def stage_mu_as_of(db, day, where="true", **params) -> dict[str, float]:
    """Exact mu per stage on ``day``, counted here independently of the services."""
    rows = db.execute(text(f"""
        SELECT lm_stage_as_of(p.id, p.stage, :day), sum(p.area_mu) FROM parcel p
        WHERE {where} GROUP BY 1"""), {"day": day, **params}).all()  # fmt: skip
    return dict(rows)


# --- a map as of a day ----------------------------------------------------------------------


@pytest.fixture
def zone_c_grown_today(db, settings, tmp_path):
    """Zone C's boundary grown by 50 m, in force from today (the old one superseded)."""
    grown = db.execute(text("""
        SELECT ST_AsGeoJSON(ST_Transform(ST_Buffer(zb.geom, 50), 4326), 7)
        FROM zone_boundary zb JOIN zone z ON z.id = zb.zone_id
        WHERE z.code = 'C' AND zb.status = 'current'""")).scalar_one()  # fmt: skip
    path = tmp_path / "c.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": json.loads(grown)}]}))  # fmt: skip
    loaders.load(db, settings, "zones", path,
                 LoadOptions(zone="C", valid_from=today(), run_by="t"))  # fmt: skip


def test_the_map_as_of_a_day_draws_that_days_boundaries_and_figures(client, db, zone_c_grown_today):
    day = "2011-06-30"
    html = client.get(f"/?as_of={day}").get_data(as_text=True)
    assert f'"url": "/api/zones?as_of={day}"' in html  # what the zone layer fetches
    assert f"{today().isoformat()} 起施行" not in html
    zones = {f["properties"]["code"]: f["properties"]
             for f in client.get(f"/api/zones?as_of={day}").get_json()["features"]}  # fmt: skip
    assert zones["C"]["valid_from"] == "2010-01-01"
    now = client.get("/").get_data(as_text=True)
    assert '"url": "/api/zones"' in now
    current = {f["properties"]["code"]: f["properties"]
               for f in client.get("/api/zones").get_json()["features"]}  # fmt: skip
    assert current["C"]["valid_from"] == today().isoformat()
    # the legend: every stage as it was that day, its total the rounded exact sum
    legend = legend_options(html)
    exact = stage_mu_as_of(db, dt.date(2011, 6, 30))
    assert {r["stage"]: r["mu"] for r in legend["rows"]} == {
        s.value: mu2(exact.get(s.value, 0.0)) for s in Stage}  # fmt: skip
    assert legend["totalMu"] == mu2(sum(exact.values()))
    assert legend["params"] == {"as_of": day} and legend["summaryUrl"]


def test_the_stages_summary_is_what_the_legend_shows(client, db):
    pid, bid = project_id(db), batch_id(db)
    body = client.get(f"/api/parcels/stages-summary?project={pid}&batch={bid}"
                      "&as_of=2011-11-30").get_json()  # fmt: skip
    exact = stage_mu_as_of(db, dt.date(2011, 11, 30), "p.batch_id = :b", b=bid)
    assert {s: v["mu"] for s, v in body["stages"].items()} == {
        s.value: mu2(exact.get(s.value, 0.0)) for s in Stage}  # fmt: skip
    assert body["total"]["mu"] == 315.0 and body["total"]["parcels"] == 44
    assert body["as_of"] == "2011-11-30"
    page = client.get(f"/projects/{pid}?batch={bid}&as_of=2011-11-30").get_data(as_text=True)
    legend = legend_options(page)
    assert {r["stage"]: r["mu"] for r in legend["rows"]} == {
        s: v["mu"] for s, v in body["stages"].items()}  # fmt: skip
    assert client.get("/api/parcels/stages-summary?zone=Q").status_code == 400
    assert client.get("/api/parcels/stages-summary?as_of=soon").status_code == 400


# --- reports of their period ------------------------------------------------------------------


@pytest.fixture
def december(client, db):
    """Work done after 2011-11-30: a second-batch parcel cleared on 2011-12-15, and 10 mu of
    plan quota granted on 2011-12-05."""
    code = db.execute(text("""
        SELECT p.code FROM parcel p WHERE p.batch_id = :b AND p.stage = 'not_started'
          AND NOT EXISTS (SELECT 1 FROM stage_change c WHERE c.parcel_id = p.id)
        ORDER BY p.code LIMIT 1"""), {"b": batch_id(db, "第二批")}).scalar_one()  # fmt: skip
    resp = client.post(f"/api/parcels/{code}/stage", json={"stage": "cleared",
                                                            "date": "2011-12-15"})  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    grant = {"year": 2011, "kind": "grant", "mu": 10, "source": "plan", "date": "2011-12-05"}
    resp = client.post("/api/quota/entries", json=grant)
    assert resp.status_code == 201, resp.get_json()
    return code


def test_a_monthly_report_is_of_its_last_day(client, db, december):
    day = dt.date(2011, 11, 30)
    wb = workbook(client, "/reports/monthly.xlsx?month=2011-11")
    assert wb.sheetnames == [
        *("说明", "用地指标", "指标变动", "征拆进度", "项目", "分区地类"),
        *("企业统计", "亩均效益", "补偿安置"),
    ]
    assert "2011-11-01 至 2011-11-30" in wb.properties.title
    assert "截至" not in wb.properties.title  # the month has ended
    # 项目: mu at each stage on 2011-11-30, not today's
    head = [c.value for c in wb["项目"][1]]
    row = next(r for r in wb["项目"].iter_rows(min_row=2) if r[0].value == PROJECT)
    cells = dict(zip(head, row, strict=True))
    where = "p.project_id = :p"
    then = stage_mu_as_of(db, day, where, p=project_id(db))
    now = stage_mu_as_of(db, today(), where, p=project_id(db))
    assert mu2(then["cleared"]) != mu2(now["cleared"])  # the history changed since
    for s in Stage:
        cell = cells[f"{s.label_zh}（亩）"]
        assert cell.value == mu2(then.get(s.value, 0.0)) and cell.number_format == "0.00"
    assert cells["面积（亩）"].value == mu2(sum(then.values()))
    # 征拆进度: the second batch as it stood, nothing cleared in it yet
    progress = {r[1]: r for r in wb["征拆进度"].iter_rows(min_row=2, values_only=True)}
    assert progress["第二批"][3] == mu2(stage_mu_as_of(
        db, day, "p.batch_id = :b", b=batch_id(db, "第二批")).get("cleared", 0.0))  # fmt: skip
    # the quota books without the December grant
    granted = db.execute(text("""SELECT sum(d_granted) FROM quota_entry
                                 WHERE year = 2011 AND entry_date <= :d"""),
                         {"d": day}).scalar_one()  # fmt: skip
    total = next(r for r in wb["用地指标"].iter_rows(min_row=2) if r[0].value == "合计")
    assert total[1].value == mu2(granted) and total[1].number_format == "0.00"
    assert client.get("/api/quota?year=2011").get_json()["granted_mu"] == mu2(granted) + 10
    dates = [r[0] for r in wb["指标变动"].iter_rows(min_row=2, values_only=True)]
    assert all(dt.date(2011, 11, 1) <= d.date() <= day for d in dates)
    # December's report has them
    december_book = workbook(client, "/reports/monthly.xlsx?month=2011-12")
    rows = december_book["征拆进度"].iter_rows(min_row=2, values_only=True)
    progress = {r[1]: r for r in rows}
    assert progress["第二批"][4] > 0  # cleared in the period
    entries = list(december_book["指标变动"].iter_rows(min_row=2, values_only=True))
    assert [(r[0].date(), r[4]) for r in entries] == [(dt.date(2011, 12, 5), 10.0)]


def test_a_month_under_way_is_reported_as_of_today(client):
    this = today()
    wb = workbook(client, f"/reports/monthly.xlsx?month={this:%Y-%m}")
    assert f"截至 {this.isoformat()}" in wb.properties.title
    about = {r[0]: r[1] for r in wb["说明"].iter_rows(min_row=2, values_only=True)}
    assert f"截至 {this.isoformat()}" in about["报表"]
    assert about["截至"].date() == this


@pytest.mark.parametrize(
    "day", [dt.date(2026, 11, 30), dt.date(2026, 11, 17), dt.date(2026, 11, 1)]
)
def test_a_month_is_under_way_until_its_last_day_is_over(client, monkeypatch, day):
    # CI once ran on the last day of a month: that day is still under way, so the report is
    # "截至" that day like any other day of the month, and a month that has ended is not.
    from landmap.services import reports

    monkeypatch.setattr(reports, "today", lambda: day)
    wb = workbook(client, f"/reports/monthly.xlsx?month={day:%Y-%m}")
    assert f"截至 {day.isoformat()}" in wb.properties.title
    before = workbook(client, f"/reports/monthly.xlsx?month={day.year}-{day.month - 1:02d}")
    assert "截至" not in before.properties.title


def test_the_quota_page_links_to_reports_that_have_begun(client):
    html = client.get(f"/quota?year={today().year + 3}").get_data(as_text=True)
    assert f"month={today():%Y-%m}" in html
    assert f"month={today().year + 3}-12" not in html


# --- one rounding rule ------------------------------------------------------------------------


def test_the_first_batch_is_315_00_everywhere(client, db):
    pid, bid = project_id(db), batch_id(db)
    exact = db.execute(text("SELECT sum(area_mu) FROM parcel WHERE batch_id = :b"),
                       {"b": bid}).scalar_one()  # fmt: skip
    assert exact == pytest.approx(315, abs=1e-6)
    parts = stage_mu_as_of(db, dt.date(2011, 11, 30), "p.batch_id = :b", b=bid)
    assert round(sum(mu2(v) for v in parts.values()), 2) != 315.0  # rounded parts add to more
    detail = client.get(f"/api/projects/{pid}").get_json()
    first = next(b for b in detail["batches"] if b["id"] == bid)
    assert first["area_mu"] == 315.0 and first["target_mu"] == 315.0
    progress = client.get(f"/api/projects/{pid}/progress?batch={bid}&as_of=2011-11-30").get_json()
    assert progress["area_mu"] == 315.0 and progress["target_mu"] == 315.0
    html = client.get(f"/projects/{pid}?batch={bid}&as_of=2011-11-30").get_data(as_text=True)
    by_stage = html[html.index('id="by-stage"') :]
    total = re.search(r'class="fw-bold">.*?<td class="text-end">([^<]+)</td>', by_stage, re.S)
    assert total[1] == "315.00"
    batches = html[html.index('id="batches"') :]
    assert re.search(r'<td class="text-end">315\.00</td>', batches)  # the target
    wb = workbook(client, f"/projects/{pid}/ledger.xlsx?as_of=2011-11-30")
    head = [c.value for c in wb["汇总"][1]]
    row = next(r for r in wb["汇总"].iter_rows(min_row=2) if r[0].value == "第一批")
    cell = dict(zip(head, row, strict=True))["面积（亩）"]
    assert cell.value == 315.0 and cell.number_format == "0.00"
    total_row = next(r for r in wb["第一批"].iter_rows(min_row=2) if r[0].value == "合计")
    assert total_row[4].value == 315.0 and total_row[4].number_format == "0.00"


def test_mu_are_rounded_half_up_once_in_the_parcel_api(client, db):
    code, exact = db.execute(text("SELECT code, area_mu FROM parcel ORDER BY code LIMIT 1")).one()
    feature = client.get(f"/api/parcels/{code}").get_json()
    assert feature["properties"]["area_mu"] == mu2(exact)
    listed = client.get("/api/parcels?zone=C&limit=5").get_json()["features"]
    exacts = dict(db.execute(text("SELECT code, area_mu FROM parcel WHERE code = ANY(:c)"),
                             {"c": [f["id"] for f in listed]}).all())  # fmt: skip
    assert all(f["properties"]["area_mu"] == mu2(exacts[f["id"]]) for f in listed)


def test_the_progress_sentence_shows_mu_with_two_decimals(client, db):
    html = client.get(f"/projects/{project_id(db)}?batch={batch_id(db)}&as_of=2011-11-30"
                      ).get_data(as_text=True)  # fmt: skip
    warning = html[html.index('id="warning"') : html.index("</div>", html.index('id="warning"'))]
    assert "2012-07" in warning and "315.00" in warning and "315.0 " not in warning


# --- workbooks --------------------------------------------------------------------------------


def test_the_ledgers_sheets_are_one_table_each_under_a_frozen_header(client, db):
    wb = workbook(client, f"/projects/{project_id(db)}/ledger.xlsx?as_of=2011-11-30")
    assert wb.sheetnames[0] == "说明" and PROJECT in wb.properties.title
    assert "2011-11-30" in wb.properties.title or any(
        r[1] and "2011-11-30" in str(r[1]) for r in wb["说明"].iter_rows(values_only=True)
    )
    for ws in wb.worksheets[1:]:
        assert ws.freeze_panes == "A2" and ws["A1"].font.b
        assert ws["A2"].value and not ws["A2"].font.b  # row 2 is data
        assert PROJECT in ws.oddHeader.center.text  # and a printed page says what it is
    sheet = wb["第一批"]
    assert sheet["A2"].value.startswith("4308")
    head = [c.value for c in sheet[1]]
    place = head.index("坐落") + 1
    longest = max(len(str(c.value or "")) for c in next(sheet.iter_cols(
        min_col=place, max_col=place, min_row=2)))  # fmt: skip
    column = sheet.column_dimensions[sheet.cell(row=1, column=place).column_letter]
    assert column.width >= 2 * longest  # a CJK character takes two columns
    dates = [c for c in sheet[2][6 : 6 + len(Stage.workflow()) - 1] if c.value is not None]
    assert all(c.is_date and c.number_format == "yyyy-mm-dd" for c in dates)


def test_every_workbook_starts_with_what_it_is(client, db):
    for url in ("/reports/quarterly.xlsx?quarter=2011-Q3", "/audit.xlsx",
                f"/projects/{project_id(db)}/ledger.xlsx"):  # fmt: skip
        wb = workbook(client, url)
        assert wb.sheetnames[0] == "说明" and wb.properties.title, url
        for ws in wb.worksheets:
            assert ws.freeze_panes == "A2", (url, ws.title)
            assert all(c.value is not None for c in ws[1]), (url, ws.title)


# --- project pages open on their last day with data --------------------------------------------


@pytest.fixture
def demo_only(scratch):
    """A client of an app on a schema of its own holding the demo as loaded and nothing
    else (other tests commit stage moves dated today to the shared one): its history ends
    on 2011-11-25."""
    from sqlalchemy.orm import Session

    from landmap import create_app
    from landmap.db.engine import make_app_engine
    from landmap.demo import load_demo
    from landmap.services import users

    engine = make_app_engine(scratch)
    with Session(engine) as session:
        load_demo(session, scratch)
        users.add(session, "t_demo_admin", "admin", "a long enough password")
        token = users.new_token(session, "t_demo_admin", "tests")
        session.commit()
    engine.dispose()
    return client_for(create_app(scratch), token)


def test_a_project_page_opens_on_the_last_day_with_data(demo_only):
    """The demo's history ends on 2011-11-25: opened without a day, the page and the API
    show that day, and project completion from the pace of that time, not from the empty
    years since (which put it in 2129)."""
    client, last = demo_only, "2011-11-25"
    pid = next(p["id"] for p in client.get("/api/projects").get_json() if p["name"] == PROJECT)
    body = client.get(f"/api/projects/{pid}/progress").get_json()
    assert body["as_of"] == last
    assert body == client.get(f"/api/projects/{pid}/progress?as_of={last}").get_json()
    first = next(b for b in body["batches"] if b["batch"] == "第一批")
    assert first["as_of"] == last and "2012-01-01" < first["projected_completion"] < "2013-01-01"
    html = client.get(f"/projects/{pid}").get_data(as_text=True)
    assert last in re.search(r'id="shown-day">([^<]*)<', html)[1]
    assert f'value="{last}"' in html and f"ledger.xlsx?as_of={last}" in html
    assert first["projected_completion"] in html[html.index('id="batches"') :]
    assert not re.search(r"\b2(0[3-9]|[1-9]\d)\d-\d\d-\d\d", html)  # nothing decades off
    wb = workbook(client, f"/projects/{pid}/ledger.xlsx")
    about = {r[0]: r[1] for r in wb["说明"].iter_rows(min_row=2, values_only=True)}
    assert about["截至"].date().isoformat() == last
    # a day asked for is the day shown
    html = client.get(f"/projects/{pid}?as_of=2011-11-30").get_data(as_text=True)
    assert "2011-11-30" in re.search(r'id="shown-day">([^<]*)<', html)[1]


def test_the_last_day_with_data_is_the_registers(client, db):
    """A project that stood still while others moved on is shown standing still: its page
    opens on the register's last day, not on its own."""
    pid = project_id(db)
    code = db.execute(
        text("""SELECT min(p.code) FROM parcel p JOIN project pr
                              ON pr.id = p.project_id WHERE pr.name = '居民安置区'""")
    ).scalar()
    settle_households(db, [code], today())  # its households, signed in 2011, paid in full
    move = {"stage": "cleared", "date": today().isoformat()}
    resp = client.post(f"/api/parcels/{code}/stage", json=move)
    assert resp.status_code == 201, resp.get_json()
    body = client.get(f"/api/projects/{pid}/progress").get_json()
    assert body["as_of"] == today().isoformat()


def test_pasted_codes_give_their_mu(client, db):
    codes = list(db.execute(text("SELECT code FROM parcel ORDER BY code LIMIT 2")).scalars())
    exact = db.execute(text("SELECT sum(area_mu) FROM parcel WHERE code = ANY(:c)"),
                       {"c": codes}).scalar_one()  # fmt: skip
    body = client.post("/api/parcels/select", json={"codes": [*codes, "NOPE"]}).get_json()
    assert body == {"codes": codes, "count": 2, "mu": mu2(exact), "unknown": ["NOPE"]}
    assert client.post("/api/parcels/select", json={"codes": "x"}).status_code == 400
    assert client.post("/api/parcels/select", json={"codes": []}).status_code == 400
