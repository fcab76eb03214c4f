"""Benchmark: the search (services.parcels.search) on a large register, against the same
search without its indexes and against a plain lookup of one code.

Generates (in SQL, as scripts/bench_zone_check.py does) N parcels of about 40 m x 40 m in a
fresh schema `bench_search`, with ZDDM-like codes (`430802` + block + `JA` + number), owners
(a village committee, or one of 10,000 four-character family names for a quarter of them),
locations (district, street, village, group) and names, and a few hundred projects, then
times each query (median of --runs):

  * landmap's search (pg_trgm GIN indexes, migration 0013), and
  * the same SQL with index scans and bitmap scans switched off (a scan of every row),
  * a plain code lookup (`WHERE code = …`, the unique B-tree): the floor,

and prints them, ending with `bench_search: n=N worst_ms=… ratio_vs_scan=…`. The schema is
dropped at the end (scripts/benchdb.py), unless --keep-schema: then --again reuses it.

    .venv/bin/python scripts/bench_search.py --n 100000
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
from landmap.services import parcels  # noqa: E402

SCHEMA = "bench_search"
X0, Y0 = 440000.0, 3200000.0  # EPSG:4546, inside Yongding
VILLAGES = (
    "温塘 阳湖坪 社溪 罗沙 黄家铺 枫香岗 沙堤 茅岩 尹家溪 新桥 大庸 官黎坪 崇文 永定 南庄坪 西溪坪"
)
FAMILY = "张王李赵刘陈杨黄周吴"  # a digit each: 0000..9999 make 10,000 four-character names
BLOCK = 5000  # parcels per cadastral block (the 6 digits before JA)


def prepare(settings: Settings, n: int) -> None:
    owner = make_engine(settings.with_(db_role=""))
    with owner.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    owner.dispose()
    migrate.upgrade(settings)
    side = int(n**0.5) + 1
    villages = "ARRAY['" + "','".join(VILLAGES.split()) + "']"
    family = f"regexp_split_to_array('{FAMILY}', '')"
    engine = make_engine(settings)
    with Session(engine) as s:
        s.execute(text("INSERT INTO zone (code, name) VALUES ('Z', 'bench')"))
        s.execute(
            text("""INSERT INTO project (name, kind, stage, partner)
                    SELECT '项目' || i || '号', 'industrial', 'to_start',
                           CASE WHEN i % 3 = 0 THEN '湘' || i || '实业有限公司' ELSE '' END
                    FROM generate_series(1, 300) i""")
        )
        s.execute(
            text(f"""
            INSERT INTO parcel (code, name, owner, location, land_use_code, geom)
            SELECT '430802' || lpad((i / {BLOCK})::text, 6, '0') || 'JA'
                       || lpad((i % {BLOCK})::text, 5, '0'),
                   v || '村' || (i % 97) || '号地块',
                   CASE WHEN i % 4 = 0 THEN
                       (SELECT string_agg(({family})[d::int + 1], '' ORDER BY k)
                        FROM unnest(regexp_split_to_array(lpad((i / 4 % 10000)::text, 4, '0'),
                                                          '')) WITH ORDINALITY AS t(d, k))
                   ELSE v || '村村民委员会' END,
                   '永定区' || v || '街道' || v || '村' || (i % 12 + 1) || '组',
                   '0101',
                   ST_Multi(ST_MakeEnvelope(
                       {X0} + (i % {side}) * 40 + 1, {Y0} + (i / {side}) * 40 + 1,
                       {X0} + (i % {side}) * 40 + 39, {Y0} + (i / {side}) * 40 + 39, 4546))
            FROM generate_series(0, {n - 1}) i,
                 LATERAL (SELECT ({villages})[1 + (i / 7) % {len(VILLAGES.split())}] AS v) x""")
        )
        s.execute(text("ANALYZE parcel; ANALYZE project"))
        s.commit()
    engine.dispose()


def held(settings: Settings) -> int | None:
    """How many parcels the benchmark's schema holds (None: there is none)."""
    engine = make_engine(settings.with_(db_role=""))
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT to_regclass(:t)"), {"t": f"{SCHEMA}.parcel"}).scalar():
                return conn.execute(text(f"SELECT count(*) FROM {SCHEMA}.parcel")).scalar()
    finally:
        engine.dispose()
    return None


def queries(n: int) -> dict[str, str]:
    """What an officer types: by the end of a code, a name, a village, a group; short ones."""
    last = n - 1
    tail = f"JA{last % BLOCK:05d}"
    return {
        "code end (7 chars)": tail,
        "whole code": f"430802{last // BLOCK:06d}{tail}",
        "owner, a family name (4)": "王李赵刘",
        "owner, part of it (3)": "李赵刘",
        "owner, village committee": "社溪村村民",
        "location, village group": "罗沙村7组",
        "project partner": "99实业",
        "nothing matches": "不存在的名字",
        "short: 2 characters": "茅岩",
        "short: 1 character": "溪",
    }


def timed(session: Session, q: str, runs: int, scan: bool) -> tuple[float, int]:
    """Median milliseconds of ``runs`` searches for q (after one to warm up), and the hits."""
    times, found = [], 0
    for i in range(runs + 1):
        if scan:  # the reference: no index at all, every row read
            session.execute(text("SET LOCAL enable_indexscan = off"))
            session.execute(text("SET LOCAL enable_bitmapscan = off"))
        t = time.perf_counter()
        found = len(parcels.search(session, q, 10))
        if i:
            times.append((time.perf_counter() - t) * 1000)
        session.rollback()
    return statistics.median(times), found


def lookup_ms(session: Session, code: str, runs: int) -> float:
    times = []
    for _ in range(runs + 1):
        t = time.perf_counter()
        session.execute(text("SELECT id, code, owner FROM parcel WHERE code = :c"), {"c": code})
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times[1:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep-schema", action="store_true", help="keep the schema for --again")
    ap.add_argument("--again", action="store_true", help="reuse the schema of a kept run")
    args = ap.parse_args()
    settings = Settings.from_env().with_(db_schema=SCHEMA)
    with benchdb.bench_schema(settings, keep=args.keep_schema, reuse=args.again):
        return run(args, settings)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not (args.again and held(settings) == args.n):
        t0 = time.perf_counter()
        prepare(settings, args.n)
        print(f"generated {args.n} parcels in {time.perf_counter() - t0:.1f} s")
    engine = make_engine(settings)
    worst, worst_scan, rows = 0.0, 0.0, []
    with Session(engine) as s:
        floor = lookup_ms(s, queries(args.n)["whole code"], args.runs)
        for what, q in queries(args.n).items():
            ms, found = timed(s, q, args.runs, scan=False)
            scan_ms, _ = timed(s, q, args.runs, scan=True)
            rows.append((what, q, found, ms, scan_ms))
            if ms > worst:
                worst, worst_scan = ms, scan_ms
    engine.dispose()
    print(f"{'query':28} {'q':>22} {'hits':>4} {'search ms':>9} {'no index':>9} {'ratio':>6}")
    for what, q, found, ms, scan_ms in rows:
        print(f"{what:28} {q:>22} {found:>4} {ms:9.1f} {scan_ms:9.1f} {ms / scan_ms:6.3f}")
    print(f"plain code lookup (unique B-tree): {floor:.2f} ms")
    ratios = f"ratio_vs_scan={worst / worst_scan:.3f} ratio_vs_lookup={worst / floor:.1f}"
    print(f"bench_search: n={args.n} worst_ms={worst:.1f} no_index_ms={worst_scan:.1f} {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
