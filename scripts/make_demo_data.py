"""Generate the illustrative demo zone in data/demo/ (run once; the output is committed).

The geometry is invented: plausible shapes near Yanghuping, Zhangjiajie, in CGCS2000 3-degree
Gauss-Krüger CM 111E (EPSG:4546). Project names and targets come from the zone's 2011 half-year
report (shared/seed). Deterministic: the same run gives the same files.

    .venv/bin/python scripts/make_demo_data.py
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, Polygon, box
from shapely.ops import unary_union

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from landmap.geo.units import M2_PER_MU  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "data" / "demo"
SRID = 4546
rng = np.random.default_rng(2011)

# --- zones (irregular outlines, metres in EPSG:4546) ----------------------------------------
ZONES = {
    "A": Polygon(
        [
            (449700, 3219700),
            (451000, 3219550),
            (452350, 3219800),
            (452450, 3220700),
            (451900, 3221250),
            (450600, 3221300),
            (449750, 3220900),
        ]
    ),
    "B": Polygon(
        [
            (452700, 3219150),
            (453900, 3218950),
            (455050, 3219200),
            (455150, 3220300),
            (454500, 3220950),
            (453300, 3221000),
            (452750, 3220500),
        ]
    ),
    "C": Polygon(
        [
            (455300, 3217200),
            (456900, 3216950),
            (458300, 3217300),
            (458450, 3218800),
            (457900, 3219700),
            (456300, 3219800),
            (455350, 3219100),
        ]
    ),
}
ZONE_NAMES = {
    "A": ("A区（综合商贸区）", "Zone A (commerce)"),
    "B": ("B区（工业园区）", "Zone B (industry)"),
    "C": ("C区（土地开发区）", "Zone C (land development)"),
}

# --- the 1000-mu project in zone C: 1000 m x 666.67 m, first batch the western 315 m -------
C_X0, C_Y0 = 455800.0, 3217900.0
C_W, C_H = 1000.0, 1000 * M2_PER_MU / 1000.0  # 1000 mu exactly
BATCH1 = box(C_X0, C_Y0, C_X0 + 315.0, C_Y0 + C_H)  # 315 mu
BATCH2 = box(C_X0 + 315.0, C_Y0, C_X0 + C_W, C_Y0 + C_H)  # 685 mu
C_PROJECT = "C区1000亩土地开发项目"

SURNAMES = list("覃向田王李张卓黄彭龚杨谷胡唐宋吴")
GIVEN = [
    "明华",
    "德贵",
    "春林",
    "秀英",
    "大勇",
    "世权",
    "玉兰",
    "正清",
    "金生",
    "光辉",
    "桂香",
    "建国",
    "永红",
    "长青",
    "少军",
    "家福",
]
VILLAGES = ["社溪村", "阳湖坪村", "罗沙村", "温塘村", "黄家铺村"]


def person() -> str:
    return str(rng.choice(SURNAMES)) + str(rng.choice(GIVEN))


def voronoi_split(area: Polygon, n: int) -> list[Polygon]:
    """Split a polygon into about n irregular parcels that tile it exactly."""
    minx, miny, maxx, maxy = area.bounds
    pts = []
    while len(pts) < n:
        p = shapely.Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if area.contains(p):
            pts.append(p)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(pts), extend_to=area.buffer(50))
    out = []
    for cell in cells.geoms:
        piece = cell.intersection(area)
        for poly in getattr(piece, "geoms", [piece]):
            if poly.geom_type == "Polygon" and poly.area > 1:
                out.append(poly)
    return out


class Register:
    """Collects parcels and hands out cadastral codes (ZDDM, 19 characters)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.seq: dict[str, int] = {}

    def zddm(self, block: int, feature: str) -> str:
        key = f"430802003{block:03d}{feature}"
        self.seq[key] = self.seq.get(key, 0) + 1
        return f"{key}{self.seq[key]:05d}"

    def add(
        self,
        geom: Polygon,
        *,
        code: str,
        owner: str,
        use: tuple[str, str],
        stage: str,
        name: str = "",
        location: str = "",
        project: str = "",
        batch: str = "",
        rights: tuple[str, str] = ("集体土地所有权", "集体所有"),
        extra: dict | None = None,
        certificate: bool = True,
    ) -> None:
        area = geom.area
        zdmj = None
        if certificate:
            # certificates agree with the survey within a few per mille; a few do not
            off = rng.normal(0, 0.002) if rng.random() > 0.03 else rng.choice([-1, 1]) * 0.025
            zdmj = round(area * (1 + off), 2)
        row = {
            "ZDDM": code,
            "ZDMC": name,
            "QLRMC": owner,
            "ZL": location,
            "ZDMJ": zdmj,
            "TDYT": use[0],
            "DLMC": use[1],
            "QLLX": rights[0],
            "QLXZ": rights[1],
            "XMMC": project,
            "PCMC": batch,
            "ZSJD": stage,
            "geometry": geom,
        }
        row.update(extra or {})
        self.rows.append(row)


