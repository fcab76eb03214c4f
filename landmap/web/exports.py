"""Files to hand on: ``GET /exports/<layer>.<fmt>`` for parcels (with the filters of
/api/parcels), zones, landuse, farmland and ``drafts/<id>`` (a zone-boundary draft)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from flask import Blueprint, request, send_file, url_for
from flask_babel import gettext as _

from landmap.services import exports, parcels
from landmap.web.api import (
    parse_as_of,
    parse_batch,
    parse_bbox,
    parse_project,
    parse_stage,
    parse_zone,
)
from landmap.web.auth import requires
from landmap.web.db import get_session

bp = Blueprint("exports", __name__)

MIMETYPES = {
    "gpkg": "application/geopackage+sqlite3",
    "zip": "application/zip",
    "geojson": "application/geo+json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "dxf": "image/vnd.dxf",
}


def export_options() -> dict:
    """What a map page's 导出 control and the selection tool's need (read by landmap.js from
    templates/_export.html): the URL of a parcels export (``__FMT__`` for the format), the
    formats with their names, the most codes a selection may export, and the texts."""
    return {
        "url": url_for("exports.export_layer", layer="parcels.__FMT__"),
        "formats": [
            ["gpkg", _("GeoPackage")],
            ["zip", _("Shapefile (zip)")],
            ["xlsx", _("Excel")],
            ["geojson", _("GeoJSON")],
            ["dxf", _("DXF (CAD)")],
        ],
        "maxCodes": exports.MAX_CODES,
        "labels": {
            "export": _("Export"),
            "export_selection": _("Export the selection"),
            "nothing_selected": _("Select parcels first"),
            "too_many": _(
                "%(n)s parcels are selected; at most %(max)s can be exported at once: "
                "export by zone or filter instead",
                n="__N__",
                max=exports.MAX_CODES,
            ),
        },
    }


@bp.app_context_processor
def _export_control() -> dict:
    return {"export_options": export_options}


def _selection() -> parcels.ParcelFilter:
    args = request.args
    bbox = args.get("bbox")
    return parcels.ParcelFilter(
        zone=parse_zone(args.get("zone")),
        stage=parse_stage(args.get("stage")),
        project_id=parse_project(args.get("project")),
        batch_id=parse_batch(args.get("batch")),
        bbox=parse_bbox(bbox) if bbox is not None else None,
        as_of=parse_as_of(args.get("as_of")),
    )


@bp.get("/exports/<path:layer>")
@requires("view")
def export_layer(layer: str):
    """``layer`` is ``<name>.<fmt>``: name ``parcels``, ``zones``, ``landuse``, ``farmland`` or
    ``drafts/<id>``, fmt ``gpkg``, ``zip`` (shapefile), ``geojson``, ``xlsx`` or ``dxf``;
    ``?encoding=gbk|utf-8``, ``?srs=EPSG:N``, ``?codes=``, and the filters the layer takes."""
    name, _dot, fmt = layer.rpartition(".")
    session = get_session(scratch=True)
    found = exports.layer_of(session, name or layer)
    options = exports.ExportOptions(
        fmt=exports.parse_format(fmt),
        encoding=exports.parse_encoding(request.args.get("encoding")),
        srid=exports.parse_srs(request.args.get("srs")),
        codes=exports.parse_codes(request.args.get("codes")),
    )
    selection = _selection()
    directory = Path(tempfile.mkdtemp(prefix="landmap-export-"))
    try:
        path = exports.export(session, found, selection, options, directory)
        handle = path.open("rb")  # stays readable once its directory is gone
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return send_file(
        handle, mimetype=MIMETYPES[options.fmt], as_attachment=True, download_name=path.name
    )
