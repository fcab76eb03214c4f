"""Hostile input on every route (security issue 11): whatever is sent, the answer is never a
5xx. Every rule of the URL map is visited with hostile path values, the query parameters it
reads with hostile values, and (writes) hostile JSON and form bodies; as an administrator."""

from __future__ import annotations

import io
import re

import pytest
from conftest import free_parcels
from sqlalchemy import text
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import IntegerConverter

from landmap.web.errors import DOWNLOADS

DEEP = "[" * 5000 + "]" * 5000
LONG = "x" * 5000
BIG = 10**400  # a 401-digit number

SEGMENTS = ["%00", "a%00b", "1e308", "../..", LONG, "中文", "-1"]
INT_SEGMENTS = ["0", "-1", "1e308", "9" * 400, "2147483648"]
QUERY_VALUES = ["\x00", "a\x00b", "\x1b", "²", "1e308", str(BIG), "Infinity", "NaN", "-1",
                "0001-01-01", "9999-12-31", "2011-02-30", "2011-13", "9999-12", "9999-Q4",
                LONG, "中文", "../.."]  # fmt: skip

NUMBERS = [1e308, -1e308, "Infinity", "NaN", BIG, -1, "1e308", True, "中文", [1], None]
DATES = ["0001-01-01", "9999-12-31", "2011-02-30", "2011-13", 20111201, "\x00", LONG]
STRINGS = ["a\x00b", "\x07", LONG, "中文", 1e308, ["x"], {"a": 1}]
FLAGS = ["yes", 1e308, None, [True]]


def square(lon=110.53, lat=29.09, d=0.0005, z=None):
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d],
            [lon - d, lat - d]]  # fmt: skip
    if z is not None:
        ring = [[*p, z] for p in ring]
    return {"type": "Polygon", "coordinates": [ring]}


GEOMETRIES = [
    square(z=12.5),  # 3-D
    {
        "type": "Polygon",
        "coordinates": [[[1e308, 1e308], [-1e308, 1e308], [0, -1e308], [1e308, 1e308]]],
    },  # fmt: skip
    {**square(), "crs": {"type": "name", "properties": {"name": "EPSG:4546"}}},
    {"type": "GeometryCollection", "geometries": [square()]},
    {"type": "Polygon", "coordinates": []},
    {"type": "Polygon", "coordinates": [[]]},
    {"type": "MultiPolygon", "coordinates": [[[[110.5, 29.1]]]]},
    {"type": "Polygon", "coordinates": [[["a", "b"], [1, 2], [3, 4], ["a", "b"]]]},
    {"type": "Polygon", "coordinates": "x"},
    {"type": "Polygon"},
    None,
]


class RecordingArgs(ImmutableMultiDict):
    """request.args that notes which parameters a view reads."""

    seen: set[str] = set()

    def get(self, key, default=None, type=None):
        self.seen.add(key)
        return super().get(key, default, type)

    def __getitem__(self, key):
        self.seen.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.seen.add(key)
        return super().__contains__(key)

    def getlist(self, key, type=None):
        self.seen.add(key)
        return super().getlist(key, type)


@pytest.fixture
def good(db):
    """A valid value for each path variable, and a valid body for the writes."""
    code = free_parcels(db, 1, 7)[0]
    project = db.execute(text("SELECT id FROM project ORDER BY id LIMIT 1")).scalar_one()
    draft = db.execute(text("SELECT id FROM zone_boundary ORDER BY status = 'draft' DESC, id "
                            "LIMIT 1")).scalar_one()  # fmt: skip
    batch = db.execute(text("SELECT id FROM acquisition_batch ORDER BY id LIMIT 1")).scalar_one()
    path = {
        "zone": "C",
        "parcel": code,
        "project_id": project,
        "draft_id": draft,
        "batch_id": batch,
        "enterprise_id": 1,
        "household_id": 1,
        "import_id": 1,
        "pending": "0" * 32,
        "doc_id": 1,
        "year": 2011,
        "layer": "parcels",
        "z": 10,
        "x": 826,
        "y": 431,
        "lang": "en",
        "filename": "js/landmap.js",
        "collection_id": "parcels",
        "item_id": code,
    }
    body = {"stage": "surveyed", "date": "2011-12-01", "note": "n", "correction": False,
            "reason": "r", "codes": [code], "dispute": True, "geometry": square(),
            "kind": "grant", "year": 2011, "source": "plan", "mu": 1, "project": project,
            "ref": "r", "target_mu": 10, "valid_from": "2011-12-01"}  # fmt: skip
    return path, body


