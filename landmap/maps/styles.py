"""How land is drawn: one colour per acquisition stage, one outline for commercial plots, the
zone outlines, the draft boundaries. Every colour the browser draws with comes from here: the
map's script is told them in its layers' options."""

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
# a parcel's look by what it is (its fill is its stage's or quota status's colour, else
# UNKNOWN_FILL): a plain parcel, a commercial plot, a disputed one, one of the parcels a
# compare map outlines (cut by a draft, filled by stage); "cut" and "selected" are laid over
# the tiles' own style (the outlined parcels, the parcels selected to move together)
UNKNOWN_FILL = "#ccc"
PARCEL_STYLES: dict[str, dict] = {
    "plain": {"color": "#555", "weight": 1, "dashArray": None, "fillOpacity": 0.7},
    "commercial": {"color": COMMERCIAL_COLOR, "weight": 3, "dashArray": "6 3", "fillOpacity": 0.7},
    "dispute": {"color": DISPUTE_COLOR, "weight": 3, "dashArray": None, "fillOpacity": 0.7},
    "highlight": {"color": "#000", "weight": 3, "dashArray": None, "fillOpacity": 0.5},
    "cut": {"fill": True, "color": "#000", "weight": 3, "fillOpacity": 0.5, "fillColor": "#ffffff"},
    "selected": {
        "fill": True,
        "color": "#1565c0",
        "weight": 3,
        "fillColor": "#90caf9",
        "fillOpacity": 0.6,
    },
}
# zone boundaries in force; the zone a page is about is drawn heavier
ZONE_STYLE = {"color": "#c62828", "weight": 2, "dashArray": "8 4", "fill": False}
ZONE_ACTIVE_STYLE = {**ZONE_STYLE, "weight": 3}
# a draft's compare map: boundaries and the check's shapes, by each feature's kind
BOUNDARY_STYLES: dict[str, dict] = {
    "current": ZONE_ACTIVE_STYLE,
    "base": {"color": "#616161", "weight": 2, "dashArray": "2 4", "fill": False},
    "draft": {"color": "#1565c0", "weight": 3, "fill": False},
    "added": {"color": "#2e7d32", "weight": 1, "fillColor": "#66bb6a", "fillOpacity": 0.5},
    "removed": {"color": "#ef6c00", "weight": 1, "fillColor": "#ffa726", "fillOpacity": 0.5},
    "farmland": {"color": "#b71c1c", "weight": 2, "fillColor": "#e53935", "fillOpacity": 0.6},
    "overlap": {
        "color": "#b71c1c",
        "weight": 2,
        "dashArray": "4 3",
        "fillColor": "#e53935",
        "fillOpacity": 0.3,
    },
    "default": {"color": "#555", "weight": 1},
}
# the draft editor's drawn shapes, by operation (services.adjustment.DraftOp)
OP_COLORS = {"replace": "#1565c0", "add": "#2e7d32", "subtract": "#ef6c00"}
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
# what the measuring tool draws (landmap.maps.tools)
MEASURE_STYLE = {"color": "#0d47a1", "weight": 3, "dashArray": "6 4", "fillColor": "#42a5f5"}
# the progress chart's marks (landmap.web.charts.progress_marks) in a PDF briefing, as the
# page's .lm-chart styles in static/css/landmap.css draw them: colour, width, dashes
CHART_STYLES: dict[str, dict] = {
    "axis": {"color": "#555", "weight": 1},
    "target": {"color": "#999", "weight": 1, "dashArray": "4 3"},
    "plan": {"color": "#999", "weight": 1, "dashArray": "6 4"},
    "due": {"color": "#c62828", "weight": 1, "dashArray": "2 3"},
    "cleared": {"color": "#1a9850", "weight": 2.5},
    "projection": {"color": "#1a9850", "weight": 1, "dashArray": "3 3"},
    "projected": {"color": "#c62828", "weight": 0},
}
# the idle-land theme (闲置土地, landmap.services.idle) by a parcel's theme class: idle a year
# (an idle fee due), idle two years (may be taken back: stronger), to watch (lighter, dashed)
IDLE_STYLES: dict[str, dict] = {
    "recoverable": {"color": "#4a0000", "weight": 2, "fillColor": "#b71c1c", "fillOpacity": 0.8},
    "idle": {"color": "#bf360c", "weight": 2, "fillColor": "#ff7043", "fillOpacity": 0.65},
    "watch": {
        "color": "#f9a825",
        "weight": 1.5,
        "dashArray": "4 3",
        "fillColor": "#fff59d",
        "fillOpacity": 0.5,
    },
    "default": {"color": "#555", "weight": 1},
}
# the 亩均效益 theme (services.statistics): an enterprise's parcels filled by its class, A to D
# by tax per mu; "none": no figures recorded for the year
EFFICIENCY_COLORS = {
    "A": "#1a9850",
    "B": "#91cf60",
    "C": "#fee08b",
    "D": "#d73027",
    "none": "#bdbdbd",
}
EFFICIENCY_STYLES: dict[str, dict] = {
    **{
        key: {"color": "#424242", "weight": 1, "fillColor": color, "fillOpacity": 0.7}
        for key, color in EFFICIENCY_COLORS.items()
    },
    "default": {"color": "#424242", "weight": 1, "fillColor": "#bdbdbd", "fillOpacity": 0.7},
}
# the 补偿 theme (web.compensation_pages): a parcel's outline; its fill is the colour of the
# least advanced status of its households (domain.HouseholdStatus.colour, the one place)
COMPENSATION_OUTLINE: dict = {"color": "#424242", "weight": 1, "fillOpacity": 0.75}
