"""How land is drawn: one colour per acquisition stage, one outline for commercial plots."""

from __future__ import annotations

from landmap.domain import Stage

STAGE_COLORS: dict[Stage, str] = {
    Stage.STATE_OWNED: "#bdbdbd",
    Stage.NOT_STARTED: "#fff7bc",
    Stage.PRE_ANNOUNCED: "#fee391",
    Stage.SURVEYED: "#fec44f",
    Stage.PLAN_PUBLISHED: "#fe9929",
    Stage.AGREEMENT_SIGNED: "#ec7014",
    Stage.COMPENSATED: "#cc4c02",
    Stage.DEMOLISHED: "#8c2d04",
    Stage.CLEARED: "#1a9850",
}
COMMERCIAL_COLOR = "#6a1b9a"
DISPUTE_COLOR = "#d50000"
# quota status of a parcel's project or batch in the ledger
QUOTA_COLORS = {"none": "#e0e0e0", "reserved": "#ff7f00", "consumed": "#33a02c"}
