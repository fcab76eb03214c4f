"""Surveyor-style files, made by GDAL (through pyogrio) the way they arrive."""

from __future__ import annotations

import struct
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

OWNERS = ["阳湖坪村村民委员会", "社溪村村民委员会", "覃明华", "向德贵", "罗沙村村民委员会"]
ORIGIN = (456900.0, 3217700.0)  # EPSG:4546, inside zone C, clear of the demo's parcels


def parcels(n: int = 12, *, prefix: str = "430802003099JA", size: float = 40.0,
            origin=ORIGIN, off_by: dict[int, float] | None = None) -> gpd.GeoDataFrame:  # fmt: skip
    """n square parcels of size x size m in EPSG:4546, with 宗地 fields and Chinese owners."""
    cols = int(np.ceil(np.sqrt(n)))
    geoms, rows = [], []
    for i in range(n):
        x = origin[0] + (i % cols) * (size + 5)
        y = origin[1] + (i // cols) * (size + 5)
        g = shapely.box(x, y, x + size, y + size)
        geoms.append(g)
        factor = 1 + (off_by or {}).get(i, 0.001)
        rows.append({
            "ZDDM": f"{prefix}{i + 1:05d}",
            "QLRMC": OWNERS[i % len(OWNERS)],
            "ZL": "永定区阳湖坪街道社溪村",
            "ZDMJ": round(g.area * factor, 2),
            "TDYT": "0101",
            "QLLX": "集体土地所有权",
            "BZ": "测试",  # a field no profile names: kept in attributes
        })  # fmt: skip
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4546")


def write_shp(gdf: gpd.GeoDataFrame, path: Path, *, epsg: int | None = None,
              encoding: str = "GBK", cpg: bool = True, prj: str | None = "esri",
              ldid: int | None = None) -> Path:  # fmt: skip
    """Write a shapefile in EPSG:epsg (default: the frame's CRS).

    prj: "esri" (ArcGIS-style WKT, as surveyors' files carry), "wkt" (GDAL's), None (no .prj).
    cpg: keep the .cpg GDAL writes; ldid: set the DBF language driver id byte.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    out = gdf.to_crs(epsg) if epsg else gdf
    out.to_file(path, engine="pyogrio", encoding=encoding)
    if not cpg:
        path.with_suffix(".cpg").unlink()
    if prj is None:
        path.with_suffix(".prj").unlink()
    elif prj == "esri":
        path.with_suffix(".prj").write_text(CRS.from_user_input(out.crs).to_wkt("WKT1_ESRI"))
    if ldid is not None:
        dbf = path.with_suffix(".dbf")
        data = bytearray(dbf.read_bytes())
        data[29] = ldid
        dbf.write_bytes(bytes(data))
    return path


def truncate(path: Path, keep: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:keep])


def shp_record_count(path: Path) -> int:
    with path.with_suffix(".shx").open("rb") as f:
        f.seek(24)
        return (struct.unpack(">i", f.read(4))[0] * 2 - 100) // 8
