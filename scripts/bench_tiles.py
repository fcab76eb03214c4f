"""Benchmark: vector tiles at scale — landmap under gunicorn, the raw ST_AsMVT query, tipg.

Generates N parcels (about 30 m x 30 m, varied stages) in a fresh schema `bench_tiles`, picks a
fixed set of tiles at zooms 12-18 over them, and requests that set with several concurrent
clients from

  * landmap under gunicorn (cold: a fresh server, empty cache; then warm: the same set again),
  * the statement landmap draws a tile by on a cache miss, through psycopg2 (the floor),
  * tipg (the PyPI tile server, FastAPI/asyncpg) pointed at the same table,

printing tiles/s and p50/p95 latency for each; the raw query and landmap are measured in
several interleaved rounds (a fresh server each) and compared by their medians. It ends with
one line `bench_tiles: n=N cold_vs_raw=… throughput_vs_tipg=… warm_vs_cold=…` (landmap's cold
p50 over the raw query's, landmap's cold tiles/s over tipg's, landmap's warm tiles/s over its
cold).

    .venv/bin/python scripts/bench_tiles.py --n 100000

tipg runs from .bench-venv (created on first use: pip install tipg uvicorn), so that its
dependencies stay out of landmap's own environment.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import queue
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import benchdb  # noqa: E402

from landmap.config import Settings  # noqa: E402
from landmap.db import make_engine, migrate  # noqa: E402
from landmap.services import tiles, users  # noqa: E402

SCHEMA = "bench_tiles"
X0, Y0 = 440000.0, 3200000.0
STAGES = ["not_started", "pre_announced", "surveyed", "agreement_signed", "cleared"]


def prepare(settings: Settings, n: int, cell: int = 32) -> str:
    """N square parcels on a grid of `cell` metres (1 m apart), a viewer "bench" and its token."""
    owner = make_engine(settings.with_(db_role=""))
    with owner.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {settings.db_schema} CASCADE"))
    owner.dispose()
    migrate.upgrade(settings)
    side = int(n**0.5) + 1
    engine = make_engine(settings)
    with Session(engine) as s:
        s.execute(
            text(f"""
            INSERT INTO parcel (code, land_use_code, stage, geom)
            SELECT 'B' || i, '0101', (ARRAY{STAGES})[1 + i % 5],
                ST_Multi(ST_Buffer(ST_MakeEnvelope(
                    {X0} + (i % {side}) * {cell} + 1, {Y0} + (i / {side}) * {cell} + 1,
                    {X0} + (i % {side}) * {cell} + {cell - 1},
                    {Y0} + (i / {side}) * {cell} + {cell - 1}, 4546), 0.5, 2))
            FROM generate_series(0, {n - 1}) i""")
        )
        users.add(s, "bench", "viewer", "bench password 123")
        token = users.new_token(s, "bench", "bench_tiles")
        s.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # settled as a table in use would be: no autovacuum or hint-bit writes mid-benchmark
        conn.execute(text("VACUUM ANALYZE parcel"))
    engine.dispose()
    return token


def tile_set(settings: Settings, per_zoom: int, seed: int = 315) -> list[tuple[int, int, int]]:
    engine = make_engine(settings)
    with engine.connect() as conn:
        x0, y0, x1, y1 = conn.execute(text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Extent(ST_Transform(geom, 4326)) e FROM parcel) s")).one()  # fmt: skip
    engine.dispose()
    rng = random.Random(seed)

    def xy(lon, lat, z):
        n = 2**z
        return (int((lon + 180) / 360 * n),
                int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))  # fmt: skip

    out = []
    for z in range(12, 19):
        (ax, ay), (bx, by) = xy(x0, y1, z), xy(x1, y0, z)
        cells = [(z, x, y) for x in range(ax, bx + 1) for y in range(ay, by + 1)]
        out += rng.sample(cells, min(per_zoom, len(cells)))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port: int, path: str, headers: dict, timeout: float = 60) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", path, headers=headers)
            if c.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"server on port {port} did not come up")


def fetch_all(
    port: int, paths: list[str], headers: dict, clients: int
) -> tuple[list[float], float]:
    """Latencies (s) of every path, fetched by `clients` keep-alive connections; wall time."""
    local = threading.local()
    latencies: list[float] = []
    lock = threading.Lock()

    def one(path: str) -> None:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        t = time.perf_counter()
        local.conn.request("GET", path, headers=headers)
        resp = local.conn.getresponse()
        resp.read()
        if resp.status not in (200, 204):
            raise SystemExit(f"{path}: HTTP {resp.status}")
        with lock:
            latencies.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, paths))
    return latencies, time.perf_counter() - t0


def raw_connections(settings: Settings, clients: int) -> list:
    """One psycopg2 connection per client, kept across runs as a server's pool keeps them."""
    import psycopg2

    from landmap.db.engine import _sqlalchemy_url

    dsn = _sqlalchemy_url(settings.database_url).replace("postgresql+psycopg2://", "postgresql://")
    conns = []
    for _ in range(clients):
        # the settings landmap's own connections have
        conn = psycopg2.connect(dsn, options=f"-csearch_path={SCHEMA},public -cjit=off")
        conn.autocommit = True
        conns.append(conn)
    return conns


