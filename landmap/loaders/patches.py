"""Land-use patches (三调 DLTB) and permanent basic farmland: layers of patches keyed by their
identifier (BSM), replaced field by field on a re-load."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap import landuse
from landmap.loaders.core import STAGING, Context, Layer, duplicate_codes
from landmap.loaders.profiles import FARMLAND, LANDUSE, Profile
from landmap.loaders.reader import Chunk, Problem


def _layer(name: str, table: str, profile: Profile, columns: tuple[tuple[str, str], ...],
           land_use_required: bool, mismatch: bool) -> Layer:  # fmt: skip
    names = [c for c, _ in columns]

    def rows(chunk: Chunk, ctx: Context) -> Iterator[tuple | None]:
        for i, rec in enumerate(chunk.records):
            v = {t: chunk.values[t][i] for t in chunk.values}
            code = v["code"]
            use = (v.get("land_use_code") or "").strip()
            problem = None
            if any(ch.isspace() for ch in code) or len(code) > 40:
                problem = "the code has spaces or is longer than 40 characters"
            elif land_use_required and not use:
                problem = "no land-use code (DLBM)"
            elif use and not use.isalnum():
                problem = f"land-use code {use!r} is not a code"
            if problem:
                ctx.problems.append(Problem(int(rec), code, problem))
                yield None
                continue
            if "land_use_name" in names and not v.get("land_use_name"):
                v["land_use_name"] = landuse.name_of(use)
            if (v.get("official_area_m2") or 0) <= 0:
                v["official_area_m2"] = None
            yield (code, *(v.get(c) for c in names), chunk.attributes[i])

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
            SELECT code, {values}, attributes, ST_Multi(geom) FROM {STAGING}
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

    staging = (("code", "text"), *columns, ("attributes", "jsonb"))
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
