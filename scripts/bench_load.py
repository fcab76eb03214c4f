"""Benchmark: landmap's parcel loader against GDAL's ogr2ogr into the same PostGIS.

Generates a cadastral shapefile of N parcels (CGCS2000 3-degree GK zone 37, EPSG:4525, GBK
attributes with a .cpg), then loads it

  * with landmap (`python -m landmap load parcels`, every check included), into a fresh
    schema `bench_load` that holds the demo zone, and
  * with `ogr2ogr -f PostgreSQL --config PG_USE_COPY YES`, reprojected to the same storage SRID
    and promoted to MultiPolygon, into another table of that schema,

and prints both wall times, their ratio and landmap's peak memory (RSS of its process):

    .venv/bin/python scripts/bench_load.py --n 100000
    bench_load: n=100000 landmap_s=… ogr2ogr_s=… ratio=… peak_rss_mb=…

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
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--keep", action="store_true", help="keep the generated file")
    ap.add_argument(
        "--context",
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
    prepare(settings)
    env = {**os.environ, "DATABASE_URL": settings.database_url, "LANDMAP_DB_SCHEMA": SCHEMA}
    landmap_s, rss = run_measured([sys.executable, "-m", "landmap", "load", "parcels", str(shp)],
                                  env)  # fmt: skip
    ogr_s, _ = run_measured(
        ["ogr2ogr", "-f", "PostgreSQL", pg_conn_string(settings.database_url), str(shp),
         "-nln", "ogr_parcels", "-lco", "GEOMETRY_NAME=geom", "-nlt", "PROMOTE_TO_MULTI",
         "-t_srs", "EPSG:4546", "-overwrite", "--config", "PG_USE_COPY", "YES"], env,
    )  # fmt: skip
    engine = make_engine(settings.with_(db_role=""))  # as ogr2ogr connects: the owner
    context = args.context if args.context is not None else args.n <= 200_000
    shaped_s = shaped = None
    if context:
        shaped_s = context_run(engine, settings, shp, env)
    with engine.connect() as conn:
        loaded = conn.execute(text("SELECT count(*) FROM parcel WHERE code LIKE '430802___1%'"))
        ogr = conn.execute(text("SELECT count(*) FROM ogr_parcels")).scalar_one()
        print(f"landmap loaded {loaded.scalar_one()} parcels, ogr2ogr {ogr} rows")
        if context:
            shaped = conn.execute(text("SELECT count(*) FROM ogr_register")).scalar_one()
            print(f"context: ogr2ogr -append of {shaped} rows into a table shaped like the "
                  f"register took {shaped_s:.2f} s (GDAL inserts row by row there); "
                  f"landmap / that = {landmap_s / shaped_s:.2f}")  # fmt: skip
    engine.dispose()
    if not args.keep:
        shutil.rmtree(tmp)
    print(f"landmap {landmap_s:.2f} s (peak RSS {rss:.0f} MiB), ogr2ogr {ogr_s:.2f} s")
    print(f"bench_load: n={args.n} landmap_s={landmap_s:.2f} ogr2ogr_s={ogr_s:.2f} "
          f"ratio={landmap_s / ogr_s:.2f} peak_rss_mb={rss:.0f}")  # fmt: skip
    return 0


def context_run(engine, settings: Settings, shp: Path, env: dict[str, str]) -> float:
    """ogr2ogr into a table shaped like the register (its indexes, CHECKs and generated
    columns): what landmap's merge pays for beyond a bare COPY."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE ogr_register (LIKE parcel INCLUDING ALL)"))
    shaped_s, _ = run_measured(
        ["ogr2ogr", "-f", "PostgreSQL", pg_conn_string(settings.database_url), str(shp),
         "-append", "-nln", "ogr_register", "-nlt", "MULTIPOLYGON", "-t_srs", "EPSG:4546",
         "-sql", f"SELECT ZDDM AS code, QLRMC AS owner, ZL AS location, TDYT AS land_use_code, "
                 f"ZDMJ AS official_area_m2 FROM {shp.stem}",
         "--config", "PG_USE_COPY", "YES"], env,
    )  # fmt: skip
    return shaped_s


if __name__ == "__main__":
    sys.exit(benchdb.run(SCHEMA, main))
