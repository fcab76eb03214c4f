"""Cadastral parcels (宗地) and commercial plots into the register, matched by code.

A re-load updates the fields the file carries and leaves the rest alone. The acquisition
stage is taken from a file only for a parcel that is new to the register: afterwards it moves
through the acquisition workflow, not through imports.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap import landuse
from landmap.domain import Stage, TransferStatus, initial_stage
from landmap.loaders.core import STAGING, Context, Layer, duplicate_codes
from landmap.loaders.profiles import PARCELS
from landmap.loaders.reader import Chunk, Problem

COMMERCIAL = (
    "planned_use",
    "plot_ratio_max",
    "building_density_max",
    "green_ratio_min",
    "height_limit_m",
    "transfer_status",
    "transfer_date",
    "reserve_price_wan",
)
# register columns a file may set, and the staging column each comes from
UPDATABLE = (
    "name",
    "owner",
    "location",
    "land_use_code",
    "land_use_name",
    "official_area_m2",
    "project",
    "batch",
)

STAGING_COLUMNS = (
    ("code", "text"),
    ("name", "text"),
    ("owner", "text"),
    ("location", "text"),
    ("land_use_code", "text"),
    ("land_use_name", "text"),
    ("official_area_m2", "numeric"),
    ("project", "text"),
    ("batch", "text"),
    ("stage", "text"),
    ("commercial", "jsonb"),
    ("attributes", "jsonb"),
)


def _land_use(value: str | None, name: str | None) -> tuple[str, str]:
    value, name = (value or "").strip(), (name or "").strip()
    if value and landuse.looks_like_code(value):
        return value, name or landuse.name_of(value)
    if value:  # a class name where a code should be
        return landuse.code_of(value), value
    return landuse.code_of(name) if name else "", name


def _commercial(vals: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    facts = {k: vals.get(k) for k in COMMERCIAL if vals.get(k) not in (None, "")}
    if not facts:
        return None, None
    if "transfer_status" in facts:
        try:
            facts["transfer_status"] = TransferStatus.parse(str(facts["transfer_status"])).value
        except ValueError as exc:
            return None, str(exc)
    if "transfer_date" in facts:
        facts["transfer_date"] = facts["transfer_date"].isoformat()
    return facts, None


def rows(chunk: Chunk, ctx: Context) -> Iterator[tuple | None]:
    names = list(chunk.values)
    for i, rec in enumerate(chunk.records):
        v = {t: chunk.values[t][i] for t in names}
        code = v["code"]
        problem = None
        if any(ch.isspace() for ch in code) or len(code) > 40:
            problem = "the code has spaces or is longer than 40 characters"
        stage = None
        if v.get("stage"):
            try:
                stage = Stage.parse(v["stage"]).value
            except ValueError as exc:
                problem = str(exc)
        commercial, why = _commercial(v)
        problem = problem or why
        area = v.get("official_area_m2")
        if problem:
            ctx.problems.append(Problem(int(rec), code, problem))
            yield None
            continue
        use_code, use_name = _land_use(v.get("land_use"), v.get("land_use_name"))
        attributes = dict(chunk.attributes[i])
        for target in ("bdcdyh", "rights_type", "rights_nature"):
            if target in ctx.columns and v.get(target):
                attributes[ctx.columns[target]] = v[target]
        yield (
            code,
            v.get("name"),
            v.get("owner"),
            v.get("location"),
            use_code,
            use_name,
            area if area and area > 0 else None,
            v.get("project") or None,
            v.get("batch") or None,
            stage or initial_stage(code).value,
            commercial,
            attributes,
        )


def checks(session: Session, ctx: Context) -> list[Problem]:
    found = duplicate_codes(session)
    for rec, code, project in session.execute(
        text(f"""
        SELECT s.rec, s.code, s.project FROM {STAGING} s
        WHERE s.project IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM project p WHERE p.name = s.project)
        """)
    ):
        found.append(Problem(rec, code, f"unknown project {project!r}"))
    for rec, code, project, batch in session.execute(
        text(f"""
        SELECT s.rec, s.code, s.project, s.batch FROM {STAGING} s
        JOIN project p ON p.name = s.project
        WHERE s.batch IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM acquisition_batch b WHERE b.project_id = p.id AND b.name = s.batch)
        """)
    ):
        found.append(Problem(rec, code, f"project {project!r} has no batch {batch!r}"))
    for rec, code in session.execute(
        text(f"""
        SELECT rec, code FROM {STAGING} WHERE batch IS NOT NULL AND project IS NULL""")
    ):
        found.append(Problem(rec, code, "a batch is given without a project"))
    return found


def merge(session: Session, ctx: Context) -> tuple[int, int]:
    present = set(ctx.columns)
    if "land_use" in present or "land_use_name" in present:
        present |= {"land_use_code", "land_use_name"}
    sets = [c for c in UPDATABLE if c in present and c not in ("project", "batch")]
    if "project" in present:
        sets += ["project_id"]
    if "batch" in present:
        sets += ["batch_id"]
    assignments = ",\n            ".join(f"{c} = EXCLUDED.{c}" for c in [*sets, "zone_id", "geom"])
    compare = ", ".join(f"parcel.{c}" for c in [*sets, "zone_id"])
    compare_new = ", ".join(f"EXCLUDED.{c}" for c in [*sets, "zone_id"])
    result = session.execute(
        text(f"""
        WITH src AS (
            SELECT s.*, ST_Multi(s.geom) AS mgeom, p.id AS project_id, b.id AS batch_id
            FROM {STAGING} s
            LEFT JOIN project p ON p.name = s.project
            LEFT JOIN acquisition_batch b ON b.project_id = p.id AND b.name = s.batch
        )
        INSERT INTO parcel AS parcel (code, name, owner, location, land_use_code, land_use_name,
            official_area_m2, zone_id, stage, project_id, batch_id, attributes, geom)
        SELECT code, coalesce(name, ''), coalesce(owner, ''), coalesce(location, ''),
            coalesce(land_use_code, ''), coalesce(land_use_name, ''), official_area_m2,
            lm_zone_of(mgeom), stage, project_id, batch_id, attributes, mgeom
        FROM src
        ON CONFLICT (code) DO UPDATE SET
            {assignments},
            attributes = parcel.attributes || EXCLUDED.attributes,
            updated_at = now()
        WHERE ({compare}, parcel.attributes @> EXCLUDED.attributes,
               lm_same_shape(parcel.geom, EXCLUDED.geom))
            IS DISTINCT FROM ({compare_new}, true, true)
        RETURNING (xmax = 0) AS inserted
    """)
    )
    flags = [r[0] for r in result]
    _merge_commercial(session)
    return sum(flags), len(flags) - sum(flags)


def _merge_commercial(session: Session) -> None:
    session.execute(
        text(f"""
        INSERT INTO commercial_plot AS c (parcel_id, planned_use, plot_ratio_max,
            building_density_max, green_ratio_min, height_limit_m, transfer_status,
            transfer_date, reserve_price_wan)
        SELECT p.id, coalesce(f.planned_use, ''), f.plot_ratio_max, f.building_density_max,
            f.green_ratio_min, f.height_limit_m, coalesce(f.transfer_status, 'planned'),
            f.transfer_date, f.reserve_price_wan
        FROM {STAGING} s
        JOIN parcel p ON p.code = s.code
        CROSS JOIN LATERAL jsonb_to_record(s.commercial) AS f(planned_use text,
            plot_ratio_max numeric, building_density_max numeric, green_ratio_min numeric,
            height_limit_m numeric, transfer_status text, transfer_date date,
            reserve_price_wan numeric)
        WHERE s.commercial IS NOT NULL
        ON CONFLICT (parcel_id) DO UPDATE SET
            planned_use = EXCLUDED.planned_use, plot_ratio_max = EXCLUDED.plot_ratio_max,
            building_density_max = EXCLUDED.building_density_max,
            green_ratio_min = EXCLUDED.green_ratio_min, height_limit_m = EXCLUDED.height_limit_m,
            transfer_status = EXCLUDED.transfer_status, transfer_date = EXCLUDED.transfer_date,
            reserve_price_wan = EXCLUDED.reserve_price_wan
        WHERE (c.planned_use, c.plot_ratio_max, c.building_density_max, c.green_ratio_min,
               c.height_limit_m, c.transfer_status, c.transfer_date, c.reserve_price_wan)
            IS DISTINCT FROM (EXCLUDED.planned_use, EXCLUDED.plot_ratio_max,
               EXCLUDED.building_density_max, EXCLUDED.green_ratio_min, EXCLUDED.height_limit_m,
               EXCLUDED.transfer_status, EXCLUDED.transfer_date, EXCLUDED.reserve_price_wan)
    """)
    )


def summary(session: Session) -> tuple[float, list[tuple[str, float, float]]]:
    total = session.execute(
        text(f"""
        SELECT coalesce(sum(p.area_mu), 0) FROM parcel p JOIN {STAGING} s ON s.code = p.code
    """)
    ).scalar_one()
    mismatches = [
        (code, float(official), float(mu))
        for code, official, mu in session.execute(
            text(f"""
            SELECT p.code, lm_mu(p.official_area_m2::float8), p.area_mu
            FROM parcel p JOIN {STAGING} s ON s.code = p.code
            WHERE p.area_mismatch ORDER BY p.code""")
        )
    ]
    return float(total), mismatches


LAYER = Layer("parcels", PARCELS, STAGING_COLUMNS, rows, checks, merge, summary)
