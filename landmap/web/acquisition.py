"""Land acquisition (征地拆迁): stage moves, disputes, history, progress, the ledger."""

from __future__ import annotations

import datetime as dt
import unicodedata
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask_babel import gettext as _

from landmap.domain import Stage, today
from landmap.messages import msg, term
from landmap.services import acquisition, documents, projects, reports, supply, zones
from landmap.services.acquisition import Move
from landmap.web import charts, push
from landmap.web.api import parse_as_of, parse_day, parse_id
from landmap.web.auth import current_user_name, requires
from landmap.web.compensation_pages import batch_money
from landmap.web.db import get_session
from landmap.web.downloads import workbook
from landmap.web.errors import ApiError, or_404
from landmap.web.i18n import locale
from landmap.web.pages import project_map

bp = Blueprint("acquisition", __name__)


def _payload() -> dict:
    if request.mimetype == "multipart/form-data":
        data = request.form.to_dict()
        data["correction"] = data.get("correction") in ("1", "true", "on", "yes")
        if "codes" in data:
            data["codes"] = [c for c in data["codes"].replace(",", "\n").split() if c]
        return data
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(msg("send_json_object", "send a JSON object (or a multipart form)"))
    return data


def _flag(data: dict, name: str, default: bool | None = None) -> bool:
    """The yes/no field ``name`` of a request; ApiError naming the field by its label."""
    value = data.get(name, default)
    if not isinstance(value, bool):
        label = FLAGS[name]
        raise ApiError(msg("not_yes_or_no", "%(field)s must be true or false", field=label))
    return value


FLAGS = {"correction": term("Correction"), "dispute": term("Dispute")}
CODES_NOT_A_LIST = msg("codes_not_a_list", "codes must be a non-empty list of parcel codes")


def _move(data: dict) -> Move:
    stage = Stage.parse(str(data.get("stage", "")))  # a Refused (400) naming the stages
    correction = _flag(data, "correction", False)
    return Move(
        stage=stage,
        day=parse_day(data.get("date"), required=True),
        note=str(data.get("note") or "")[:2000],
        correction=correction,
        reason=str(data.get("reason") or "")[:2000],
    )


def _uploads() -> list[tuple[str, bytes]]:
    return [(f.filename or "", f.read()) for f in request.files.getlist("documents") if f.filename]


def _apply(codes: list[str], data: dict):
    """The move, with its documents: they are kept only if the move commits."""
    move = _move(data)
    session = get_session()
    docs = documents.store(session, _uploads())
    result = acquisition.move(session, codes, move, current_user_name(), docs)
    session.commit()
    return jsonify(result), 201


@bp.get("/api/stages")
@requires("view")
def stages():
    return jsonify(
        [
            {
                "id": s.value,
                "label_zh": s.label_zh,
                "label_en": s.label_en,
                "order": i,
                "workflow": s is not Stage.STATE_OWNED,
            }
            for i, s in enumerate(Stage)
        ]
    )


@bp.post("/api/parcels/<path:code>/stage")
@requires("acquisition")
def move_one(code: str):
    return _apply([code], _payload())


@bp.post("/api/stage-changes")
@requires("acquisition")
def move_many():
    data = _payload()
    codes = data.get("codes")
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes) or not codes:
        raise ApiError(CODES_NOT_A_LIST)
    if len(codes) > acquisition.MAX_SELECTED:
        most = acquisition.MAX_SELECTED
        raise ApiError(msg("move_too_many", "at most %(most)s parcels in one move", most=most))
    return _apply(codes, data)


@bp.post("/api/parcels/<path:code>/dispute")
@requires("acquisition")
def dispute(code: str):
    data = _payload()
    disputed = _flag(data, "dispute")
    session = get_session()
    day = parse_day(data.get("date"), required=True)
    result = acquisition.set_dispute(
        session, code, disputed, day, str(data.get("reason") or ""), current_user_name()
    )
    session.commit()
    return jsonify(result), 201


@bp.post("/api/parcels/select", endpoint="select")
@requires("view")
def select_parcels():
    """The parcels a drawn polygon (GeoJSON geometry, EPSG:4326) touches, or those of a list
    of codes (``{"codes": [...]}``, pasted): codes, count, mu (and unknown codes)."""
    data = request.get_json(silent=True)
    if isinstance(data, dict) and "codes" in data:
        codes = data["codes"]
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise ApiError(CODES_NOT_A_LIST)
        return jsonify(acquisition.parcels_named(get_session(), codes))
    geometry = data.get("geometry") if isinstance(data, dict) else None
    if not isinstance(geometry, dict):
        raise ApiError(
            msg("select_what", 'send {"geometry": <GeoJSON polygon>} or {"codes": [...]}')
        )
    if "crs" in data:
        raise ApiError(
            msg("crs_not_accepted", "GeoJSON is EPSG:4326 (RFC 7946): a crs member is not accepted")
        )
    return jsonify(acquisition.parcels_in(get_session(), geometry))