FARM_USES = (
    [("0101", "水田")] * 5
    + [("0103", "旱地")] * 3
    + [
        ("0301", "乔木林地"),
        ("0201", "果园"),
        ("1104", "坑塘水面"),
        ("0702", "农村宅基地"),
        ("0702", "农村宅基地"),
        ("1006", "农村道路"),
    ]
)


def farm_use() -> tuple[str, str]:
    return FARM_USES[rng.integers(len(FARM_USES))]


def add_collective(reg: Register, geom, block: int, stage: str, **kw) -> None:
    use = kw.pop("use", None) or farm_use()
    village = str(rng.choice(VILLAGES))
    if use[0] == "0702":
        owner, feature, rights = person(), "JC", ("宅基地使用权", "集体所有")
    else:
        owner, feature, rights = f"{village}村民委员会", "JA", ("集体土地所有权", "集体所有")
    reg.add(
        geom,
        code=reg.zddm(block, feature),
        owner=owner,
        use=use,
        stage=stage,
        location=f"永定区阳湖坪街道{village}",
        rights=rights,
        **kw,
    )


def pick(weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return str(rng.choice(keys, p=p / p.sum()))


# --- roads (linear infrastructure parcels) ---------------------------------------------------
ROADS = [
    (
        "罗沙路（中段）",
        LineString([(452300, 3219950), (453500, 3219800), (455200, 3219600)]),
        40,
        "cleared",
    ),
    (
        "罗沙路（东段）",
        LineString([(455200, 3219600), (456500, 3219450), (458200, 3219000)]),
        40,
        "compensated",
    ),
    ("科技路（西段）", LineString([(453200, 3219100), (453300, 3220800)]), 30, "state_owned"),
    (
        "阳湖坪路（中段）",
        LineString([(450200, 3219800), (450900, 3220500), (451600, 3221150)]),
        36,
        "agreement_signed",
    ),
    (
        "防洪公路",
        LineString([(450000, 3220960), (451000, 3221150), (452300, 3220750)]),
        24,
        "surveyed",
    ),
    (
        "社溪滩防洪堤（二期）",
        LineString([(456350, 3219640), (457000, 3219700), (457700, 3219620)]),
        18,
        "pre_announced",
    ),
]


def build() -> tuple[gpd.GeoDataFrame, list[dict]]:
    reg = Register()
    taken = []
    # roads first: everything else keeps clear of them
    for name, line, width, stage in ROADS:
        corridor = line.buffer(width / 2, cap_style="flat").difference(unary_union(taken))
        taken.append(corridor)
        n = max(2, int(line.length // 700))
        mids = shapely.MultiPoint(
            [line.interpolate((i + 0.5) / n, normalized=True) for i in range(n)]
        )
        cells = shapely.voronoi_polygons(mids, extend_to=corridor.buffer(100))
        for i, cell in enumerate(cells.geoms):
            seg = cell.intersection(corridor)
            if seg.area < 300:
                continue
            use = ("1109", "水工建筑用地") if "堤" in name else ("1004", "城镇村道路用地")
            if stage == "state_owned":
                reg.add(
                    seg,
                    code=reg.zddm(20, "GB"),
                    owner="张家界经济开发区管理委员会",
                    use=use,
                    stage=stage,
                    project=name,
                    rights=("国有建设用地使用权", "划拨"),
                    name=f"{name}第{i + 1}段",
                )
            else:
                add_collective(
                    reg, seg, 20, stage, use=use, project=name, name=f"{name}第{i + 1}段"
                )
    roads = unary_union(taken)

    # zone C: the 1000-mu project, two batches
    for area, batch, n, weights in (
        (
            BATCH1,
            "第一批",
            44,
            {
                "cleared": 45,
                "demolished": 10,
                "compensated": 15,
                "agreement_signed": 15,
                "plan_published": 10,
                "surveyed": 5,
            },
        ),
        (BATCH2, "第二批", 86, {"not_started": 35, "pre_announced": 35, "surveyed": 30}),
    ):
        for cell in voronoi_split(area, n):
            add_collective(
                reg,
                cell,
                31 if batch == "第一批" else 32,
                pick(weights),
                project=C_PROJECT,
                batch=batch,
            )
    project_c = box(C_X0, C_Y0, C_X0 + C_W, C_Y0 + C_H)
    taken.append(project_c)

    sites = []  # (project, box, n parcels, stage, owner, use, rights)
    # zone C: resettlement housing next to the project
    sites.append(
        (
            "居民安置区",
            box(456950, 3218000, 457350, 3218250),
            3,
            "agreement_signed",
            None,
            ("0701", "城镇住宅用地"),
            None,
        )
    )
    # zone B: enterprises and works, on a grid south of 罗沙路
    b_projects = [
        ("盛兴钢材物流园", "state_owned", ("0604", "仓储用地")),
        ("茅岩莓", "state_owned", ("0601", "工业用地")),
        ("祥园科技", "state_owned", ("0601", "工业用地")),
        ("汽车检测中心", "state_owned", ("0601", "工业用地")),
        ("汽配厂", "state_owned", ("0601", "工业用地")),
        ("华湘轮胎", "state_owned", ("0601", "工业用地")),
        ("鑫利服饰", "state_owned", ("0601", "工业用地")),
        ("凯利仪表", "state_owned", ("0601", "工业用地")),
        ("恒久高科", "surveyed", ("0101", "水田")),
        ("锦隆环保", "pre_announced", ("0103", "旱地")),
        ("奥威科技", "state_owned", ("0601", "工业用地")),
        ("永兴玻璃", "state_owned", ("0601", "工业用地")),
        ("鑫彤飞碳酸钙", "state_owned", ("0601", "工业用地")),
        ("雨润集团", "compensated", ("0101", "水田")),
        ("标准厂房（二期）", "state_owned", ("0601", "工业用地")),
        ("标准厂房（三期）", "cleared", ("0601", "工业用地")),
        ("污水处理厂", "demolished", ("1301", "公用设施用地")),
        ("110kV变电站", "agreement_signed", ("1301", "公用设施用地")),
    ]
    x0, y0, w, h, gap = 452950, 3219300, 300, 200, 30
    for i, (name, stage, use) in enumerate(b_projects):
        col, row = i % 6, i // 6
        x, y = x0 + col * (w + gap), y0 + row * (h + gap) + (row > 0) * 80
        sites.append(
            (
                name,
                box(x, y, x + w, y + h),
                int(rng.integers(1, 4)),
                stage,
                name,
                use,
                ("国有建设用地使用权", "出让"),
            )
        )
    # the technical school's new campus, north part of zone B
    sites.append(
        (
            "市技校新校区",
            box(453700, 3220250, 454350, 3220700),
            4,
            "cleared",
            "张家界市技工学校",
            ("0803", "教育用地"),
            ("国有建设用地使用权", "划拨"),
        )
    )
    # zone A: commercial plots and affordable housing
    sites += [
        (
            "新外滩",
            box(450000, 3220300, 450550, 3220700),
            3,
            "state_owned",
            None,
            ("0501", "零售商业用地"),
            ("国有建设用地使用权", "出让"),
        ),
        (
            "雅安花园",
            box(450950, 3220150, 451350, 3220500),
            2,
            "state_owned",
            None,
            ("0701", "城镇住宅用地"),
            ("国有建设用地使用权", "出让"),
        ),
        (
            "2011-2号地块商业开发",
            box(451450, 3220520, 451800, 3220840),
            1,
            "state_owned",
            None,
            ("0501", "零售商业用地"),
            ("国有建设用地使用权", "出让"),
        ),
        (
            "澧岸春苑经济适用房",
            box(451800, 3220000, 452200, 3220300),
            2,
            "cleared",
            "张家界经济开发区管理委员会",
            ("0701", "城镇住宅用地"),
            ("国有建设用地使用权", "划拨"),
        ),
    ]
    commercial_no = {
        "新外滩": ["2010-5", "2010-6", "2010-7"],
        "雅安花园": ["2009-3", "2009-4"],
        "2011-2号地块商业开发": ["2011-2"],
    }
    commercial_facts = {
        "新外滩": dict(
            GHYT="商业、商务",
            RJL=3.5,
            JZMD=45,
            LDL=25,
            XG=80,
            CRZT="transferred",
            CRRQ="2010-11-18",
            QPJ=None,
        ),
        "雅安花园": dict(
            GHYT="二类居住、商业",
            RJL=2.8,
            JZMD=30,
            LDL=35,
            XG=60,
            CRZT="transferred",
            CRRQ="2010-06-30",
            QPJ=None,
        ),
        "2011-2号地块商业开发": dict(
            GHYT="商业、商务", RJL=3.0, JZMD=40, LDL=30, XG=60, CRZT="planned", CRRQ=None, QPJ=6800
        ),
    }
    for name, area, n, stage, owner, use, rights in sites:
        area = area.difference(roads)
        taken.append(area)
        cells = voronoi_split(area, n) if n > 1 else [area]
        numbers = commercial_no.get(name)
        for k, cell in enumerate(c for c in cells if c.area > 300):
            if numbers:  # commercial plots keep their plot number as code
                facts = commercial_facts[name]
                holder = (
                    "张家界经济开发区土地储备中心"
                    if facts["CRZT"] == "planned"
                    else (
                        "张家界新外滩置业有限公司"
                        if name == "新外滩"
                        else "湖南雅安房地产开发有限公司"
                    )
                )
                reg.add(
                    cell,
                    code=numbers[k],
                    owner=holder,
                    use=use,
                    stage=stage,
                    project=name,
                    rights=rights,
                    name=f"{numbers[k]}号地块",
                    extra=facts,
                    location="永定区阳湖坪街道" + ("澧水南岸" if name == "新外滩" else ""),
                )
            elif rights and stage in ("state_owned", "cleared"):
                reg.add(
                    cell,
                    code=reg.zddm(40 + len(reg.rows) % 7, "GB"),
                    owner=owner or "张家界经济开发区管理委员会",
                    use=use,
                    stage=stage,
                    project=name,
                    rights=rights,
                    name=name if n == 1 else f"{name}{k + 1}号宗地",
                    location="永定区阳湖坪街道",
                )
            else:
                add_collective(
                    reg,
                    cell,
                    50,
                    stage,
                    use=use if use[0] < "05" else None,
                    project=name,
                    name=f"{name}用地",
                )

    # background: the rest of each zone, mostly collective farmland not yet touched
    occupied = unary_union(taken)
    for code, zone in ZONES.items():
        rest = zone.difference(occupied)
        n = {"A": 50, "B": 50, "C": 70}[code]
        for cell in voronoi_split(rest, n):
            if cell.area < 1000:
                continue
            if code == "A" and rng.random() < 0.5:
                reg.add(
                    cell,
                    code=reg.zddm(60, "GB"),
                    owner=f"{person()}等",
                    use=("0701", "城镇住宅用地"),
                    stage="state_owned",
                    rights=("国有建设用地使用权", "出让"),
                    location="永定区阳湖坪街道",
                )
            else:
                add_collective(reg, cell, 70 + ord(code) - 65, "not_started")

    gdf = gpd.GeoDataFrame(reg.rows, geometry="geometry", crs=f"EPSG:{SRID}")
    return gdf, projects()


def projects() -> list[dict]:
    def p(name, kind, stage, zone, targets=(), batches=(), partner="", financing="", desc=""):
        return {
            "name": name,
            "kind": kind,
            "stage": stage,
            "zone": zone,
            "partner": partner,
            "financing": financing,
            "description": desc,
            "targets": [{"label": lbl, "due": due, "target_mu": mu} for lbl, due, mu in targets],
            "batches": [{"name": n, "target_mu": mu, "due": due} for n, mu, due in batches],
        }

    start = [("开工", "2011-12-31", None)]
    commission = [("竣工投产", "2011-12-31", None)]
    return [
        p(
            C_PROJECT,
            "commercial",
            "pre_stage",
            "C",
            targets=[
                ("第一批315亩整理到位", "2011-12-31", 315),
                ("1000亩全部整理到位", "2012-12-31", 1000),
            ],
            batches=[("第一批", 315, "2011-12-31"), ("第二批", 685, "2012-12-31")],
            partner="湖南省公路投资有限公司",
            desc="与湖南省公路投资有限公司合作开发，征地拆迁进行中。",
        ),
        p("新外滩", "commercial", "under_construction", "A", desc="A区商业开发"),
        p("雅安花园", "commercial", "under_construction", "A", desc="A区商业开发"),
        p(
            "2011-2号地块商业开发",
            "commercial",
            "pre_stage",
            "A",
            desc="2011-2号土地商业开发",
            targets=[("挂牌出让", "2011-12-31", None)],
        ),
        p(
            "澧岸春苑经济适用房",
            "housing",
            "to_start",
            "A",
            targets=[("正式开工", "2011-08-31", None)],
            desc="经济适用房",
        ),
        p(
            "市技校新校区",
            "public",
            "relocating",
            "B",
            partner="张家界市技工学校",
            targets=[("校区搬迁落户B区", "2011-12-31", None)],
        ),
        p("居民安置区", "housing", "to_start", "C", targets=[("全面开工", "2011-07-31", None)]),
        *[
            p(n, "industrial", "to_start", "B", targets=start)
            for n in ("盛兴钢材物流园", "茅岩莓", "祥园科技", "汽车检测中心")
        ],
        *[
            p(n, "industrial", "under_construction", "B", targets=commission)
            for n in ("汽配厂", "华湘轮胎", "鑫利服饰", "凯利仪表")
        ],
        *[p(n, "industrial", "pre_stage", "B") for n in ("恒久高科", "锦隆环保")],
        *[
            p(n, "industrial", "commissioned", "B", desc="骨干企业")
            for n in ("奥威科技", "永兴玻璃", "鑫彤飞碳酸钙")
        ],
        p("雨润集团", "industrial", "pre_stage", "B", desc="招商引资：已落户"),
        p("康师傅集团", "industrial", "pre_stage", None, desc="招商引资：洽谈对接中，未供地"),
        p(
            "标准厂房（二期）",
            "industrial",
            "under_construction",
            "B",
            targets=[("竣工验收", "2011-12-31", None)],
        ),
        p(
            "标准厂房（三期）",
            "industrial",
            "to_start",
            "B",
            targets=[("全面开工", "2011-07-31", None)],
        ),
        p(
            "罗沙路（中段）",
            "infrastructure",
            "under_construction",
            "B",
            targets=[("竣工验收", "2011-12-31", None)],
        ),
        p(
            "罗沙路（东段）",
            "infrastructure",
            "to_start",
            "C",
            financing="BT",
            targets=[("全面开工", "2011-07-31", None)],
        ),
        p(
            "科技路（西段）",
            "infrastructure",
            "to_start",
            "B",
            financing="BT",
            targets=[("全面开工", "2011-07-31", None)],
        ),
        p(
            "阳湖坪路（中段）",
            "infrastructure",
            "to_start",
            "A",
            financing="BT",
            targets=[("全面开工", "2011-07-31", None)],
        ),
        p(
            "防洪公路",
            "infrastructure",
            "to_start",
            "A",
            financing="BT",
            targets=[("全面开工", "2011-07-31", None)],
        ),
        p(
            "污水处理厂",
            "infrastructure",
            "to_start",
            "B",
            financing="BOT",
            targets=[("全面开工", "2011-07-31", None)],
        ),
        p(
            "社溪滩防洪堤（二期）",
            "infrastructure",
            "under_construction",
            "C",
            targets=[("竣工验收", "2011-12-31", None)],
        ),
        p("110kV变电站", "infrastructure", "pre_stage", "B", desc="项目对接，规划明年建设"),
    ]


LANDUSE_FILL = [("0101", "水田")] * 6 + [("0103", "旱地")] * 3 + [
    ("0301", "乔木林地"), ("0201", "果园"), ("1104", "坑塘水面"), ("1006", "农村道路"),
    ("1203", "田坎"), ("0702", "农村宅基地")]  # fmt: skip


def landuse_patches(parcels: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """三调-style land-use patches (DLTB): their own tessellation of the area, classed by the
    parcel under each patch's centre, so that patch and parcel lines cross as they do."""
    lrng = np.random.default_rng(2019)
    area = unary_union(list(ZONES.values())).buffer(600).envelope
    cells = voronoi_split(area, 900)
    tree = shapely.STRtree(parcels.geometry.values)
    rows = []
    for i, cell in enumerate(cells):
        hit = tree.query(cell.representative_point(), predicate="within")
        if len(hit) and parcels.TDYT.iloc[hit[0]]:
            code, name = parcels.TDYT.iloc[hit[0]], parcels.DLMC.iloc[hit[0]]
        else:
            code, name = LANDUSE_FILL[lrng.integers(len(LANDUSE_FILL))]
        if code in ("0501", "0701") and lrng.random() < 0.15:  # working codes of the survey
            code, name = (
                ("05H1", "商业服务业设施用地")
                if code == "0501"
                else ("08H1", "机关团体新闻出版用地")
            )
        state = code[:2] in ("05", "06", "08") or code in ("0701", "1004", "08H1", "05H1")
        kc = round(cell.area * 0.06, 2) if code == "0103" else 0.0
        rows.append({"BSM": f"4308022{i:07d}", "TBBH": str(1000 + i), "DLBM": code, "DLMC": name,
                     "QSXZ": "20" if state else "30",
                     "QSDWMC": "张家界市永定区人民政府" if state else str(lrng.choice(VILLAGES)),
                     "ZLDWMC": str(lrng.choice(VILLAGES)), "TBMJ": round(cell.area, 2),
                     "KCDLBM": "1203" if kc else "", "KCMJ": kc,
                     "TBDLMJ": round(cell.area - kc, 2), "geometry": cell})  # fmt: skip
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=f"EPSG:{SRID}")


def farmland() -> gpd.GeoDataFrame:
    """Permanent basic farmland (永久基本农田) in the fields around zone C, clear of the zones."""
    zones = unary_union(list(ZONES.values()))
    band = ZONES["C"].buffer(500).difference(ZONES["C"].buffer(160)).difference(zones.buffer(160))
    boxes = [box(458300, 3217000, 459000, 3218400), box(455400, 3216500, 457600, 3216960),
             box(454800, 3217200, 455260, 3218500)]  # fmt: skip
    rows = []
    for i, b in enumerate(boxes):
        g = band.intersection(b)
        for part in getattr(g, "geoms", [g]):
            if part.area > 5000:
                rows.append({"BSM": f"4308023{i:03d}{len(rows):04d}", "DLBM": "0101",
                             "JBNTMJ": round(part.area, 2), "geometry": part})  # fmt: skip
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=f"EPSG:{SRID}")


WORKFLOW = ["not_started", "pre_announced", "surveyed", "plan_published", "agreement_signed",
            "compensated", "demolished", "cleared"]  # fmt: skip
HOLDOUTS = [
    "户主对房屋评估价格有异议，拒绝签约",
    "坟墓迁移补偿未谈妥",
    "土地权属存在争议，待街道调处",
]


def history(parcels: gpd.GeoDataFrame) -> list[dict]:
    """A plausible 2011 timeline for every parcel past 'not started'; the parcels then start
    at 'not started' in the GeoPackage and reach their stage through this history."""
    hrng = np.random.default_rng(315)
    rows = []
    for i, r in parcels.iterrows():
        if r.ZSJD not in WORKFLOW[1:]:
            continue
        first_batch = r.PCMC == "第一批"
        day = np.datetime64("2011-02-20") + int(hrng.integers(0, 60 if first_batch else 150))
        for stage in WORKFLOW[1 : WORKFLOW.index(r.ZSJD) + 1]:
            gap = int(hrng.integers(8, 28)) if first_batch else int(hrng.integers(15, 40))
            day = min(day + gap, np.datetime64("2011-11-25"))
            rows.append({"ZDDM": r.ZDDM, "kind": "stage", "stage": stage, "date": str(day),
                         "note": "", "reason": ""})  # fmt: skip
        parcels.loc[i, "ZSJD"] = "not_started"
        if first_batch and r.ZDDM.endswith(("07", "19")):
            rows.append({"ZDDM": r.ZDDM, "kind": "dispute", "stage": "",
                         "date": str(min(day + 5, np.datetime64("2011-11-28"))), "note": "",
                         "reason": HOLDOUTS[len(rows) % len(HOLDOUTS)]})  # fmt: skip
    return rows


def quota_demo() -> dict:
    """The 2011 quota ledger (用地指标台账). Figures and document numbers are illustrative: the
    seed leaves the year's target blank (力争完成全年获得用地指标___亩的任务)."""
    return {
        "years": [{"year": 2011, "target_mu": 600,
                   "note": "力争全年获得用地指标（示例目标，由管委会设定）"}],
        "entries": [
            {"year": 2011, "kind": "grant", "source": "plan", "ha": 30, "date": "2011-04-18",
             "ref": "湘国土资〔2011〕示例第1号", "note": "2011年度新增建设用地计划指标（第一批）"},
            {"year": 2011, "kind": "grant", "source": "linkage", "mu": 80, "date": "2011-05-06",
             "ref": "张国土资〔2011〕示例第3号", "note": "城乡建设用地增减挂钩节余指标"},
            {"year": 2011, "kind": "reserve_demand", "source": "plan", "date": "2011-07-12",
             "project": C_PROJECT, "batch": "第一批", "ref": "张经开〔2011〕示例第12号",
             "note": "第一批315亩报批用地预留"},
            {"year": 2011, "kind": "reserve", "source": "linkage", "project": "雨润集团",
             "date": "2011-06-02", "mu": 60, "ref": "张经开〔2011〕示例第15号",
             "note": "雨润集团项目用地预留"},
            {"year": 2011, "kind": "consume", "source": "linkage", "project": "雨润集团",
             "date": "2011-09-20", "mu": 52.5, "ref": "2011年第3批次城市建设用地批复（示例）",
             "note": "批次获批"},
            {"year": 2011, "kind": "release", "source": "linkage", "project": "雨润集团",
             "date": "2011-09-28", "mu": 7.5, "ref": "", "note": "核减后释放未用预留"},
        ],
    }  # fmt: skip


# The seed's enterprises (骨干企业, 招商引资) and the projects' partners, as enterprises of
# the register: (name, industry, note, the projects they are the enterprise of). Codes are
# left empty: the real ones are not public here.
ENTERPRISES = [
    ("奥威科技", "", "骨干企业", ["奥威科技"]),
    ("永兴玻璃", "玻璃制造", "骨干企业", ["永兴玻璃"]),
    ("鑫彤飞碳酸钙", "碳酸钙（非金属矿物制品）", "骨干企业", ["鑫彤飞碳酸钙"]),
    ("雨润集团", "食品加工", "招商引资：已落户", ["雨润集团"]),
    ("康师傅集团", "食品饮料", "招商引资：洽谈对接中", ["康师傅集团"]),
    ("华湘轮胎", "轮胎制造", "", ["华湘轮胎"]),
    ("鑫利服饰", "服装", "", ["鑫利服饰"]),
    ("凯利仪表", "仪器仪表", "", ["凯利仪表"]),
    ("祥园科技", "", "", ["祥园科技"]),
    ("茅岩莓", "食品（茅岩莓茶）", "", ["茅岩莓"]),
    ("恒久高科", "", "", ["恒久高科"]),
    ("锦隆环保", "环保", "", ["锦隆环保"]),
    ("湖南省公路投资有限公司", "交通投资", "C区1000亩土地开发合作单位", ["C区1000亩土地开发项目"]),
    ("张家界市技工学校", "职业教育", "迁建至B区", ["市技校新校区"]),
]


def with_enterprises(meta: dict) -> dict:
    """The demo's enterprises, and each project's enterprise."""
    owner = {p: name for name, _i, _n, projects in ENTERPRISES for p in projects}
    for project in meta["projects"]:
        project["enterprise"] = owner.get(project["name"])
    meta["enterprises"] = [
        {"name": name, "industry": industry, "note": note}
        for name, industry, note, _projects in ENTERPRISES
    ]
    return meta


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    parcels, project_list = build()
    patches = landuse_patches(parcels)
    basic_farmland = farmland()
    stage_history = history(parcels)
    zones = gpd.GeoDataFrame(
        [
            {"QYDM": c, "QYMC": ZONE_NAMES[c][0], "QYMC_EN": ZONE_NAMES[c][1], "geometry": g}
            for c, g in ZONES.items()
        ],
        geometry="geometry",
        crs=f"EPSG:{SRID}",
    )
    gpkg = OUT / "demo.gpkg"
    gpkg.unlink(missing_ok=True)
    zones.to_file(gpkg, layer="zones", driver="GPKG")
    parcels.to_file(gpkg, layer="parcels", driver="GPKG")
    patches.to_file(gpkg, layer="dltb", driver="GPKG")
    basic_farmland.to_file(gpkg, layer="jbnt", driver="GPKG")
    meta = {
        "zones": [
            {"code": c, "name": n[0], "name_en": n[1], "valid_from": "2010-01-01"}
            for c, n in ZONE_NAMES.items()
        ],
        "projects": project_list,
        "quota": quota_demo(),
    }
    meta = with_enterprises(meta)
    (OUT / "projects.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n")
    with (OUT / "stage_history.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, ["ZDDM", "kind", "stage", "date", "note", "reason"])
        w.writeheader()
        w.writerows(stage_history)
    c = parcels[parcels.XMMC == C_PROJECT]
    print(f"{len(patches)} land-use patches, {len(basic_farmland)} farmland patches")
    print(
        f"{len(parcels)} parcels; {C_PROJECT}: {c.area.sum() / M2_PER_MU:.2f} mu, first batch "
        f"{c[c.PCMC == '第一批'].area.sum() / M2_PER_MU:.2f} mu"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
