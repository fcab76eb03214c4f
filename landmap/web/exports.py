"""Files to hand on: ``GET /exports/parcels.<fmt>`` with the filters of /api/parcels."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from flask import Blueprint, request, send_file

from landmap.messages import msg
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
from landmap.web.errors import ApiError

bp = Blueprint("exports", __name__)

LAYERS = ("parcels",)
MIMETYPES = {
    "gpkg": "application/geopackage+sqlite3",
    "zip": "application/zip",
    "geojson": "application/geo+json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "dxf": "image/vnd.dxf",
}


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


@bp.get("/exports/<layer>")
@requires("view")
def export_layer(layer: str):
    """``layer`` is ``parcels.gpkg``, ``parcels.zip`` (shapefile), ``parcels.geojson``,
    ``parcels.xlsx`` or ``parcels.dxf``; ``?encoding=gbk|utf-8``, ``?srs=EPSG:N``, ``?codes=``."""
    name, _dot, fmt = layer.rpartition(".")
    if name not in LAYERS:
        raise ApiError(
            msg(
                "export_no_layer",
                "there is no layer %(given)s to export; the layers are %(known)s",
                given=name[:40] or layer[:40],
                known=list(LAYERS),
            ),
            404,
        )
    options = exports.ExportOptions(
        fmt=exports.parse_format(fmt),
        encoding=exports.parse_encoding(request.args.get("encoding")),
        srid=exports.parse_srs(request.args.get("srs")),
        codes=exports.parse_codes(request.args.get("codes")),
    )
    selection = _selection()
    directory = Path(tempfile.mkdtemp(prefix="landmap-export-"))
    try:
        path = exports.export_parcels(get_session(scratch=True), selection, options, directory)
        handle = path.open("rb")  # stays readable once its directory is gone
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return send_file(
        handle, mimetype=MIMETYPES[options.fmt], as_attachment=True, download_name=path.name
    )
