"""The audit trail for administrators: per object, per user, per day, paged; JSON and Excel.
Times in China time (ISO 8601 with +08:00 in the API)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template, request, url_for
from flask_babel import gettext as _

from landmap.services import audit, zones
from landmap.web.api import parse_day, parse_int
from landmap.web.auth import requires
from landmap.web.db import get_session
from landmap.web.downloads import workbook
from landmap.web.i18n import locale

bp = Blueprint("audit", __name__)
MAX_OFFSET = 10_000_000
MAX_PAGE = MAX_OFFSET // audit.PAGE
MAX_EXPORT = 10_000
FILTERS = ("entity", "key", "user", "date")


def _filters(limit: int, offset: int = 0) -> audit.AuditFilter:
    args = request.args
    return audit.AuditFilter(
        entity=args.get("entity") or None,
        key=args.get("key") or None,
        user=args.get("user") or None,
        day=parse_day(args.get("date")),
        limit=limit,
        offset=offset,
    )


def _kept() -> dict[str, str]:
    """The filters asked for, to keep in the links to other pages."""
    return {name: request.args[name] for name in FILTERS if request.args.get(name)}


def _one_more(selection: audit.AuditFilter) -> tuple[list[audit.Entry], bool]:
    """The entries of ``selection`` and whether there are more after them."""
    wider = audit.AuditFilter(**{**selection.__dict__, "limit": selection.limit + 1})
    found = audit.entries(get_session(), wider)
    return found[: selection.limit], len(found) > selection.limit


def _link(entry: audit.Entry) -> str | None:
    """Where the object of an entry is seen: a parcel on the map, a project's page, the quota
    ledger of the year, a zone's page."""
    target = entry.target()
    if target is None:
        return None
    kind, ids = target
    endpoints = {
        "parcel": "pages.index",
        "project": "acquisition.project_page",
        "quota": "quota.page",
        "zone": "pages.zone_page",
    }
    return url_for(endpoints[kind], **ids)


@bp.get("/api/audit")
@requires("audit")
def rows():
    """The entries, newest first: ``limit`` (default 50, at most 500) from ``offset``; a
    ``Link: <…>; rel="next"`` header when there are more."""
    limit = parse_int("limit", audit.PAGE, 1, audit.MAX_LIMIT)
    offset = parse_int("offset", 0, 0, MAX_OFFSET)
    found, more = _one_more(_filters(limit, offset))
    lang = locale()
    body = [{**e.as_dict(lang), "url": _link(e)} for e in found]
    response = jsonify(body)
    if more:
        nxt = url_for("audit.rows", **_kept(), limit=limit, offset=offset + limit)
        response.headers["Link"] = f'<{nxt}>; rel="next"'
    return response


@bp.get("/audit")
@requires("audit")
def page():
    number = parse_int("page", 1, 1, MAX_PAGE)
    selection = _filters(audit.PAGE, (number - 1) * audit.PAGE)
    found, more = _one_more(selection)
    lang = locale()
    shown: list[dict[str, Any]] = [
        {
            "entry": e,
            "at": f"{e.at:%Y-%m-%d %H:%M:%S}",
            "action": e.action_label(lang),
            "entity": e.entity_label(lang),
            "summary": e.summary(lang),
            "url": _link(e),
        }
        for e in found
    ]
    kept = _kept()
    return render_template(
        "audit.html",
        rows=shown,
        f=selection,
        page=number,
        first=selection.offset + 1,
        prev_url=url_for("audit.page", **kept, page=number - 1) if number > 1 else None,
        next_url=url_for("audit.page", **kept, page=number + 1) if more else None,
        export_url=url_for("audit.export", **kept),
        title=_("Audit trail"),
        zone_codes=zones.zone_codes(get_session()),
    )


@bp.get("/audit.xlsx")
@requires("audit")
def export():
    limit = parse_int("limit", audit.EXPORT_LIMIT, 1, MAX_EXPORT)
    data = audit.workbook(get_session(), _filters(limit))
    return workbook(data, "audit.xlsx")
