"""Map pages through Flask's client: offline assets, escaping, language."""

import re

import pytest
from sqlalchemy import text

XSS = "<img src=x onerror=alert(1)>`${alert(2)}`</script>"


def html(client, url):
    resp = client.get(url)
    assert resp.status_code == 200, url
    return resp.get_data(as_text=True)


def asset_urls(page: str) -> list[str]:
    return re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)


@pytest.mark.parametrize("url", ["/", "/zones/C", "/zones/A?lang=en"])
def test_pages_reference_no_script_or_style_outside_the_app(client, url):
    page = html(client, url)
    urls = asset_urls(page)
    assert any(u.endswith("leaflet.js") for u in urls)
    assert all(u.startswith("/static/") for u in urls), urls
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page)
    for u in urls:
        with client.get(u) as resp:
            assert resp.status_code == 200, u


def test_the_page_embeds_no_parcels(client):
    page = html(client, "/")
    assert "430802003" not in page  # parcels come from the API, not the HTML
    assert "/api/parcels" in page and "/api/zones" in page
    assert len(page) < 60_000


def test_chinese_by_default_english_on_request(client):
    assert "开发区土地一张图" in html(client, "/")
    page = html(client, "/?lang=en")
    assert "Development zone land map" in page and "开发区土地一张图" not in page
    assert "Development zone land map" in html(client, "/zones/B")  # remembered by cookie


def test_language_switch_only_redirects_inside_the_app(client):
    resp = client.get("/lang/en?next=/zones/C")
    assert resp.status_code == 302 and resp.headers["Location"] == "/zones/C"
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        assert client.get(f"/lang/en?next={evil}").headers["Location"] == "/"


def test_zone_page_has_the_summary_tables(client):
    page = html(client, "/zones/C")
    for table in ("by-stage", "by-land-use", "projects", "parcels"):
        assert f'id="{table}"' in page
    assert "C区1000亩土地开发项目" in page
    assert "整理到位" in page and "水田" in page


def test_unknown_zone_is_a_404_page(client):
    resp = client.get("/zones/Q")
    assert resp.status_code == 404 and "Q" in resp.get_data(as_text=True)


def test_attribute_text_is_escaped_in_tables(client, db):
    db.execute(text("UPDATE parcel SET owner = :o, name = :o WHERE code = (SELECT min(p.code) "
                    "FROM parcel p JOIN zone z ON z.id = p.zone_id WHERE z.code = 'C')"),
               {"o": XSS})  # fmt: skip
    page = html(client, "/zones/C")
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
