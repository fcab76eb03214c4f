"""The browser is told the rules: the acquisition stages, the workflow's moves and every colour
come from the server in the map's options, so a new stage or colour is one change in Python.
And every script of ours is a file under static/js: the only inline scripts in the templates
are the maps' generated ones, which carry the page's CSP nonce."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from landmap.config import PROJECT_ROOT
from landmap.domain import Stage
from landmap.maps import styles
from landmap.services.acquisition import allowed_moves
from landmap.web.pages import workflow_moves

SCRIPTS = sorted((PROJECT_ROOT / "static" / "js").glob("*.js"))
TEMPLATES = sorted((PROJECT_ROOT / "templates").glob("*.html"))
COLOUR = re.compile(r"#(?:[0-9a-f]{3}){1,2}\b", re.IGNORECASE)


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from _strings(v)


def style_colours() -> set[str]:
    """Every colour landmap.maps.styles holds, in lower case."""
    found = set()
    for name in dir(styles):
        if name.isupper():
            found |= {s.lower() for s in _strings(getattr(styles, name)) if COLOUR.fullmatch(s)}
    return found


def test_there_is_something_to_look_for():
    assert {p.name for p in SCRIPTS} >= {"landmap.js", "drafts.js"}
    colours = style_colours()
    assert {styles.STAGE_COLORS[Stage.CLEARED], *styles.QUOTA_COLORS.values()} <= colours
    assert {styles.ZONE_STYLE["color"], styles.PARCEL_STYLES["plain"]["color"]} <= colours


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_no_stage_id_in_a_script(script: Path):
    text = script.read_text()
    found = [s.value for s in Stage if s.value in text]
    assert not found, f"{script.name} names stages {found}: send them in the map's options"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_no_colour_in_a_script(script: Path):
    """Neither a colour of styles.py nor any other: the server sends every colour."""
    text = script.read_text()
    mine = sorted(c for c in style_colours() if re.search(re.escape(c) + r"\b", text, re.I))
    assert not mine, f"{script.name} repeats colours of landmap/maps/styles.py: {mine}"
    literals = re.findall(r"""["'](#[0-9a-fA-F]{3,8})["']""", text)
    assert not literals, f"{script.name} has colours of its own: {literals}: put them in styles.py"


def test_the_maps_are_told_the_workflows_moves():
    moves = workflow_moves()
    assert list(moves) == [s.value for s in Stage]
    for stage in Stage:
        allowed = allowed_moves(stage)
        assert moves[stage.value] == {k: [s.value for s in v] for k, v in allowed.items()}
    assert moves[Stage.STATE_OWNED.value] == {"forward": [], "correction": []}
    assert Stage.CLEARED.value in moves[Stage.NOT_STARTED.value]["forward"]
    assert Stage.NOT_STARTED.value in moves[Stage.CLEARED.value]["correction"]


SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.DOTALL | re.IGNORECASE)
# a folium map's generated script (web.pages: page_map, compare_map, draft_editor_map)
MAP_SCRIPT = re.compile(r"\{\{\s*\w+\.script\s*\|\s*safe\s*\}\}")


def inline_scripts(html: str) -> list[tuple[str, str]]:
    """(attributes, body) of each <script> without a src."""
    return [(a, body) for a, body in SCRIPT.findall(html) if not re.search(r"\bsrc\s*=", a)]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_the_only_inline_scripts_are_the_maps_with_the_nonce(template: Path):
    for attributes, body in inline_scripts(template.read_text()):
        assert MAP_SCRIPT.fullmatch(body.strip()), (
            f"{template.name} has a script of its own: move it to static/js ({body[:80]!r})"
        )
        assert re.search(r"""nonce=["']\{\{\s*csp_nonce\(\)\s*\}\}["']""", attributes), (
            f"{template.name}: a map's script without the CSP nonce"
        )
    handlers = re.findall(r"<[^>]*\s(on[a-z]+\s*=)", template.read_text(), re.IGNORECASE)
    assert not handlers, f"{template.name} has inline event handlers {handlers}: use static/js"


def test_the_template_check_finds_a_script_of_our_own():
    page = (
        '<script src="/static/js/drafts.js"></script>\n'
        '<script nonce="{{ csp_nonce() }}">{{ map.script|safe }}</script>\n'
        "<script>document.title = 'x';</script>"
    )
    found = inline_scripts(page)
    assert len(found) == 2
    assert MAP_SCRIPT.fullmatch(found[0][1].strip())
    assert not MAP_SCRIPT.fullmatch(found[1][1].strip())
