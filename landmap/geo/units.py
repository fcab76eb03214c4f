"""Units of land area. The one place where the mu (亩) is defined.

1 mu = 10000/15 m² (≈ 666.67 m²); 15 mu = 1 ha. Areas are always planar, measured in the
projected storage CRS. The database's SQL functions lm_mu() and lm_area_mu() are created
from M2_PER_MU by the migrations, so SQL and Python share this definition.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

M2_PER_MU = 10000 / 15
MU_PER_HA = 15


def m2_to_mu(m2: float) -> float:
    return m2 / M2_PER_MU


def mu_to_m2(mu: float) -> float:
    return mu * M2_PER_MU


def ha_to_mu(ha: float) -> float:
    return ha * MU_PER_HA


def mu2(mu: float | Decimal | None) -> float:
    """Mu as every surface shows it: the exact figure rounded once, half up, to 2 decimals.

    The one rounding rule (API, pages, workbooks): compute exactly, round here at the edge; a
    total is the rounded exact sum, never a sum of rounded parts. Half up on the shortest
    decimal that reads back as the float (6313.125 -> 6313.13, where round() gives 6313.12).
    """
    if mu is None:
        return 0.0
    exact = mu if isinstance(mu, Decimal) else Decimal(repr(float(mu)))
    return float(exact.quantize(_CENT, rounding=ROUND_HALF_UP))


_CENT = Decimal("0.01")
