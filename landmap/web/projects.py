"""The project list (项目一览): every project with its kind, stage, zone, mu and progress."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from landmap.services import acquisition, projects, zones
from landmap.web.api import parse_as_of
from landmap.web.auth import requires
from landmap.web.db import get_session
from landmap.web.i18n import locale

bp = Blueprint("projects", __name__)


@bp.get("/projects")
@requires("view")
def page():
    """As of ``as_of``, else of the register's last day with data (as each project's page)."""
    session = get_session()
    as_of = parse_as_of(request.args.get("as_of"))
    day = as_of or acquisition.last_day_with_data(session)
    return render_template(
        "projects.html",
        rows=projects.project_list(session, day),
        day=day,
        as_of=as_of,
        locale=locale(),
        zone_codes=zones.zone_codes(session),
        title=_("Projects"),
    )