@bp.get("/api/parcels/<path:code>/history")
@requires("view")
def history(code: str):
    found = acquisition.history(get_session(), code)
    shown = code[:80]
    return jsonify(or_404(found, msg("no_such_parcel", "there is no parcel %(code)s", code=shown)))


@bp.get("/api/projects/<int:project_id>/progress")
@requires("view")
def progress(project_id: int):
    """Without ``as_of``: as of the register's last day with data, which ``as_of`` says.
    Kept until the register changes (push notifications), and to the day."""
    batch = parse_id(request.args.get("batch"), "batch")
    as_of = parse_as_of(request.args.get("as_of"))
    key = ("progress", project_id, batch, as_of, dt.date.today())
    return jsonify(push.cache("register").get(key, lambda: _progress(project_id, batch, as_of)))


def _progress(project_id: int, batch: int | None, as_of: dt.date | None) -> dict:
    session = get_session(primary=True)  # kept until told: never a replica's older figures
    if as_of is None:
        as_of = acquisition.last_day_with_data(session)
    found = acquisition.progress(session, project_id, batch, as_of)
    or_404(found, _no_progress(project_id, batch))
    if batch is not None:
        return found.as_dict()
    project = projects.get_project(session, project_id) or {}
    batches = [
        acquisition.progress(session, project_id, each["id"], as_of)
        for each in project.get("batches", [])
    ]
    return {**found.as_dict(), "batches": [each.as_dict() for each in batches]}


def _no_progress(project_id: int, batch: int | None):
    if batch is None:
        return msg("no_such_project", "there is no project %(id)s", id=project_id)
    return msg(
        "no_such_project_batch", "project %(id)s has no batch %(batch)s", id=project_id, batch=batch
    )


@bp.get("/documents/<int:doc_id>")
@requires("view")
def document(doc_id: int):
    """The document's bytes, streamed from the database a slice at a time: by a read-only
    session of the stream's own on the primary (which has every kept content), closed when
    the stream ends or the client goes."""
    found = documents.find(get_session(), doc_id)
    if found is None:
        abort(404)
    sessions = current_app.extensions["landmap.read_sessions"]

    def stream():
        with sessions() as session:
            yield from documents.chunks(session, found.sha256, found.size)

    response = Response(stream(), mimetype=found.content_type, direct_passthrough=True)
    response.content_length = found.size
    response.headers.set("Content-Disposition", "attachment", **_download_name(found.file_name))
    return response


def _download_name(name: str) -> dict[str, str]:
    """Content-Disposition's file name, as werkzeug's send_file gives it (RFC 6266)."""
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        return {"filename": simple, "filename*": "UTF-8''" + quote(name, safe="!#$&+-.^_`|~")}
    return {"filename": name}


@bp.get("/projects/<int:project_id>/ledger.xlsx")
@requires("view")
def ledger(project_id: int):
    """As of ``as_of``, else of the register's last day with data (as the project page)."""
    session = get_session()
    as_of = parse_as_of(request.args.get("as_of")) or acquisition.last_day_with_data(session)
    data = reports.acquisition_ledger(session, project_id, as_of)
    if data is None:
        abort(404)
    return workbook(data, f"ledger-{project_id}-{as_of}.xlsx")


@bp.get("/projects/<int:project_id>")
@requires("view")
def project_page(project_id: int):
    session = get_session()
    project = projects.get_project(session, project_id)
    if project is None:
        abort(404, _("There is no such project."))
    as_of = parse_as_of(request.args.get("as_of"))
    batch_id = parse_id(request.args.get("batch"), "batch")
    if batch_id is not None and batch_id not in {batch["id"] for batch in project["batches"]}:
        abort(404, _("There is no such batch."))
    day = as_of or acquisition.last_day_with_data(session)
    progress_rows = [
        acquisition.progress(session, project_id, batch["id"], day) for batch in project["batches"]
    ]
    overall = acquisition.progress(session, project_id, None, day)
    focus = next((row for row in progress_rows if row.batch_id == batch_id), overall)
    chart_labels = {
        "title": _("Cleared mu over time"),
        "due": _("due"),
        "cleared": _("cleared (mu)"),
        "plan": _("straight line to the target"),
    }
    return render_template(
        "project.html",
        project=project,
        batch_id=batch_id,
        as_of=as_of,
        day=day,
        today=today(),
        progress=progress_rows,
        overall=overall,
        focus=focus,
        map=project_map(project, batch_id, as_of),
        zone_codes=zones.zone_codes(session),
        title=project["name"],
        stage_rows=[(stage, focus.mu_by_stage[stage.value]) for stage in Stage],
        locale=locale(),
        chart=charts.progress_chart(focus.as_dict(), chart_labels),
        plots=supply.project_plots(session, project_id, as_of),
        plots_day=as_of or today(),
        compensation=batch_money(project, as_of),
    )
