"""Zone boundaries: each zone's features are merged into one MultiPolygon and become a new
version, current from a date (the previous one kept as superseded) or a planner's draft."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from landmap.db.errors import pg_message
from landmap.domain import today
from landmap.loaders.core import STAGING, Context, Layer, LoadOptions, LoadRefused, Merged
from landmap.loaders.profiles import ZONES
from landmap.loaders.reader import Chunk, Problem
from landmap.messages import msg

STAGING_COLUMNS = (("zone", "text"), ("name", "text"))


def rows(chunk: Chunk, ctx: Context) -> tuple[pa.Table, np.ndarray]:
    n = len(chunk)
    given = ctx.options.zone
    code = pa.array([given] * n, pa.string()) if given else chunk.values.get("code")
    if code is None:
        code = pa.nulls(n, pa.string())
    code = pc.utf8_upper(pc.fill_null(code, ""))
    keep = pc.not_equal(code, "").to_numpy(zero_copy_only=False)
    reason = msg("no_zone_code", "no zone code: the record has no QYDM and no zone was chosen")
    for i in np.flatnonzero(~keep):
        ctx.problems.append(Problem(int(chunk.records[i]), "", reason))
    name = chunk.values.get("name", pa.nulls(n, pa.string()))
    return pa.table({"zone": code, "name": name}), keep


def checks(session: Session, ctx: Context) -> list[Problem]:
    return [
        Problem(rec, zone, _unknown_zone(zone, known))
        for rec, zone, known in session.execute(
            text(f"""
            SELECT s.rec, s.zone, (SELECT array_agg(code ORDER BY code) FROM zone)
            FROM {STAGING} s WHERE NOT EXISTS (SELECT 1 FROM zone z WHERE z.code = s.zone)""")
        )
    ]


def _unknown_zone(zone: str, known: list[str] | None):
    given = repr(zone[:40])
    return msg(
        "unknown_zone_in_file",
        "unknown zone %(zone)s; the zones are %(known)s",
        zone=given,
        known=known or ["-"],
    )


def merge(session: Session, ctx: Context) -> Merged:
    """Each zone's features as one MultiPolygon: a draft on the zone's current boundary, or
    its new current boundary from ``valid_from`` (today, China time, by default; SQL
    lm_set_current_boundary, which keeps an unchanged boundary as it is)."""
    options = ctx.options
    merged = session.execute(
        text(f"""
        SELECT z.id, z.code, ST_Multi(ST_CollectionExtract(ST_Union(s.geom), 3)) AS geom
        FROM {STAGING} s JOIN zone z ON z.code = s.zone GROUP BY z.id, z.code ORDER BY z.code
    """)
    ).all()
    created = []
    for zone_id, code, geom in merged:
        if options.draft:
            created.append(_insert_draft(session, zone_id, geom, options))
            continue
        before = session.execute(
            text("SELECT id FROM zone_boundary WHERE zone_id = :z AND status = 'current'"),
            {"z": zone_id},
        ).scalar()
        try:
            with session.begin_nested():
                new_id = session.execute(
                    text("SELECT lm_set_current_boundary(:z, :g, :d, :by, :note)"),
                    {
                        "z": zone_id,
                        "g": geom,
                        "d": options.valid_from or today(),
                        "by": options.run_by,
                        "note": options.note,
                    },
                ).scalar_one()
        except DBAPIError as exc:
            problem = pg_message(exc)
            raise LoadRefused(
                msg("zone_refused", "zone %(zone)s: %(problem)s", zone=code, problem=problem)
            ) from exc
        if new_id != before:
            created.append(new_id)
    return Merged(len(created), 0, tuple(created))


def _insert_draft(session: Session, zone_id: int, geom, options: LoadOptions) -> int:
    return session.execute(
        text("""INSERT INTO zone_boundary (zone_id, status, note, created_by, geom)
                VALUES (:z, 'draft', :note, :by, :g) RETURNING id"""),
        {"z": zone_id, "note": options.note, "by": options.run_by, "g": geom},
    ).scalar_one()


def summary(session: Session) -> tuple[float, list]:
    total = session.execute(
        text(f"SELECT coalesce(sum(lm_area_mu(geom)), 0) FROM {STAGING}")
    ).scalar_one()
    return float(total), []


LAYER = Layer("zones", ZONES, STAGING_COLUMNS, rows, checks, merge, summary)
