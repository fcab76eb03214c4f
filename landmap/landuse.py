"""GB/T 21010-2017 land-use classes (土地利用现状分类) and the groupings the land rules need.

Codes not in the standard (working codes such as 05H1, 08H1) are kept as they are and
reported as unknown; they are never rejected.
"""

from __future__ import annotations

import re

from landmap.messages import Message, msg

CLASSES: dict[str, str] = {
    "01": "耕地",
    "0101": "水田",
    "0102": "水浇地",
    "0103": "旱地",
    "02": "园地",
    "0201": "果园",
    "0202": "茶园",
    "0203": "橡胶园",
    "0204": "其他园地",
    "03": "林地",
    "0301": "乔木林地",
    "0302": "竹林地",
    "0303": "红树林地",
    "0304": "森林沼泽",
    "0305": "灌木林地",
    "0306": "灌丛沼泽",
    "0307": "其他林地",
    "04": "草地",
    "0401": "天然牧草地",
    "0402": "沼泽草地",
    "0403": "人工牧草地",
    "0404": "其他草地",
    "05": "商服用地",
    "0501": "零售商业用地",
    "0502": "批发市场用地",
    "0503": "餐饮用地",
    "0504": "旅馆用地",
    "0505": "商务金融用地",
    "0506": "娱乐用地",
    "0507": "其他商服用地",
    "06": "工矿仓储用地",
    "0601": "工业用地",
    "0602": "采矿用地",
    "0603": "盐田",
    "0604": "仓储用地",
    "07": "住宅用地",
    "0701": "城镇住宅用地",
    "0702": "农村宅基地",
    "08": "公共管理与公共服务用地",
    "0801": "机关团体用地",
    "0802": "新闻出版用地",
    "0803": "教育用地",
    "0804": "科研用地",
    "0805": "医疗卫生用地",
    "0806": "社会福利用地",
    "0807": "文化设施用地",
    "0808": "体育用地",
    "0809": "公用设施用地",
    "0810": "公园与绿地",
    "09": "特殊用地",
    "10": "交通运输用地",
    "1001": "铁路用地",
    "1002": "轨道交通用地",
    "1003": "公路用地",
    "1004": "城镇村道路用地",
    "1005": "交通服务场站用地",
    "1006": "农村道路",
    "1007": "机场用地",
    "1008": "港口码头用地",
    "1009": "管道运输用地",
    "11": "水域及水利设施用地",
    "1101": "河流水面",
    "1102": "湖泊水面",
    "1103": "水库水面",
    "1104": "坑塘水面",
    "1105": "沿海滩涂",
    "1106": "内陆滩涂",
    "1107": "沟渠",
    "1108": "沼泽地",
    "1109": "水工建筑用地",
    "1110": "冰川及永久积雪",
    "12": "其他土地",
    "1201": "空闲地",
    "1202": "设施农用地",
    "1203": "田坎",
    "1204": "盐碱地",
    "1205": "沙地",
    "1206": "裸土地",
    "1207": "裸岩石砾地",
}
CODE_RE = re.compile(r"^\d{2}(\d{2}|[A-Z]\d?)?[A-Z0-9]*$")
# 农用地: classes 01-04 and these second-level classes
_AGRICULTURAL_EXTRA = {"1006", "1103", "1104", "1107", "1202", "1203"}
# 建设用地: 05-09 and these second-level classes
_CONSTRUCTION_EXTRA = {
    "1001",
    "1002",
    "1003",
    "1004",
    "1005",
    "1007",
    "1008",
    "1009",
    "1109",
    "1201",
}
_NAME_TO_CODE = {name: code for code, name in CLASSES.items()}


def looks_like_code(value: str) -> bool:
    return bool(CODE_RE.match(value))


def name_of(code: str) -> str:
    return CLASSES.get(code, "")


def code_of(name: str) -> str:
    return _NAME_TO_CODE.get(name.strip(), "")


def is_known(code: str) -> bool:
    return code in CLASSES


def is_cultivated(code: str) -> bool:
    """耕地 (01xx)."""
    return code[:2] == "01" and (len(code) == 2 or code in CLASSES)


def is_agricultural(code: str) -> bool:
    """农用地: 01-04 plus rural roads, reservoirs, ponds, ditches, facility farmland, ridges."""
    return (code[:2] in {"01", "02", "03", "04"} and (len(code) == 2 or code in CLASSES)) or (
        code in _AGRICULTURAL_EXTRA
    )


def is_construction(code: str) -> bool:
    """建设用地: 05-09, roads and stations, railways, airports, ports, pipelines, hydraulic
    structures and idle land."""
    return (code[:2] in {"05", "06", "07", "08", "09"} and code in CLASSES) or (
        code in _CONSTRUCTION_EXTRA
    )


def category(code: str) -> str:
    """agricultural | construction | other (未利用地, unused) | unknown (a code the standard
    does not have); category_label says them for people."""
    if not is_known(code):
        return "unknown"
    if is_agricultural(code):
        return "agricultural"
    if is_construction(code):
        return "construction"
    return "other"


# What each category is called where people read it (problems, JSON labels, workbooks).
CATEGORY_LABELS: dict[str, Message] = {
    "agricultural": msg("category_agricultural", "agricultural land"),
    "construction": msg("category_construction", "construction land"),
    "other": msg("category_unused", "unused land"),
    "unknown": msg("category_unknown", "code not in GB/T 21010"),
}


def category_label(category_id: str) -> Message:
    """A category (see category) as people read it: 农用地, 建设用地, 未利用地 in Chinese."""
    return CATEGORY_LABELS[category_id]


def land_class(code: str) -> str:
    """The compensation standard's land class of a GB/T 21010 code (domain.LandClass):
    耕地 01, 园地 02, 林地 03, other agricultural land (草地 04, rural roads, ponds, ditches,
    facility farmland, ridges), construction land, and the rest (unused, or a code the
    standard does not have)."""
    if is_known(code) or len(code) == 2:
        head = code[:2]
        if head == "01":
            return "cultivated"
        if head == "02":
            return "garden"
        if head == "03":
            return "forest"
    if is_agricultural(code):
        return "other_agricultural"
    if is_construction(code):
        return "construction"
    return "unused"
