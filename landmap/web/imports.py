"""Imports from the browser (administrators): upload a file, read its dry-run report, confirm.

The API and the page take the same form (multipart: ``file``, ``layer``, ``srs``,
``encoding``, ``fields`` as a JSON object register field -> file field, ``create_projects``,
``repair``, ``dry_run``) and call the same service (landmap.services.imports): the upload is
kept under a random id until it is confirmed, and removed after the load or any refusal."""

from __future__ import annotations

import json

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from landmap.geo import encoding as enc_mod
from landmap.loaders import LAYERS, LoadReport
from landmap.loaders.core import field_mapping
from landmap.messages import msg
from landmap.services import Refused, imports
from landmap.web.adjustment import OTHER_EPSG, crs_choices, upload_choices, upload_name
from landmap.web.auth import current_user_name, requires
from landmap.web.db import get_session, rollback, settings
from landmap.web.errors import ApiError
from landmap.web.i18n import locale

bp = Blueprint("imports", __name__)
# the refusals a choice on the form answers: the JSON names the choices beside them
CRS_CODES = {"crs_not_stated", "crs_no_fit", "crs_no_coordinates", "load_outside_region"}
ENCODING_CODES = {"encoding_not_valid", "encoding_not_told", "encoding_garbled"}
MAX_FIELDS_JSON = 8000  # characters of the ``fields`` form field


def _flag(name: str, default: bool) -> bool:
    value = request.form.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "on", "yes"):
        return True
    if value in ("0", "false", "off", "no"):
        return False
    raise ApiError(msg("import_bad_flag", "%(field)s must be true or false", field=name))


def _fields() -> dict[str, str]:
    """The ``fields`` form field: a JSON object, register field -> file field."""
    given = request.form.get("fields", "").strip()
    if not given:
        return {}
    try:
        data = json.loads(given) if len(given) <= MAX_FIELDS_JSON else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ApiError(
            msg(
                "field_mapping_not_object",
                'give the field mapping as a JSON object such as {"code": "DKH"}',
            )
        )
    return field_mapping(data.items())


def _asked() -> imports.Asked:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(
            msg("import_no_file", "choose a file: a .zip of a shapefile, a .gpkg or a .geojson")
        )
    layer = request.form.get("layer", "")
    if layer not in LAYERS:
        raise ApiError(
            msg("import_bad_layer", "the layer is one of %(layers)s", layers=list(LAYERS))
        )
    sent_as, suffix = upload_name(upload)
    srs, encoding = upload_choices()
    return imports.Asked(
        layer=layer,
        file_name=sent_as,
        suffix=suffix,
        by=current_user_name(),
        srs=srs,
        encoding=encoding,
        fields=_fields(),
        create_projects=_flag("create_projects", False),
        repair=_flag("repair", False),
    )


def _choices() -> dict:
    return {
        "srs": [{"value": c.value, "label": c.label.render(locale())} for c in crs_choices()],
        "encoding": [{"value": v, "label": shown} for v, shown in enc_mod.CHOICES],
    }


def _with_choices(exc: Refused) -> Refused:
    """A refusal a choice on the form answers carries the choices offered."""
    if exc.code in CRS_CODES | ENCODING_CODES:
        exc.extra.setdefault("choices", _choices())
    return exc


def _report(report: LoadReport, pending_id: str | None = None) -> dict:
    found = report.as_dict(locale())
    found["id"] = pending_id
    found["preview"] = report.preview
    if pending_id:
        found["confirm_url"] = url_for("imports.confirm", pending=pending_id)
    return found


def _upload() -> tuple[str, LoadReport, bool]:
    """Receive the upload and dry-run it (or load it at once with ``dry_run`` false)."""
    dry = _flag("dry_run", True)
    asked = _asked()
    upload = request.files["file"]
    pending_id = imports.receive(settings().var_dir, asked, upload.save)
    try:
        if dry:
            return pending_id, imports.dry_run(get_session(), settings(), pending_id), dry
        return pending_id, imports.confirm(get_session(), settings(), pending_id, asked.by), dry
    except Refused as exc:
        raise _with_choices(exc) from None


@bp.post("/api/imports")
@requires("import")
def create():
    pending_id, report, dry = _upload()
    if dry:
        return jsonify(_report(report, pending_id))
    get_session().commit()
    return jsonify(_report(report)), 201


@bp.post("/api/imports/<pending>/confirm")
@requires("import")
def confirm(pending: str):
    report = imports.confirm(get_session(), settings(), pending, current_user_name())
    get_session().commit()
    return jsonify(_report(report)), 201


@bp.get("/api/imports")
@requires("import")
def list_api():
    return jsonify([vars(record) for record in imports.list_imports(get_session())])


@bp.get("/api/imports/<int:import_id>")
@requires("import")
def report_api(import_id: int):
    found = imports.get_import(get_session(), import_id, locale())
    if found is None:
        raise ApiError(msg("import_unknown", "there is no import %(id)s", id=import_id), 404)
    return jsonify(vars(found))


# --- the page ---------------------------------------------------------------------------


def _page(status: int = 200, **context):
    return (
        render_template(
            "imports.html",
            title=_("Imports"),
            layers=list(LAYERS),
            crs_choices=[(c.value, c.label.render(locale())) for c in crs_choices()],
            other_epsg=OTHER_EPSG,
            encodings=enc_mod.CHOICES,
            imports=imports.list_imports(get_session()),
            **context,
        ),
        status,
    )


def _refusal(exc: Refused) -> dict:
    problems = exc.extra.get("problems") or []
    return {
        "code": exc.code,
        "text": exc.render(locale()),
        "problems": [p.render(locale()) for p in problems],
    }


@bp.get("/imports")
@requires("import")
def page():
    return _page()


@bp.post("/imports")
@requires("import")
def upload_form():
    """The dry run of the file uploaded on the page, its report beside the form."""
    try:
        pending_id, report, _dry = _upload()
    except Refused as exc:
        rollback()
        return _page(exc.status, error=_refusal(exc))
    return _page(report=_report(report, pending_id))


@bp.post("/imports/<pending>/confirm")
@requires("import")
def confirm_form(pending: str):
    try:
        report = imports.confirm(get_session(), settings(), pending, current_user_name())
    except Refused as exc:
        rollback()
        return _page(exc.status, error=_refusal(exc))
    get_session().commit()
    return redirect(url_for("imports.report_page", import_id=report.import_id))


@bp.get("/imports/<int:import_id>")
@requires("import")
def report_page(import_id: int):
    found = imports.get_import(get_session(), import_id, locale())
    if found is None:
        abort(404)
    return render_template(
        "import_report.html", title=_("Import %(id)s", id=import_id), record=found
    )
