"""GDAL as landmap lets it run: three drivers, no network, for the whole process.

GDAL opens a file with whichever driver recognises its content, whatever its name says: a VRT
document named ``x.geojson`` is a VRT, and a VRT can read any file on the server (``CSV:/path``)
or fetch a URL (``/vsicurl/``). landmap reads shapefiles, GeoPackages and GeoJSON, nothing
else, so every other driver is skipped when GDAL registers its drivers (``GDAL_SKIP``, read
from the environment when pyogrio is first imported) and the network file systems are closed.
This module must be imported before pyogrio; ``landmap/__init__.py`` does so, and
:func:`pyogrio` refuses to hand out a GDAL that has any other driver (fail closed), so a
process that imported pyogrio first cannot read files at all rather than read them unsafely.
"""

from __future__ import annotations

import os
from types import ModuleType

# the kind of file landmap reads -> the one GDAL driver allowed to open it
DRIVERS = {"shapefile": "ESRI Shapefile", "gpkg": "GPKG", "geojson": "GeoJSON"}
ALLOWED = frozenset(DRIVERS.values())

# Every vector driver of the GDAL in the pinned pyogrio wheel (pyogrio.list_drivers() with
# nothing skipped). GDAL_SKIP takes those without a space in their name (a name it does not
# know costs a warning on stderr); the rest, and any a newer GDAL adds, are deregistered
# through GDAL's C API when pyogrio is first used (see pyogrio()).
KNOWN_DRIVERS = (
    "ADBC",
    "AIVector",
    "AVCBin",
    "AVCE00",
    "AmigoCloud",
    "CSV",
    "CSW",
    "Carto",
    "DGN",
    "DXF",
    "EDIGEO",
    "EEDA",
    "ESRI Shapefile",
    "ESRIJSON",
    "Elasticsearch",
    "FlatGeobuf",
    "GDALG",
    "GML",
    "GPKG",
    "GPSBabel",
    "GPX",
    "GTFS",
    "GeoJSON",
    "GeoJSONSeq",
    "GeoRSS",
    "HTTP",
    "Idrisi",
    "JML",
    "JSONFG",
    "KML",
    "LIBKML",
    "LVBAG",
    "MBTiles",
    "MEM",
    "MVT",
    "MapInfo File",
    "MapML",
    "MiraMonVector",
    "NGW",
    "OAPIF",
    "ODS",
    "OGCAPI",
    "OGR_GMT",
    "OGR_PDS",
    "OGR_VRT",
    "OSM",
    "OpenFileGDB",
    "PCIDSK",
    "PDF",
    "PDS4",
    "PGDUMP",
    "PLSCENES",
    "PMTiles",
    "S57",
    "SQLite",
    "SXF",
    "Selafin",
    "TopoJSON",
    "VDV",
    "VFK",
    "VICAR",
    "WAsP",
    "WFS",
    "XLSX",
)

# GDAL options that hold for every open: no network file systems reachable by any path, no
# side files written beside what is read, nothing executed from a dataset
CONFIG = {
    "GDAL_SKIP": ",".join(d for d in KNOWN_DRIVERS if d not in ALLOWED and " " not in d),
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".landmap-no-network",
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_PAM_ENABLED": "NO",
    "GDAL_VRT_ENABLE_PYTHON": "NO",
    "GDAL_VRT_ENABLE_RAWRASTERBAND": "NO",
    "OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO",
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
}


class UnsafeGDAL(RuntimeError):
    """GDAL has drivers landmap does not allow: it was set up before this module ran."""


def _configure() -> None:
    for key, value in CONFIG.items():
        os.environ[key] = value


_configure()


_checked: ModuleType | None = None


def pyogrio() -> ModuleType:
    """pyogrio, once it is known that GDAL opens nothing but the allowed drivers."""
    global _checked
    if _checked is not None:
        return _checked
    import pyogrio as module

    extra = sorted(set(module.list_drivers()) - ALLOWED)
    if extra:
        _deregister(extra)
        extra = sorted(set(module.list_drivers()) - ALLOWED)
    if extra:
        raise UnsafeGDAL(
            "GDAL has drivers landmap does not allow (" + ", ".join(extra) + "): pyogrio was "
            "imported before landmap.geo.gdal set GDAL_SKIP"
        )
    _checked = module
    return module


def _deregister(names: list[str]) -> None:
    """Drivers that GDAL_SKIP cannot name (a space in the name) are deregistered through
    GDAL's C API, from the libgdal that pyogrio loaded."""
    import ctypes

    lib = _libgdal()
    if lib is None:
        return
    lib.GDALGetDriverByName.restype = ctypes.c_void_p
    lib.GDALGetDriverByName.argtypes = [ctypes.c_char_p]
    lib.GDALDeregisterDriver.argtypes = [ctypes.c_void_p]
    lib.GDALDestroyDriver.argtypes = [ctypes.c_void_p]
    for name in names:
        driver = lib.GDALGetDriverByName(name.encode())
        if driver:
            lib.GDALDeregisterDriver(driver)
            lib.GDALDestroyDriver(driver)


def _libgdal():
    import ctypes

    maps = "/proc/self/maps"
    if not os.path.exists(maps):
        return None
    with open(maps) as f:
        paths = {line.split()[-1] for line in f if "libgdal" in line and line.count(" ") >= 5}
    for path in sorted(paths):
        if os.path.isfile(path):
            return ctypes.CDLL(path)
    return None
