"""Parcels handed on as files for QGIS, ArcGIS and CAD: GeoPackage, ESRI shapefile (zipped),
GeoJSON, an attribute workbook and DXF.

Every GIS file is written by GDAL (pyogrio through landmap.geo.gdal, which allows only the
shapefile, GeoPackage and GeoJSON drivers) in chunks of CHUNK parcels, so that memory stays
bounded however many parcels are picked; DXF is written by ezdxf. Files go into a directory
the caller owns (and removes). Shapefile fields follow the 宗地 standard (ZDDM, QLRMC, ...,
at most 10 characters), text in GBK by default, with a .cpg that says so; a value that
cannot be written in the chosen encoding is refused before anything is written.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.domain import Stage
from landmap.geo.gdal import pyogrio
from landmap.geo.units import mu2
from landmap.messages import msg
from landmap.services import Refused, xlsx
from landmap.services.parcels import ParcelFilter, filter_sql, state_sql

FORMATS = ("gpkg", "zip", "geojson", "xlsx", "dxf")
SRIDS = (4490, 4545, 4546, 4547)  # CGCS2000 geographic and 3-degree Gauss-Kruger CM 108-114E
ENCODINGS = {"gbk": "GBK", "utf-8": "UTF-8"}
MAX_CODES = 5000
CHUNK = 5000
SHAPE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")

# shapefile field -> (column of the query, header of the workbook)
FIELDS = {
    "ZDDM": ("code", "宗地代码"),
    "QLRMC": ("owner", "权利人名称"),
    "TDZL": ("location", "土地坐落"),
    "TDYT": ("land_use_code", "土地用途"),
    "ZDMJ": ("official_area_m2", "宗地面积(平方米)"),
    "MJMU": ("area_mu", "面积(亩)"),
    "ZSJD": ("stage", "征收阶段"),
    "XMMC": ("project", "项目名称"),
    "PCMC": ("batch", "批次名称"),
}
TEXT_FIELDS = ("ZDDM", "QLRMC", "TDZL", "TDYT", "ZSJD", "XMMC", "PCMC")


@dataclass(frozen=True)
class ExportOptions:
    fmt: str
    encoding: str = "gbk"
    srid: int | None = None  # None: the storage CRS (lm_storage_srid())
    codes: tuple[str, ...] = ()


def parse_format(value: str | None) -> str:
    if value not in FORMATS:
        raise Refused(
            msg(
                "export_bad_format",
                "there is no export format %(given)s; the formats are %(known)s",
                given=str(value)[:40],
                known=list(FORMATS),
            )
        )
    return value


def parse_srs(value: str | None) -> int | None:
    """An EPSG code from the whitelist (``EPSG:4546`` or ``4546``); None (the storage CRS)
    without."""
    if not value:
        return None
    digits = value.upper().removeprefix("EPSG:")
    if not (digits.isascii() and digits.isdigit() and int(digits) in SRIDS):
        raise Refused(
            msg(
                "export_bad_srs",
                "the coordinate system %(given)s cannot be exported; choose one of %(known)s",
                given=value[:40],
                known=[f"EPSG:{n}" for n in SRIDS],
            )
        )
    return int(digits)


def parse_encoding(value: str | None) -> str:
    key = (value or "gbk").lower()
    if key not in ENCODINGS:
        raise Refused(
            msg(
                "export_bad_encoding",
                "the text encoding %(given)s cannot be exported; choose one of %(known)s",
                given=str(value)[:40],
                known=list(ENCODINGS),
            )
        )
    return key


def parse_codes(value: str | None) -> tuple[str, ...]:
    """Parcel codes separated by commas (the selection tool's), at most MAX_CODES."""
    codes = tuple(c.strip() for c in (value or "").split(",") if c.strip())
    if len(codes) > MAX_CODES or any(len(c) > 64 or not c.isprintable() for c in codes):
        raise Refused(
            msg(
                "export_bad_codes",
                "codes must be at most %(n)s parcel codes separated by commas",
                n=MAX_CODES,
            )
        )
    return codes


def _query(selection: ParcelFilter, options: ExportOptions, srid: int) -> tuple[str, dict]:
    clauses, params = filter_sql(selection)
    if selection.bbox:
        clauses.append(
            "p.geom && ST_Transform(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326), lm_storage_srid())"
        )
        params.update(zip(("x0", "y0", "x1", "y1"), selection.bbox, strict=True))
    if options.codes:
        clauses.append("p.code = ANY(:codes)")
        params["codes"] = list(options.codes)
    params["srid"] = srid
    stage = state_sql("p", bool(selection.as_of))["stage"]
    sql = f"""
        SELECT p.code, p.owner, p.location, p.land_use_code, p.official_area_m2::float8
               AS official_area_m2, p.area_mu, {stage} AS stage, pr.name AS project,
               b.name AS batch, ST_AsBinary(ST_Multi(ST_Transform(p.geom, :srid))) AS wkb,
               ST_AsBinary(ST_PointOnSurface(p.geom)) AS label
        FROM parcel p
        LEFT JOIN project pr ON pr.id = p.project_id
        LEFT JOIN acquisition_batch b ON b.id = p.batch_id
        WHERE {" AND ".join(clauses)} ORDER BY p.code"""
    return sql, params


def _rows(session: Session, selection, options, srid: int) -> Iterator[list[dict[str, Any]]]:
    """The picked parcels in chunks of CHUNK rows, stage as its Chinese label, mu rounded."""
    sql, params = _query(selection, options, srid)
    result = session.execute(text(sql).execution_options(yield_per=CHUNK), params)
    for part in result.mappings().partitions(CHUNK):
        rows = [dict(r) for r in part]
        for r in rows:
            r["stage"] = Stage(r["stage"]).label_zh
            r["area_mu"] = mu2(r["area_mu"])
        yield rows


def _check_encoding(rows: list[dict[str, Any]], encoding: str) -> None:
    for r in rows:
        for name in TEXT_FIELDS:
            value = r[FIELDS[name][0]]
            try:
                (value or "").encode(encoding)
            except UnicodeEncodeError as exc:
                raise Refused(
                    msg(
                        "export_not_encodable",
                        "parcel %(code)s: field %(field)s holds text that %(encoding)s cannot "
                        "write; export with encoding=utf-8",
                        code=r["code"],
                        field=name,
                        encoding=ENCODINGS[encoding],
                    )
                ) from exc


def _frame(rows: list[dict[str, Any]], srid: int):
    import geopandas
    from shapely import from_wkb

    data = {name: [r[col] for r in rows] for name, (col, _h) in FIELDS.items()}
    geometry = from_wkb([bytes(r["wkb"]) for r in rows])
    return geopandas.GeoDataFrame(data, geometry=geometry, crs=f"EPSG:{srid}")


def _write_gdal(session, selection, options, path: Path, driver: str, srid: int) -> None:
    gdal_io = pyogrio()
    encoding = ENCODINGS[options.encoding] if driver == "ESRI Shapefile" else None
    if driver == "ESRI Shapefile":  # the whole set is checked before a byte is written
        for rows in _rows(session, selection, options, srid):
            _check_encoding(rows, options.encoding)
    written = False
    for rows in _rows(session, selection, options, srid):
        gdal_io.write_dataframe(
            _frame(rows, srid),
            path,
            layer="parcels",
            driver=driver,
            encoding=encoding,
            promote_to_multi=True,
            append=written,
        )
        written = True
    if not written:
        gdal_io.write_dataframe(
            _frame([], srid),
            path,
            layer="parcels",
            driver=driver,
            encoding=encoding,
            geometry_type="MultiPolygon",
        )


def _write_xlsx(session, selection, options, path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "宗地"
    rows = (
        [r[col] for col, _h in FIELDS.values()]
        for chunk in _rows(session, selection, options, _storage_srid(session))
        for r in chunk
    )
    formats = [xlsx.MU if name in ("MJMU",) else None for name in FIELDS]
    xlsx.write_table(ws, [h for _c, h in FIELDS.values()], rows, formats)
    day = selection.as_of.isoformat() if selection.as_of else "当前"
    xlsx.describe(wb, "宗地属性表", [("状态日期", day)])
    path.write_bytes(xlsx.to_bytes(wb))


def _write_dxf(session, selection, options, path: Path, srid: int) -> None:
    """One layer per stage (its Chinese label), each ring a closed LWPOLYLINE in the storage
    CRS, the parcel code as TEXT at its label point."""
    import ezdxf
    from shapely import from_wkb

    doc = ezdxf.new("R2010")
    space = doc.modelspace()
    for stage in Stage:
        doc.layers.add(stage.label_zh)
    for rows in _rows(session, selection, options, srid):
        for r in rows:
            attribs = {"layer": r["stage"]}
            for polygon in from_wkb(bytes(r["wkb"])).geoms:
                for ring in (polygon.exterior, *polygon.interiors):
                    space.add_lwpolyline(list(ring.coords)[:-1], close=True, dxfattribs=attribs)
            label = from_wkb(bytes(r["label"]))
            space.add_text(r["code"], height=2.5, dxfattribs=attribs).set_placement(
                (label.x, label.y)
            )
    doc.saveas(path, encoding="utf-8")


def _storage_srid(session: Session) -> int:
    """The SRID every geometry is stored in, as the database was made (LANDMAP_STORAGE_SRID)."""
    return session.scalar(text("SELECT lm_storage_srid()"))


def export_parcels(
    session: Session, selection: ParcelFilter, options: ExportOptions, directory: Path
) -> Path:
    """Write the parcels ``selection`` (and ``options.codes``) picks into ``directory`` in
    ``options.fmt``; the path of the file to hand on. GeoJSON is always EPSG:4326, DXF in the
    storage CRS."""
    path = directory / f"parcels.{options.fmt}"
    srid = options.srid or _storage_srid(session)
    if options.fmt == "gpkg":
        _write_gdal(session, selection, options, path, "GPKG", srid)
    elif options.fmt == "geojson":
        _write_gdal(session, selection, options, path, "GeoJSON", 4326)
    elif options.fmt == "xlsx":
        _write_xlsx(session, selection, options, path)
    elif options.fmt == "dxf":
        _write_dxf(session, selection, options, path, _storage_srid(session))
    else:
        shp = directory / "parcels.shp"
        _write_gdal(session, selection, options, shp, "ESRI Shapefile", srid)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for suffix in SHAPE_PARTS:
                part = shp.with_suffix(suffix)
                if part.exists():
                    zf.write(part, part.name)
    return path
