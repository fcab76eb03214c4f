"""Benchmark: landmap's parcel loader against GDAL's ogr2ogr into the same PostGIS.

Generates a cadastral shapefile of N parcels (CGCS2000 3-degree GK zone 37, EPSG:4525, GBK
attributes with a .cpg), then, in each of --rounds rounds, in a fresh schema `bench_load`
that holds the demo zone, loads it

  * with landmap (`python -m landmap load parcels`, every check included, one transaction),
  * with `ogr2ogr -f PostgreSQL --config PG_USE_COPY YES -gt unlimited` (one transaction, as
    landmap), reprojected to the same storage SRID and promoted to MultiPolygon, into a bare
    table (the reference "bare"), and
  * with the same ogr2ogr, `-append` into a table made `LIKE parcel INCLUDING ALL` (the
    register's indexes, CHECKs, generated columns and defaults; not its triggers): the reference
    "register" (slow: the loader work saw GDAL write row by row there; by default only up to
    200,000 parcels, --register).

and prints each round's wall times (the machine may be shared: the rounds show the noise) and
the medians, the ratios being the median of each round's landmap / reference:

    .venv/bin/python scripts/bench_load.py --n 100000
    bench_load: n=100000 landmap_s=… vs_ogr2ogr_bare=… vs_ogr2ogr_register=… …

Uses DATABASE_URL, else the project-local cluster. Needs Debian's gdal-bin for ogr2ogr.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import benchdb  # noqa: E402

from landmap.config import Settings  # noqa: E402
from landmap.db import make_engine, migrate  # noqa: E402

SCHEMA = "bench_load"
SURNAMES = list("覃向田王李张卓黄彭龚杨谷胡唐宋吴")
GIVEN = ["明华", "德贵", "春林", "秀英", "大勇", "世权", "玉兰", "正清"]
VILLAGES = ["社溪村", "阳湖坪村", "罗沙村", "温塘村", "黄家铺村"]


def generate(path: Path, n: int, chunk: int = 100_000) -> None:
    """n parcels of about 20 m x 20 m with slightly irregular corners, written in chunks."""
    rng = np.random.default_rng(7)
    cols = int(np.ceil(np.sqrt(n)))
    x0, y0, step = 37_430_000.0, 3_190_000.0, 22.0  # zone 37 prefix; inside Yongding
    for start in range(0, n, chunk):
        idx = np.arange(start, min(n, start + chunk))
        x = x0 + (idx % cols) * step
        y = y0 + (idx // cols) * step
        jitter = rng.uniform(-1.5, 1.5, size=(len(idx), 4, 2))
        corners = np.stack(
            [np.column_stack([x, y]), np.column_stack([x + 20, y]),
             np.column_stack([x + 20, y + 20]), np.column_stack([x, y + 20])], axis=1,
        ) + jitter  # fmt: skip
        rings = np.concatenate([corners, corners[:, :1]], axis=1)
        geoms = shapely.polygons(rings)
        area = shapely.area(geoms)
        owner_kind = idx % 3
        owners = np.where(
            owner_kind == 0,
            [VILLAGES[i % 5] + "村民委员会" for i in idx],
            [SURNAMES[i % 16] + GIVEN[(i // 16) % 8] for i in idx],
        )
        gdf = gpd.GeoDataFrame(
            {
                "ZDDM": [
                    f"430802{(i // 100000) % 1000:03d}{(i // 1000) % 100 + 100:03d}"
                    f"JA{i % 100000:05d}"
                    for i in idx
                ],  # fmt: skip
                "QLRMC": owners,
                "ZL": [f"永定区阳湖坪街道{VILLAGES[i % 5]}" for i in idx],
                "ZDMJ": np.round(area * (1 + rng.normal(0, 0.002, len(idx))), 2),
                "TDYT": np.where(idx % 4 == 0, "0702", "0101"),
                "QLLX": "集体土地所有权",
                "BZ": "基准测试",
            },
            geometry=geoms,
            crs="EPSG:4525",
        )
        gdf.to_file(path, engine="pyogrio", encoding="GBK", append=start > 0)


def prepare(settings: Settings) -> None:
    engine = make_engine(settings.with_(db_role=""))  # the schema's owner
    with engine.begin() as conn:  # the schema and those made with it (bench_load_gis)
        for name in benchdb.bench_schemas(conn):
            if name == SCHEMA or name.startswith(SCHEMA + "_"):
                conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    engine.dispose()
    migrate.upgrade(settings)
    env = {**os.environ, "DATABASE_URL": settings.database_url, "LANDMAP_DB_SCHEMA": SCHEMA}
    subprocess.run([sys.executable, "-m", "landmap", "demo"], cwd=ROOT, env=env, check=True,
                   capture_output=True)  # fmt: skip


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()  # type: ignore[union-attr]
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{out}\n{err}")
    return elapsed, usage.ru_maxrss / 1024


def pg_conn_string(url: str) -> str:
    u = make_url(url)
    parts = {"host": u.host, "port": u.port, "dbname": u.database, "user": u.username,
             "password": u.password, "active_schema": SCHEMA}  # fmt: skip
    return "PG:" + " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)


# ogr2ogr's own batching: one transaction for the whole file, as landmap's load
OGR2OGR = ["ogr2ogr", "-f", "PostgreSQL", "--config", "PG_USE_COPY", "YES", "-gt", "unlimited"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the three loads (median)")
    ap.add_argument("--keep", action="store_true", help="keep the generated file")
    ap.add_argument(
        "--register",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time ogr2ogr -append into a register-shaped table "
        "(one INSERT per row in GDAL; default: only up to 200,000 parcels)",
    )
    args = ap.parse_args()
    if not shutil.which("ogr2ogr"):
        raise SystemExit("ogr2ogr not found: apt-get install gdal-bin")
    settings = Settings.from_env().with_(db_schema=SCHEMA)
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    shp = tmp / "zd_bench.shp"
    t0 = time.perf_counter()
    generate(shp, args.n)
    print(f"generated {args.n} parcels in {time.perf_counter() - t0:.1f} s: {shp}")
    register = args.register if args.register is not None else args.n <= 200_000
    rounds = [one_round(settings, shp, args.n, register) for _ in range(max(args.rounds, 1))]
    if not args.keep:
        shutil.rmtree(tmp)
    print(summary(args.n, rounds))
    return 0


def one_round(settings: Settings, shp: Path, n: int, register: bool) -> dict[str, float]:
    """The three loads into a fresh schema: wall seconds of each, landmap's peak RSS (MiB)."""
    prepare(settings)
    env = {**os.environ, "DATABASE_URL": settings.database_url, "LANDMAP_DB_SCHEMA": SCHEMA}
    landmap_s, rss = run_measured([sys.executable, "-m", "landmap", "load", "parcels", str(shp)],
                                  env)  # fmt: skip
    bare_s, _ = run_measured(
        [*OGR2OGR, pg_conn_string(settings.database_url), str(shp), "-nln", "ogr_parcels",
         "-lco", "GEOMETRY_NAME=geom", "-nlt", "PROMOTE_TO_MULTI", "-t_srs", "EPSG:4546",
         "-overwrite"], env,
    )  # fmt: skip
    engine = make_engine(settings.with_(db_role=""))  # as ogr2ogr connects: the owner
    times = {"landmap": landmap_s, "bare": bare_s, "rss": rss}
    if register:
        times["register"] = register_run(engine, settings, shp, env)
    tables = {"landmap": "parcel WHERE code LIKE '430802___1%'", "bare": "ogr_parcels"}
    if register:
        tables["register"] = "ogr_register"
    with engine.connect() as conn:
        counts = {
            k: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for k, t in tables.items()
        }
    engine.dispose()
    if any(c != n for c in counts.values()):
        raise SystemExit(f"rows loaded: {counts}, not {n} each")
    shown = ", ".join(f"{k} {v:.2f} s" for k, v in times.items() if k != "rss")
    print(f"round: {shown} (landmap peak RSS {rss:.0f} MiB)", flush=True)
    return times


