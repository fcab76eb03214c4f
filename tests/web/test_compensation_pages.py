"""The compensation screens (issue 19): the household list of a project or batch with its money,
the project page's block per batch, the parcel popup's section and the 补偿 map theme. The
households are made here through the API, in the test's transaction; the demo's own (if it
has any) may share the batch, so figures are checked against the API's, not against totals
written here."""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser

import pytest
from conftest import client_for
from sqlalchemy import text

from landmap.domain import HouseholdStatus, today
from landmap.services.personal import check_character

HOSTILE = "<b>钱四</b>"


def id_number(serial: int) -> str:
    base = f"430802197503{serial % 28 + 1:02d}{serial:03d}"
    return base + check_character(base)


class Tables(HTMLParser):
    """The tables of a page by id: their rows (attributes, cells' text)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[tuple[dict, list[str]]]] = {}
        self.links: list[dict] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a":
            self.links.append(a)
        if tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
            self.tables[self._table].append((a, self._row))
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, table: str) -> list[tuple[dict, list[str]]]:
        return self.tables[table]


def yuan(value) -> str:
    return f"{value:,.2f}"


@pytest.fixture
def batch(db) -> dict:
    """A batch with three parcels still to start, without households or history."""
    free = """FROM parcel p JOIN zone z ON z.id = p.zone_id
              WHERE p.batch_id IS NOT NULL AND p.stage = 'not_started' AND p.retired_on IS NULL
                AND NOT EXISTS (SELECT 1 FROM stage_change c WHERE c.parcel_id = p.id)
                AND NOT EXISTS (SELECT 1 FROM household_parcel hp WHERE hp.parcel_id = p.id)"""
    batch_id = db.execute(
        text(
            f"SELECT p.batch_id {free} GROUP BY p.batch_id HAVING count(*) >= 3 "
            "ORDER BY p.batch_id LIMIT 1"
        )  # fmt: skip
    ).scalar_one()
    rows = db.execute(
        text(
            f"SELECT p.code, p.project_id, z.code {free} AND p.batch_id = :b "
            "ORDER BY p.code LIMIT 3"
        ),  # fmt: skip
        {"b": batch_id},
    ).all()
    return {
        "id": batch_id,
        "project": rows[0][1],
        "zone": rows[0][2],
        "codes": [r[0] for r in rows],
    }


@pytest.fixture
def households(client, batch) -> dict:
    """On parcel A: 王一, not signed. On A and B: 李二 (a flat), signed and part paid. On C:
    赵三 paid in full and a head whose name is HTML, signed. So A is 未签约, B 部分兑付,
    C 已签约 (the least advanced household of each)."""
    day = today().isoformat()
    if not client.get(f"/api/compensation/standards?date={day}").get_json()["standards"]:
        standard = {
            "year": today().year,
            "effective_from": day,
            "items": [
                {"kind": "land", "class": "cultivated", "rate_yuan": 48000},
                {"kind": "land", "class": "construction", "rate_yuan": 30000},
                {"kind": "house", "class": "brick_concrete", "rate_yuan": 850},
                {"kind": "relocation", "rate_yuan": 3000},
                {"kind": "transition", "rate_yuan": 450, "months": 12},
            ],
        }
        r = client.post("/api/compensation/standards", json=standard)
        assert r.status_code == 201, r.get_json()
    a, b, c = batch["codes"]
    made = {}
    for serial, (head, code, extra) in enumerate(
        [
            ("王一", a, {}),
            ("李二", a, {"parcels": [b], "resettlement": "flat", "flat_area_m2": 90}),
            ("赵三", c, {}),
            (HOSTILE, c, {}),
        ],
        start=1,
    ):
        body = {
            "head": head,
            "id_number": id_number(serial),
            "phone": "13907441234",
            "members": 3 + serial,
            "houses": [{"structure": "brick_concrete", "area_m2": 100 + serial}],
            "resettlement": "money",
            **extra,
        }
        r = client.post(f"/api/parcels/{code}/households", json=body)
        assert r.status_code == 201, r.get_json()
        made[head] = r.get_json()["id"]
    for serial, head in enumerate(["李二", "赵三", HOSTILE], start=1):
        hid = made[head]
        total = client.get(f"/api/households/{hid}/compensation").get_json()["total_yuan"]
        r = client.post(
            f"/api/households/{hid}/agreement",
            json={"number": f"页面-{serial}", "date": day, "amount_yuan": total},
        )
        assert r.status_code == 201, r.get_json()
        paid = {"李二": 1000, "赵三": total}.get(head)
        if paid:
            r = client.post(
                f"/api/households/{hid}/payments",
                json={"date": day, "amount_yuan": paid, "voucher": f"PZ-页面-{serial}"},
            )
            assert r.status_code == 201, r.get_json()
    return made


def _page(client, batch, **args):
    query = "&".join(f"{k}={v}" for k, v in {"batch": batch["id"], **args}.items() if v)
    r = client.get(f"/projects/{batch['project']}/compensation?{query}")
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return r.get_data(as_text=True)


def _api(client, batch, what="", **args):
    query = "&".join(f"{k}={v}" for k, v in {"batch": batch["id"], **args}.items() if v)
    r = client.get(f"/api/projects/{batch['project']}/compensation{what}?{query}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_the_household_list_shows_the_money_and_each_household(client, batch, households):
    html = _page(client, batch)
    page = Tables(html)
    money = _api(client, batch)
    listed = _api(client, batch, "/households")["households"]
    assert {households[h] for h in households} <= {h["id"] for h in listed}

    # the money at the top, in yuan with thousands separators (and 10,000 yuan beside)
    shown = {
        a["data-key"]: cells for a, cells in page.rows("compensation-money") if "data-key" in a
    }
    for key in ("computed_yuan", "agreed_yuan", "paid_yuan", "outstanding_yuan"):
        assert shown[key][1] == yuan(money[key]), key
        assert shown[key][2] == yuan(money[key] / 10000), key
    assert money["computed_yuan"] > 10000 and "," in shown["computed_yuan"][1]
    assert money["paid_yuan"] > 0 and money["outstanding_yuan"] > 0
    if money["budget_yuan"] is None:
        assert shown["budget_yuan"][1] == "未设定"

    # the households by status: labels, colours and the counts of the summary
    statuses = {a["data-status"]: cells for a, cells in page.rows("compensation-statuses")
                if "data-status" in a}  # fmt: skip
    assert list(statuses) == [s.value for s in HouseholdStatus]
    for s in HouseholdStatus:
        assert statuses[s.value] == [s.label_zh, str(money["households"][s.value])]
        assert f"background: {s.colour}" in html
    assert money["households"]["total"] >= 4

    # flats needed against planned
    flats = dict(page.rows("compensation-flats")[i][1] for i in range(3))
    assert flats["所需安置房套数"] == str(money["flats_needed"]) and money["flats_needed"] >= 1
    assert flats["所需安置房面积（m²）"] == yuan(money["flat_area_needed_m2"])

    # a row a household: masked numbers, its parcels linked to the map, its figures
    rows = {int(a["data-id"]): (a, cells) for a, cells in page.rows("households") if "data-id" in a}
    assert set(rows) == {h["id"] for h in listed}
    for h in listed:
        attrs, cells = rows[h["id"]]
        assert attrs["data-status"] == h["status"]
        assert cells[0] == h["head"] and cells[1] == h["id_number"] and "*" in cells[1]
        assert cells[2] == " ".join(h["parcels"])
        assert cells[5] == h["status_label"]
        assert cells[8:] == [
            yuan(h["agreed_yuan"]) if h["agreed_yuan"] is not None else "",
            yuan(h["paid_yuan"]),
            yuan(h["outstanding_yuan"]),
        ]
        if h["standard"] is not None:
            assert cells[7] == yuan(h["computed_yuan"])
    li = rows[households["李二"]][1]
    assert li[5] == "部分兑付" and li[4] == "产权调换 · 90.00 m²" and li[9] == "1,000.00"
    assert rows[households["王一"]][1][5] == "未签约"
    assert rows[households["赵三"]][1][5] == "已兑付" and rows[households["赵三"]][1][10] == "0.00"
    for serial in range(1, 5):
        assert id_number(serial) not in html  # never a whole ID number
    assert HOSTILE not in html and "&lt;b&gt;钱四&lt;/b&gt;" in html
    a, b, _ = batch["codes"]
    links = {link.get("href") for link in page.links}
    assert f"/?parcel={a}" in links and f"/?parcel={b}" in links

    # the totals row: the summary's figures, the sums of the rows
    totals = next(cells for attrs, cells in page.rows("households") if attrs.get("id"))
    assert totals[-4:] == [yuan(money[k]) for k in ("computed_yuan", "agreed_yuan", "paid_yuan",
                                                     "outstanding_yuan")]  # fmt: skip
    assert round(sum(h["paid_yuan"] for h in listed), 2) == money["paid_yuan"]


def test_the_batch_selector_the_day_and_the_workbook_link(client, db, batch, households):
    html = _page(client, batch)
    project = client.get(f"/api/projects/{batch['project']}").get_json()
    options = re.findall(r'<option value="(\d*)"( selected)?>', html)
    assert ("", "") in options and (str(batch["id"]), " selected") in options
    assert len(options) == 1 + len(project["batches"])
    href = re.search(r'id="compensation-workbook" href="([^"]+)"', html).group(1)
    assert href == f"/projects/{batch['project']}/compensation.xlsx?batch={batch['id']}"

    # the whole project holds the batch's households
    whole = Tables(_page(client, {**batch, "id": None}))
    ids = {int(a["data-id"]) for a, _ in whole.rows("households") if "data-id" in a}
    assert set(households.values()) <= ids

    # the day before the agreements: every household of ours not signed, nothing paid
    yesterday = (today() - dt.timedelta(days=1)).isoformat()
    before = Tables(html := _page(client, batch, as_of=yesterday))
    rows = {int(a["data-id"]): cells for a, cells in before.rows("households") if "data-id" in a}
    for hid in households.values():
        assert rows[hid][5] == "未签约" and rows[hid][9] == "0.00"
    assert f"compensation.xlsx?batch={batch['id']}&amp;as_of={yesterday}" in html
    assert f'value="{yesterday}"' in html


def test_the_page_in_english(client, batch, households):
    html = _page(client, batch, lang="en")
    assert "Compensation and resettlement" in html and "Not signed" in html
    assert "Part paid" in html and "未签约" not in html


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/projects/999999/compensation", 404),
        ("/projects/99999999999/compensation", 404),
        ("/projects/{project}/compensation?batch=999999", 404),
        ("/projects/{project}/compensation?batch=x", 400),
        ("/projects/{project}/compensation?batch=-1", 400),
        ("/projects/{project}/compensation?as_of=2999-01-01", 400),
        ("/projects/{project}/compensation?as_of=yesterday", 400),
    ],
)
def test_bad_requests_are_refused_in_chinese(client, batch, path, status):
    r = client.get(path.format(project=batch["project"]))
    assert r.status_code == status
    assert re.search(r"[\u4e00-\u9fff]", r.get_data(as_text=True))


def test_a_batch_of_another_project_is_not_found(client, batch):
    body = {"name": "另一个补偿测试项目", "kind": "industrial", "stage": "前期", "zone": "B"}
    r = client.post("/api/projects", json=body)
    assert r.status_code == 201, r.get_json()
    batch_body = {"name": "一", "target_mu": 5, "due": "2027-01-01"}
    r = client.post(f"/api/projects/{r.get_json()['id']}/batches", json=batch_body)
    assert r.status_code == 201, r.get_json()
    other = r.get_json()["id"]
    assert client.get(f"/projects/{batch['project']}/compensation?batch={other}").status_code == 404
    assert client.get(f"/projects/{batch['project']}/compensation").status_code == 200


def test_a_viewer_sees_the_list_masked_and_anonymous_is_sent_to_sign_in(
    app, accounts, batch, households, anonymous
):
    viewer = client_for(app, accounts["viewer"]["token"])
    html = _page(viewer, batch)
    assert "王一" in html and id_number(1) not in html and "430802" in html
    r = anonymous.get(f"/projects/{batch['project']}/compensation")
    assert r.status_code in (302, 401)


def test_the_project_page_links_the_list_and_shows_each_batchs_money(client, batch, households):
    r = client.get(f"/projects/{batch['project']}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    page = Tables(html)
    assert f'href="/projects/{batch["project"]}/compensation"' in html
    rows = {a["data-batch"]: cells for a, cells in page.rows("compensation-money")
            if "data-batch" in a}  # fmt: skip
    money = _api(client, batch)
    mine = rows[str(batch["id"])]
    keys = ("budget_yuan", "computed_yuan", "agreed_yuan", "paid_yuan", "outstanding_yuan")
    assert mine[1:6] == [yuan(money[k]) if money[k] is not None else "—" for k in keys]
    assert mine[6] == str(money["households"]["total"])
    assert len(rows) == len(client.get(f"/api/projects/{batch['project']}").get_json()["batches"])
    # a budget set on the batch shows in its row
    r = client.patch(f"/api/batches/{batch['id']}", json={"budget_yuan": 12345678.5})
    assert r.status_code == 200, r.get_json()
    again = Tables(client.get(f"/projects/{batch['project']}").get_data(as_text=True))
    mine = next(
        c for a, c in again.rows("compensation-money") if a.get("data-batch") == str(batch["id"])
    )
    assert mine[1] == "12,345,678.50"


def test_the_theme_colours_each_parcel_by_its_least_advanced_household(client, batch, households):
    a, b, c = batch["codes"]
    r = client.get("/api/compensation/theme")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    features = {f["id"]: f for f in r.get_json()["features"]}
    expected = {
        a: ("unsigned", "未签约", 2),
        b: ("part_paid", "部分兑付", 1),
        c: ("signed", "已签约", 2),
    }
    for code, (status, label, count) in expected.items():
        p = features[code]["properties"]
        assert (p["status"], p["status_label"], p["households"]) == (status, label, count)
        assert features[code]["geometry"]["type"] == "MultiPolygon"
    lon, lat = features[a]["geometry"]["coordinates"][0][0][0]
    assert 100 < lon < 120 and 20 < lat < 40  # EPSG:4326
    zoned = client.get(f"/api/compensation/theme?zone={batch['zone']}").get_json()
    assert {a, b, c} <= {f["id"] for f in zoned["features"]}
    assert all(f["id"] in features for f in zoned["features"])
    r = client.get("/api/compensation/theme?zone=NOPE")
    assert r.status_code == 400 and re.search(r"[\u4e00-\u9fff]", r.get_json()["error"])
    english = client.get("/api/compensation/theme?lang=en").get_json()
    assert {f["id"]: f for f in english["features"]}[b]["properties"]["status_label"] == "Part paid"


def _options(html: str, call: str) -> list[dict]:
    """The options of each ``LandMap.<call>(...)`` of a map page's script."""
    decoder = json.JSONDecoder()
    found = []
    for m in re.finditer(re.escape(f"LandMap.{call}("), html):
        found.append(decoder.raw_decode(html, m.end())[0])
    return found


