"""Land-use patches (三调 DLTB) and permanent basic farmland: layers of patches keyed by their
identifier (BSM), replaced field by field on a re-load."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap import landuse
from landmap.loaders.core import (
    BAD_CODE,
    STAGING,
    Context,
    Layer,
    Merged,
    duplicate_codes,
    records_sql,
)
from landmap.loaders.profiles import FARMLAND, LANDUSE, Profile
from landmap.loaders.reader import Chunk, Problem, map_unique
from landmap.messages import msg


@dataclass(frozen=True)
class Patches:
    """What differs between layers of patches: the table, its columns besides the code
    (name, SQL type: text or numeric), whether a patch needs a land-use code, whether its
    area is compared with the certificate's."""

    table: str
    columns: tuple[tuple[str, str], ...]
    land_use_required: bool
    mismatch: bool


def _set_aside(chunk: Chunk, ctx: Context, use: pa.Array, kind: Patches) -> np.ndarray:
    """Which records to keep: a problem for each one set aside (bad code or land-use code)."""
    code = chunk.values["code"]
    reasons = [
        (
            pc.or_(pc.match_substring_regex(code, r"\s"), pc.greater(pc.utf8_length(code), 40)),
            BAD_CODE,
        ),
        (
            pc.and_(pc.not_equal(use, ""), pc.invert(pc.utf8_is_alnum(use))),
            msg("land_use_code_malformed", "the land-use code is not a code"),
        ),
    ]
    if kind.land_use_required:
        reasons.append((pc.equal(use, ""), msg("no_land_use_code", "no land-use code (DLBM)")))
    keep = np.ones(len(chunk), dtype=bool)
    for flags, reason in reasons:
        for i in np.flatnonzero(pc.fill_null(flags, False).to_numpy(zero_copy_only=False)):
            if keep[i]:
                keep[i] = False
                ctx.problems.append(Problem(int(chunk.records[i]), code[i].as_py(), reason))
    return keep


def _rows(kind: Patches, chunk: Chunk, ctx: Context) -> tuple[pa.Table, np.ndarray]:
    n = len(chunk)
    values = chunk.values
    use = pc.fill_null(values.get("land_use_code", pa.nulls(n, pa.string())), "")
    keep = _set_aside(chunk, ctx, use, kind)
    out = {"code": values["code"]}
    for column, sql_type in kind.columns:
        missing = pa.nulls(n, pa.float64() if sql_type == "numeric" else pa.string())
        out[column] = values.get(column, missing)
    if "land_use_name" in out:
        named = map_unique(use, landuse.name_of, pa.string())
        given = out["land_use_name"]
        out["land_use_name"] = pc.if_else(
            pc.fill_null(pc.not_equal(given, ""), False), given, named
        )
    if "official_area_m2" in out:
        area = out["official_area_m2"]
        out["official_area_m2"] = pc.if_else(
            pc.fill_null(pc.greater(area, 0), False), area, pa.scalar(None, pa.float64())
        )
    return pa.table(out), keep


def _checks(session: Session, ctx: Context) -> list[Problem]:
    return duplicate_codes(session)


def _merge(kind: Patches, session: Session, ctx: Context, records: range | None = None) -> Merged:
    """Insert new patches; replace a patch's fields, attributes and shape where they differ
    (of ``records`` alone, if given)."""
    types = dict(kind.columns)
    present = [c for c in types if c in ctx.columns or c == "land_use_name"]
    cols = ", ".join(present)
    values = ", ".join(f"coalesce({c}, '')" if types[c] == "text" else c for c in present)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*present, "geom"])
    old = ", ".join(f"t.{c}" for c in present)
    new = ", ".join(f"EXCLUDED.{c}" for c in present)
    result = session.execute(
        text(f"""
        INSERT INTO {kind.table} AS t (code, {cols}, attributes, geom)
        SELECT code, {values}, {ctx.attributes_sql}, ST_Multi(geom) FROM {STAGING} s
        WHERE {records_sql(records)}
        ON CONFLICT (code) DO UPDATE SET {sets},
            attributes = t.attributes || EXCLUDED.attributes, updated_at = now()
        WHERE ({old}, t.attributes @> EXCLUDED.attributes, lm_same_shape(t.geom, EXCLUDED.geom))
            IS DISTINCT FROM ({new}, true, true)
        RETURNING (xmax = 0)
    """)
    )
    inserted = [row[0] for row in result]
    return Merged(sum(inserted), len(inserted) - sum(inserted))


def _summary(kind: Patches, session: Session) -> tuple[float, list[tuple[str, float, float]]]:
    """The file's patches' mu, and those whose area differs from the certificate's."""
    total = session.execute(
        text(f"""
        SELECT coalesce(sum(t.area_mu), 0) FROM {kind.table} t JOIN {STAGING} s USING (code)
    """)
    ).scalar_one()
    found = []
    if kind.mismatch:
        found = [
            (code, float(official), float(mu))
            for code, official, mu in session.execute(
                text(f"""
                SELECT t.code, lm_mu(t.official_area_m2::float8), t.area_mu
                FROM {kind.table} t JOIN {STAGING} s USING (code)
                WHERE t.area_mismatch ORDER BY t.code""")
            )
        ]
    return float(total), found


def _layer(name: str, profile: Profile, kind: Patches) -> Layer:
    return Layer(
        name,
        profile,
        (("code", "text"), *kind.columns),
        partial(_rows, kind),
        _checks,
        partial(_merge, kind),
        partial(_summary, kind),
        merge_part=partial(_merge, kind),
    )


LANDUSE_LAYER = _layer(
    "landuse",
    LANDUSE,
    Patches(
        "landuse_patch",
        (
            ("patch_no", "text"),
            ("land_use_code", "text"),
            ("land_use_name", "text"),
            ("ownership", "text"),
            ("owner_unit", "text"),
            ("location_unit", "text"),
            ("official_area_m2", "numeric"),
            ("deduction_m2", "numeric"),
            ("net_area_m2", "numeric"),
        ),
        land_use_required=True,
        mismatch=True,
    ),
)

FARMLAND_LAYER = _layer(
    "farmland",
    FARMLAND,
    Patches(
        "farmland",
        (("land_use_code", "text"), ("official_area_m2", "numeric")),
        land_use_required=False,
        mismatch=False,
    ),
)
