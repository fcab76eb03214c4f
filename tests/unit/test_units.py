"""The mu (亩) and the one rounding rule, exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from landmap.geo import units
from landmap.geo.units import M2_PER_MU, MU_PER_HA, ha_to_mu, m2_to_mu, mu2, mu_to_m2


def test_the_definitions():
    assert M2_PER_MU == 10000 / 15
    assert MU_PER_HA == 15


@pytest.mark.parametrize(
    ("m2", "mu"), [(0, 0), (10000 / 15, 1), (10000, 15), (20000, 30), (1e6, 1500)]
)
def test_square_metres_to_mu_and_back(m2, mu):
    assert m2_to_mu(m2) == pytest.approx(mu, rel=1e-15, abs=0)
    assert mu_to_m2(mu) == pytest.approx(m2, rel=1e-15, abs=0)


def test_conversions_are_inverse_and_linear():
    for mu in (0.01, 1.5, 315, 685.25, 1_000_000):
        assert m2_to_mu(mu_to_m2(mu)) == pytest.approx(mu, rel=1e-15)
    assert mu_to_m2(2) == 2 * mu_to_m2(1)


def test_hectares():
    assert ha_to_mu(1) == 15
    assert ha_to_mu(0.5) == 7.5
    assert ha_to_mu(0) == 0


@pytest.mark.parametrize(
    ("mu", "shown"),
    [
        (6313.125, 6313.13),  # round() would give 6313.12 (the float is just below)
        (2.675, 2.68),  # likewise
        (1.005, 1.01),
        (0.125, 0.13),
        (0.124999, 0.12),
        (0.004999, 0.0),
        (0.005, 0.01),
        (314.9999999999266, 315.0),
        (315, 315.0),
        (0, 0.0),
        (-0.005, -0.01),  # half away from zero
        (-1.234, -1.23),
        (Decimal("0.005"), 0.01),
        (Decimal("2.345"), 2.35),
        (Decimal("2.3449999999"), 2.34),
        (None, 0.0),
    ],
)
def test_mu_are_rounded_once_half_up_to_two_decimals(mu, shown):
    got = mu2(mu)
    assert got == shown and type(got) is float


def test_a_total_is_the_rounded_exact_sum_not_the_sum_of_rounded_parts():
    parts = [0.004, 0.004, 0.004]
    assert mu2(sum(parts)) == 0.01
    assert sum(mu2(p) for p in parts) == 0.0


def test_the_module_is_the_only_definition_of_the_mu():
    # the SQL functions lm_mu()/lm_area_mu() are made from this constant by the migrations
    assert units.mu_to_m2(1) == M2_PER_MU


def test_a_decimal_is_rounded_as_it_is_not_as_the_nearest_float():
    # numeric columns give Decimals finer than a float: 0.004999... must not become 0.005
    assert mu2(Decimal("0.00499999999999999999")) == 0.0
    assert mu2(Decimal("314.99499999999999999")) == 314.99
