"""Land layers handed on as files for QGIS, ArcGIS and CAD: GeoPackage, ESRI shapefile
(zipped), GeoJSON, an attribute workbook and DXF.

Every layer (parcels, zones, land-use patches, farmland, a zone-boundary draft) is described
once (a Layer: the SQL that picks its features, its fields, the filters it takes, its DXF
layers) and written by the same code: rows come from a server-side cursor in chunks of CHUNK
features, so that memory stays bounded however many are picked. GIS files are written by
GDAL (pyogrio through landmap.geo.gdal, which allows only the shapefile, GeoPackage and
GeoJSON drivers) chunk by chunk; the workbook by openpyxl in write-only mode; DXF by ezdxf:
the document's header and tables (layers, code page ANSI_936) by ezdxf's document model, the
entities streamed by its R12 writer. Files go into a directory the caller owns (and removes).
Shapefile fields follow the Chinese standards (宗地 ZDDM, QLRMC ..., 三调 DLBM, DLMC ..., at
most 10 characters), text in GBK by default, with a .cpg that says so; a value that cannot
be written in the chosen encoding is refused before anything is written.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.domain import Stage
from landmap.geo.gdal import pyogrio
from landmap.geo.units import mu2
from landmap.messages import msg, term
from landmap.services import Refused, xlsx
from landmap.services.parcels import ParcelFilter, filter_sql, state_sql
from landmap.services.zones import in_force

FORMATS = ("gpkg", "zip", "geojson", "xlsx", "dxf")
SRIDS = (4490, 4545, 4546, 4547)  # CGCS2000 geographic and 3-degree Gauss-Kruger CM 108-114E
ENCODINGS = {"gbk": "GBK", "utf-8": "UTF-8"}
MAX_CODES = 5000
CHUNK = 5000
SHAPE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
SHAPEFILE_TEXT_BYTES = 254  # the longest text a .dbf field holds
DXF_TEXT_HEIGHT = 2.5  # metres of the storage CRS
# filters a selection may carry (ParcelFilter's attributes) and the words for them
FILTERS = ("zone", "stage", "project_id", "batch_id", "bbox", "as_of")


@dataclass(frozen=True)
class Field:
    name: str  # the shapefile's field (at most 10 characters)
    column: str  # the column of the layer's query
    header: str  # the workbook's header
    kind: str = "text"  # text | number | mu (rounded with mu2) | stage (its label) | date


@dataclass(frozen=True)
class ExportOptions:
    fmt: str
    encoding: str = "gbk"
    srid: int | None = None  # None: the storage CRS (lm_storage_srid())
    codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Layer:
    """What an export of one layer needs: ``source`` gives the SQL of its features (alias-free
    columns named by the fields, ``code``, ``grp`` (the DXF layer) and ``geom`` in the storage
    CRS) and its parameters for a selection and options."""

    name: str  # the file's name and the GeoPackage layer
    title: str  # the workbook's sheet, in Chinese
    what: str  # a feature, in messages (a term)
    fields: tuple[Field, ...]
    source: Callable[[ParcelFilter, ExportOptions], tuple[str, dict[str, Any]]]
    filters: frozenset[str]  # of FILTERS, the ones the layer takes
    dxf_layers: tuple[str, ...] = ()  # every export has them; else those the features name
    group: str = "grp"  # the column (as converted) naming a feature's DXF layer

    @property
    def text_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.kind in ("text", "stage"))


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
    """Codes separated by commas (the selection tool's), at most MAX_CODES."""
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


# --- the layers ------------------------------------------------------------------------------


def _bbox_codes(
    geom: str, code: str, selection: ParcelFilter, options: ExportOptions, params: dict
) -> str:
    """SQL conditions (each starting with AND) on the columns ``geom`` and ``code`` for the
    bbox (lon/lat) and the codes."""
    sql = ""
    if selection.bbox:
        sql += (
            f" AND {geom} && ST_Transform(ST_Segmentize(ST_MakeEnvelope("
            ":x0, :y0, :x1, :y1, 4326), 0.001), lm_storage_srid())"
        )
        params.update(zip(("x0", "y0", "x1", "y1"), selection.bbox, strict=True))
    if options.codes:
        sql += f" AND {code} = ANY(:codes)"
        params["codes"] = list(options.codes)
    return sql


def _parcels_sql(selection: ParcelFilter, options: ExportOptions) -> tuple[str, dict]:
    clauses, params = filter_sql(selection)
    stage = state_sql("p", bool(selection.as_of))["stage"]
    where = " AND ".join(clauses) + _bbox_codes("p.geom", "p.code", selection, options, params)
    return (
        f"""SELECT p.code, p.owner, p.location, p.land_use_code, p.land_use_name,
               p.official_area_m2::float8 AS official_area_m2, p.area_mu, {stage} AS stage,
               pr.name AS project, b.name AS batch, p.attributes ->> 'QLLX' AS rights_type,
               p.attributes ->> 'QLXZ' AS rights_nature, p.geom
        FROM parcel p
        LEFT JOIN project pr ON pr.id = p.project_id
        LEFT JOIN acquisition_batch b ON b.id = p.batch_id
        WHERE {where}""",
        params,
    )


def _zones_sql(selection: ParcelFilter, options: ExportOptions) -> tuple[str, dict]:
    params: dict[str, Any] = {"day": selection.as_of, "zone": selection.zone}
    where = in_force("b") + _bbox_codes("b.geom", "z.code", selection, options, params)
    return (
        f"""SELECT z.code, z.name, b.valid_from, b.area_mu, z.code AS grp, b.geom
        FROM zone_boundary b JOIN zone z ON z.id = b.zone_id
        WHERE {where} AND (CAST(:zone AS text) IS NULL OR z.code = :zone)""",
        params,
    )


def _in_zone(alias: str) -> str:
    """SQL condition: feature ``alias`` shares ground with the current boundary of :zone."""
    return f"""(CAST(:zone AS text) IS NULL OR EXISTS (
        SELECT 1 FROM zone_boundary zb JOIN zone z ON z.id = zb.zone_id
        WHERE z.code = :zone AND zb.status = 'current' AND zb.geom && {alias}.geom
          AND ST_Intersects(zb.geom, {alias}.geom) AND NOT ST_Touches(zb.geom, {alias}.geom)))"""


def _landuse_sql(selection: ParcelFilter, options: ExportOptions) -> tuple[str, dict]:
    params: dict[str, Any] = {"zone": selection.zone}
    where = _in_zone("t") + _bbox_codes("t.geom", "t.code", selection, options, params)
    return (
        f"""SELECT t.code, t.patch_no, t.land_use_code, t.land_use_name, t.ownership,
               t.owner_unit, t.location_unit, t.official_area_m2::float8 AS official_area_m2,
               t.deduction_m2::float8 AS deduction_m2, t.net_area_m2::float8 AS net_area_m2,
               t.area_mu, concat_ws(' ', t.land_use_code, nullif(t.land_use_name, '')) AS grp,
               t.geom
        FROM landuse_patch t WHERE {where}""",
        params,
    )


def _farmland_sql(selection: ParcelFilter, options: ExportOptions) -> tuple[str, dict]:
    params: dict[str, Any] = {"zone": selection.zone}
    where = _in_zone("t") + _bbox_codes("t.geom", "t.code", selection, options, params)
    return (
        f"""SELECT t.code, t.land_use_code, t.official_area_m2::float8 AS official_area_m2,
               t.area_mu, coalesce(nullif(t.land_use_code, ''), '永久基本农田') AS grp, t.geom
        FROM farmland t WHERE {where}""",
        params,
    )


def _draft_sql(draft_id: int) -> Callable[[ParcelFilter, ExportOptions], tuple[str, dict]]:
    def source(_selection: ParcelFilter, _options: ExportOptions) -> tuple[str, dict]:
        return (
            f"""SELECT z.code, z.name, b.id AS draft_id, b.op, b.note, b.created_by,
                   b.area_mu, z.code AS grp, b.geom
            FROM zone_boundary b JOIN zone z ON z.id = b.zone_id
            WHERE {DRAFT_CONDITION} AND b.id = :draft_id""",
            {"draft_id": draft_id},
        )

    return source


# a boundary version that is or was a draft (an approved draft stays exportable)
DRAFT_CONDITION = "(b.status = 'draft' OR b.approved_at IS NOT NULL)"
_MU = Field("MJMU", "area_mu", "面积(亩)", "mu")
_ZONE = (Field("QYDM", "code", "区块代码"), Field("QYMC", "name", "区块名称"))

LAYERS: dict[str, Layer] = {
    "parcels": Layer(
        "parcels",
        "宗地",
        term("parcel"),
        (
            Field("ZDDM", "code", "宗地代码"),
            Field("QLRMC", "owner", "权利人名称"),
            Field("TDZL", "location", "土地坐落"),
            Field("TDYT", "land_use_code", "土地用途"),
            Field("ZDMJ", "official_area_m2", "宗地面积(平方米)", "number"),
            _MU,
            Field("ZSJD", "stage", "征收阶段", "stage"),
            Field("XMMC", "project", "项目名称"),
            Field("PCMC", "batch", "批次名称"),
            Field("TDYTMC", "land_use_name", "土地用途名称"),
            Field("QLLX", "rights_type", "权利类型"),
            Field("QLXZ", "rights_nature", "权利性质"),
        ),
        _parcels_sql,
        frozenset({*FILTERS, "codes"}),
        tuple(stage.label_zh for stage in Stage),
        group="stage",
    ),
    "zones": Layer(
        "zones",
        "区块",
        term("zone"),
        (*_ZONE, Field("SXRQ", "valid_from", "生效日期", "date"), _MU),
        _zones_sql,
        frozenset({"zone", "bbox", "as_of", "codes"}),
    ),
    "landuse": Layer(
        "landuse",
        "地类图斑",
        term("land-use patch"),
        (
            Field("BSM", "code", "标识码"),
            Field("TBBH", "patch_no", "图斑编号"),
            Field("DLBM", "land_use_code", "地类编码"),
            Field("DLMC", "land_use_name", "地类名称"),
            Field("QSXZ", "ownership", "权属性质"),
            Field("QSDWMC", "owner_unit", "权属单位名称"),
            Field("ZLDWMC", "location_unit", "坐落单位名称"),
            Field("TBMJ", "official_area_m2", "图斑面积(平方米)", "number"),
            Field("KCMJ", "deduction_m2", "扣除地类面积(平方米)", "number"),
            Field("TBDLMJ", "net_area_m2", "图斑地类面积(平方米)", "number"),
            _MU,
        ),
        _landuse_sql,
        frozenset({"zone", "bbox", "codes"}),
    ),
    "farmland": Layer(
        "farmland",
        "永久基本农田",
        term("farmland patch"),
        (
            Field("BSM", "code", "标识码"),
            Field("DLBM", "land_use_code", "地类编码"),
            Field("JBNTMJ", "official_area_m2", "基本农田面积(平方米)", "number"),
            _MU,
        ),
        _farmland_sql,
        frozenset({"zone", "bbox", "codes"}),
    ),
}
DRAFT_FIELDS = (
    *_ZONE,
    Field("CABH", "draft_id", "草案编号", "number"),
    Field("TZFS", "op", "调整方式"),
    Field("BZ", "note", "说明"),
    Field("CJR", "created_by", "创建人"),
    _MU,
)
DRAFTS = "drafts/"  # a draft's layer is drafts/<id>


def layer_of(session: Session, name: str) -> Layer:
    """The layer called ``name`` (one of LAYERS, or ``drafts/<id>`` for a zone-boundary
    draft); a refusal (404) for any other name or a draft that does not exist."""
    if name in LAYERS:
        return LAYERS[name]
    draft = name.removeprefix(DRAFTS)
    if name.startswith(DRAFTS) and draft.isascii() and draft.isdigit() and len(draft) < 10:
        found = session.scalar(
            text(f"SELECT b.id FROM zone_boundary b WHERE b.id = :d AND {DRAFT_CONDITION}"),
            {"d": int(draft)},
        )
        if found is None:
            raise Refused(
                msg("export_no_draft", "there is no zone-boundary draft %(id)s", id=draft), 404
            )
        title, what = "区块调整草案", term("zone-boundary draft")
        return Layer(f"draft_{found}", title, what, DRAFT_FIELDS, _draft_sql(found), frozenset())
    raise Refused(
        msg(
            "export_no_layer",
            "there is no layer %(given)s to export; the layers are %(known)s",
            given=name[:40],
            known=[*LAYERS, "drafts/<id>"],
        ),
        404,
    )


# what selections a layer takes: the query parameter of each filter
_FILTER_PARAMS = {"project_id": "project", "batch_id": "batch"}


def _check_filters(layer: Layer, selection: ParcelFilter, options: ExportOptions) -> None:
    given = [name for name in FILTERS if getattr(selection, name) is not None]
    given += ["codes"] if options.codes else []
    refused = [_FILTER_PARAMS.get(n, n) for n in given if n not in layer.filters]
    if refused:
        raise Refused(
            msg(
                "export_filter_not_taken",
                "the layer %(layer)s cannot be filtered by %(names)s; its filters are %(known)s",
                layer=layer.name,
                names=refused,
                known=[_FILTER_PARAMS.get(n, n) for n in (*FILTERS, "codes") if n in layer.filters]
                or ["-"],
            )
        )


# --- rows ------------------------------------------------------------------------------------


def _shown_stage(value: str) -> str:
    return Stage(value).label_zh


_CONVERT: dict[str, Callable[[Any], Any]] = {"mu": mu2, "stage": _shown_stage}


def _rows(
    session: Session, layer: Layer, selection: ParcelFilter, options: ExportOptions, srid: int
) -> Iterator[list[dict[str, Any]]]:
    """The layer's picked features in code order, in chunks of CHUNK rows read through a
    server-side cursor (the session must be in a transaction of its own: a scratch session
    on the web), converted for people (stage as its Chinese label, mu rounded with mu2);
    ``wkb`` the MultiPolygon in ``srid``, ``label`` the label point in the storage CRS."""
    inner, params = layer.source(selection, options)
    columns = dict.fromkeys(["code", *(f.column for f in layer.fields), layer.group])
    sql = f"""SELECT {", ".join(f"t.{c}" for c in columns)},
               ST_AsBinary(ST_Multi(ST_Transform(t.geom, :srid))) AS wkb,
               ST_AsBinary(ST_PointOnSurface(t.geom)) AS label
        FROM ({inner}) t ORDER BY t.code"""
    result = session.execute(text(sql).execution_options(yield_per=CHUNK), {**params, "srid": srid})
    kinds = {f.column: f.kind for f in layer.fields if f.kind in _CONVERT}
    for part in result.mappings().partitions(CHUNK):
        rows = [dict(r) for r in part]
        for r in rows:
            for column, kind in kinds.items():
                r[column] = _CONVERT[kind](r[column])
        yield rows


def _check_text(layer: Layer, rows: list[dict[str, Any]], encoding: str) -> None:
    """A refusal for the first text a shapefile in ``encoding`` cannot hold: a character the
    encoding lacks, or more than SHAPEFILE_TEXT_BYTES bytes (GDAL would cut it)."""
    for r in rows:
        for field in layer.text_fields:
            names = {"what": layer.what, "code": r["code"], "field": field.name}
            try:
                size = len((r[field.column] or "").encode(encoding))
            except UnicodeEncodeError as exc:
                raise Refused(
                    msg(
                        "export_not_encodable",
                        "%(what)s %(code)s: field %(field)s holds text that %(encoding)s cannot "
                        "write; export with encoding=utf-8",
                        encoding=ENCODINGS[encoding],
                        **names,
                    )
                ) from exc
            if size > SHAPEFILE_TEXT_BYTES:
                raise Refused(
                    msg(
                        "export_text_too_long",
                        "%(what)s %(code)s: field %(field)s holds more text than a shapefile "
                        "keeps (%(n)s bytes); export as GeoPackage",
                        n=SHAPEFILE_TEXT_BYTES,
                        **names,
                    )
                )


# --- GIS files (GDAL) ------------------------------------------------------------------------


def _arrow_schema(layer: Layer):
    import pyarrow as pa

    kinds = {"number": pa.float64(), "mu": pa.float64(), "date": pa.date32()}
    fields = [pa.field(f.name, kinds.get(f.kind, pa.string())) for f in layer.fields]
    return pa.schema([*fields, pa.field("geometry", pa.binary())])


def _batches(layer: Layer, chunks: Iterator[list[dict[str, Any]]], schema):
    """The chunks as Arrow record batches (geometry as WKB), one at a time."""
    import pyarrow as pa

    for rows in chunks:
        columns = [[r[f.column] for r in rows] for f in layer.fields]
        columns.append([bytes(r["wkb"]) for r in rows])
        yield pa.record_batch(columns, schema=schema)


def _write_gdal(session, layer, selection, options, path: Path, driver: str, srid: int) -> None:
    """GDAL writes the file from a stream of Arrow batches (pyogrio.write_arrow): one dataset
    open for the whole export, a chunk in memory at a time."""
    import pyarrow as pa

    shapefile = driver == "ESRI Shapefile"
    if shapefile:  # the whole set is checked before a byte is written
        for rows in _rows(session, layer, selection, options, srid):
            _check_text(layer, rows, options.encoding)
    schema = _arrow_schema(layer)
    chunks = _rows(session, layer, selection, options, srid)
    pyogrio().write_arrow(
        pa.RecordBatchReader.from_batches(schema, _batches(layer, chunks, schema)),
        path,
        layer=layer.name,
        driver=driver,
        geometry_name="geometry",
        geometry_type="MultiPolygon",
        crs=f"EPSG:{srid}",
        encoding=ENCODINGS[options.encoding] if shapefile else None,
        layer_options={"COORDINATE_PRECISION": 7} if driver == "GeoJSON" else None,
    )


# --- the workbook ----------------------------------------------------------------------------

_XLSX_FORMATS = {"mu": xlsx.MU, "date": xlsx.DATE}


def _write_xlsx(session, layer, selection, options, path: Path, srid: int) -> None:
    rows = (
        [r[f.column] for f in layer.fields]
        for chunk in _rows(session, layer, selection, options, srid)
        for r in chunk
    )
    day = selection.as_of.isoformat() if selection.as_of else "当前"
    xlsx.stream_table(
        path,
        f"{layer.title}属性表",
        [("状态日期", day)],
        layer.title,
        [f.header for f in layer.fields],
        rows,
        [_XLSX_FORMATS.get(f.kind) for f in layer.fields],
    )


# --- DXF (ezdxf) -----------------------------------------------------------------------------

_ENTITIES = "  0\nSECTION\n  2\nENTITIES\n"
_DXF_END = "  0\nENDSEC\n  0\nEOF\n"
_NOT_IN_A_LAYER_NAME = re.compile(r'[<>/\\":;?*|=,`\s]+')


def _dxf_name(value: Any) -> str:
    """A DXF layer name for a class (a stage, a land-use class, a zone): what CAD refuses in a
    layer name becomes _."""
    return _NOT_IN_A_LAYER_NAME.sub("_", str(value or "").strip())[:31] or "0"


def _dxf_layers(session, layer: Layer, selection, options) -> list[str]:
    if layer.dxf_layers:
        return [_dxf_name(n) for n in layer.dxf_layers]
    inner, params = layer.source(selection, options)
    found = session.scalars(text(f"SELECT DISTINCT t.grp FROM ({inner}) t ORDER BY 1"), params)
    return list(dict.fromkeys(_dxf_name(n) for n in found))


def _dxf_tables(names: list[str]) -> str:
    """The DXF R12 file up to its entities, made by ezdxf: header (code page ANSI_936, GBK) and
    tables, with a layer for each of ``names``."""
    from ezdxf.document import Drawing

    doc = Drawing.new("R12")  # not ezdxf.new: it sets units, which R12 has not (and warns)
    doc.header["$MEASUREMENT"] = 1  # metric
    doc.encoding = "gbk"
    for name in names:
        if name not in doc.layers:
            doc.layers.add(name)
    out = io.StringIO()
    doc.write(out)
    head, found, tail = out.getvalue().partition(_ENTITIES)
    if not found or tail != _DXF_END:
        raise RuntimeError("ezdxf wrote an R12 file of another shape than landmap expects")
    return head


def _write_dxf(session, layer, selection, options, path: Path, srid: int) -> None:
    """One DXF layer per class (layer.group), each ring a closed POLYLINE in the storage CRS,
    the code as TEXT at the label point (ST_PointOnSurface); the entities streamed."""
    from ezdxf.addons.r12writer import R12FastStreamWriter
    from shapely import from_wkb

    head = _dxf_tables(_dxf_layers(session, layer, selection, options))
    with path.open("w", encoding="gbk", errors="dxfreplace", newline="\n") as out:
        out.write(head)
        writer = R12FastStreamWriter(out)
        for rows in _rows(session, layer, selection, options, srid):
            for r in rows:
                name = _dxf_name(r[layer.group])
                for polygon in from_wkb(bytes(r["wkb"])).geoms:
                    for ring in (polygon.exterior, *polygon.interiors):
                        writer.add_polyline_2d(ring.coords[:-1], closed=True, layer=name)
                label = from_wkb(bytes(r["label"]))
                writer.add_text(
                    str(r["code"]), (label.x, label.y), height=DXF_TEXT_HEIGHT, layer=name
                )
        writer.close()


# --- an export -------------------------------------------------------------------------------


def _storage_srid(session: Session) -> int:
    """The SRID every geometry is stored in, as the database was made (LANDMAP_STORAGE_SRID)."""
    return session.scalar(text("SELECT lm_storage_srid()"))


def export(
    session: Session,
    layer: Layer,
    selection: ParcelFilter,
    options: ExportOptions,
    directory: Path,
) -> Path:
    """Write the features of ``layer`` that ``selection`` (and ``options.codes``) picks into
    ``directory`` in ``options.fmt``; the path of the file to hand on. GeoJSON is always
    EPSG:4326, DXF in the storage CRS, the others in ``options.srid`` (the storage CRS
    without). A filter the layer does not take is refused."""
    _check_filters(layer, selection, options)
    storage = _storage_srid(session)
    srid = options.srid or storage
    path = directory / f"{layer.name}.{options.fmt}"
    if options.fmt == "gpkg":
        _write_gdal(session, layer, selection, options, path, "GPKG", srid)
    elif options.fmt == "geojson":
        _write_gdal(session, layer, selection, options, path, "GeoJSON", 4326)
    elif options.fmt == "xlsx":
        _write_xlsx(session, layer, selection, options, path, storage)
    elif options.fmt == "dxf":
        _write_dxf(session, layer, selection, options, path, storage)
    else:
        shp = directory / f"{layer.name}.shp"
        _write_gdal(session, layer, selection, options, shp, "ESRI Shapefile", srid)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for suffix in SHAPE_PARTS:
                part = shp.with_suffix(suffix)
                if part.exists():
                    zf.write(part, part.name)
    return path
