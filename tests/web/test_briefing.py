"""PDF briefings: a zone's, a project's and a draft's check, drawn on the server as vectors
with the Chinese font embedded, their figures those of the API."""

import io
import json
import re

import pytest
import shapely
from conftest import client_for
from pypdf import PdfReader
from sqlalchemy import text

from landmap import create_app
from landmap.domain import Stage

PATH_OPS = re.compile(rb"(?<![A-Za-z])(?:m|l|c|re)(?![A-Za-z])")


def pdf_of(resp) -> PdfReader:
    assert resp.status_code == 200, resp.data[:300]
    assert resp.mimetype == "application/pdf" and resp.data.startswith(b"%PDF")
    return PdfReader(io.BytesIO(resp.data))


def text_of(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def zone_area(client, code="C", as_of=None) -> float:
    query = f"?as_of={as_of}" if as_of else ""
    zones = client.get(f"/api/zones{query}").get_json()["features"]
    return next(f["properties"]["area_mu"] for f in zones if f["id"] == code)


def path_ops(page) -> int:
    """Path constructors (moveto, lineto, curveto, rectangle) in the page's own content."""
    return len(PATH_OPS.findall(page.get_contents().get_data()))


def images_on(page) -> list:
    xobjects = page["/Resources"].get("/XObject") or {}
    return [x for x in xobjects.values() if x.get_object().get("/Subtype") == "/Image"]


def embedded_fonts(page) -> set[str]:
    """The page's fonts whose program is in the file (FontFile2: TrueType, 3: CFF)."""
    found = set()
    for font in page["/Resources"]["/Font"].values():
        font = font.get_object()
        for part in [font, *(d.get_object() for d in font.get("/DescendantFonts", []))]:
            descriptor = part.get("/FontDescriptor")
            if descriptor and {"/FontFile2", "/FontFile3"} & set(descriptor.get_object()):
                found.add(str(part["/BaseFont"]))
    return found


def polygons_in(db, where: str) -> int:
    return db.execute(
        text(f"SELECT sum(ST_NumGeometries(p.geom)) FROM parcel p WHERE {where}")
    ).scalar()


def test_a_zone_briefing_is_a_vector_map_with_the_apis_figures(client, db):
    reader = pdf_of(client.get("/zones/C/briefing.pdf"))
    words = text_of(reader)
    assert "C区" in words
    area = zone_area(client)
    assert f"{area:.2f}" in words  # as the zone page writes it
    assert "C区1000亩土地开发项目" in words  # the zone's projects and their progress
    assert "整理到位" in words and "比例尺 1:" in words and "CGCS2000" in words
    summary = client.get("/api/zones/C/summary").get_json()
    for stage in Stage:
        assert f"{summary['mu_by_stage'][stage.value]['mu']:.2f}" in words
    quota = client.get("/api/quota?year=2011").get_json()
    assert f"{quota['remaining_mu']:.2f}" in words and f"{quota['granted_mu']:.2f}" in words
    first = reader.pages[0]
    drawn = polygons_in(
        db,
        """p.retired_on IS NULL AND EXISTS (SELECT 1 FROM zone_boundary b JOIN zone z
           ON z.id = b.zone_id WHERE z.code = 'C' AND b.status = 'current'
           AND ST_Intersects(b.geom, p.geom))""",
    )
    assert drawn > 50 and path_ops(first) > drawn
    assert not images_on(first)
    assert any("WenQuanYi" in name or "WQY" in name.upper() for name in embedded_fonts(first))


def test_as_of_changes_the_figures(client):
    early, late = "2011-03-31", "2011-09-30"
    shown = {}
    for day in (early, late):
        summary = client.get(f"/api/zones/C/summary?as_of={day}").get_json()
        words = text_of(pdf_of(client.get(f"/zones/C/briefing.pdf?as_of={day}")))
        cleared = summary["mu_by_stage"]["cleared"]["mu"]
        assert f"{cleared:.2f}" in words and day in words
        shown[day] = cleared
    assert shown[early] != shown[late]


def test_a_project_briefing(client, db):
    projects = client.get("/api/projects").get_json()
    project = next(p for p in projects if p["name"] == "C区1000亩土地开发项目")
    reader = pdf_of(client.get(f"/projects/{project['id']}/briefing.pdf"))
    words = text_of(reader)
    assert project["name"] in words
    progress = client.get(f"/api/projects/{project['id']}/progress").get_json()
    assert f"{progress['target_mu']:.2f}" in words and f"{progress['cleared_mu']:.2f}" in words
    assert "第一批" in words
    drawn = polygons_in(db, f"p.retired_on IS NULL AND p.project_id = {int(project['id'])}")
    assert path_ops(reader.pages[0]) > drawn > 0
    assert embedded_fonts(reader.pages[0])
    other_day = pdf_of(client.get(f"/projects/{project['id']}/briefing.pdf?as_of=2011-03-31"))
    assert "2011-03-31" in text_of(other_day)


def test_a_drafts_check_as_pdf(client, db):
    current = db.execute(
        text("""SELECT ST_AsText(b.geom) FROM zone_boundary b JOIN zone z ON z.id = b.zone_id
                WHERE z.code = 'C' AND b.status = 'current'""")
    ).scalar()
    grown = shapely.from_wkt(current).buffer(100, join_style="mitre")
    lonlat = db.execute(
        text("SELECT ST_AsGeoJSON(ST_Transform(ST_GeomFromText(:w, 4546), 4326), 9)"),
        {"w": grown.wkt},
    ).scalar()
    resp = client.post("/api/zones/C/drafts", json={"geometry": json.loads(lonlat), "note": "扩区"})
    assert resp.status_code == 201
    did = resp.get_json()["id"]
    check = client.get(f"/api/zones/C/drafts/{did}/check").get_json()
    reader = pdf_of(client.get(f"/zones/C/drafts/{did}/check.pdf"))
    words = text_of(reader)
    for key in ("area_before_mu", "area_after_mu", "added_mu", "quota_needed_mu"):
        assert f"{check[key]:.2f}" in words, key
    for parcel in check["parcels_cut"] + check["parcels_entering"]:
        assert parcel["code"] in words
    first = reader.pages[0]
    assert path_ops(first) > 50 and not images_on(first) and embedded_fonts(first)
    page = client.get(f"/zones/C/drafts/{did}").get_data(as_text=True)
    assert f"/zones/C/drafts/{did}/check.pdf" in page


@pytest.mark.parametrize(
    "url",
    ["/zones/Q/briefing.pdf", "/projects/999999/briefing.pdf", "/zones/C/drafts/999999/check.pdf"],
)
def test_an_unknown_zone_project_or_draft_is_a_translated_404(client, url):
    resp = client.get(url)
    assert resp.status_code == 404 and resp.is_json
    body = resp.get_json()
    assert body["code"] and re.search(r"[\u4e00-\u9fff]", body["error"]), body
    english = client.get(url + "?lang=en").get_json()
    assert not re.search(r"[\u4e00-\u9fff]", english["error"]), english


def test_a_viewer_may_read_a_briefing_and_the_pages_link_it(app, accounts, client):
    viewer = client_for(app, accounts["viewer"]["token"])
    pdf_of(viewer.get("/zones/C/briefing.pdf"))
    assert client_for(app, None).get("/zones/C/briefing.pdf").status_code == 401
    assert "/zones/C/briefing.pdf" in viewer.get("/zones/C").get_data(as_text=True)
    projects = viewer.get("/api/projects").get_json()
    pid = projects[0]["id"]
    assert f"/projects/{pid}/briefing.pdf" in viewer.get(f"/projects/{pid}").get_data(as_text=True)


def test_without_the_font_the_answer_says_what_to_install(settings, factory, accounts, tmp_path):
    app = create_app(settings.with_(pdf_font=tmp_path / "missing.ttf"), session_factory=factory)
    resp = client_for(app, accounts["viewer"]["token"]).get("/zones/C/briefing.pdf")
    assert resp.status_code == 503 and resp.is_json
    assert "fonts-wqy-zenhei" in resp.get_json()["error"]
