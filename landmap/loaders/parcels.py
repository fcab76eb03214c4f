"""Cadastral parcels (宗地) and commercial plots into the register, matched by code.

A re-load updates the fields the file carries and leaves the rest alone. The acquisition
stage is taken from a file only for a parcel that is new to the register: afterwards it moves
through the acquisition workflow, not through imports.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap import landuse
from landmap.domain import (
    STATE_LAND_CODE,
    ProjectKind,
    ProjectStage,
    Refused,
    Stage,
    TransferStatus,
    today,
)
from landmap.loaders.core import (
    BAD_CODE,
    STAGING,
    Context,
    Layer,
    Merged,
    duplicate_codes,
    records_sql,
    upsert,
)
from landmap.loaders.profiles import PARCELS
from landmap.loaders.reader import Chunk, Problem, map_unique
from landmap.messages import Message, msg

COMMERCIAL = (
    ("planned_use", "text"),
    ("plot_ratio_max", "numeric"),
    ("building_density_max", "numeric"),
    ("green_ratio_min", "numeric"),
    ("height_limit_m", "numeric"),
    ("transfer_status", "text"),
    ("transfer_date", "date"),
    ("reserve_price_wan", "numeric"),
)
# register columns a file may set (the staging column has the same name)
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
    *COMMERCIAL,
)


def _land_use(value: str | None) -> tuple[str, str]:
    """(code, name) from a TDYT/YT/DLBM value that may be a code or a class name."""
    value = (value or "").strip()
    if not value:
        return "", ""
    if landuse.looks_like_code(value):
        return value, landuse.name_of(value)
    return landuse.code_of(value), value


def _parsed(enum, values: pa.Array, problems: dict[int, Message]) -> pa.Array:
    """The members' ids of ``values`` (labels or ids of ``enum``), null where blank; a
    problem for each record whose value is none of them."""
    refusals: dict[str, Message] = {}

    def parse(value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            return enum.parse(value).value
        except Refused as exc:
            refusals[value] = exc.message
            return "!"

    parsed = map_unique(values, parse, pa.string())
    bad = pc.equal(pc.fill_null(parsed, ""), "!").to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(bad):
        problems.setdefault(int(i), refusals[values[int(i)].as_py()])
    return parsed


def rows(chunk: Chunk, ctx: Context) -> tuple[pa.Table, np.ndarray]:
    n = len(chunk)
    v = chunk.values
    nulls = pa.nulls(n, pa.string())
    keep = np.ones(n, dtype=bool)
    problems: dict[int, Message] = {}
    code = v["code"]
    bad_code = pc.or_(pc.match_substring_regex(code, r"\s"), pc.greater(pc.utf8_length(code), 40))
    for i in np.flatnonzero(bad_code.to_numpy(zero_copy_only=False)):
        problems[int(i)] = BAD_CODE
    # stage: the file's, else where a new parcel of this code starts
    stage = pc.if_else(
        pc.match_substring_regex(code, STATE_LAND_CODE),
        Stage.STATE_OWNED.value,
        Stage.NOT_STARTED.value,
    )
    if "stage" in v:
        stage = pc.coalesce(_parsed(Stage, v["stage"], problems), stage)
    commercial = {}
    for name, kind in COMMERCIAL:
        commercial[name] = v.get(name, pa.nulls(n, _ARROW[kind]))
    if "transfer_status" in v:
        commercial["transfer_status"] = _parsed(TransferStatus, v["transfer_status"], problems)
    use = v.get("land_use", nulls)
    use_code = map_unique(use, lambda x: _land_use(x)[0], pa.string())
    use_name = map_unique(use, lambda x: _land_use(x)[1], pa.string())
    if "land_use_name" in v:
        given = v["land_use_name"]
        use_name = pc.if_else(pc.fill_null(pc.not_equal(given, ""), False), given, use_name)
        from_name = map_unique(given, lambda x: landuse.code_of(x or ""), pa.string())
        use_code = pc.if_else(pc.equal(use_code, ""), from_name, use_code)
    area = v.get("official_area_m2", pa.nulls(n, pa.float64()))
    area = pc.if_else(pc.fill_null(pc.greater(area, 0), False), area, pa.scalar(None, pa.float64()))
    for i, reason in problems.items():
        keep[i] = False
        ctx.problems.append(Problem(int(chunk.records[i]), code[i].as_py(), reason))
    table = pa.table(
        {
            "code": code,
            "name": v.get("name", nulls),
            "owner": v.get("owner", nulls),
            "location": v.get("location", nulls),
            "land_use_code": use_code,
            "land_use_name": use_name,
            "official_area_m2": area,
            "project": _blank_to_null(v.get("project", nulls)),
            "batch": _blank_to_null(v.get("batch", nulls)),
            "stage": stage,
            **commercial,
        }
    )
    return table, keep


_ARROW = {"text": pa.string(), "numeric": pa.float64(), "date": pa.date32()}


def _blank_to_null(arr: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


_BATCH_ALONE = msg("batch_without_project", "a batch is given without a project")
# the longest project or batch name a file may create (a longer one stays unknown: refused)
MAX_CREATED_NAME = 200
# a project a file creates (its planners complete it on the project form)
CREATED_KIND, CREATED_STAGE = ProjectKind.INDUSTRIAL, ProjectStage.PRE_STAGE


def create_missing_projects(session: Session, ctx: Context) -> None:
    """The projects and batches the file names that the register lacks, made in the load's
    savepoint (a dry run rolls them back, and lists them): a project is industrial, at the
    pre-stage, in the zone most of its parcels in the file lie in; a batch's target is the
    mu of its parcels in the file, due at the end of this year (China time). Written in SQL
    as the rest of the load is; services.projects is not a loader's to call."""
    ctx.created_projects += session.execute(
        text(f"""
        INSERT INTO project (name, kind, stage, zone_id)
        SELECT s.project, :kind, :stage, mode() WITHIN GROUP (ORDER BY lm_zone_of(s.geom))
        FROM {STAGING} s
        WHERE s.project IS NOT NULL AND length(s.project) <= :longest
          AND NOT EXISTS (SELECT 1 FROM project p WHERE p.name = s.project)
        GROUP BY s.project ORDER BY s.project
        RETURNING name"""),
        {"kind": CREATED_KIND.value, "stage": CREATED_STAGE.value, "longest": MAX_CREATED_NAME},
    ).scalars()
    ctx.created_batches += [
        (project, batch)
        for project, batch in session.execute(
            text(f"""
        WITH made AS (
            INSERT INTO acquisition_batch (project_id, name, target_mu, due)
            SELECT p.id, s.batch, greatest(round(sum(lm_area_mu(s.geom))::numeric, 2), 0.01),
                make_date(:year, 12, 31)
            FROM {STAGING} s JOIN project p ON p.name = s.project
            WHERE s.batch IS NOT NULL AND length(s.batch) <= :longest AND NOT EXISTS (
                SELECT 1 FROM acquisition_batch b WHERE b.project_id = p.id AND b.name = s.batch)
            GROUP BY p.id, s.batch
            RETURNING project_id, name)
        SELECT p.name, made.name FROM made JOIN project p ON p.id = made.project_id
        ORDER BY p.name, made.name"""),
            {"year": today().year, "longest": MAX_CREATED_NAME},
        )
    ]


