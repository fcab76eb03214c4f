"""GDAL with three drivers or not at all: a process that imported pyogrio before landmap (so
that GDAL_SKIP came too late) still gets a GDAL that opens nothing else, or none."""

from __future__ import annotations

import os
import subprocess
import sys

from landmap.config import PROJECT_ROOT
from landmap.geo import gdal

VRT = """<OGRVRTDataSource><OGRVRTLayer name="x">
<SrcDataSource>CSV:{path}</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>"""


def fresh_process(code: str) -> subprocess.CompletedProcess:
    """``code`` in a new interpreter whose environment lacks landmap's GDAL settings."""
    env = {k: v for k, v in os.environ.items() if k not in gdal.CONFIG}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT
    )


def test_pyogrio_imported_first_still_opens_only_the_three_kinds(tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("code\nSECRET-LINE\n")
    (tmp_path / "x.geojson").write_text(VRT.format(path=secret))
    out = fresh_process(f"""
import pyogrio
assert "OGR_VRT" in pyogrio.list_drivers() and "MapInfo File" in pyogrio.list_drivers()
from landmap.geo import gdal
module = gdal.pyogrio()
print(sorted(module.list_drivers()))
try:
    print(module.read_dataframe({str(tmp_path / "x.geojson")!r}))
except Exception as exc:
    print("refused:", type(exc).__name__)
""")
    assert out.returncode == 0, out.stderr
    drivers, answer = out.stdout.strip().splitlines()[:2]
    assert drivers == "['ESRI Shapefile', 'GPKG', 'GeoJSON']"
    assert answer.startswith("refused:") and "SECRET" not in out.stdout


def test_without_a_way_to_remove_the_other_drivers_it_refuses_to_hand_out_gdal():
    out = fresh_process("""
import pyogrio
from landmap.geo import gdal
gdal._libgdal = lambda: None
try:
    gdal.pyogrio()
except gdal.UnsafeGDAL as exc:
    print(exc)
""")
    assert out.returncode == 0, out.stderr
    message = out.stdout.strip()
    assert message.startswith("GDAL has drivers landmap does not allow (ADBC, ")
    assert ", OGR_VRT, " in message and ", MapInfo File, " in message
    assert message.endswith("): pyogrio was imported before landmap.geo.gdal set GDAL_SKIP")


def test_the_checked_module_is_handed_out_again_without_checking():
    first = gdal.pyogrio()
    assert gdal.pyogrio() is first
    assert set(first.list_drivers()) == gdal.ALLOWED


def test_landmap_sets_gdals_safety_options_for_the_whole_process():
    assert {k: os.environ.get(k) for k in gdal.CONFIG} == gdal.CONFIG
    skipped = set(gdal.CONFIG["GDAL_SKIP"].split(","))
    assert not skipped & gdal.ALLOWED and "OGR_VRT" in skipped and "CSV" in skipped
    assert gdal.CONFIG["GDAL_VRT_ENABLE_PYTHON"] == "NO"
