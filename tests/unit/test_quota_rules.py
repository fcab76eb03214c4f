"""The quota ledger's pure rules: amounts and years, with the status and message of each
refusal (the API answers with them)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from landmap.domain import MAX_MU
from landmap.services import quota
from landmap.services.quota import FIRST_YEAR, QuotaRefused, to_mu, year_problem


@pytest.mark.parametrize(
    ("given", "mu"),
    [({"mu": "0.01"}, "0.01"), ({"mu": 2.5}, "2.5"), ({"ha": "1"}, "15"), ({"ha": "0.1"}, "1.5"),
     ({"mu": MAX_MU}, "1000000"), ({"ha": "66666.66"}, "999999.90")],
)  # fmt: skip
def test_amounts_in_mu_or_hectares(given, mu):
    assert to_mu(**given) == Decimal(mu)


@pytest.mark.parametrize(
    ("given", "code", "zh"),
    [
        ({}, "quota_amount_mu_or_ha", "请填写面积，以亩或公顷计（二者填其一）"),
        ({"mu": 1, "ha": 1}, "quota_amount_mu_or_ha", "请填写面积，以亩或公顷计（二者填其一）"),
        ({"mu": "x"}, "quota_amount_not_a_number", "面积须为数字"),
        ({"mu": 0}, "quota_amount_not_positive", "面积须为正数"),
        ({"mu": "-0.01"}, "quota_amount_not_positive", "面积须为正数"),
        ({"mu": "Infinity"}, "quota_amount_not_positive", "面积须为正数"),
        ({"mu": "NaN"}, "quota_amount_not_positive", "面积须为正数"),
        ({"mu": "1000000.01"}, "quota_amount_too_large", "面积不得超过 1000000 亩"),
        ({"ha": "66666.67"}, "quota_amount_too_large", "面积不得超过 1000000 亩"),
    ],
)
def test_amounts_refused_with_a_400_saying_why(given, code, zh):
    with pytest.raises(QuotaRefused) as info:
        to_mu(**given)
    assert (info.value.status, info.value.code, info.value.render("zh_CN")) == (400, code, zh)


def test_an_amount_refusal_reads_in_english_too():
    with pytest.raises(QuotaRefused) as info:
        to_mu(ha="66666.67")
    assert info.value.render("en") == str(info.value) == "the amount must be at most 1000000 mu"


def test_the_ledger_keeps_books_from_1990_to_15_years_ahead(monkeypatch):
    monkeypatch.setattr(quota, "today", lambda: dt.date(2026, 11, 29))
    assert quota.last_year() == 2041
    assert year_problem(FIRST_YEAR) is None and year_problem(2041) is None
    assert year_problem(1989) == year_problem(2042) == "the year must be from 1990 to 2041"
    assert year_problem(2042).render("zh_CN") == "年度须在 1990 至 2041 年之间"


def test_a_quota_refusal_is_a_409_unless_it_says_otherwise():
    assert QuotaRefused("x").status == 409 and QuotaRefused("x", 404).status == 404