def checks(session: Session, ctx: Context) -> list[Problem]:
    if ctx.options.create_projects:
        create_missing_projects(session, ctx)
    found = duplicate_codes(session)
    for rec, code, project in session.execute(
        text(f"""
        SELECT s.rec, s.code, s.project FROM {STAGING} s
        WHERE s.project IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM project p WHERE p.name = s.project)
        """)
    ):
        name = repr(project[:80])
        found.append(
            Problem(rec, code, msg("record_unknown_project", "unknown project %(name)s", name=name))
        )
    for rec, code, project, batch in session.execute(
        text(f"""
        SELECT s.rec, s.code, s.project, s.batch FROM {STAGING} s
        JOIN project p ON p.name = s.project
        WHERE s.batch IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM acquisition_batch b WHERE b.project_id = p.id AND b.name = s.batch)
        """)
    ):
        names = {"project": repr(project[:80]), "batch": repr(batch[:80])}
        reason = msg("project_has_no_batch", "project %(project)s has no batch %(batch)s", **names)
        found.append(Problem(rec, code, reason))
    for rec, code in session.execute(
        text(f"""
        SELECT rec, code FROM {STAGING} WHERE batch IS NOT NULL AND project IS NULL""")
    ):
        found.append(Problem(rec, code, _BATCH_ALONE))
    return found


