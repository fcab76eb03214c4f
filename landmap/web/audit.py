"""The audit trail for administrators: per parcel, per user, per day; JSON and Excel."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request
from flask_babel import gettext as _

from landmap.services import audit, zones
from landmap.web.api import parse_day, parse_int
from landmap.web.auth import requires
from landmap.web.db import get_session
from landmap.web.downloads import workbook

bp = Blueprint("audit", __name__)


def _filters() -> audit.AuditFilter:
    args = request.args
    return audit.AuditFilter(
        entity=args.get("entity") or None,
        key=args.get("key") or None,
        user=args.get("user") or None,
        day=parse_day(args.get("date")),
        limit=parse_int("limit", 1000, 1, 10000),
    )


@bp.get("/api/audit")
@requires("audit")
def rows():
    return jsonify(audit.rows(get_session(), _filters()))


@bp.get("/audit")
@requires("audit")
def page():
    selection = _filters()
    return render_template(
        "audit.html",
        rows=audit.rows(get_session(), selection),
        f=selection,
        title=_("Audit trail"),
        zone_codes=zones.zone_codes(get_session()),
    )


@bp.get("/audit.xlsx")
@requires("audit")
def export():
    data = audit.workbook(get_session(), _filters())
    return workbook(data, "audit.xlsx")
