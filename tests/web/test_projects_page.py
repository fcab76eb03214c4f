"""The project list (/projects): every project with its kind, stage, zone, mu and progress,
in Chinese (English on request), linked to its page, in the navigation, for every role."""

from __future__ import annotations

import re

import pytest
from conftest import client_for

from landmap.services import acquisition, projects


def row_of(html: str, project_id: int) -> str:
    found = re.search(rf'<tr data-id="{project_id}">(.*?)</tr>', html, re.S)
    assert found, f"no row for project {project_id}"
    return found.group(1)


def cells(row: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>|\s+", " ", c).strip()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def test_every_project_is_listed_with_its_figures(client, db):
    html = client.get("/projects").get_data(as_text=True)
    day = acquisition.last_day_with_data(db)
    listed = projects.list_projects(db)
    assert len(listed) > 20
    assert len(re.findall(r'<tr data-id="', html)) == len(listed)
    for project in listed:
        shown = cells(row_of(html, project["id"]))
        progress = acquisition.progress(db, project["id"], None, day)
        assert shown[0] == project["name"]
        assert shown[4] == str(project["parcels"])
        assert shown[5] == f"{project['area_mu']:.2f}"  # the same figure as the API's
        assert shown[6] == f"{progress.cleared_mu:.2f} / {progress.target_mu:.2f}"


def test_the_c_zone_project_in_chinese(client, db):
    pid = projects.find_project(db, "C区1000亩土地开发项目")
    html = client.get("/projects").get_data(as_text=True)
    row = row_of(html, pid)
    assert f'href="/projects/{pid}"' in row
    shown = cells(row)
    assert shown[:4] == ["C区1000亩土地开发项目", "商业", "前期", "C"]
    assert shown[5] == "1000.00" and shown[6] == "130.48 / 1000.00"
    assert "13%" in shown[7]
    assert "项目阶段" in html and "进度" in html and "Progress" not in html


def test_the_list_in_english(client, db):
    pid = projects.find_project(db, "C区1000亩土地开发项目")
    html = client.get("/projects?lang=en").get_data(as_text=True)
    assert cells(row_of(html, pid))[1:3] == ["Commercial", "Pre-stage"]
    assert "Project stage" in html and "Progress" in html


def test_as_of_a_day_before_anything_was_cleared(client, db):
    pid = projects.find_project(db, "C区1000亩土地开发项目")
    html = client.get("/projects?as_of=2000-01-01").get_data(as_text=True)
    assert cells(row_of(html, pid))[6] == "0.00 / 1000.00"
    assert f'href="/projects/{pid}?as_of=2000-01-01"' in html
    assert client.get("/projects?as_of=tomorrow").status_code == 400


@pytest.mark.parametrize("role", ["viewer", "officer", "planner", "admin"])
def test_every_role_sees_it_in_the_navigation(app, accounts, role):
    c = client_for(app, accounts[role]["token"])
    assert c.get("/projects").status_code == 200
    assert 'href="/projects"' in c.get("/").get_data(as_text=True)


def test_anonymous_is_sent_to_sign_in(anonymous):
    resp = anonymous.get("/projects")
    assert resp.status_code == 302 and "/login" in resp.location
