"""Every message a user can be refused with is a coded, translated msg(): walked over the
whole of landmap/ (outside the migrations), in both locales."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from landmap.config import PROJECT_ROOT
from landmap.domain import Refused, Stage
from landmap.messages import Message, msg, rendered, term

SOURCES = [
    p for p in sorted((PROJECT_ROOT / "landmap").rglob("*.py")) if "migrations" not in p.parts
]
PO = PROJECT_ROOT / "landmap" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
CODE = re.compile(r"[a-z][a-z0-9_]*")
# What a web user must never read: flags, settings, key=value syntax, internal stage ids.
FORBIDDEN = re.compile(
    r"--[a-z]|LANDMAP_|\b\w+=(true|false)\b|\b(" + "|".join(s.value for s in Stage) + r")\b"
)


def _refusal_names() -> set[str]:
    names = {"Refused", "ApiError"}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Name) and b.id in names | {"Refused"} for b in node.bases
            ):
                names.add(node.name)
    return names


def _calls(name_test):
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if name_test(name):
                    yield path.relative_to(PROJECT_ROOT), node


def _msg_calls() -> list[tuple[str, str, str]]:
    found = []
    for path, node in _calls(lambda n: n == "msg"):
        if len(node.args) < 2 or not all(
            isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args[:2]
        ):
            pytest.fail(f"{path}:{node.lineno}: msg(code, text) takes two literal strings")
        found.append((f"{path}:{node.lineno}", node.args[0].value, node.args[1].value))
    return found


MSGS = _msg_calls()


def _catalogue() -> dict[str, str]:
    with PO.open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id and m.string and not m.fuzzy}


def test_every_refusal_is_raised_with_a_coded_message_not_bare_text():
    names = _refusal_names()
    bare = []
    for path, node in _calls(lambda n: n in names | {"or_404"}):
        at = 1 if getattr(node.func, "id", None) == "or_404" else 0
        first = node.args[at] if len(node.args) > at else None
        if isinstance(first, ast.Constant | ast.JoinedStr | ast.BinOp):
            bare.append(f"{path}:{node.lineno}")
    assert not bare, f"raise these with msg(code, text, **params): {bare}"


def test_codes_are_stable_names_each_with_one_text():
    texts: dict[str, set[str]] = {}
    for where, code, text in MSGS:
        assert CODE.fullmatch(code), f"{where}: code {code!r} is not snake_case"
        texts.setdefault(code, set()).add(text)
    reused = {code: t for code, t in texts.items() if len(t) > 1}
    assert not reused, f"one code, one meaning: {reused}"


def test_every_message_is_translated_with_the_same_parameters():
    catalogue = _catalogue()
    for where, _code, text in MSGS:
        assert text in catalogue, f"{where}: no Chinese for {text!r} (scripts/i18n.py)"
        zh = catalogue[text]
        assert set(PLACEHOLDER.findall(zh)) == set(PLACEHOLDER.findall(text)), where
        assert re.search(r"[\u4e00-\u9fff]", zh), f"{where}: {zh!r} is not Chinese"


def test_no_message_shows_a_flag_a_setting_or_an_internal_id():
    catalogue = _catalogue()
    for where, _code, text in MSGS:
        for shown in (text, catalogue.get(text, "")):
            assert not FORBIDDEN.search(shown), f"{where}: {shown!r}"


def test_parameters_are_rendered_in_the_locale():
    m = msg(
        "move_backwards_needs_reason",
        "moving back from %(old)s to %(new)s is a correction: tick correction and give a reason",
        old=Stage.AGREEMENT_SIGNED,
        new=Stage.SURVEYED,
    )
    assert "协议签订" in m.render("zh_CN") and "调查登记" in m.render("zh_CN")
    assert "Agreement signed" in m.render("en")
    assert "agreement_signed" not in m.render("zh_CN") + m.render("en")
    assert term("stage") != term("project")


def test_a_refusal_renders_its_extra_in_the_locale():
    refusal = Refused(
        msg(
            "unknown_choice",
            "unknown %(what)s %(given)s; one of: %(choices)s",
            what=term("stage"),
            given="'x'",
            choices=[Stage.CLEARED],
        )
    )
    assert refusal.code == "unknown_choice"
    assert "整理到位" in refusal.render("zh_CN")
    assert "Cleared and handed over" in str(refusal)
    extra = {"problems": [Message("x", "the geometry is empty")]}
    assert rendered(extra, "en") == {"problems": ["the geometry is empty"]}


def test_an_unknown_stage_names_the_choices_by_label():
    with pytest.raises(ValueError) as caught:
        Stage.parse("nowhere")
    assert caught.value.code == "unknown_choice"
    zh = caught.value.render("zh_CN")
    assert "阶段" in zh and "整理到位" in zh and "cleared" not in zh


def test_the_sources_list_is_not_empty():
    assert len(SOURCES) > 40 and len(MSGS) >= 1
    assert Path(PO).exists()
