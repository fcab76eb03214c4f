"""The acquisition refusals as an officer reads them: Chinese by default, English with
?lang=en, the same stable ``code`` in both, and never a stage id, a flag or a setting."""

from __future__ import annotations

import re

import pytest
from conftest import free_parcels

from landmap.domain import Stage

CJK = re.compile(r"[\u4e00-\u9fff]")
LEAKS = ["correction=", "--srs", "LANDMAP_", *(stage.value for stage in Stage)]
LANGS = {"zh": "", "en": "?lang=en"}


def post(client, url, lang, body):
    return client.post(url + LANGS[lang], json=body)


def moved(client, code, stage, day):
    resp = client.post(f"/api/parcels/{code}/stage", json={"stage": stage, "date": day})
    assert resp.status_code == 201, resp.get_json()


def answer(resp, status, code, lang):
    """The JSON refusal: its status and code, and an error in ``lang`` that leaks nothing."""
    body = resp.get_json()
    assert (resp.status_code, body["code"]) == (status, code), body
    error = body["error"]
    if lang == "zh":
        assert CJK.search(error), error
        assert not [leak for leak in LEAKS if leak in error], error
    else:
        assert not CJK.search(error), error
        assert "correction=" not in error
    return body


@pytest.mark.parametrize("lang", LANGS)
def test_a_move_dated_before_the_last_change(client, db, lang):
    (code,) = free_parcels(db)
    moved(client, code, "surveyed", "2011-12-05")
    resp = post(
        client,
        f"/api/parcels/{code}/stage",
        lang,
        {"stage": "plan_published", "date": "2011-12-04"},
    )
    body = answer(resp, 409, "dated_before_last_change", lang)
    expected = {
        "zh": "2011-12-04 早于该宗地最近一次记录的变更（2011-12-05）",
        "en": "2011-12-04 is before its last recorded change (2011-12-05)",
    }
    assert body["error"] == expected[lang]


@pytest.mark.parametrize("lang", LANGS)
def test_a_dispute_without_a_reason(client, db, lang):
    (code,) = free_parcels(db)
    resp = post(
        client,
        f"/api/parcels/{code}/dispute",
        lang,
        {"dispute": True, "date": "2011-12-05", "reason": "  "},
    )
    body = answer(resp, 400, "dispute_needs_reason", lang)
    assert body["error"] == {"zh": "标记争议须填写原因", "en": "a dispute needs a reason"}[lang]
    props = client.get(f"/api/parcels/{code}").get_json()["properties"]
    assert props["dispute"] is False


@pytest.mark.parametrize("lang", LANGS)
def test_a_move_backwards_without_a_reason_names_the_stages_by_their_labels(client, db, lang):
    (code,) = free_parcels(db)
    moved(client, code, "agreement_signed", "2011-12-05")
    resp = post(
        client, f"/api/parcels/{code}/stage", lang, {"stage": "surveyed", "date": "2011-12-06"}
    )
    body = answer(resp, 409, "move_backwards_needs_reason", lang)
    expected = {
        "zh": "从 协议签订 退回 调查登记 属于更正，需勾选更正并填写原因",
        "en": "moving back from Agreement signed to Surveyed and registered is a correction: "
        "tick correction and give a reason",
    }
    assert body["error"] == expected[lang]


@pytest.mark.parametrize("lang", LANGS)
def test_a_batch_move_with_an_unknown_code(client, db, lang):
    codes = free_parcels(db, 2)
    resp = post(
        client,
        "/api/stage-changes",
        lang,
        {"codes": [*codes, "NOPE-9"], "stage": "surveyed", "date": "2011-12-06"},
    )
    body = answer(resp, 404, "unknown_parcel_codes", lang)
    assert "NOPE-9" in body["error"] and body["unknown"] == ["NOPE-9"]
    expected = {
        "zh": "宗地 NOPE-9：登记簿中没有该宗地",
        "en": "NOPE-9: no such parcel in the register",
    }
    assert body["problems"] == [expected[lang]]
    assert all(h == [] for h in (client.get(f"/api/parcels/{c}/history").get_json() for c in codes))


@pytest.mark.parametrize("lang", LANGS)
def test_a_batch_moves_problems_are_in_the_locale(client, db, lang):
    codes = free_parcels(db, 3)
    moved(client, codes[0], "agreement_signed", "2011-12-05")
    moved(client, codes[1], "cleared", "2011-12-05")
    resp = post(
        client,
        "/api/stage-changes",
        lang,
        {"codes": codes, "stage": "surveyed", "date": "2011-12-06"},
    )
    body = answer(resp, 409, "parcels_cannot_move", lang)
    assert len(body["problems"]) == 2
    first, second = body["problems"]
    if lang == "zh":
        assert first == f"宗地 {codes[0]}：从 协议签订 退回 调查登记 属于更正，需勾选更正并填写原因"
        assert second.startswith(f"宗地 {codes[1]}：从 整理到位 退回 调查登记")
        assert body["error"].startswith("3 宗地中有 2 宗不能变更，因此未作任何更改：")
    else:
        assert first.startswith(f"{codes[0]}: moving back from Agreement signed to Surveyed")
        assert body["error"].startswith("2 of the 3 parcels cannot move, so nothing was changed")
    for problem in body["problems"]:
        assert not CJK.search(problem) if lang == "en" else CJK.search(problem)


@pytest.mark.parametrize("lang", LANGS)
def test_a_flag_that_is_not_yes_or_no_is_named_by_its_label(client, db, lang):
    (code,) = free_parcels(db)
    resp = post(
        client,
        f"/api/parcels/{code}/stage",
        lang,
        {"stage": "surveyed", "date": "2011-12-06", "correction": "yes"},
    )
    body = answer(resp, 400, "not_yes_or_no", lang)
    assert body["error"].startswith({"zh": "“更正”", "en": "Correction"}[lang])
