"""Benchmark: the zone-adjustment check on a large register, against a plain ST_Intersection.

Generates (in SQL) N parcels of about 40 m x 40 m and N/4 land-use patches of about 80 m x 80 m
in a fresh schema `bench_zone`, a square zone over them and a draft that moves a long stretch of
the boundary (the east edge out by 300 m over 8 km, the south edge in by 200 m), then times

  * landmap's check (services.adjustment.check: subdivided pieces, ST_Covers shortcuts), and
  * the plain way: ST_Intersection of every parcel with the draft and the current boundary,
    and of every patch with the added area,

and prints both, ending with `bench_zone_check: n=N check_s=… plain_s=… ratio=…`.

    .venv/bin/python scripts/bench_zone_check.py --n 100000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import benchdb  # noqa: E402

from landmap.config import Settings  # noqa: E402
from landmap.db import make_engine, migrate  # noqa: E402
from landmap.geo.units import m2_to_mu  # noqa: E402
from landmap.services import adjustment  # noqa: E402

SCHEMA = "bench_zone"
X0, Y0 = 440000.0, 3200000.0  # EPSG:4546, inside Yongding


def prepare(settings: Settings, n: int) -> int:
    owner = make_engine(settings.with_(db_role=""))
    with owner.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    owner.dispose()
    migrate.upgrade(settings)
    side = int(n**0.5) + 1
    pside = int((n / 4) ** 0.5) + 1
    extent = side * 40.0
    engine = make_engine(settings)
    with Session(engine) as s:
        s.execute(text("INSERT INTO zone (code, name) VALUES ('Z', 'bench')"))
        s.execute(
            text(f"""
            INSERT INTO parcel (code, land_use_code, geom)
            SELECT 'B' || i, '0101', ST_Multi(ST_MakeEnvelope(
                {X0} + (i % {side}) * 40 + 1, {Y0} + (i / {side}) * 40 + 1,
                {X0} + (i % {side}) * 40 + 39, {Y0} + (i / {side}) * 40 + 39, 4546))
            FROM generate_series(0, {n - 1}) i""")
        )
        s.execute(
            text(f"""
            INSERT INTO landuse_patch (code, land_use_code, geom)
            SELECT 'L' || i, (ARRAY['0101', '0103', '0301', '0702', '1006'])[1 + i % 5],
                ST_Multi(ST_MakeEnvelope({X0} + (i % {pside}) * 80, {Y0} + (i / {pside}) * 80,
                    {X0} + (i % {pside}) * 80 + 80, {Y0} + (i / {pside}) * 80 + 80, 4546))
            FROM generate_series(0, {pside * pside - 1}) i""")
        )
        margin = 600.0
        s.execute(
            text(f"""
            INSERT INTO zone_boundary (zone_id, status, valid_from, geom)
            SELECT id, 'current', '2020-01-01', ST_Multi(ST_Segmentize(ST_MakeEnvelope(
                {X0 + margin}, {Y0 + margin}, {X0 + extent - margin}, {Y0 + extent - margin},
                4546), 50)) FROM zone""")
        )
        east, south = X0 + extent - margin, Y0 + margin
        s.execute(
            text(f"""
            INSERT INTO zone_boundary (zone_id, status, geom)
            SELECT id, 'draft', ST_Multi(ST_Segmentize(ST_GeomFromText('POLYGON((
                {X0 + margin} {south + 200}, {east} {south + 200}, {east} {Y0 + margin + 1000},
                {east + 300} {Y0 + margin + 1000}, {east + 300} {Y0 + margin + 9000},
                {east} {Y0 + margin + 9000}, {east} {Y0 + extent - margin},
                {X0 + margin} {Y0 + extent - margin}, {X0 + margin} {south + 200}))', 4546), 50))
            FROM zone""")
        )
        s.execute(text("ANALYZE parcel; ANALYZE landuse_patch; ANALYZE zone_boundary"))
        draft_id = s.execute(text("SELECT id FROM zone_boundary WHERE status = 'draft'")).scalar()
        s.commit()
    engine.dispose()
    return draft_id


PLAIN = """
    WITH c AS (SELECT geom FROM zone_boundary WHERE status = 'current'),
         d AS (SELECT geom FROM zone_boundary WHERE status = 'draft')
    SELECT (SELECT count(*) FILTER (WHERE ST_Area(ST_Intersection(p.geom, d.geom))
                                    <> ST_Area(ST_Intersection(p.geom, c.geom)))
            FROM parcel p, c, d
            WHERE ST_Intersects(p.geom, c.geom) OR ST_Intersects(p.geom, d.geom)),
           (SELECT sum(ST_Area(ST_Intersection(l.geom, ST_Difference(d.geom, c.geom))))
            FROM landuse_patch l, c, d WHERE ST_Intersects(l.geom, ST_Difference(d.geom, c.geom)))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    settings = Settings.from_env().with_(db_schema=SCHEMA)
    t0 = time.perf_counter()
    draft_id = prepare(settings, args.n)
    print(f"generated {args.n} parcels and {args.n // 4}+ patches in "
          f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
    engine = make_engine(settings)
    checks, plains = [], []
    with Session(engine) as s:
        for _ in range(args.runs):
            t = time.perf_counter()
            c = adjustment.check(s, "Z", draft_id, 2026, settings.sliver_width_m)
            checks.append(time.perf_counter() - t)
            t = time.perf_counter()
            changed, added_m2 = s.execute(text(PLAIN)).one()
            plains.append(time.perf_counter() - t)
    engine.dispose()
    print(f"check: added {c.added_mu} mu, removed {c.removed_mu} mu, "
          f"{len(c.parcels_entering)} entering, {len(c.parcels_leaving)} leaving, "
          f"{len(c.parcels_cut)} cut; plain: {changed} parcels changed, "
          f"{m2_to_mu(added_m2):.2f} mu of patches added")  # fmt: skip
    check_s, plain_s = statistics.median(checks), statistics.median(plains)
    print(f"check {check_s:.3f} s (runs {', '.join(f'{x:.3f}' for x in checks)}), "
          f"plain {plain_s:.3f} s")  # fmt: skip
    print(f"bench_zone_check: n={args.n} check_s={check_s:.3f} plain_s={plain_s:.3f} "
          f"ratio={check_s / plain_s:.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(benchdb.run(SCHEMA, main))
