"""Zone adjustment (规划调整/扩区): drafts, their check, the compare page, approval."""

from __future__ import annotations

import tempfile
from pathlib import Path, PureWindowsPath

from flask import Blueprint, abort, jsonify, render_template, request, url_for
from flask_babel import gettext as _

from landmap import loaders
from landmap.geo import crs as crs_mod
from landmap.geo import encoding as enc_mod
from landmap.loaders import LoadOptions
from landmap.loaders.source import shown_name
from landmap.messages import Message, msg, rendered
from landmap.services import adjustment, reports, zones
from landmap.services.adjustment import DraftCheck, DraftOp, DraftRefused, StaleDraft, Supersession
from landmap.services.quota import FIRST_YEAR, last_year
from landmap.web.api import max_body, parse_day, parse_whole
from landmap.web.auth import can, current_user_name, requires
from landmap.web.db import get_session, settings
from landmap.web.downloads import workbook
from landmap.web.errors import ApiError
from landmap.web.i18n import locale
from landmap.web.pages import compare_map, draft_editor_map

bp = Blueprint("adjustment", __name__)
UPLOAD_TYPES = (".zip", ".gpkg", ".geojson", ".json")


# the upload form's coordinate-system field: a choice from crs_choices(), or OTHER_EPSG and
# an EPSG code in the "srs_epsg" field; empty: as the file says
OTHER_EPSG = "epsg"


def crs_choices() -> list[crs_mod.Choice]:
    """The coordinate systems offered for a file that does not say its own: the zone's usual
    CGCS2000 Gauss-Krüger zones (the configured central meridian, else the region's), Xian
    1980 and Beijing 1954."""
    cm = settings().gk_central_meridian or crs_mod.usual_central_meridian(settings().region_bbox)
    return crs_mod.choices(cm)


def upload_choices() -> tuple[str | None, str | None]:
    """The coordinate system (EPSG:N) and the text encoding chosen on the upload form, each
    None when the file is to say; a bad choice is refused (400) naming the field."""
    srs = request.form.get("srs", "").strip()
    if srs == OTHER_EPSG:
        srs = request.form.get("srs_epsg", "").strip()
        if not srs:
            raise ApiError(
                msg(
                    "crs_choice_missing",
                    "give the %(choice)s as an EPSG code such as EPSG:4546",
                    choice=crs_mod.CHOICE,
                )
            )
    if srs:
        srs = f"EPSG:{crs_mod.parse_epsg(srs).to_epsg()}"
    encoding = request.form.get("encoding", "").strip()
    return srs or None, enc_mod.parse_choice(encoding) if encoding else None


def upload_name(upload) -> tuple[str, str]:
    """An uploaded file's name as its sender called it (no folders, no control characters)
    and its suffix, one of UPLOAD_TYPES (else 415); never used on disk."""
    sent_as = shown_name(PureWindowsPath(upload.filename or "").name)
    suffix = Path(sent_as).suffix.lower()
    if suffix not in UPLOAD_TYPES:
        raise ApiError(
            msg("upload_kind", "upload a .zip of a shapefile, a .gpkg or a .geojson file"), 415
        )
    return sent_as, suffix


def _from_upload(code: str, note: str) -> dict:
    """A draft from an uploaded zipped shapefile, GeoPackage or GeoJSON, through the loader
    (stored under a name of our own; the client's file name is never used on disk), with the
    coordinate system and encoding chosen on the form when the file does not say. The
    loader's refusals answer as they are: translated, every bad record in ``problems``."""
    upload = request.files["file"]
    sent_as, suffix = upload_name(upload)
    srs, encoding = upload_choices()
    session = get_session()
    options = LoadOptions(
        srs=srs,
        encoding=encoding,
        zone=code,
        draft=True,
        note=note,
        run_by=current_user_name(),
        file_name=sent_as,
    )
    with tempfile.TemporaryDirectory(prefix="landmap-upload-") as tmp:
        path = Path(tmp) / f"draft{suffix}"
        upload.save(path)
        report = loaders.load(session, settings(), "zones", path, options)
    (draft_id,) = report.created_ids  # every feature is of zone ``code``: one draft
    return adjustment.snap_loaded(session, code, draft_id)


# a JSON draft of MAX_DRAFT_VERTICES positions written out in full is about 4 MB
DRAFT_BODY_BYTES = 8 * 1024 * 1024


@bp.post("/api/zones/<code>/drafts")
@requires("drafts")
@max_body(DRAFT_BODY_BYTES)
def create(code: str):
    code = code.upper()
    if request.files.get("file"):
        found = _from_upload(code, request.form.get("note", "")[:2000])
    else:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ApiError(
                msg(
                    "draft_body",
                    'send {"geometry": <GeoJSON in EPSG:4326>, "note": ..., "op": '
                    '"replace" | "add" | "subtract"} or upload a file',
                )
            )
        if "crs" in data or (isinstance(data.get("geometry"), dict) and "crs" in data["geometry"]):
            raise ApiError(
                msg(
                    "geojson_crs_member",
                    "GeoJSON is EPSG:4326 (RFC 7946): a crs member is not accepted",
                )
            )
        found = adjustment.create_draft(
            get_session(),
            code,
            data.get("geometry"),
            str(data.get("note") or "")[:2000],
            current_user_name(),
            settings().region_bbox,
            data.get("op"),
            data.get("base_id"),
        )
    get_session().commit()
    return jsonify(found), 201


