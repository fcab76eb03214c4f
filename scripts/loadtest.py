"""Load test: landmap under gunicorn, driven by Locust, on loopback.

Builds the benchmark register in a schema of its own, `bench_loadtest`: the demo zone (its
zones, covered by the demo's parcels with their 2011 history; its projects, one with two
batches; users) and N generated parcels (16 m squares) on the land around the zones, with
ZDDM-like codes, owners and locations as scripts/bench_search.py makes them, each with a
history of stage moves from 2016 up to its stage (3 in 5 not started, some disputed, some
state land without any): 100,409 parcels at N = 100,000.

Then it starts two gunicorn instances on two ports (`-w 2 -k gthread --threads 4` each by
default, with landmap/gunicorn_conf.py and a var/ of their own: two machines sharing one
database) and runs Locust headless (scripts/loadtest_locustfile.py, from .bench-venv, created
on first use: pip install locust, so that gevent stays out of landmap's environment), its
users spread round-robin over the two servers. Each user waits 1-3 s between requests: 70%
tiles at zooms 12-18 around the zones (gzip, revalidated by ETag), 15% parcel reads (the
popup's /api/parcels/<code>), 5% searches, 5% project progress (mostly the project with
batches), 5% writes by officers (a stage moved one forward or a dispute flagged or cleared,
each valid: a parcel is written by one user at a time, dated today in China). Every
acknowledged write is then looked up in the database.

It prints, at the end, one line:

    loadtest: users=N rps=… p50_ms=… p95_ms=… p99_ms=… errors=… lost_writes=…

errors: responses other than 2xx/3xx and connection failures; lost_writes: acknowledged
writes whose change set is not in the history as acknowledged, or parcels whose stage or
dispute is not what their last acknowledged write set.

    .venv/bin/python scripts/loadtest.py --users 100 --seconds 120

The schema is dropped at the end (scripts/benchdb.py), unless --keep-schema: then --again
reuses it. gunicorn and Locust are stopped however the run ends (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, suppress
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import benchdb  # noqa: E402
from bench_search import FAMILY, VILLAGES  # noqa: E402
from bench_tiles import free_port  # noqa: E402

from landmap.config import Settings  # noqa: E402
from landmap.db import make_engine, make_sessionmaker, migrate, session_scope  # noqa: E402
from landmap.demo import load_demo  # noqa: E402
from landmap.domain import Stage  # noqa: E402
from landmap.services import users  # noqa: E402

SCHEMA = "bench_loadtest"
CELL_M = 17  # a generated parcel's grid cell (16 m squares, 0.38 mu)
PREFIX = "4308029"  # generated parcels' codes: 4308029 + 5-digit block + JA + 5 digits
BLOCK = 5000
FIRST_DAY = dt.date(2016, 1, 1)
DISPUTE = "补偿标准争议"
ACCOUNTS = 4  # officers and viewers, each with an API token
PASSWORD = "loadtest password"
LOCUSTFILE = ROOT / "scripts" / "loadtest_locustfile.py"


def china_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def prepare(settings: Settings, n: int) -> None:
    """The demo zone and N generated parcels with their histories (see the module doc)."""
    owner = make_engine(settings.with_(db_role=""))
    with owner.begin() as conn:
        for name in (SCHEMA, f"{SCHEMA}_gis"):  # the register and its GIS views (0017)
            conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
    migrate.upgrade(settings)
    engine = make_engine(settings)
    with session_scope(make_sessionmaker(engine), actor="loadtest") as s:
        load_demo(s, settings)
        _parcels(s, n)
        for i in range(ACCOUNTS):
            users.add(s, f"lt_officer{i}", "officer", PASSWORD)
            users.add(s, f"lt_viewer{i}", "viewer", PASSWORD)
    engine.dispose()
    with session_scope(make_sessionmaker(owner), actor="loadtest") as s:
        _history(s)
        s.execute(text("DELETE FROM tile_change"))  # a register in use: old changes pruned
    with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("parcel", "stage_change", "audit_log", "tile_change"):
            conn.execute(text(f"VACUUM ANALYZE {table}"))
    owner.dispose()


FLOW = [stage.value for stage in Stage.workflow()]
# how far a generated parcel (cell i) has come: 3 in 5 not started, the others anywhere
TARGET = f"CASE WHEN i % 5 >= 3 THEN i % {len(FLOW)} ELSE 0 END"


def _parcels(s: Session, n: int) -> None:
    """N squares on a grid over the zones' extent, grown as far as they need, picked evenly
    beside the demo's parcels (which cover the zones): the land around the zones, in no
    project. Each at its stage (1 in 20 state land), 1 in 31 of those on the way disputed."""
    extent = """SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM
        (SELECT ST_Extent(geom) e FROM zone_boundary WHERE status = 'current') b"""
    x0, y0, x1, y1 = s.execute(text(extent)).one()
    taken = s.execute(text("SELECT coalesce(sum(ST_Area(geom)), 0) FROM parcel")).scalar()
    # the extent grown by a margin m so that its cells beside the demo's parcels hold n:
    # (w + 2m)(h + 2m) = 1.15 n cell^2 + taken
    w, h, need = x1 - x0, y1 - y0, 1.15 * n * CELL_M**2 + taken
    m = max(0.0, (-(w + h) + math.sqrt((w + h) ** 2 - 4 * (w * h - need))) / 4)
    x0, y0 = x0 - m, y0 - m
    cols, rows = math.ceil((w + 2 * m) / CELL_M), math.ceil((h + 2 * m) / CELL_M)
    villages = "ARRAY['" + "','".join(VILLAGES.split()) + "']"
    family = f"regexp_split_to_array('{FAMILY}', '')"
    s.execute(text(f"""
        WITH chosen AS (  -- n cells spread over the grid, none over a demo parcel
            SELECT k, g FROM (
                SELECT k, ST_Multi(ST_MakeEnvelope(
                    {x0} + (k % {cols}) * {CELL_M} + 0.5, {y0} + (k / {cols}) * {CELL_M} + 0.5,
                    {x0} + (k % {cols} + 1) * {CELL_M} - 0.5,
                    {y0} + (k / {cols} + 1) * {CELL_M} - 0.5, 4546)) AS g
                FROM generate_series(0, {cols * rows - 1}) k) c
            WHERE NOT EXISTS (SELECT 1 FROM parcel p WHERE ST_Intersects(p.geom, c.g))
            ORDER BY k * 2654435761 % 4294967296 LIMIT {n}),
        cell AS (SELECT row_number() OVER (ORDER BY k) - 1 AS i, g FROM chosen),
        staged AS (SELECT *, {TARGET} AS target FROM cell)
        INSERT INTO parcel (code, name, owner, location, land_use_code, zone_id, stage,
                            dispute, dispute_reason, geom)
        SELECT '{PREFIX}' || lpad((i / {BLOCK})::text, 5, '0') || 'JA'
                   || lpad((i % {BLOCK})::text, 5, '0'),
               v || '村' || (i % 97) || '号地块',
               CASE WHEN i % 4 = 0 THEN
                   (SELECT string_agg(({family})[d::int + 1], '' ORDER BY k)
                    FROM unnest(regexp_split_to_array(lpad((i / 4 % 10000)::text, 4, '0'), ''))
                         WITH ORDINALITY AS t(d, k))
               ELSE v || '村村民委员会' END,
               '永定区' || v || '街道' || v || '村' || (i % 12 + 1) || '组',
               '0101', lm_zone_of(g),
               CASE WHEN i % 20 = 7 THEN 'state_owned' ELSE (CAST(:flow AS text[]))[1 + target]
               END,
               disputed, CASE WHEN disputed THEN '{DISPUTE}' ELSE '' END, g
        FROM staged
        CROSS JOIN LATERAL (SELECT ({villages})[1 + (i / 7) % {len(VILLAGES.split())}] AS v,
            i % 31 = 0 AND i % 20 <> 7 AND target BETWEEN 1 AND {len(FLOW) - 2} AS disputed) x
        """), {"flow": FLOW})  # fmt: skip


def _history(s: Session) -> None:
    """The history that brought each generated parcel to its stage and dispute: one stage at
    a time from FIRST_DAY on, dated in order up to yesterday. Written as the table's owner
    with the trigger that applies each entry to its parcel switched off (in this transaction
    only): the parcels are at those stages already, and applying 200,000 entries one by one
    takes minutes. The progress table is then filled anew. Checked against the parcels at the
    end."""
    last = china_today() - dt.timedelta(days=1)
    # the first move 0-2500 days after FIRST_DAY, then one every 30-200 days (by parcel)
    first = "CAST(p.id::bigint * 7919 % 2500 AS integer)"
    every = "CAST(30 + p.id::bigint * 104729 % 170 AS integer)"
    day = f"least(CAST(:first AS date) + {first} + {every} * {{k}}, :last)"
    at = "array_position(CAST(:flow AS text[]), p.stage)"  # 1 + the parcel's target
    params = {"flow": FLOW, "first": FIRST_DAY, "last": last}
    s.execute(text("ALTER TABLE stage_change DISABLE TRIGGER stage_change_apply"))
    s.execute(text(f"""
        INSERT INTO stage_change (parcel_id, change_set, kind, from_stage, to_stage,
                                  happened_on, recorded_by, note)
        SELECT p.id, gen_random_uuid(), 'stage', (CAST(:flow AS text[]))[k],
               (CAST(:flow AS text[]))[k + 1], {day.format(k="k")},
               'lt_officer' || p.id % {ACCOUNTS}, ''
        FROM parcel p CROSS JOIN LATERAL generate_series(1, {at} - 1) k
        WHERE p.code LIKE '{PREFIX}%' AND p.stage <> 'state_owned'
        ORDER BY p.id, k"""), params)  # fmt: skip
    s.execute(text(f"""
        INSERT INTO stage_change (parcel_id, change_set, kind, happened_on, recorded_by, reason)
        SELECT p.id, gen_random_uuid(), 'dispute', {day.format(k=at)},
               'lt_officer' || p.id % {ACCOUNTS}, p.dispute_reason
        FROM parcel p WHERE p.code LIKE '{PREFIX}%' AND p.dispute
        ORDER BY p.id"""), params)  # fmt: skip
    s.execute(text("ALTER TABLE stage_change ENABLE TRIGGER stage_change_apply"))
    # the progress table (migration 0021) counted these entries on top of the stages the
    # parcels were inserted at: made again from the history, as the migration fills it
    s.execute(text("SELECT lm_progress_refill()"))
    astray = f"""SELECT count(*) FROM parcel p
        WHERE p.code LIKE '{PREFIX}%' AND p.stage <> 'state_owned'
          AND (lm_stage_as_of(p.id, p.stage, :last) <> p.stage
               OR lm_dispute_as_of(p.id, false, :last) <> p.dispute)"""
    astray = s.execute(text(astray), params).scalar()
    if astray:
        raise SystemExit(f"{astray} generated parcels do not end where their history does")


def generated(settings: Settings) -> int | None:
    """How many generated parcels the schema holds (None: there is no schema)."""
    engine = make_engine(settings.with_(db_role=""))
    try:
        with engine.connect() as conn:
            if not conn.execute(text("SELECT to_regclass(:t)"), {"t": f"{SCHEMA}.parcel"}).scalar():
                return None
            return conn.execute(
                text(f"SELECT count(*) FROM {SCHEMA}.parcel WHERE code LIKE '{PREFIX}%'")
            ).scalar()
    finally:
        engine.dispose()


def plan(settings: Settings, hosts: list[str], out: Path) -> dict:
    """What the Locust users need: servers, tokens, where the tiles are, codes to read,
    searches, projects, and the parcels that can be written (with their state)."""
    engine = make_engine(settings)
    rng = random.Random(18)
    with session_scope(make_sessionmaker(engine), actor="loadtest") as s:
        tokens = {
            role: [users.new_token(s, f"lt_{role}{i}", "loadtest") for i in range(ACCOUNTS)]
            for role in ("officer", "viewer")
        }
        bbox = s.execute(text("""
            SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT
                ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 4546), 4326) e
                FROM parcel) b""")).one()  # fmt: skip
        codes = list(s.execute(text("SELECT code FROM parcel WHERE retired_on IS NULL")).scalars())
        writable = """SELECT code, stage, dispute FROM parcel
            WHERE retired_on IS NULL AND stage NOT IN ('state_owned', 'cleared')"""
        writable = s.execute(text(writable)).all()
        progress = list(s.execute(text("""
            SELECT project_id FROM parcel WHERE project_id IS NOT NULL
            GROUP BY 1 ORDER BY count(*) DESC LIMIT 3""")).scalars())  # fmt: skip
    engine.dispose()
    villages = VILLAGES.split()
    queries = [f"JA{rng.randrange(BLOCK):05d}" for _ in range(20)]
    queries += [f"{v}村" for v in villages] + [f"{v}村{g}组" for v in villages for g in (3, 7)]
    queries += [FAMILY[a] + FAMILY[b] for a, b in ((1, 2), (3, 4), (0, 9))] + ["JA0", "溪"]
    data = {
        "hosts": hosts,
        "tokens": tokens,
        "bbox": list(bbox),
        "read_codes": rng.sample(codes, min(5000, len(codes))),
        "queries": queries,
        "projects": progress,
        "writable": [list(r) for r in rng.sample(writable, min(20000, len(writable)))],
        "workflow": [stage.value for stage in Stage.workflow()],
        "day": china_today().isoformat(),
        "out": str(out),
    }
    return data


def ensure_locust() -> Path:
    venv = ROOT / ".bench-venv"
    if not (venv / "bin" / "locust").exists():
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "locust"], check=True)
    return venv


def start_server(settings: Settings, args, port: int, var_dir: Path, log) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": settings.database_url,
           "LANDMAP_APP_DATABASE_URL": settings.app_database_url, "LANDMAP_DB_SCHEMA": SCHEMA,
           "LANDMAP_DB_ROLE": settings.db_role, "LANDMAP_VAR_DIR": str(var_dir),
           "LANDMAP_SECRET_KEY": "loadtest"}  # fmt: skip
    if args.keepalive is not None:
        env["LANDMAP_KEEPALIVE"] = str(args.keepalive)
    return subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", "landmap/gunicorn_conf.py",
         "-w", str(args.workers), "-k", "gthread", "--threads", str(args.threads),
         "-b", f"127.0.0.1:{port}", "--control-socket", str(var_dir / "gunicorn.ctl"),
         "landmap:create_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def wait_up(port: int, server: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    """Until the server answers /healthz; SystemExit with its log's end if it does not."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and server.poll() is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
        finally:
            conn.close()
    tail = log.read_text(errors="replace")[-2000:]
    raise SystemExit(f"gunicorn on port {port} did not come up:\n{tail}")


