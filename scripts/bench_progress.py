"""Benchmark: a project's acquisition progress (services.acquisition.progress, read from the
kept table progress_delta of migration 0021) against the previous way, which rescanned every
parcel's history on each call (acquisition.progress_rescanned: lm_stage_as_of per parcel and
per month end, first changes and disputes as of the day).

Generates (in SQL) in a fresh schema `bench_progress` N parcels of about 40 m x 40 m in one
project of --batches batches (and 1% in no batch), with about ten years of history
(2016-2026): each parcel moves one stage at a time from its own start day, a few to eight
moves, some corrected back and on again, 5% disputed (half of them resolved), 1% retired and
replaced by parcels created that day. The history is inserted with the register's triggers off
and progress_delta filled as the migration fills it (lm_progress_refill). Then it times, as
the median of --runs after one to warm up (the rescanning way: of --rescan-runs, as it takes
minutes at 100,000 parcels: it reads every parcel's history at each month end), for the
project and for a batch, as of the last day with data and as of a past day; checks the two
give equal results; times the project with all its batches (what the progress API and the
project page compute); times a move of --move parcels and a dispute with progress_delta kept
and with its triggers off (rolled back); and prints

    bench_progress: n=N history=H ms=… ratio_vs_rescan=…

(ms: the slowest case read from progress_delta; ratio_vs_rescan: the worst case's
kept / rescanning time). The schema is dropped at the end (scripts/benchdb.py).

    .venv/bin/python scripts/bench_progress.py --n 100000
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from landmap.domain import Stage  # noqa: E402
from landmap.services import acquisition  # noqa: E402
from landmap.services.acquisition import Move  # noqa: E402

SCHEMA = "bench_progress"
X0, Y0 = 440000.0, 3200000.0  # EPSG:4546, inside Yongding
FLOW = "ARRAY['" + "','".join(s.value for s in Stage.workflow()) + "']"
FIRST, LAST = "2016-01-01", "2026-11-30"  # the history's span
PROGRESS_TRIGGERS = {
    "stage_change": ("stage_change_progress", "stage_change_progress_dispute"),
    "parcel": ("parcel_progress_update",),
}


def triggers(conn, which: dict[str, tuple[str, ...]], on: bool) -> None:
    for table, names in which.items():
        for name in names:
            verb = "ENABLE" if on else "DISABLE"
            conn.execute(text(f"ALTER TABLE {table} {verb} TRIGGER {name}"))


def bulk(conn, on: bool) -> None:
    """The register's own triggers (history, audit, tiles, progress) off for a bulk load of
    parcels and history, and on again (progress_delta is filled after)."""
    for table in ("parcel", "stage_change"):
        conn.execute(text(f"ALTER TABLE {table} {'ENABLE' if on else 'DISABLE'} TRIGGER USER"))


def prepare(settings: Settings, n: int, batches: int) -> None:
    owner = make_engine(settings.with_(db_role=""))
    with owner.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA}_gis CASCADE"))
    owner.dispose()
    migrate.upgrade(settings)
    side = int(n**0.5) + 1
    engine = make_engine(settings.with_(db_role=""))
    with engine.begin() as s:
        s.execute(text("INSERT INTO zone (code, name) VALUES ('Z', 'bench')"))
        s.execute(
            text("""INSERT INTO project (name, kind, stage)
                    VALUES ('bench project', 'industrial', 'to_start')""")
        )
        s.execute(
            text("""
            INSERT INTO acquisition_batch (project_id, name, target_mu, due)
            SELECT 1, 'batch ' || b, :target, DATE '2018-12-31' + (b * 240)
            FROM generate_series(1, :k) b"""),
            {"k": batches, "target": round(n / batches * 2.4, 2)},
        )
        bulk(s, on=False)
        # parcels: a batch each (1% in none), 1% retired on a day and replaced that day
        s.execute(
            text(f"""
            INSERT INTO parcel (code, land_use_code, zone_id, project_id, batch_id, geom,
                                created_on, retired_on)
            SELECT 'P' || i, '0103', 1, 1, CASE WHEN i % 100 = 7 THEN NULL ELSE 1 + i % :k END,
                ST_Multi(ST_MakeEnvelope({X0} + (i % {side}) * 40 + 1.13,
                    {Y0} + (i / {side}) * 40 + 1.27,
                    {X0} + (i % {side}) * 40 + 38.9 - (i % 7) * 0.731 - (i % 11) * 0.0137,
                    {Y0} + (i / {side}) * 40 + 38.8 - (i % 5) * 0.523, 4546)),
                CASE WHEN i >= :n THEN DATE '2018-01-01' + (i::bigint * 7919 % 2500)::int END,
                CASE WHEN i < :n AND i % 100 = 42
                     THEN DATE '2018-01-01' + ((i + :n)::bigint * 7919 % 2500)::int END
            FROM generate_series(0, :n - 1 + :n / 100) i
            WHERE i < :n OR (i - :n) * 100 + 42 < :n"""),
            {"n": n, "k": batches},
        )
        # each parcel's moves, one stage at a time, from its own start, every `gap` days
        s.execute(
            text(f"""
            INSERT INTO stage_change (parcel_id, change_set, kind, from_stage, to_stage,
                happened_on, recorded_by)
            SELECT p.id, gen_random_uuid(), 'stage', ({FLOW})[k], ({FLOW})[k + 1], d, 'bench'
            FROM parcel p,
                 LATERAL (SELECT DATE '{FIRST}' + (p.id::bigint * 104729 % 3000)::int AS start,
                                 20 + (p.id * 7907) % 200 AS gap,
                                 1 + (p.id * 31) % 7 AS moves) x,
                 generate_series(1, x.moves) k,
                 LATERAL (SELECT x.start + k * x.gap AS d) y
            WHERE y.d <= DATE '{LAST}'
              AND y.d >= coalesce(p.created_on, DATE '{FIRST}')
              AND (p.retired_on IS NULL OR y.d < p.retired_on)
            ORDER BY p.id, k"""),
        )
        s.execute(text("UPDATE parcel p SET stage = c.to_stage FROM (SELECT DISTINCT ON "
                       "(parcel_id) parcel_id, to_stage FROM stage_change ORDER BY parcel_id, "
                       "happened_on DESC, id DESC) c WHERE c.parcel_id = p.id"))  # fmt: skip
        # 2% corrected back one stage and moved on again; 5% disputed, half of them resolved
        s.execute(
            text(f"""
            INSERT INTO stage_change (parcel_id, change_set, kind, from_stage, to_stage,
                happened_on, recorded_by, correction, reason)
            SELECT p.id, gen_random_uuid(), 'stage', m.f, m.t, l.last + m.later, 'bench',
                   m.later = 3, CASE WHEN m.later = 3 THEN 'recorded too early' ELSE '' END
            FROM parcel p
            JOIN LATERAL (SELECT max(happened_on) AS last FROM stage_change
                          WHERE parcel_id = p.id) l ON true,
                 LATERAL (SELECT array_position({FLOW}, p.stage::text) AS at) a,
                 LATERAL (VALUES (p.stage::text, ({FLOW})[a.at - 1], 3),
                                 (({FLOW})[a.at - 1], p.stage::text, 40)) m (f, t, later)
            WHERE p.id % 50 = 3 AND a.at > 1 AND l.last + 40 <= DATE '{LAST}'
              AND p.retired_on IS NULL
            ORDER BY p.id, m.later"""),
        )
        s.execute(
            text(f"""
            INSERT INTO stage_change (parcel_id, change_set, kind, happened_on, recorded_by,
                                      reason)
            SELECT p.id, gen_random_uuid(), e.kind, l.last + e.later, 'bench', '补偿争议'
            FROM parcel p
            JOIN LATERAL (SELECT max(happened_on) AS last FROM stage_change
                          WHERE parcel_id = p.id) l ON true,
                 LATERAL (VALUES ('dispute', 1), ('resolve', 60)) e (kind, later)
            WHERE p.id % 20 = 11 AND l.last + 60 <= DATE '{LAST}' AND p.retired_on IS NULL
              AND (e.kind = 'dispute' OR p.id % 40 = 11)
            ORDER BY p.id, e.later"""),
        )
        s.execute(
            text("""UPDATE parcel p SET dispute = true, dispute_reason = '补偿争议'
                          WHERE id % 20 = 11 AND id % 40 <> 11 AND EXISTS (SELECT 1 FROM
                          stage_change c WHERE c.parcel_id = p.id AND c.kind = 'dispute')""")
        )
        bulk(s, on=True)
        s.execute(text("SELECT lm_progress_refill()"))  # as the migration fills it
        s.execute(text("ANALYZE"))
    engine.dispose()


def timed(fn, runs: int, warm: bool = True) -> tuple[float, object]:
    """Median milliseconds of ``runs`` calls (after one to warm up, if ``warm``), and the
    last result."""
    times, result = [], None
    for i in range(runs + warm):
        t = time.perf_counter()
        result = fn()
        if i or not warm:
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


def writes(engine, size: int, runs: int) -> list[tuple[str, float, float]]:
    """A move of ``size`` parcels and a dispute, kept and with progress_delta's triggers off
    (rolled back each time): median ms each."""
    rows = []
    with Session(engine) as s:
        codes = s.execute(
            text("""SELECT code FROM parcel WHERE retired_on IS NULL AND stage = 'demolished'
                    ORDER BY code LIMIT :n"""),
            {"n": size},
        ).scalars()
        codes = list(codes)
        free = s.execute(
            text("""SELECT code FROM parcel WHERE retired_on IS NULL AND NOT dispute
                    ORDER BY code DESC LIMIT 1""")
        ).scalar_one()
        s.rollback()
        cases = {
            f"move {len(codes)} parcels": lambda: acquisition.move(
                s, codes, Move(Stage.CLEARED, dt.date(2026, 11, 30)), "bench"
            ),
            "dispute 1 parcel": lambda: acquisition.set_dispute(
                s, free, True, dt.date(2026, 11, 30), "钉子户", "bench"
            ),
        }
        for what, fn in cases.items():
            ms = []
            for kept in (True, False):
                times = []
                for _ in range(runs):
                    if not kept:
                        triggers(s, PROGRESS_TRIGGERS, on=False)
                    t = time.perf_counter()
                    fn()
                    times.append((time.perf_counter() - t) * 1000)
                    s.rollback()
                ms.append(statistics.median(times))
            rows.append((what, ms[0], ms[1]))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--batches", type=int, default=12)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument(
        "--rescan-runs",
        type=int,
        default=1,
        help="runs of the rescanning reference (minutes each at 100,000 parcels)",
    )
    ap.add_argument("--move", type=int, default=1000, help="parcels moved in the write test")
    args = ap.parse_args()
    settings = Settings.from_env().with_(db_schema=SCHEMA)
    t0 = time.perf_counter()
    prepare(settings, args.n, args.batches)
    engine = make_engine(settings.with_(db_role=""))
    with Session(engine) as s:
        history, rows = s.execute(
            text(
                "SELECT (SELECT count(*) FROM stage_change), (SELECT count(*) FROM progress_delta)"
            )
        ).one()
        parcels = s.execute(text("SELECT count(*) FROM parcel")).scalar_one()
        last = acquisition.last_day_with_data(s)
    print(f"generated {parcels} parcels, {history} history entries, {rows} progress_delta rows "
          f"in {time.perf_counter() - t0:.1f} s; last day with data {last}")  # fmt: skip
    past = dt.date(2020, 6, 15)
    cases = {
        "project, last day": (1, None, None),
        "batch, last day": (1, 2, None),
        f"project, {past}": (1, None, past),
        f"batch, {past}": (1, 2, past),
    }
    results, equal = [], True
    with Session(engine) as s:
        for what, scope in cases.items():
            kept_ms, kept = timed(lambda at=scope: acquisition.progress(s, *at), args.runs)
            scan_ms, scanned = timed(
                lambda at=scope: acquisition.progress_rescanned(s, *at), args.rescan_runs, False
            )
            same = kept == scanned
            equal = equal and same
            results.append((what, kept_ms, scan_ms, same, kept))
            s.rollback()
    print(f"{'case':24} {'kept ms':>8} {'rescan ms':>9} {'ratio':>7}  equal  cleared_mu  series")
    for what, kept_ms, scan_ms, same, pr in results:
        print(f"{what:24} {kept_ms:8.2f} {scan_ms:9.1f} {kept_ms / scan_ms:7.4f}  {str(same):5}  "
              f"{pr.cleared_mu:10.2f}  {len(pr.series)}")  # fmt: skip
    with Session(engine) as s:  # what GET /api/projects/1/progress computes
        batch_ids = list(s.execute(text("SELECT id FROM acquisition_batch ORDER BY id")).scalars())
        page_ms, _ = timed(
            lambda: [acquisition.progress(s, 1, b) for b in (None, *batch_ids)], args.runs
        )
    print(f"the project and its {len(batch_ids)} batches (as the API and the project page "
          f"compute them): {page_ms:.1f} ms")  # fmt: skip
    for what, kept_ms, off_ms in writes(engine, args.move, max(3, args.runs // 2)):
        print(f"write: {what}: {kept_ms:.1f} ms kept, {off_ms:.1f} ms without progress_delta")
    engine.dispose()
    worst = max(results, key=lambda r: r[1] / r[2])
    slowest = max(r[1] for r in results)
    print(f"bench_progress: n={args.n} history={history} ms={slowest:.2f} "
          f"ratio_vs_rescan={worst[1] / worst[2]:.4f} equal={equal}")  # fmt: skip
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(benchdb.run(SCHEMA, main))
