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
    ("given", "message"),
    [
        ({}, "give the amount as mu or as ha (one of them)"),
        ({"mu": 1, "ha": 1}, "give the amount as mu or as ha (one of them)"),
        ({"mu": "x"}, "the amount must be a number"),
        ({"mu": 0}, "the amount must be a positive number"),
        ({"mu": "-0.01"}, "the amount must be a positive number"),
        ({"mu": "Infinity"}, "the amount must be a positive number"),
        ({"mu": "NaN"}, "the amount must be a positive number"),
        ({"mu": "1000000.01"}, "the amount must be at most 1000000 mu"),
        ({"ha": "66666.67"}, "the amount must be at most 1000000 mu"),
    ],
)
def test_amounts_refused_with_a_400_saying_why(given, message):
    with pytest.raises(QuotaRefused) as info:
        to_mu(**given)
    assert (info.value.status, info.value.message) == (400, message)


def test_the_ledger_keeps_books_from_1990_to_15_years_ahead(monkeypatch):
    monkeypatch.setattr(quota, "today", lambda: dt.date(2026, 11, 29))
    assert quota.last_year() == 2041
    assert year_problem(FIRST_YEAR) is None and year_problem(2041) is None
    assert year_problem(1989) == year_problem(2042) == "year must be from 1990 to 2041"


def test_a_quota_refusal_is_a_409_unless_it_says_otherwise():
    assert QuotaRefused("x").status == 409 and QuotaRefused("x", 404).status == 404
