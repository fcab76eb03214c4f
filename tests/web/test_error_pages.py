"""Error pages are landmap's own and in the user's language; API errors stay JSON with a code."""

from __future__ import annotations

import re

import pytest
from conftest import client_for

CJK = re.compile(r"[\u4e00-\u9fff]")
WERKZEUG = ("Not Found", "Method Not Allowed", "The requested URL", "Bad Request")


def _page_text(resp) -> str:
    return re.sub(r"<[^>]+>", " ", resp.get_data(as_text=True))


@pytest.mark.parametrize(
    ("method", "path", "status", "zh", "en"),
    [
        ("get", "/no-such-page", 404, "没有这个页面", "There is no such page."),
        ("get", "/zones/QQ", 404, "没有区块 QQ", "There is no zone QQ."),
        ("post", "/healthz-nothing-here", 404, "没有这个页面", "There is no such page."),
        ("delete", "/", 405, "该地址不接受此类请求", "does not accept that kind of request"),
        ("get", "/?as_of=2011-13-01", 400, "截至日期必须是日期", "as-of date must be a date"),
    ],
)
def test_error_pages_are_landmaps_own_in_the_users_language(client, method, path, status, zh, en):
    resp = getattr(client, method)(path)
    assert resp.status_code == status and resp.mimetype == "text/html"
    text = _page_text(resp)
    assert zh in text and "开发区土地一张图" in text  # the page is landmap's, with its navigation
    assert not any(w in text for w in WERKZEUG)
    sep = "&" if "?" in path else "?"
    english = _page_text(getattr(client, method)(f"{path}{sep}lang=en"))
    assert en in english


def test_api_errors_stay_json_with_a_code_and_a_translated_error(client):
    resp = client.get("/api/no-such-thing")
    assert resp.status_code == 404 and resp.is_json
    assert resp.get_json() == {"code": "not_found", "error": "没有这个页面。"}
    resp = client.delete("/api/zones")
    assert resp.status_code == 405 and resp.get_json()["code"] == "method_not_allowed"
    assert CJK.search(resp.get_json()["error"])
    english = client.get("/api/no-such-thing?lang=en").get_json()
    assert english == {"code": "not_found", "error": "There is no such page."}


def test_a_body_too_large_is_refused_in_chinese(client):
    resp = client.post(
        "/api/parcels/select", data=b"x" * (3 * 2**20), content_type="application/json"
    )
    assert resp.status_code == 413
    assert resp.get_json()["code"] == "too_large" and "MB" in resp.get_json()["error"]
    assert CJK.search(resp.get_json()["error"])


def test_an_unexpected_error_is_a_chinese_page_with_an_id(app, accounts, monkeypatch):
    from landmap.services import zones

    def broken(*args, **kwargs):
        raise RuntimeError("SELECT secret")

    monkeypatch.setattr(zones, "zone_summary", broken)
    resp = client_for(app, accounts["admin"]["token"]).get("/zones/C")
    assert resp.status_code == 500
    text = _page_text(resp)
    assert "服务器出错了" in text and "SELECT" not in text and "错误编号" in text


def test_a_bad_download_is_json_for_programs_and_a_page_for_a_browser(client):
    url = "/reports/monthly.xlsx?month=2011-13"
    program = client.get(url)
    assert (
        program.status_code == 400 and program.is_json and CJK.search(program.get_json()["error"])
    )
    browser = client.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.status_code == 400 and browser.mimetype == "text/html"
    assert program.get_json()["error"] in browser.get_data(as_text=True)
