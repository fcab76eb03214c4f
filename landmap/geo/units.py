"""Units of land area. The one place where the mu (亩) is defined.

1 mu = 10000/15 m² (≈ 666.67 m²); 15 mu = 1 ha. Areas are always planar, measured in the
projected storage CRS. The database's SQL functions lm_mu() and lm_area_mu() are created
from M2_PER_MU by the migrations, so SQL and Python share this definition.
"""

from __future__ import annotations

M2_PER_MU = 10000 / 15
MU_PER_HA = 15


def m2_to_mu(m2: float) -> float:
    return m2 / M2_PER_MU


def mu_to_m2(mu: float) -> float:
    return mu * M2_PER_MU


def ha_to_mu(ha: float) -> float:
    return ha * MU_PER_HA