def raw(conns: list, cells) -> tuple[list[float], float]:
    """The statement landmap draws a tile by on a cache miss (the tile and its freshness
    token), through psycopg2, one connection per client thread."""
    from sqlalchemy.dialects import postgresql

    sql, params = tiles.draw_sql("parcels", tiles.TileFilter())
    pg_sql = str(text(sql).compile(dialect=postgresql.dialect()))
    idle: queue.SimpleQueue = queue.SimpleQueue()
    for conn in conns:
        idle.put(conn)
    latencies: list[float] = []
    lock = threading.Lock()

    def one(cell) -> None:
        conn = idle.get()
        z, x, y = cell
        t = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute(pg_sql, {**params, **tiles.params_for(z, x, y)})
            cur.fetchone()
        elapsed = time.perf_counter() - t
        idle.put(conn)
        with lock:
            latencies.append(elapsed)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(conns)) as pool:
        list(pool.map(one, cells))
    return latencies, time.perf_counter() - t0


def summary(name: str, lat: list[float], wall: float) -> dict:
    q = statistics.quantiles(lat, n=20)
    out = {"p50": statistics.median(lat), "p95": q[18], "tps": len(lat) / wall}
    print(f"{name:<16} {out['tps']:8.1f} tiles/s   p50 {out['p50'] * 1000:7.1f} ms   "
          f"p95 {out['p95'] * 1000:7.1f} ms")  # fmt: skip
    return out


def ensure_tipg() -> Path:
    venv = ROOT / ".bench-venv"
    if not (venv / "bin" / "uvicorn").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "tipg", "uvicorn"], check=True)
    return venv


