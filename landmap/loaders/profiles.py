"""Field profiles of the standard layers: which source field feeds which register column.

Field names are matched case-insensitively, first alias first. Every field a profile does not
name is kept in the record's JSONB ``attributes``.
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


@dataclass(frozen=True)
class Profile:
    name: str
    fields: tuple[Field, ...]

    def match(self, columns: list[str]) -> dict[str, str]:
        """target -> source column, for the columns present."""
        upper = {c.upper(): c for c in columns}
        found: dict[str, str] = {}
        for spec in self.fields:
            for alias in spec.aliases:
                if alias in upper:
                    found[spec.target] = upper[alias]
                    break
        return found

    def missing(self, matched: dict[str, str]) -> list[Field]:
        return [spec for spec in self.fields if spec.required and spec.target not in matched]


# 宗地 (cadastral parcels) and commercial plots
PARCELS = Profile(
    "parcels",
    (
        Field("code", ("ZDDM", "DKBH", "DKDM", "ZDBH", "CODE", "PLOT_NO"), required=True),
        Field("bdcdyh", ("BDCDYH",), stored=False),
        Field("name", ("ZDMC", "DKMC", "MC", "NAME")),
        Field("owner", ("QLRMC", "QLR", "SYQR", "OWNER")),
        Field("location", ("ZL", "TDZL", "LOCATION")),
        Field("official_area_m2", ("ZDMJ", "DKMJ", "TDMJ", "AREA_M2"), "number"),
        Field("land_use", ("TDYT", "YT", "DLBM", "LAND_USE")),
        Field("land_use_name", ("DLMC", "YTMC", "TDYTMC")),
        Field("rights_type", ("QLLX",), stored=False),
        Field("rights_nature", ("QLXZ",), stored=False),
        # landmap's own fields (the demo zone and exports carry them)
        Field("project", ("XMMC", "PROJECT")),
        Field("batch", ("PCMC", "BATCH")),
        Field("stage", ("ZSJD", "STAGE")),
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
    ),
)

# 永久基本农田 (permanent basic farmland)
FARMLAND = Profile(
    "farmland",
    (
        Field("code", ("BSM", "JBNTBH", "TBBH", "CODE"), required=True),
        Field("land_use_code", ("DLBM",)),
        Field("official_area_m2", ("JBNTMJ", "TBMJ"), "number"),
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