def summary(n: int, rounds: list[dict[str, float]]) -> str:
    """The closing line: medians of the rounds' times and of their ratios."""

    def ratio(ref: str) -> str:
        if ref not in rounds[0]:
            return "skipped"
        return f"{median(r['landmap'] / r[ref] for r in rounds):.2f}"

    def seconds(key: str) -> str:
        return f"{median(r[key] for r in rounds):.2f}" if key in rounds[0] else "skipped"

    return (
        f"bench_load: n={n} landmap_s={seconds('landmap')} vs_ogr2ogr_bare={ratio('bare')} "
        f"vs_ogr2ogr_register={ratio('register')} ogr2ogr_bare_s={seconds('bare')} "
        f"ogr2ogr_register_s={seconds('register')} rounds={len(rounds)} "
        f"peak_rss_mb={max(r['rss'] for r in rounds):.0f}"
    )


def register_run(engine, settings: Settings, shp: Path, env: dict[str, str]) -> float:
    """ogr2ogr into a table shaped like the register (its indexes, CHECKs, generated columns
    and defaults; not its triggers): what landmap's merge pays for beyond a bare COPY."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE ogr_register (LIKE parcel INCLUDING ALL)"))
    shaped_s, _ = run_measured(
        [*OGR2OGR, pg_conn_string(settings.database_url), str(shp), "-append",
         "-nln", "ogr_register", "-nlt", "MULTIPOLYGON", "-t_srs", "EPSG:4546",
         "-sql", f"SELECT ZDDM AS code, QLRMC AS owner, ZL AS location, TDYT AS land_use_code, "
                 f"ZDMJ AS official_area_m2 FROM {shp.stem}"], env,
    )  # fmt: skip
    return shaped_s


if __name__ == "__main__":
    sys.exit(benchdb.run(SCHEMA, main))
