import pytest

from landmap.domain import Stage, initial_stage
from landmap.geo.units import ha_to_mu, m2_to_mu, mu_to_m2


def test_mu_is_ten_thousand_fifteenths_of_a_square_metre():
    assert m2_to_mu(10000) == pytest.approx(15)
    assert mu_to_m2(1) == pytest.approx(666.6667, abs=1e-4)
    assert ha_to_mu(1) == 15


def test_stages_parse_from_id_and_both_labels():
    assert Stage.parse("cleared") is Stage.CLEARED
    assert Stage.parse("整理到位") is Stage.CLEARED
    assert Stage.parse("agreement signed") is Stage.AGREEMENT_SIGNED
    with pytest.raises(ValueError, match="one of: State land in hand, Not started") as caught:
        Stage.parse("done")
    assert caught.value.render("zh_CN").endswith(
        "可选：国有已收储、未启动、征收预公告、调查登记、"
        "补偿方案公告、协议签订、补偿兑付、房屋拆除、整理到位"
    )


def test_workflow_order_excludes_state_land():
    flow = Stage.workflow()
    assert flow[0] is Stage.NOT_STARTED and flow[-1] is Stage.CLEARED
    assert Stage.STATE_OWNED not in flow


def test_state_land_codes_start_outside_the_workflow():
    assert initial_stage("430802003004GB00001") is Stage.STATE_OWNED
    assert initial_stage("430802003004JA00001") is Stage.NOT_STARTED
    assert initial_stage("2011-2") is Stage.NOT_STARTED


def test_mu_are_rounded_once_half_up_to_two_decimals():
    from decimal import Decimal

    from landmap.geo.units import mu2

    assert mu2(6313.125) == 6313.13  # round() would give 6313.12
    assert mu2(314.9999999999266) == 315.0
    assert mu2(Decimal("0.005")) == 0.01
    assert mu2(None) == 0.0
