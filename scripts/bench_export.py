"""Exports at 100,000 parcels: time and peak memory of `python -m landmap export parcels` per
format, against the same export of 1,000 parcels (memory: bounded means the ratio stays near 1)
and against ogr2ogr copying the same parcels from PostGIS (time), measured in the same run.

    .venv/bin/python scripts/bench_export.py [--n 100000] [--formats gpkg,zip,geojson,xlsx,dxf]

Prints one line per format:
`bench_export: fmt=… n=… seconds=… peak_rss_mb=… small_peak_rss_mb=… memory_ratio=…
ogr2ogr_s=… time_ratio=…` (ogr2ogr only for the GDAL formats). Works in the schema
`bench_export`, dropped at the end (scripts/benchdb.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import benchdb  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from landmap.config import Settings  # noqa: E402
from landmap.db import make_engine, migrate  # noqa: E402

SCHEMA = "bench_export"
X0, Y0 = 440000.0, 3200000.0  # EPSG:4546, inside Yongding
SQL = (
    "SELECT code AS zddm, owner AS qlrmc, location AS tdzl, land_use_code AS tdyt, "
    "official_area_m2 AS zdmj, area_mu AS mjmu, stage AS zsjd, geom FROM parcel"
)
OGR = {
    "gpkg": ("GPKG", "x.gpkg"),
    "zip": ("ESRI Shapefile", "x.shp"),
    "geojson": ("GeoJSON", "x.geojson"),
}
# the landmap process's own export, with its peak resident memory written to stderr
WRAPPER = """
import resource, sys
from landmap.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def prepare(settings: Settings, n: int) -> None:
    migrate.upgrade(settings)
    side = int(n**0.5) + 1
    engine = make_engine(settings)
    with Session(engine) as s:
        s.execute(text("INSERT INTO zone (code, name) VALUES ('Z', '测试区')"))
        s.execute(
            text(f"""
            INSERT INTO parcel (code, name, owner, location, land_use_code, land_use_name,
                                official_area_m2, stage, geom)
            SELECT '430802' || lpad((i / 5000)::text, 6, '0') || 'JA'
                       || lpad((i % 5000)::text, 5, '0'),
                   '阳湖坪村' || (i % 97) || '号地块', '阳湖坪村第' || (i % 12 + 1) || '村民小组',
                   '永定区阳湖坪街道阳湖坪村' || (i % 12 + 1) || '组', '0101', '水田', 1444,
                   CASE WHEN i % 100 = 0 THEN 'cleared' ELSE 'not_started' END,
                   ST_Multi(ST_MakeEnvelope(
                       {X0} + (i % {side}) * 40 + 1, {Y0} + (i / {side}) * 40 + 1,
                       {X0} + (i % {side}) * 40 + 39, {Y0} + (i / {side}) * 40 + 39, 4546))
            FROM generate_series(0, {n - 1}) i""")
        )
        s.execute(text("UPDATE parcel SET zone_id = (SELECT id FROM zone)"))
        s.execute(text("ANALYZE parcel"))
        s.commit()
    engine.dispose()


def _environment(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = settings.database_url
    env["LANDMAP_DB_SCHEMA"] = SCHEMA
    env["LANDMAP_LANG"] = "en"
    return env


def landmap_export(settings: Settings, fmt: str, out: Path, *extra: str) -> tuple[float, float]:
    """Seconds and peak resident MB of one export in a process of its own."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, "export", "parcels", str(out), "--format", fmt, *extra],
        env=_environment(settings),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"export {fmt} failed:\n{done.stderr[-2000:]}")
    peak = next(line for line in done.stderr.splitlines() if line.startswith("PEAK_KB"))
    return seconds, int(peak.split()[1]) / 1024


def ogr2ogr(settings: Settings, fmt: str, folder: Path) -> float | None:
    """Seconds of ogr2ogr copying the same parcels out of PostGIS (the GDAL reference)."""
    if fmt not in OGR:
        return None
    driver, name = OGR[fmt]
    url = make_url(settings.database_url)
    source = " ".join(
        [
            f"PG:host={url.host}",
            f"port={url.port}",
            f"dbname={url.database}",
            f"user={url.username}",
            f"password={url.password}",
            f"active_schema={SCHEMA}",
        ]
    )
    sql = SQL
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GDAL_", "CPL_", "OGR_"))}
    started = time.perf_counter()
    command = ["ogr2ogr", "-f", driver, str(folder / name), source, "-sql", sql, "-nln", "p"]
    if driver == "ESRI Shapefile":
        command += ["-lco", "ENCODING=GBK"]
    subprocess.run(command, check=True, env=env, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--formats", default="gpkg,zip,geojson,xlsx,dxf")
    args = ap.parse_args()
    settings = Settings.from_env().with_(db_schema=SCHEMA)
    with benchdb.bench_schema(settings):
        t0 = time.perf_counter()
        prepare(settings, args.n)
        print(f"generated {args.n} parcels in {time.perf_counter() - t0:.1f} s")
        for fmt in args.formats.split(","):
            with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
                folder = Path(tmp)
                seconds, peak = landmap_export(settings, fmt, folder / f"all.{fmt}")
                _s, small = landmap_export(
                    settings, fmt, folder / f"small.{fmt}", "--stage", "cleared"
                )
                reference = ogr2ogr(settings, fmt, folder)
                line = " ".join(
                    [
                        f"bench_export: fmt={fmt}",
                        f"n={args.n}",
                        f"seconds={seconds:.1f}",
                        f"peak_rss_mb={peak:.0f}",
                        f"small_peak_rss_mb={small:.0f}",
                        f"memory_ratio={peak / small:.2f}",
                    ]
                )
                if reference:
                    line += f" ogr2ogr_s={reference:.1f} time_ratio={seconds / reference:.2f}"
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
