"""Keeping the register through the web: projects, their targets and acquisition batches,
enterprises, and which parcels belong to which project and batch. The JSON API and the
pages' forms (plain POST with CSRF) call the same services, so they meet the same refusals;
a form's refusal is shown beside it in the user's language, nothing written."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from landmap.domain import ProjectKind, ProjectStage
from landmap.messages import msg
from landmap.services import Refused, enterprises, projects, zones
from landmap.web.api import parse_id
from landmap.web.auth import requires
from landmap.web.db import get_session, rollback
from landmap.web.errors import ApiError
from landmap.web.i18n import locale

bp = Blueprint("register", __name__)


def _json() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(msg("register_send_json_object", "send a JSON object"))
    return data


def _done(result: Any, status: int = 200):
    """Commit what the service wrote; the result as JSON."""
    get_session().commit()
    return jsonify(result.as_dict()), status


# --- the API ------------------------------------------------------------------------------


@bp.post("/api/projects")
@requires("register")
def create_project():
    return _done(projects.create_project(get_session(), _json()), 201)


@bp.patch("/api/projects/<int:project_id>")
@requires("register")
def update_project(project_id: int):
    return _done(projects.update_project(get_session(), project_id, _json()))


@bp.post("/api/projects/<int:project_id>/targets")
@requires("register")
def set_target(project_id: int):
    """Add a dated target (201) or change the one with the same label (200)."""
    target, added = projects.set_target(get_session(), project_id, _json())
    return _done(target, 201 if added else 200)


@bp.post("/api/projects/<int:project_id>/batches")
@requires("register")
def create_batch(project_id: int):
    return _done(projects.create_batch(get_session(), project_id, _json()), 201)


@bp.patch("/api/batches/<int:batch_id>")
@requires("register")
def update_batch(batch_id: int):
    return _done(projects.update_batch(get_session(), batch_id, _json()))


@bp.post("/api/projects/<int:project_id>/parcels")
@requires("parcels")
def assign_parcels(project_id: int):
    """``{"codes": [...], "batch": <id>|null}``: all of them in the project (and batch), or
    none (404 listing unknown codes, 400 for a batch of another project)."""
    data = _json()
    batch = parse_id(data.get("batch"), "batch")
    found = projects.assign_parcels(get_session(), project_id, data.get("codes"), batch)
    return _done(found)


@bp.delete("/api/projects/<int:project_id>/parcels")
@requires("parcels")
def unassign_parcels(project_id: int):
    """``{"codes": [...]}``: all of them out of the project (and batch), or none."""
    data = _json()
    return _done(projects.unassign_parcels(get_session(), project_id, data.get("codes")))


@bp.get("/api/enterprises")
@requires("view")
def enterprise_list():
    return jsonify([row.as_dict() for row in enterprises.list_enterprises(get_session())])


@bp.post("/api/enterprises")
@requires("register")
def create_enterprise():
    return _done(enterprises.create_enterprise(get_session(), _json()), 201)


@bp.patch("/api/enterprises/<int:enterprise_id>")
@requires("register")
def update_enterprise(enterprise_id: int):
    return _done(enterprises.update_enterprise(get_session(), enterprise_id, _json()))


# --- the pages and their forms --------------------------------------------------------------


def _form() -> dict[str, str]:
    return {key: value.strip() for key, value in request.form.items()}


def _submit(write: Callable[[], Any], done: Callable[[Any], Any], refused: Callable[..., Any]):
    """Post/redirect/get: ``write`` calls a service; committed, ``done(result)`` redirects;
    refused, ``refused(error)`` renders the form again with the refusal beside it."""
    try:
        result = write()
    except Refused as exc:
        rollback()
        error = {"text": exc.render(locale()), "code": exc.code}
        return refused(error), exc.status
    get_session().commit()
    return done(result)


def _project_form(project_id: int | None, error: dict | None = None, form: str = "project"):
    session = get_session()
    record = projects.project_record(session, project_id) if project_id else None
    if project_id and record is None:
        abort(404, _("There is no such project."))
    detail = projects.get_project(session, project_id) if project_id else None
    typed: Mapping[str, Any] = request.form if error else {}
    return render_template(
        "project_form.html",
        title=_("Edit project") if record else _("New project"),
        project=record.as_dict() if record else None,
        targets=detail["targets"] if detail else [],
        kinds=list(ProjectKind),
        stages=list(ProjectStage),
        financings=projects.FINANCING,
        enterprises=enterprises.list_enterprises(session),
        zone_codes=zones.zone_codes(session),
        locale=locale(),
        error=error,
        error_form=form if error else None,
        typed=typed,
    )


@bp.get("/projects/new")
@requires("register")
def new_project_page():
    return _project_form(None)


@bp.post("/projects/new")
@requires("register")
def new_project_form():
    return _submit(
        lambda: projects.create_project(get_session(), _form()),
        lambda row: _saved(_("Project %(name)s registered.", name=row.name), row.id),
        lambda error: _project_form(None, error),
    )


def _saved(message: str, project_id: int):
    flash(message)
    return redirect(url_for("acquisition.project_page", project_id=project_id))


@bp.get("/projects/<int:project_id>/edit")
@requires("register")
def edit_project_page(project_id: int):
    return _project_form(project_id)


@bp.post("/projects/<int:project_id>/edit")
@requires("register")
def edit_project_form(project_id: int):
    return _submit(
        lambda: projects.update_project(get_session(), project_id, _form()),
        lambda row: _saved(_("Project %(name)s saved.", name=row.name), row.id),
        lambda error: _project_form(project_id, error),
    )


@bp.post("/projects/<int:project_id>/close")
@requires("register")
def close_project_form(project_id: int):
    """closed=1 closes the project, closed=0 reopens it."""
    closed = request.form.get("closed") == "1"
    return _submit(
        lambda: projects.update_project(get_session(), project_id, {"closed": closed}),
        lambda row: _saved(
            _("Project %(name)s closed.", name=row.name)
            if row.closed_on
            else _("Project %(name)s reopened.", name=row.name),
            row.id,
        ),
        lambda error: _project_form(project_id, error, "close"),
    )


@bp.post("/projects/<int:project_id>/targets")
@requires("register")
def target_form(project_id: int):
    return _submit(
        lambda: projects.set_target(get_session(), project_id, _form()),
        lambda found: _saved(_("Target %(label)s saved.", label=found[0].label), project_id),
        lambda error: _project_form(project_id, error, "target"),
    )


def _batch_form(project_id: int, batch: dict | None, error: dict | None = None):
    project = projects.get_project(get_session(), project_id)
    if project is None:
        abort(404, _("There is no such project."))
    return render_template(
        "batch_form.html",
        title=_("Edit batch") if batch else _("New batch"),
        project=project,
        batch=batch,
        error=error,
        typed=request.form if error else {},
        zone_codes=zones.zone_codes(get_session()),
    )


def _batch(batch_id: int) -> tuple[int, dict]:
    """The project of a batch and the batch (as the project's detail lists it); 404."""
    project_id = projects.project_of_batch(get_session(), batch_id)
    project = projects.get_project(get_session(), project_id) if project_id else None
    found = next((b for b in (project or {}).get("batches", []) if b["id"] == batch_id), None)
    if project_id is None or found is None:
        abort(404, _("There is no such batch."))
    return project_id, found


@bp.post("/projects/<int:project_id>/batches")
@requires("register")
def new_batch_form(project_id: int):
    return _submit(
        lambda: projects.create_batch(get_session(), project_id, _form()),
        lambda row: _saved(_("Batch %(name)s added.", name=row.name), project_id),
        lambda error: _batch_form(project_id, None, error),
    )


@bp.get("/batches/<int:batch_id>/edit")
@requires("register")
def edit_batch_page(batch_id: int):
    return _batch_form(*_batch(batch_id))


@bp.post("/batches/<int:batch_id>/edit")
@requires("register")
def edit_batch_form(batch_id: int):
    project_id, batch = _batch(batch_id)
    return _submit(
        lambda: projects.update_batch(get_session(), batch_id, _form()),
        lambda row: _saved(_("Batch %(name)s saved.", name=row.name), project_id),
        lambda error: _batch_form(project_id, batch, error),
    )


@bp.get("/enterprises")
@requires("view")
def enterprises_page():
    session = get_session()
    return render_template(
        "enterprises.html",
        title=_("Enterprises"),
        rows=enterprises.list_enterprises(session),
        zone_codes=zones.zone_codes(session),
    )


def _enterprise_form(enterprise_id: int | None, error: dict | None = None):
    session = get_session()
    row = enterprises.get_enterprise(session, enterprise_id) if enterprise_id else None
    if enterprise_id and row is None:
        abort(404, _("There is no such enterprise."))
    return render_template(
        "enterprise_form.html",
        title=_("Edit enterprise") if row else _("New enterprise"),
        enterprise=row,
        error=error,
        typed=request.form if error else {},
        zone_codes=zones.zone_codes(session),
    )


def _enterprise_saved(row: enterprises.EnterpriseRow):
    flash(_("Enterprise %(name)s saved.", name=row.name))
    return redirect(url_for("register.enterprises_page"))


@bp.get("/enterprises/new")
@requires("register")
def new_enterprise_page():
    return _enterprise_form(None)


@bp.post("/enterprises/new")
@requires("register")
def new_enterprise_form():
    return _submit(
        lambda: enterprises.create_enterprise(get_session(), _form()),
        _enterprise_saved,
        lambda error: _enterprise_form(None, error),
    )


@bp.get("/enterprises/<int:enterprise_id>/edit")
@requires("register")
def edit_enterprise_page(enterprise_id: int):
    return _enterprise_form(enterprise_id)


@bp.post("/enterprises/<int:enterprise_id>/edit")
@requires("register")
def edit_enterprise_form(enterprise_id: int):
    return _submit(
        lambda: enterprises.update_enterprise(get_session(), enterprise_id, _form()),
        _enterprise_saved,
        lambda error: _enterprise_form(enterprise_id, error),
    )
