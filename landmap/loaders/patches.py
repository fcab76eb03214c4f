"""Land-use patches (三调 DLTB) and permanent basic farmland: layers of patches keyed by their
identifier (BSM), replaced field by field on a re-load."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap import landuse
from landmap.loaders.core import STAGING, Context, Layer, duplicate_codes
from landmap.loaders.profiles import FARMLAND, LANDUSE, Profile
from landmap.loaders.reader import Chunk, Problem, map_unique


def _layer(name: str, table: str, profile: Profile, columns: tuple[tuple[str, str], ...],
           land_use_required: bool, mismatch: bool) -> Layer:  # fmt: skip
    names = [c for c, _ in columns]

    def rows(chunk: Chunk, ctx: Context) -> tuple[pa.Table, np.ndarray]:
        n = len(chunk)
        v = chunk.values
        code = v["code"]
        use = pc.fill_null(v.get("land_use_code", pa.nulls(n, pa.string())), "")
        reasons = [
            (pc.or_(pc.match_substring_regex(code, r"\s"), pc.greater(pc.utf8_length(code), 40)),
             "the code has spaces or is longer than 40 characters"),
            (pc.and_(pc.not_equal(use, ""), pc.invert(pc.utf8_is_alnum(use))),
             "the land-use code is not a code"),
        ]  # fmt: skip
        if land_use_required:
            reasons.append((pc.equal(use, ""), "no land-use code (DLBM)"))
        keep = np.ones(n, dtype=bool)
        for flags, reason in reasons:
            for i in np.flatnonzero(pc.fill_null(flags, False).to_numpy(zero_copy_only=False)):
                if keep[i]:
                    keep[i] = False
                    ctx.problems.append(Problem(int(chunk.records[i]), code[i].as_py(), reason))
        out = {"code": code}
        for c, kind in columns:
            out[c] = v.get(c, pa.nulls(n, pa.float64() if kind == "numeric" else pa.string()))
        if "land_use_name" in out:
            named = map_unique(use, landuse.name_of, pa.string())
            given = out["land_use_name"]
            out["land_use_name"] = pc.if_else(pc.fill_null(pc.not_equal(given, ""), False),
                                              given, named)  # fmt: skip
        if "official_area_m2" in out:
            a = out["official_area_m2"]
            out["official_area_m2"] = pc.if_else(pc.fill_null(pc.greater(a, 0), False), a,
                                                 pa.scalar(None, pa.float64()))  # fmt: skip
        return pa.table(out), keep

    def checks(session: Session, ctx: Context) -> list[Problem]:
        return duplicate_codes(session)

    def merge(session: Session, ctx: Context) -> tuple[int, int]:
        present = [c for c in names if c in ctx.columns or c == "land_use_name"]
        cols = ", ".join(present)
        values = ", ".join(
            f"coalesce({c}, '')" if dict(columns)[c] == "text" else c for c in present
        )
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*present, "geom"])
        old = ", ".join(f"t.{c}" for c in present)
        new = ", ".join(f"EXCLUDED.{c}" for c in present)
        result = session.execute(
            text(f"""
            INSERT INTO {table} AS t (code, {cols}, attributes, geom)
            SELECT code, {values}, {ctx.attributes_sql}, ST_Multi(geom) FROM {STAGING} s
            ON CONFLICT (code) DO UPDATE SET {sets},
                attributes = t.attributes || EXCLUDED.attributes, updated_at = now()
            WHERE ({old}, t.attributes @> EXCLUDED.attributes, lm_same_shape(t.geom, EXCLUDED.geom))
                IS DISTINCT FROM ({new}, true, true)
            RETURNING (xmax = 0)
        """)
        )
        flags = [r[0] for r in result]
        return sum(flags), len(flags) - sum(flags)

    def summary(session: Session) -> tuple[float, list[tuple[str, float, float]]]:
        total = session.execute(
            text(f"""
            SELECT coalesce(sum(t.area_mu), 0) FROM {table} t JOIN {STAGING} s USING (code)
        """)
        ).scalar_one()
        found = []
        if mismatch:
            found = [
                (code, float(official), float(mu))
                for code, official, mu in session.execute(
                    text(f"""
                    SELECT t.code, lm_mu(t.official_area_m2::float8), t.area_mu
                    FROM {table} t JOIN {STAGING} s USING (code)
                    WHERE t.area_mismatch ORDER BY t.code""")
                )
            ]
        return float(total), found

    staging = (("code", "text"), *columns)
    return Layer(name, profile, staging, rows, checks, merge, summary)


LANDUSE_LAYER = _layer(
    "landuse", "landuse_patch", LANDUSE,
    (("patch_no", "text"), ("land_use_code", "text"), ("land_use_name", "text"),
     ("ownership", "text"), ("owner_unit", "text"), ("location_unit", "text"),
     ("official_area_m2", "numeric"), ("deduction_m2", "numeric"), ("net_area_m2", "numeric")),
    land_use_required=True, mismatch=True,
)  # fmt: skip

FARMLAND_LAYER = _layer(
    "farmland", "farmland", FARMLAND,
    (("land_use_code", "text"), ("official_area_m2", "numeric")),
    land_use_required=False, mismatch=False,
)  # fmt: skip