def stop(process: subprocess.Popen, how: int = signal.SIGTERM, grace: float = 45) -> None:
    """Stop a process started in a session of its own, and what it started: ``how``, then
    after ``grace`` seconds SIGKILL to its whole process group (gunicorn's workers too, never
    left behind without their master)."""
    if process.poll() is None:
        process.send_signal(how)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def percentile(sorted_ms: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    if not sorted_ms:
        return 0.0
    rank = max(1, -(-len(sorted_ms) * q // 100))
    return sorted_ms[int(rank) - 1]


def lost_writes(settings: Settings, acked: list[dict], unsure: set[str]) -> int:
    """How many acknowledged writes the database does not hold as acknowledged: their change
    set missing or different, or the last write to a parcel (whose every write was
    acknowledged) not what the parcel's stage and dispute are now. Queried as the owner,
    after the servers stopped."""
    if not acked:
        return 0
    engine = make_engine(settings.with_(db_role=""))
    last = {w["code"]: i for i, w in enumerate(acked)}  # each parcel's last write
    with engine.connect() as conn:
        rows = conn.execute(
            text("""SELECT c.change_set::text, p.code, c.kind, c.to_stage FROM stage_change c
                    JOIN parcel p ON p.id = c.parcel_id
                    WHERE c.change_set = ANY(CAST(:sets AS uuid[]))"""),
            {"sets": [w["change_set"] for w in acked]},
        ).all()
        now = {
            r.code: (r.stage, r.dispute)
            for r in conn.execute(
                text("SELECT code, stage, dispute FROM parcel WHERE code = ANY(:codes)"),
                {"codes": list(last)},
            )
        }
    engine.dispose()
    held = {r.change_set: (r.code, r.kind, r.to_stage) for r in rows}
    lost = set()
    for i, w in enumerate(acked):
        if w["kind"] == "stage":
            expected = (w["code"], "stage", w["value"])
        else:
            expected = (w["code"], "dispute" if w["value"] else "resolve", None)
        if held.get(w["change_set"]) != expected:
            lost.add(i)
    for code, i in last.items():
        # a parcel with a write of unknown outcome (which came after) is not written again
        after = (acked[i]["stage_after"], acked[i]["dispute_after"])
        if code not in unsure and now.get(code) != after:
            lost.add(i)
    return len(lost)


def run(args: argparse.Namespace, settings: Settings) -> str:
    if not (args.again and generated(settings) == args.n):
        t0 = time.perf_counter()
        prepare(settings, args.n)
        print(f"generated the demo zone and {args.n} parcels in {time.perf_counter() - t0:.1f} s")
    venv = ensure_locust()
    work = Path(tempfile.mkdtemp(prefix="loadtest-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        ports = [free_port() for _ in range(args.servers)]
        hosts = [f"http://127.0.0.1:{port}" for port in ports]
        plan_path = work / "plan.json"
        data = plan(settings, hosts, work / "result.json")
        plan_path.write_text(json.dumps(data, ensure_ascii=False))
        logs, servers = [work / f"gunicorn-{i}.log" for i in range(len(ports))], []
        for i, port in enumerate(ports):
            log = stack.enter_context(logs[i].open("w"))
            servers.append(start_server(settings, args, port, work / f"var-{i}", log))
            stack.callback(stop, servers[-1], signal.SIGQUIT, 15)  # quick: the test is over
        for port, server, log_path in zip(ports, servers, logs, strict=True):
            wait_up(port, server, log_path)
        rate = args.spawn_rate or max(1.0, args.users / 10)
        print(f"{args.users} users ({rate:g}/s) for {args.seconds} s on {len(hosts)} servers "
              f"({args.workers} workers x {args.threads} threads each), "
              f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}", flush=True)  # fmt: skip
        locust_log = stack.enter_context((work / "locust.log").open("w"))
        locust = subprocess.Popen(
            [str(venv / "bin/locust"), "-f", str(LOCUSTFILE), "--headless",
             "-u", str(args.users), "-r", f"{rate:g}", "-t", f"{args.seconds}s",
             "--stop-timeout", "30", "--host", hosts[0], "--only-summary",
             "--loglevel", "WARNING"],
            cwd=work, env={**os.environ, "LOADTEST_PLAN": str(plan_path)},
            stdout=locust_log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        stack.callback(stop, locust)
        locust.wait()
        result_path = Path(data["out"])
        if not result_path.exists():
            sys.stdout.write((work / "locust.log").read_text()[-3000:])
            raise SystemExit("locust wrote no results")
        result = json.loads(result_path.read_text())
        tracebacks = sum(p.read_text(errors="replace").count("Traceback") for p in logs)
    return summarise(args, settings, result, tracebacks)


def summarise(args, settings: Settings, result: dict, tracebacks: int) -> str:
    requests = result["requests"]  # [kind, status, ms, error]
    ms = sorted(r[2] for r in requests)
    errors = [r for r in requests if r[3] or not 200 <= r[1] < 400]
    by_kind: dict[str, list[float]] = {}
    for kind, _status, t, _error in requests:
        by_kind.setdefault(kind, []).append(t)
    for kind, times in sorted(by_kind.items()):
        times.sort()
        print(f"  {kind:<9} {len(times):7d} requests  p50 {percentile(times, 50):7.0f} ms  "
              f"p95 {percentile(times, 95):7.0f} ms  max {times[-1]:7.0f} ms")  # fmt: skip
    kinds: dict[str, int] = {}
    for kind, status, _t, error in errors:
        key = f"{kind} {error or status}"
        kinds[key] = kinds.get(key, 0) + 1
    for key, count in sorted(kinds.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  error: {count} x {key}")
    acked, unsure = result["acked"], {w["code"] for w in result["unacknowledged"]}
    lost = lost_writes(settings, acked, unsure)
    print(f"  writes: {len(acked)} acknowledged, {len(unsure)} of unknown outcome; "
          f"server tracebacks: {tracebacks}; load generator CPU warnings: "
          f"{result['cpu_warnings']}")  # fmt: skip
    rps = len(requests) / result["seconds"] if result["seconds"] else 0.0
    return (
        f"loadtest: users={args.users} rps={rps:.1f} p50_ms={percentile(ms, 50):.0f} "
        f"p95_ms={percentile(ms, 95):.0f} p99_ms={percentile(ms, 99):.0f} "
        f"errors={len(errors)} lost_writes={lost}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=120)
    ap.add_argument("--n", type=int, default=100_000, help="generated parcels")
    ap.add_argument("--servers", type=int, default=2, help="gunicorn instances (machines)")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    ap.add_argument("--threads", type=int, default=4, help="threads per worker")
    ap.add_argument("--spawn-rate", type=float, help="users started per second (users/10)")
    ap.add_argument("--keepalive", type=int, help="LANDMAP_KEEPALIVE for the servers")
    ap.add_argument("--keep-schema", action="store_true", help="keep the schema for --again")
    ap.add_argument("--again", action="store_true", help="reuse the schema of a kept run")
    args = ap.parse_args()
    if args.users < 1 or args.seconds < 1 or args.n < 1 or args.servers < 1:
        ap.error("--users, --seconds, --n and --servers must be at least 1")
    settings = Settings.from_env().with_(db_schema=SCHEMA)
    with benchdb.bench_schema(settings, keep=args.keep_schema, reuse=args.again):
        line = run(args, settings)
    print(line)  # the last line, after the schema's clean-up
    return 0


if __name__ == "__main__":
    sys.exit(main())
