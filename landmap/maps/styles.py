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
# overlays of the draft editor: permanent basic farmland (永久基本农田), and the 三调 land-use
# patches filled by first-level GB/T 21010 class
FARMLAND_STYLE = {"color": "#b71c1c", "weight": 1.5, "fillColor": "#e53935", "fillOpacity": 0.35}
LANDUSE_STYLE = {"color": "#757575", "weight": 0.5, "fillColor": "#eeeeee", "fillOpacity": 0.35}
LANDUSE_CLASS_COLORS = {
    "01": "#f6e27f",  # 耕地
    "02": "#c5e384",  # 园地
    "03": "#4caf50",  # 林地
    "04": "#a5d6a7",  # 草地
    "05": "#ef9a9a",  # 商服用地
    "06": "#b39ddb",  # 工矿仓储用地
    "07": "#ffab91",  # 住宅用地
    "08": "#f48fb1",  # 公共管理与公共服务用地
    "09": "#bcaaa4",  # 特殊用地
    "10": "#bdbdbd",  # 交通运输用地
    "11": "#81d4fa",  # 水域及水利设施用地
    "12": "#e0e0e0",  # 其他土地
}