def test_the_maps_offer_the_theme_and_the_popup_section(client, db, batch):
    html = client.get("/").get_data(as_text=True)
    themes = {o["layer"]: o for o in _options(html, "themeOverlay")}
    theme = themes["compensation"]
    assert theme["name"] == "补偿" and theme["url"] == "/api/compensation/theme"
    assert theme["params"] == {} and theme["styleBy"] == "status"
    assert [r["key"] for r in theme["legend"]["rows"]] == [s.value for s in HouseholdStatus]
    for row, s in zip(theme["legend"]["rows"], HouseholdStatus, strict=True):
        assert row["label"] == s.label_zh and row["color"] == s.colour
        assert theme["styles"][s.value]["fillColor"] == s.colour
    assert "js/compensation.js" in html
    parcels = _options(html, "parcelLayer")[0]
    section = parcels["compensation"]
    assert section["url"] == "/api/parcels/__CODE__/households"
    assert section["pageUrl"] == "/projects/__ID__/compensation"
    assert section["labels"]["section"] == "补偿安置"

    zone = client.get(f"/zones/{batch['zone']}").get_data(as_text=True)
    zoned = {o["layer"]: o for o in _options(zone, "themeOverlay")}["compensation"]
    assert zoned["params"] == {"zone": batch["zone"]}
    # a past day's map: the statuses are today's, so the theme is not offered
    past = client.get("/?as_of=2012-01-01").get_data(as_text=True)
    assert "compensation" not in {o["layer"] for o in _options(past, "themeOverlay")}
    assert "idle" in {o["layer"] for o in _options(past, "themeOverlay")}