def _good(rule, path) -> dict:
    out = {}
    for name in rule.arguments:
        if name == "code":
            out[name] = path["parcel" if rule.rule.startswith("/api/parcels/") else "zone"]
        else:
            out[name] = path[name]
    return out


def _build(rule, values) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule.rule)


def writes(rule) -> list[str]:
    return sorted(rule.methods - {"GET", "HEAD", "OPTIONS"})


def bodies(body: dict):
    """(what, kwargs for the client) pairs: hostile JSON and form bodies."""
    raw = [DEEP, '{"geometry": ' + DEEP + "}", '"str"', "[]", "null", "1e400", "NaN",
           '{"note": "\\u0000"}', '{"a\\u0000": 1}', "{", "", '{"mu": 1e999}']  # fmt: skip
    for data in raw:
        yield data[:40], {"data": data, "content_type": "application/json"}
    yield "invalid utf-8", {"data": b'{"note": "\xff\xfe"}', "content_type": "application/json"}
    yield "2000 properties", {"json": {**body, **{f"p{i}": i for i in range(2000)}}}
    yield (
        "2000 properties in the geometry",
        {"json": {**body, "geometry": {**body["geometry"], **{f"p{i}": i for i in range(2000)}}}},
    )
    fields = {"numbers": ("year", "mu", "ha", "project", "batch", "reverses", "target_mu"),
              "dates": ("date", "valid_from"),
              "strings": ("stage", "note", "reason", "kind", "source", "ref")}  # fmt: skip
    kinds = {"numbers": NUMBERS, "dates": DATES, "strings": STRINGS}
    for kind, names in fields.items():
        for name in names:
            for value in kinds[kind]:
                yield f"{name}={value!r:.40}", {"json": {**body, name: value}}
    for name in ("correction", "dispute"):
        for value in FLAGS:
            yield f"{name}={value!r}", {"json": {**body, name: value}}
    for value in [["a\x00"], "A", [1e308], [LONG, LONG], [], [None], [["x"]]]:
        yield f"codes={value!r:.40}", {"json": {**body, "codes": value}}
    for i, geometry in enumerate(GEOMETRIES):
        yield f"geometry #{i}", {"json": {**body, "geometry": geometry}}
    yield "crs beside the geometry", {"json": {**body, "crs": GEOMETRIES[2]["crs"]}}
    form = {k: v for k, v in body.items() if isinstance(v, str)}
    yield "form with NUL", {"data": {**form, "note": "a\x00b", "codes": "a\x00b"}}
    yield "form date 0001", {"data": {**form, "date": "0001-01-01"}}
    yield "multipart with NUL", {"data": {**form, "stage": "surveyed\x00"},
                                 "content_type": "multipart/form-data"}  # fmt: skip
    yield (
        "document named with NUL",
        {
            "data": {**form, "documents": [(io.BytesIO(b"%PDF-1.4 fuzz"), "a\x00.pdf")]},
            "content_type": "multipart/form-data",
        },
    )
    yield "file", {"data": {"file": (io.BytesIO(b"not a zip"), "x.zip")},
                   "content_type": "multipart/form-data"}  # fmt: skip


def test_no_route_answers_hostile_input_with_a_5xx(app, client, good):
    path, body = good
    app.request_class = type("Recording", (app.request_class,), {
        "parameter_storage_class": RecordingArgs})  # fmt: skip
    failed = []

    def send(method, url, what="", **kwargs):
        resp = client.open(url, method=method, **kwargs)
        if resp.status_code >= 500:
            query = kwargs.get("query_string") or ""
            failed.append(f"{method} {url[:100]} {str(query)[:60]} {what} -> {resp.status_code}")
        resp.close()

    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    assert len(rules) > 30
    for rule in rules:
        for name in rule.arguments:
            ints = isinstance(rule._converters[name], IntegerConverter)
            for value in INT_SEGMENTS if ints else SEGMENTS:
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    send(method, _build(rule, {**_good(rule, path), name: value}), json=body)
        url = _build(rule, _good(rule, path))
        if "GET" in rule.methods:
            RecordingArgs.seen = set()
            send("GET", url)
            for name in sorted(RecordingArgs.seen - {"lang"}):  # every request reads lang
                for value in QUERY_VALUES:
                    send("GET", url, query_string={name: value})
        for method in writes(rule):
            for what, kwargs in bodies(body):
                send(method, url, what, **kwargs)
    assert not failed, "\n".join(failed)


# --- the probe's findings, one by one: each a 4xx with a message ---------------------------

JSON_WRITES = [("POST", "/api/parcels/{code}/stage"), ("POST", "/api/stage-changes"),
               ("POST", "/api/parcels/{code}/dispute"), ("POST", "/api/parcels/select"),
               ("POST", "/api/quota/entries"), ("POST", "/api/quota/reserve-demand"),
               ("PUT", "/api/quota/years/2011"), ("POST", "/api/zones/C/drafts"),
               ("POST", "/api/zones/C/drafts/{draft}/approve")]  # fmt: skip


