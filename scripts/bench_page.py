"""Benchmark: the map page with N parcels — bytes and time until the first parcels are drawn,
against the same map built the plain folium way (folium.GeoJson embedding the layer).

Generates N parcels in a fresh schema `bench_page` with a zone around them, serves landmap
(gunicorn) and a static copy of the folium.GeoJson page (its Leaflet served locally), opens
each in headless Chromium and measures from navigation start until parcels are on screen.
Ends with `bench_page: n=N bytes_before_first_draw=… first_draw_s=… geojson_first_draw_s=…`.

    .venv/bin/python scripts/bench_page.py --n 100000
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_tiles  # noqa: E402
import benchdb  # noqa: E402

from landmap.config import Settings  # noqa: E402
from landmap.db import make_engine  # noqa: E402
from landmap.services import users  # noqa: E402

PASSWORD = "bench password 123"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def prepare(settings: Settings, n: int) -> None:
    # parcels of about 40 m x 40 m (1,600 m², 2.4 mu): big enough to be drawn at the zoom
    # that fits them all (the tiles leave out parcels smaller than two screen pixels)
    bench_tiles.prepare(settings, n, cell=42)
    engine = make_engine(settings)
    with Session(engine) as s:
        s.execute(text("INSERT INTO zone (code, name) VALUES ('Z', 'bench')"))
        s.execute(
            text("""INSERT INTO zone_boundary (zone_id, status, valid_from, geom)
            SELECT z.id, 'current', '2020-01-01', ST_Multi(ST_Envelope(ST_Collect(p.geom)))
            FROM zone z, parcel p GROUP BY z.id""")
        )
        users.set_password(s, "bench", PASSWORD)
        s.commit()
    engine.dispose()


def geojson_page(settings: Settings, folder: Path) -> Path:
    """The plain folium way: every parcel embedded in the page as GeoJSON."""
    import folium

    engine = make_engine(settings)
    with engine.connect() as conn:
        fc = conn.execute(
            text("""
            SELECT json_build_object('type', 'FeatureCollection', 'features', json_agg(
                json_build_object('type', 'Feature', 'properties', json_build_object(
                    'code', code, 'stage', stage),
                    'geometry', ST_AsGeoJSON(ST_Transform(geom, 4326), 7)::json)))
            FROM parcel""")
        ).scalar()
        center = conn.execute(
            text("""SELECT ST_Y(c), ST_X(c) FROM (SELECT ST_Transform(
            ST_Centroid(ST_Collect(geom)), 4326) c FROM parcel) s""")
        ).one()
    engine.dispose()
    m = folium.Map(location=list(center), zoom_start=13, tiles=None)
    folium.GeoJson(fc, name="parcels").add_to(m)
    shutil.copytree(ROOT / "static" / "vendor", folder / "vendor")
    m.default_js = [("leaflet", "vendor/leaflet/leaflet.js")]
    m.default_css = [("leaflet_css", "vendor/leaflet/leaflet.css")]
    page = folder / "geojson.html"
    m.save(str(page))
    return page


def measure(browser, url: str, ready_js: str, login: tuple[str, str] | None = None,
            timeout_s: float = 180) -> tuple[float, int]:  # fmt: skip
    """(seconds from navigation start until ready_js holds, bytes received until then)"""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    if login:
        base, name = login
        page.goto(base + "/login")
        page.fill("#username", name)
        page.fill("#password", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_load_state()
    # bytes on the wire as Chromium counts them (headers + encoded body), per request
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    # logging in has already opened the map: start from an empty browser cache, as a first visit
    cdp.send("Network.clearBrowserCache")
    urls: dict[str, str] = {}
    wire: dict[str, int] = {}
    cdp.on(
        "Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"])
    )
    cdp.on(
        "Network.loadingFinished",
        lambda e: wire.__setitem__(e["requestId"], e["encodedDataLength"]),
    )
    page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
    page.wait_for_function(ready_js, timeout=timeout_s * 1000, polling=50)
    seconds = page.evaluate("() => performance.now()") / 1000
    done = dict(wire)  # what had arrived when the parcels were first on screen
    total = sum(done.values())
    if os.environ.get("BENCH_VERBOSE"):
        for rid, size in sorted(done.items(), key=lambda kv: -kv[1]):
            print(f"  {size:>9} {urls.get(rid, '?')[:100]}")
    context.close()
    return seconds, total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    settings = Settings.from_env().with_(db_schema="bench_page")
    prepare(settings, args.n)
    tmp = Path(tempfile.mkdtemp(prefix="bench-page-"))
    page_file = geojson_page(settings, tmp)
    print(f"{args.n} parcels; the GeoJSON page is {page_file.stat().st_size / 1e6:.1f} MB")
    port, static_port = bench_tiles.free_port(), bench_tiles.free_port()
    env = {**os.environ, "DATABASE_URL": settings.database_url, "LANDMAP_DB_SCHEMA":
           "bench_page", "LANDMAP_DB_ROLE": settings.db_role, "LANDMAP_VAR_DIR": str(tmp / "var"),
           "LANDMAP_SECRET_KEY": "bench"}  # fmt: skip
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-w", "2", "-k", "gthread", "--threads", "4",
         "-b", f"127.0.0.1:{port}", "landmap:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp))
    static = http.server.ThreadingHTTPServer(("127.0.0.1", static_port), handler)
    threading.Thread(target=static.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        bench_tiles.wait_up(port, "/healthz", {})
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            first_s, first_bytes = measure(
                browser, base + "/",
                "() => window.LandMap && LandMap.current"
                " && LandMap.current.parcels.landmap.loaded > 0",
                login=(base, "bench"),
            )  # fmt: skip
            t0 = time.perf_counter()
            try:
                geo_s, geo_bytes = measure(
                    browser, f"http://127.0.0.1:{static_port}/geojson.html",
                    "() => document.querySelector('path.leaflet-interactive') !== null",
                )  # fmt: skip
            except Exception as exc:  # a page that never draws is a result too
                geo_s, geo_bytes = float("nan"), -1
                print(f"GeoJSON page did not draw in time ({time.perf_counter() - t0:.0f} s): "
                      f"{type(exc).__name__}")  # fmt: skip
            browser.close()
    finally:
        server.terminate()
        server.wait()
        static.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"landmap: first parcels drawn after {first_s:.2f} s, {first_bytes / 1e6:.3f} MB "
          f"received; GeoJSON page: {geo_s:.2f} s, {geo_bytes / 1e6:.1f} MB")  # fmt: skip
    print(f"bench_page: n={args.n} bytes_before_first_draw={first_bytes} "
          f"first_draw_s={first_s:.2f} geojson_first_draw_s={geo_s:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(benchdb.run("bench_page", main))