@bp.get("/api/zones/<code>/drafts")
@requires("view")
def list_drafts(code: str):
    return jsonify(adjustment.drafts(get_session(), code.upper()))


def _check(code: str, draft_id: int) -> DraftCheck:
    year = parse_whole(request.args.get("year"), "year", FIRST_YEAR, last_year())
    return adjustment.check(
        get_session(scratch=True), code.upper(), draft_id, year, settings().sliver_width_m
    )


@bp.get("/api/zones/<code>/drafts/<int:draft_id>/check")
@requires("view")
def check(code: str, draft_id: int):
    return jsonify(rendered(_check(code, draft_id).as_dict(), locale()))


@bp.post("/api/zones/<code>/drafts/<int:draft_id>/approve")
@requires("approve")
def approve(code: str, draft_id: int):
    data = request.get_json(silent=True) if request.get_data() else {}
    if not isinstance(data, dict):
        raise ApiError(_("Send a JSON object (or nothing)."))
    valid_from = parse_day(data.get("valid_from"), "valid_from")
    try:
        found = adjustment.approve(
            get_session(), code.upper(), draft_id, current_user_name(), valid_from
        )
    except StaleDraft as exc:
        note = stale_note(exc.why)
        raise ApiError(
            msg(
                "stale_draft",
                "%(note)s It cannot be approved until it is rebased on the current boundary.",
                note=note,
            ),
            409,
            **exc.extra,
        ) from exc
    get_session().commit()
    return jsonify(found)


@bp.post("/api/zones/<code>/drafts/<int:draft_id>/rebase")
@requires("drafts")
def rebase(code: str, draft_id: int):
    """A new draft on the current boundary, made as the stale draft was (its op and shape)."""
    found = adjustment.rebase(get_session(), code.upper(), draft_id, current_user_name())
    get_session().commit()
    return jsonify(found), 201


def stale_note(why: Supersession) -> Message:
    """What replaced the boundary a stale draft was drawn on, for people."""
    if why.id is None or why.base_version is None:
        return msg(
            "stale_note_gone", "This draft is based on a boundary that is no longer in force."
        )
    if why.draft:
        return msg(
            "stale_note_by_draft",
            "This draft is based on a boundary that has been superseded (version "
            "%(version)s, replaced by draft %(draft)s, approved by %(who)s on %(day)s).",
            version=why.base_version,
            draft=why.id,
            who=why.by,
            day=why.on,
        )
    return msg(
        "stale_note_by_load",
        "This draft is based on a boundary that has been superseded (version %(version)s, "
        "replaced by a boundary loaded by %(who)s on %(day)s).",
        version=why.base_version,
        who=why.by,
        day=why.on,
    )


@bp.get("/zones/<code>/drafts/<int:draft_id>/check.xlsx")
@requires("view")
def check_workbook(code: str, draft_id: int):
    data = reports.adjustment_workbook(_check(code, draft_id))
    return workbook(data, f"zone-{code}-draft-{draft_id}.xlsx")


@bp.get("/zones/<code>/drafts")
@requires("view")
def drafts_page(code: str):
    session = get_session()
    zone = zones.get_zone(session, code.upper())
    if zone is None:
        abort(404)
    return render_template(
        "drafts.html",
        zone=zone,
        drafts=adjustment.drafts(session, zone["code"]),
        op_labels=op_labels(),
        title=_("Boundary drafts of %(zone)s", zone=zone["name"]),
        zone_codes=zones.zone_codes(session),
        editor=draft_editor_map(zone, op_labels()) if can("drafts") else None,
        crs_choices=[(c.value, c.label.render(locale())) for c in crs_choices()],
        other_epsg=OTHER_EPSG,
        encodings=enc_mod.CHOICES,
    )


@bp.get("/zones/<code>/drafts/<int:draft_id>")
@requires("view")
def compare_page(code: str, draft_id: int):
    try:
        figures = _check(code, draft_id)
    except (ApiError, DraftRefused) as exc:  # a page, not JSON
        abort(exc.status, exc.render(locale()))
    session = get_session()
    zone = zones.get_zone(session, code.upper())
    printable = request.args.get("print") == "1"
    return render_template(
        "compare.html",
        zone=zone,
        c=figures,
        draft_id=draft_id,
        title=_("Draft %(id)s of %(zone)s", id=draft_id, zone=zone["name"]),
        zone_codes=zones.zone_codes(session),
        printable=printable,
        map=compare_map(zone, draft_id, figures.as_dict(), printable),
        stale_note=stale_note(figures.superseded_by).render(locale())
        if figures.superseded_by
        else None,
        op_label=op_labels()[figures.op],
        approve_url=url_for("adjustment.approve", code=zone["code"], draft_id=draft_id),
        rebase_url=url_for("adjustment.rebase", code=zone["code"], draft_id=draft_id),
        compare_url=url_for("adjustment.compare_page", code=zone["code"], draft_id=0),
    )


def op_labels() -> dict[str, str]:
    """How a draft was made from its base (services.adjustment.DraftOp), for people."""
    return {
        DraftOp.REPLACE.value: _("Replace the boundary"),
        DraftOp.ADD.value: _("Add to the boundary"),
        DraftOp.SUBTRACT.value: _("Subtract from the boundary"),
    }