def merge(session: Session, ctx: Context, records: range | None = None) -> Merged:
    """Insert the new parcels, update those the file changes (of ``records`` alone, if given:
    a parcel's outcome depends on its own record only)."""
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
    counts = upsert(
        session,
        f"""
        INSERT INTO parcel AS parcel (code, name, owner, location, land_use_code, land_use_name,
            official_area_m2, zone_id, stage, project_id, batch_id, attributes, geom)
        SELECT s.code, coalesce(s.name, ''), coalesce(s.owner, ''), coalesce(s.location, ''),
            coalesce(s.land_use_code, ''), coalesce(s.land_use_name, ''), s.official_area_m2,
            z.zone_id, s.stage, s.project_id, s.batch_id, {ctx.attributes_sql}, s.mgeom
        FROM (
            SELECT s.*, ST_Multi(s.geom) AS mgeom, p.id AS project_id, b.id AS batch_id
            FROM {STAGING} s
            LEFT JOIN project p ON p.name = s.project
            LEFT JOIN acquisition_batch b ON b.project_id = p.id AND b.name = s.batch
            WHERE {records_sql(records)}
        ) s
        LEFT JOIN LATERAL lm_zone_candidates(s.mgeom) z ON true
        ON CONFLICT (code) DO UPDATE SET
            {assignments},
            attributes = parcel.attributes || EXCLUDED.attributes,
            updated_at = now()
        WHERE ({compare}, parcel.attributes @> EXCLUDED.attributes,
               lm_same_shape(parcel.geom, EXCLUDED.geom))
            IS DISTINCT FROM ({compare_new}, true, true)
    """,
        ctx.touched if ctx.options.preview else None,
    )
    _merge_commercial(session, records)
    return counts


def _merge_commercial(session: Session, records: range | None) -> None:
    names = [n for n, _ in COMMERCIAL]
    new = ", ".join(f"s.{n}" for n in names).replace("s.planned_use", "coalesce(s.planned_use, '')")
    new = new.replace("s.transfer_status", "coalesce(s.transfer_status, 'planned')")
    session.execute(
        text(f"""
        INSERT INTO commercial_plot AS c (parcel_id, {", ".join(names)})
        SELECT p.id, {new}
        FROM {STAGING} s JOIN parcel p ON p.code = s.code
        WHERE num_nonnulls({", ".join(f"s.{n}" for n in names)}) > 0 AND {records_sql(records)}
        ON CONFLICT (parcel_id) DO UPDATE SET {", ".join(f"{n} = EXCLUDED.{n}" for n in names)}
        WHERE ({", ".join(f"c.{n}" for n in names)})
            IS DISTINCT FROM ({", ".join(f"EXCLUDED.{n}" for n in names)})
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


# the parcels a preview shows at most (the count says how many changed in all)
MAX_PREVIEW = 500


def preview(session: Session, ctx: Context) -> dict:
    """The new and changed parcels as GeoJSON (EPSG:4326, 7 decimals), MAX_PREVIEW of them:
    code, owner, mu and whether the parcel is new."""
    ids = sorted(ctx.touched)[:MAX_PREVIEW]
    features = session.execute(
        text("""
        SELECT json_build_object('type', 'Feature',
            'geometry', ST_AsGeoJSON(ST_Transform(geom, 4326), 7)::json,
            'properties', json_build_object('code', code, 'owner', owner,
                'mu', round(area_mu::numeric, 2), 'new', :new_ids @> ARRAY[id]))
        FROM parcel WHERE id = ANY(:ids) ORDER BY code"""),
        {"ids": ids, "new_ids": [i for i in ids if ctx.touched[i]]},
    ).scalars()
    return {
        "type": "FeatureCollection",
        "features": list(features),
        "count": len(ctx.touched),
        "truncated": len(ctx.touched) > MAX_PREVIEW,
    }


# projects a file creates are made from all of its parcels (their zone, the batches' mu)
LAYER = Layer(
    "parcels",
    PARCELS,
    STAGING_COLUMNS,
    rows,
    checks,
    merge,
    summary,
    preview,
    merge_part=merge,
    apart=lambda options: not options.create_projects,
)
