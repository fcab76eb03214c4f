"""Field profiles of the standard layers: which source field feeds which register column.

Field names are matched case-insensitively, first alias first; the parcel profile also knows
the Chinese names attribute tables joined in Excel carry (宗地代码, 权利人名称, 坐落 ...). A
load's ``fields`` (register field -> file field) override the profile. Every field a profile
does not name is kept in the record's JSONB ``attributes``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    target: str
    aliases: tuple[str, ...]
    kind: str = "text"  # text | number | date
    required: bool = False
    # False: read for checks, but kept in the JSONB attributes under the file's own name
    stored: bool = True


# landmap's own mu (MJMU, which exports carry): computed from the shape, so read and dropped,
# never kept in the attributes (a re-loaded export would otherwise differ from the register)
AREA_MU = Field("area_mu", ("MJMU",), "number")


@dataclass(frozen=True)
class Profile:
    name: str
    fields: tuple[Field, ...]

    def match(self, columns: list[str], given: dict[str, str] | None = None) -> dict[str, str]:
        """target -> source column, for the columns present; ``given`` (target -> the file's
        column, as the file spells it) comes first, and a column it names feeds no other
        target."""
        upper = {c.upper(): c for c in columns}
        found: dict[str, str] = dict(given or {})
        taken = set(found.values())
        for spec in self.fields:
            if spec.target in found:
                continue
            for alias in spec.aliases:
                if alias in upper and upper[alias] not in taken:
                    found[spec.target] = upper[alias]
                    break
        return found

    @property
    def targets(self) -> list[str]:
        return [spec.target for spec in self.fields]

    def missing(self, matched: dict[str, str]) -> list[Field]:
        return [spec for spec in self.fields if spec.required and spec.target not in matched]


# 宗地 (cadastral parcels) and commercial plots
PARCELS = Profile(
    "parcels",
    (
        Field(
            "code",
            ("ZDDM", "DKBH", "DKDM", "ZDBH", "CODE", "PLOT_NO", "宗地代码", "宗地编码", "宗地号"),
            required=True,
        ),
        Field("bdcdyh", ("BDCDYH", "不动产单元号"), stored=False),
        Field("name", ("ZDMC", "DKMC", "MC", "NAME", "宗地名称", "地块名称")),
        Field("owner", ("QLRMC", "QLR", "SYQR", "OWNER", "权利人名称", "权利人", "土地使用者")),
        Field("location", ("ZL", "TDZL", "LOCATION", "坐落", "土地坐落", "宗地坐落")),
        Field(
            "official_area_m2",
            ("ZDMJ", "DKMJ", "TDMJ", "AREA_M2", "宗地面积", "土地面积", "地块面积"),
            "number",
        ),
        Field("land_use", ("TDYT", "YT", "DLBM", "LAND_USE", "土地用途", "用途", "地类编码")),
        Field("land_use_name", ("DLMC", "YTMC", "TDYTMC", "地类名称", "用途名称")),
        Field("rights_type", ("QLLX", "权利类型"), stored=False),
        Field("rights_nature", ("QLXZ", "权利性质"), stored=False),
        # landmap's own fields (the demo zone and exports carry them)
        Field("project", ("XMMC", "PROJECT", "项目名称")),
        Field("batch", ("PCMC", "BATCH", "批次名称")),
        Field("stage", ("ZSJD", "STAGE", "征收阶段")),
        AREA_MU,
        # commercial plot facts (经营性用地出让条件)
        Field("planned_use", ("GHYT",)),
        Field("plot_ratio_max", ("RJL",), "number"),
        Field("building_density_max", ("JZMD",), "number"),
        Field("green_ratio_min", ("LDL",), "number"),
        Field("height_limit_m", ("XG", "JZXG"), "number"),
        Field("transfer_status", ("CRZT",)),
        Field("transfer_date", ("CRRQ",), "date"),
        Field("reserve_price_wan", ("QPJ",), "number"),
    ),
)

# 三调 地类图斑 (land-use patches)
LANDUSE = Profile(
    "landuse",
    (
        Field("code", ("BSM", "TBBH"), required=True),
        Field("patch_no", ("TBBH",)),
        Field("land_use_code", ("DLBM",), required=True),
        Field("land_use_name", ("DLMC",)),
        Field("ownership", ("QSXZ",)),
        Field("owner_unit", ("QSDWMC",)),
        Field("location_unit", ("ZLDWMC",)),
        Field("official_area_m2", ("TBMJ",), "number"),
        Field("deduction_m2", ("KCMJ",), "number"),
        Field("net_area_m2", ("TBDLMJ",), "number"),
        AREA_MU,
    ),
)

# 永久基本农田 (permanent basic farmland)
FARMLAND = Profile(
    "farmland",
    (
        Field("code", ("BSM", "JBNTBH", "TBBH", "CODE"), required=True),
        Field("land_use_code", ("DLBM",)),
        Field("official_area_m2", ("JBNTMJ", "TBMJ"), "number"),
        AREA_MU,
    ),
)

# 开发区 zone boundaries
ZONES = Profile(
    "zones",
    (
        Field("code", ("QYDM", "ZONE", "CODE")),
        Field("name", ("QYMC", "NAME")),
    ),
)