def start_landmap(settings: Settings, args, port: int, cache_dir: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "LANDMAP_DB_SCHEMA": SCHEMA,
           "LANDMAP_DB_ROLE": settings.db_role, "LANDMAP_VAR_DIR": cache_dir,
           "LANDMAP_SECRET_KEY": "bench"}  # fmt: skip
    # as the README runs it (landmap/gunicorn_conf.py), with the workers and threads asked for
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", "landmap/gunicorn_conf.py",
         "-w", str(args.workers), "-k", "gthread", "--threads", str(args.threads),
         "-b", f"127.0.0.1:{port}", "landmap:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_up(port, "/healthz", {})
    return server


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait()


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in ("p50", "p95", "tps")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--per-zoom", type=int, default=40)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    settings = Settings.from_env().with_(db_schema=SCHEMA)
    t0 = time.perf_counter()
    token = prepare(settings, args.n)
    cells = tile_set(settings, args.per_zoom)
    print(f"generated {args.n} parcels in {time.perf_counter() - t0:.1f} s; "
          f"{len(cells)} tiles at zooms 12-18, {args.clients} clients, "
          f"{args.rounds} rounds")  # fmt: skip
    venv = ensure_tipg()
    # as a browser asks: gzip accepted (landmap keeps its tiles gzipped)
    auth = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
    lm_paths = [f"/tiles/parcels/{z}/{x}/{y}.pbf" for z, x, y in cells]
    conns = raw_connections(settings, args.clients)
    raw(conns, cells)  # once untimed: every timed run meets warm buffers and warm connections
    # the servers are warmed (connections, code paths) on other tiles than the measured ones
    measured = set(cells)
    others = [c for c in tile_set(settings, 12, seed=2011) if c not in measured]
    warmup = [f"/tiles/parcels/{z}/{x}/{y}.pbf" for z, x, y in others]
    # Rounds, each: the raw query, then a fresh landmap (empty cache) cold and warm. The
    # medians over rounds are reported; interleaving lets a noisy moment hit both sides.
    runs: dict[str, list[dict]] = {"raw": [], "cold": [], "warm": []}
    for i in range(args.rounds):
        print(f"round {i + 1}:")
        runs["raw"].append(summary("  raw ST_AsMVT", *raw(conns, cells)))
        cache_dir = tempfile.mkdtemp(prefix="bench-tiles-var-")  # a cold cache
        port = free_port()
        server = start_landmap(settings, args, port, cache_dir)
        try:
            fetch_all(port, warmup, auth, args.clients)
            runs["cold"].append(
                summary("  landmap cold", *fetch_all(port, lm_paths, auth, args.clients))
            )
            runs["warm"].append(
                summary("  landmap warm", *fetch_all(port, lm_paths, auth, args.clients))
            )
        finally:
            stop(server)
            shutil.rmtree(cache_dir, ignore_errors=True)
    for conn in conns:
        conn.close()
    tipg_env = {**os.environ, "DATABASE_URL": settings.database_url.replace(
        "postgresql+psycopg2://", "postgresql://"), "TIPG_DB_SCHEMAS": json.dumps([SCHEMA]),
        "TIPG_DB_TABLES": json.dumps([f"{SCHEMA}.parcel"])}  # fmt: skip
    tipg_port = free_port()
    tipg = subprocess.Popen(
        [str(venv / "bin/uvicorn"), "tipg.main:app", "--port", str(tipg_port),
         "--workers", str(args.workers), "--log-level", "warning"],
        cwd="/tmp", env=tipg_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        tipg_path = f"/collections/{SCHEMA}.parcel/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}"
        wait_up(tipg_port, "/collections", {})
        tipg_paths = [tipg_path.format(z=z, x=x, y=y) + "?properties=code,stage"
                      for z, x, y in cells]  # fmt: skip
        gz = {"Accept-Encoding": "gzip"}
        fetch_all(tipg_port, [tipg_path.format(z=z, x=x, y=y) for z, x, y in others], gz,
                  args.clients)  # warmed as landmap is  # fmt: skip
        # tipg caches nothing: its first pass is as cold as its second; both are reported
        tipg_runs = [summary("tipg", *fetch_all(tipg_port, tipg_paths, gz, args.clients))
                     for _ in range(2)]  # fmt: skip
    finally:
        stop(tipg)
    raw_s, cold, warm = (median_of(runs[k]) for k in ("raw", "cold", "warm"))
    tipg_s = median_of(tipg_runs)
    print(f"medians: raw p50 {raw_s['p50'] * 1000:.1f} ms; landmap cold p50 "
          f"{cold['p50'] * 1000:.1f} ms, {cold['tps']:.1f} tiles/s; warm {warm['tps']:.1f} "
          f"tiles/s; tipg {tipg_s['tps']:.1f} tiles/s")  # fmt: skip
    print(f"bench_tiles: n={args.n} cold_vs_raw={cold['p50'] / raw_s['p50']:.2f} "
          f"throughput_vs_tipg={cold['tps'] / tipg_s['tps']:.2f} "
          f"warm_vs_cold={warm['tps'] / cold['tps']:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(benchdb.run(SCHEMA, main))
