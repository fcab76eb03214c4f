"""The administrators' backups page: the last backup, its verification, a warning when it is
too old or missing, the recent runs; and the same as JSON. Times in China time."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask_babel import gettext as _

from landmap.messages import rendered
from landmap.services import backups, zones
from landmap.web.auth import requires
from landmap.web.db import get_session, settings
from landmap.web.i18n import locale

bp = Blueprint("backups", __name__)
CRON = (
    "30 2 * * * cd /srv/landmap && .venv/bin/python -m landmap db backup "
    "/srv/backup/landmap-$(date +\\%F).backup"
)


def _overview() -> backups.Overview:
    return backups.overview(get_session(), settings().backup_warn_hours)


@bp.get("/api/admin/backups")
@requires("backups")
def rows():
    """``last_backup``, its ``verification``, ``stale`` (none, or older than ``warn_hours``),
    ``age_hours``, ``last_failed`` and the ``history`` (newest 20), problems in the request's
    language."""
    return jsonify(rendered(_overview().as_dict(), locale()))


@bp.get("/admin/backups")
@requires("backups")
def page():
    return render_template(
        "backups.html",
        o=_overview(),
        lang=locale(),
        cron=CRON,
        title=_("Backups"),
        zone_codes=zones.zone_codes(get_session()),
    )