@pytest.mark.parametrize(("method", "url"), JSON_WRITES)
def test_json_nested_5000_deep_is_400(client, good, method, url):
    path, _ = good
    url = url.format(code=path["parcel"], draft=path["draft_id"])
    for body in (DEEP, '{"note": ' + DEEP + "}"):
        resp = client.open(url, method=method, data=body, content_type="application/json")
        assert resp.status_code == 400, (url, resp.get_data(as_text=True)[:200])
        assert "64" in resp.get_json()["error"]  # the depth allowed


def get_project(db) -> int:
    return db.execute(text("SELECT id FROM project ORDER BY id LIMIT 1")).scalar_one()


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("/api/parcels", {"project": "A\x00"}),
        ("/api/search", {"q": "2011\x00"}),
        ("/api/parcels/A%00B", None),
        ("/api/parcels/A\x01B/history", None),
        ("/zones/A", {"page": "1e23"}),
        ("/zones/A", {"page": str(10**23)}),
        ("/reports/monthly.xlsx", {"month": "9999-12"}),
        ("/reports/monthly.xlsx", {"month": "0001-01"}),
        ("/reports/quarterly.xlsx", {"quarter": "9999-Q4"}),
        ("/projects/{project}", {"as_of": "9999-12-31"}),
        ("/projects/{project}", {"as_of": "0001-01-01"}),
        ("/projects/{project}/ledger.xlsx", {"as_of": "9999-12-31"}),
        ("/projects/{project}/ledger.xlsx", {"as_of": "0001-01-01"}),
        ("/api/projects/{project}/progress", {"as_of": "9999-12-31"}),
        ("/api/projects/{project}/progress", {"as_of": "0001-01-01"}),
        ("/api/audit", {"limit": "²"}),
    ],
)
def test_the_probes_reads_are_4xx(client, db, url, query):
    resp = client.get(url.format(project=get_project(db)), query_string=query)
    assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
    if url.startswith("/api/") or url.endswith(DOWNLOADS):  # programs read JSON
        assert resp.get_json()["error"] and resp.get_json()["code"]
    else:
        assert resp.mimetype == "text/html" and "<h1" in resp.get_data(as_text=True)
    if url.endswith(DOWNLOADS):  # a browser that follows the link reads a page
        page = client.get(
            url.format(project=get_project(db)), query_string=query, headers={"Accept": "text/html"}
        )
        assert page.status_code == 400 and "<h1" in page.get_data(as_text=True)


def test_the_probes_writes_are_4xx(client, good, db):
    path, body = good
    code, draft = path["parcel"], path["draft_id"]
    far = {"type": "Polygon", "coordinates": [[[1e308, 1e308], [-1e308, 1e308], [0, -1e308],
                                               [1e308, 1e308]]]}  # fmt: skip
    cases = [
        ("POST", f"/api/parcels/{code}/stage", {**body, "note": "a\x00b"}),
        ("POST", "/api/stage-changes", {**body, "codes": [code + "\x00"]}),
        ("POST", f"/api/zones/C/drafts/{draft}/approve", "str"),
        ("PUT", "/api/quota/years/2011", {"target_mu": 1e308}),
        ("PUT", "/api/quota/years/2011", {"target_mu": BIG}),
        ("PUT", "/api/quota/years/2011", {"target_mu": "Infinity"}),
        ("POST", "/api/parcels/select", {"geometry": far}),
        ("POST", "/api/parcels/select", {"geometry": GEOMETRIES[2]}),  # a crs member
        ("POST", "/api/parcels/select", {"geometry": square(), "crs": {"type": "name"}}),
        ("POST", "/api/zones/C/drafts", {"geometry": square(z=12.5)}),  # 3-D
    ]
    for method, url, data in cases:
        resp = client.open(url, method=method, json=data)
        assert resp.status_code == 400, (url, data, resp.get_data(as_text=True)[:300])
        assert resp.get_json()["error"]
    many = {**body, **{f"p{i}": i for i in range(2000)}}
    resp = client.post(f"/api/parcels/{code}/stage", json=many)
    assert resp.status_code == 201, resp.get_json()


def test_a_nul_in_the_login_form_is_400(anonymous):
    page = anonymous.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    resp = anonymous.post("/login", data={"username": "t_admin\x00", "password": "x" * 12,
                                          "csrf_token": token})  # fmt: skip
    assert resp.status_code == 400 and resp.mimetype == "text/html"
