"""PDF briefings for meetings: a zone's or a project's thematic map with its tables and
progress chart (/zones/<code>/briefing.pdf, /projects/<id>/briefing.pdf, ?as_of=), and a
draft's check with both maps (/zones/<code>/drafts/<id>/check.pdf). The figures come from
landmap.services.briefing (the services every page uses), the drawing from landmap.maps.pdf;
here the texts are translated and the figures written as the pages write them."""

from __future__ import annotations

import io

from flask import Blueprint, request, send_file
from flask_babel import gettext as _

from landmap.domain import ProjectKind, ProjectStage, QuotaSource, Stage, today
from landmap.maps import pdf
from landmap.maps.styles import (
    BOUNDARY_STYLES,
    PARCEL_STYLES,
    STAGE_COLORS,
    ZONE_ACTIVE_STYLE,
    ZONE_STYLE,
)
from landmap.messages import msg
from landmap.services import adjustment, briefing, zones
from landmap.services.briefing import MapBoundary, MapParcel
from landmap.services.quota import FIRST_YEAR, QuotaBook, last_year
from landmap.web import charts
from landmap.web.api import parse_as_of, parse_whole
from landmap.web.auth import requires
from landmap.web.db import get_session, settings
from landmap.web.errors import ApiError, or_404
from landmap.web.i18n import locale
from landmap.web.pages import _boundary_labels

bp = Blueprint("briefing", __name__)
GK_CGCS2000 = range(4534, 4555)  # EPSG: CGCS2000 3-degree Gauss-Krüger CM 75E ... 135E


def mu(value: float) -> str:
    """mu as every page writes them: two decimals."""
    return f"{value:.2f}"


def _font():
    found = pdf.font_path(settings().pdf_font)
    if found is None:
        raise ApiError(
            msg(
                "pdf_font_missing",
                "PDFs need a TrueType font with Chinese characters: ask the administrator to "
                "install the Debian package fonts-wqy-zenhei (scripts/setup.sh installs it)",
            ),
            503,
        )
    return found


def _answer(doc: pdf.Document, name: str):
    data = pdf.render(doc, _font())
    return send_file(io.BytesIO(data), mimetype="application/pdf", download_name=name)


def crs_note() -> str:
    srid = settings().storage_srid
    if srid in GK_CGCS2000:
        name = _("CGCS2000 / 3-degree Gauss-Krüger CM %(cm)sE", cm=75 + 3 * (srid - 4534))
    else:
        name = f"EPSG:{srid}"
    return _("Coordinate system: %(crs)s", crs=name)


def _notes() -> list[str]:
    return [
        crs_note(),
        _("Made by %(maker)s", maker=settings().maker),
        _("Made on %(date)s", date=today().isoformat()),
    ]


def _words() -> dict[str, str]:
    return {
        "scale": _("Scale 1:%(n)s", n="%s"),
        "north": _("N"),
        "m": _("m"),
        "continued": _("(continued)"),
    }


def _stage_style(stage: Stage) -> dict:
    return {**PARCEL_STYLES["plain"], "fillColor": STAGE_COLORS[stage]}


def parcel_layers(parcels: list[MapParcel], style: dict | None = None) -> list[pdf.Layer]:
    """Parcels filled by stage, outlined by what they are (plain, commercial, disputed)."""
    layers = []
    for look in ("plain", "commercial", "dispute"):
        shown = [p for p in parcels if p.look == look]
        if shown:
            layers.append(
                pdf.Layer(
                    [p.geom for p in shown],
                    {**PARCEL_STYLES[look], **(style or {})},
                    [STAGE_COLORS[Stage(p.stage)] for p in shown],
                )
            )
    return layers


def boundary_layers(
    found: list[MapBoundary], active: str | None, frames: bool = True
) -> list[pdf.Layer]:
    """Every zone's boundary, ``active``'s heavier; the map is framed on ``active``'s (with
    ``frames``) and the other layers framed."""
    others = [b.geom for b in found if b.zone != active]
    mine = [b.geom for b in found if b.zone == active]
    return [
        pdf.Layer(others, ZONE_STYLE, frames=False),
        pdf.Layer(mine, ZONE_ACTIVE_STYLE, frames=frames),
    ]


def stage_legend(legend: dict) -> list[pdf.LegendItem]:
    """Each stage with its parcels' mu (the map legend's figures, as the pages show them)."""
    loc = locale()
    return [
        pdf.LegendItem(
            f"{stage.label(loc)}  {mu(legend['stages'][stage.value]['mu'])}", _stage_style(stage)
        )
        for stage in Stage
    ] + [pdf.LegendItem(_("Zone boundary"), ZONE_ACTIVE_STYLE)]


def stage_table(by_stage: dict, total_parcels: int | None, total_mu: float) -> pdf.Table:
    loc = locale()
    rows = [
        [stage.label(loc), *([str(by_stage[stage.value]["parcels"])] if total_parcels else [])]
        + [mu(by_stage[stage.value]["mu"])]
        for stage in Stage
    ]
    rows.append([_("Total"), *([str(total_parcels)] if total_parcels else []), mu(total_mu)])
    columns = [_("Stage"), *([_("Parcels")] if total_parcels else []), _("mu")]
    return pdf.Table(_("Mu by acquisition stage"), columns, rows, frozenset({1, 2}))


def quota_table(book: QuotaBook) -> pdf.Table:
    loc = locale()
    rows = [
        [QuotaSource(source).label(loc), mu(b.granted), mu(b.reserved), mu(b.consumed)]
        + [mu(b.remaining)]
        for source, b in book.by_source.items()
    ]
    rows.append(
        [_("Total"), mu(book.granted_mu), mu(book.reserved_mu), mu(book.consumed_mu)]
        + [mu(book.remaining_mu)]
    )
    target = mu(book.target_mu) if book.target_mu is not None else "—"
    rows.append([_("The year's target"), target, "", "", ""])
    return pdf.Table(
        _("Land-use quota %(year)s (mu)", year=book.year),
        ["", _("Granted"), _("Reserved"), _("Consumed"), _("Remaining")],
        rows,
        frozenset({1, 2, 3, 4}),
    )


def progress_chart(progress) -> pdf.Chart:
    labels = {
        "title": _("Cleared mu over time"),
        "due": _("due"),
        "cleared": _("cleared (mu)"),
        "plan": _("straight line to the target"),
    }
    title = f"{progress.batch or progress.project}: {_('cleared mu over time')}"
    return pdf.Chart(title, charts.progress_marks(progress.as_dict(), labels))


def _as_of_line(day, as_of) -> str:
    return _("As of %(date)s", date=(as_of or day).isoformat())


@bp.get("/zones/<code>/briefing.pdf")
@requires("view")
def zone_pdf(code: str):
    session = get_session()
    code = code.upper()[:40]
    found = briefing.zone_briefing(session, code, parse_as_of(request.args.get("as_of")))
    found = or_404(found, msg("no_such_zone", "There is no zone %(code)s.", code=code))
    s = found.summary
    subtitle = " · ".join(
        [
            _as_of_line(found.day, found.as_of),
            _("Boundary area") + f": {mu(s.area_mu)} " + _("mu"),
            _(
                "%(n)s parcels, %(mu)s mu inside the boundary",
                n=s.parcel_count,
                mu=mu(s.parcels_mu_inside),
            ),
        ]
    )
    loc = locale()
    projects_table = pdf.Table(
        _("Projects"),
        [_("Project"), _("Kind"), _("Stage"), _("Parcels"), _("mu"), _("Target"), _("Cleared")],
        [
            [row.name, row.kind.label(loc), row.stage.label(loc), str(row.parcels)]
            + [mu(row.area_mu), mu(row.target_mu), mu(row.cleared_mu)]
            for row in found.projects
        ],
        frozenset({3, 4, 5, 6}),
    )
    doc = pdf.Document(
        title=_("%(name)s: land acquisition by stage", name=s.name),
        subtitle=subtitle,
        maps=[
            pdf.MapView(
                "",
                parcel_layers(found.parcels) + boundary_layers(found.boundaries, code),
            )
        ],
        legend_title=_("Acquisition stage (mu)"),
        legend=stage_legend(found.legend),
        notes=_notes(),
        words=_words(),
        tables=[
            stage_table(s.as_dict()["mu_by_stage"], s.parcel_count, s.parcels_mu_inside),
            projects_table,
            quota_table(found.quota),
        ],
        charts=[progress_chart(p) for p in found.progress],
    )
    return _answer(doc, f"zone-{code}-briefing.pdf")


def batches_table(batches) -> pdf.Table:
    rows = [
        [b.batch, mu(b.target_mu), mu(b.cleared_mu), b.due.isoformat() if b.due else ""]
        + [b.projected_completion.isoformat() if b.projected_completion else _("cannot tell")]
        + [_("on track") if b.on_track else _("late")]
        for b in batches
    ]
    columns = [_("Batch"), _("Target"), _("Cleared"), _("Due"), _("Projected"), ""]
    return pdf.Table(_("Progress by batch"), columns, rows, frozenset({1, 2}))


@bp.get("/projects/<int:project_id>/briefing.pdf")
@requires("view")
def project_pdf(project_id: int):
    session = get_session()
    found = briefing.project_briefing(session, project_id, parse_as_of(request.args.get("as_of")))
    found = or_404(found, msg("no_such_project", "there is no project %(id)s", id=project_id))
    project, overall, loc = found.project, found.progress, locale()
    facts = [
        _as_of_line(found.day, found.as_of),
        ProjectKind(project["kind"]).label(loc),
        ProjectStage(project["stage"]).label(loc),
    ]
    if project["zone"]:
        facts.append(_("Zone %(code)s", code=project["zone"]))
    by_stage = {k: {"mu": v} for k, v in overall.mu_by_stage.items()}
    doc = pdf.Document(
        title=_("%(name)s: land acquisition by stage", name=project["name"]),
        subtitle=" · ".join(facts),
        maps=[
            pdf.MapView(
                "",
                parcel_layers(found.parcels)
                + boundary_layers(found.boundaries, project["zone"], frames=False),
            )
        ],
        legend_title=_("Acquisition stage (mu)"),
        legend=stage_legend(found.legend),
        notes=_notes(),
        words=_words(),
        tables=[
            batches_table(found.batches),
            stage_table(by_stage, None, overall.area_mu),
            quota_table(found.quota),
        ],
        charts=[progress_chart(overall)],
    )
    return _answer(doc, f"project-{project_id}-briefing.pdf")


# --- a draft's check --------------------------------------------------------------------

FIGURES = (
    ("Area before", "area_before_mu"),
    ("Area after", "area_after_mu"),
    ("Added", "added_mu"),
    ("Removed", "removed_mu"),
    ("Overlaps other zones", "overlap_other_zones_mu"),
    ("Permanent basic farmland taken", "farmland_conflict_mu"),
    ("Agricultural land added", "agricultural_added_mu"),
    ("of which cultivated", "cultivated_added_mu"),
)


def figures_table(c) -> pdf.Table:
    """The check's figures as the compare page shows them (against the current boundary
    too, for a stale draft)."""
    now = c.against_current
    rows = [
        [_(label), mu(getattr(c, key)), *([mu(getattr(now, key))] if now else [])]
        for label, key in FIGURES
    ]
    rows.append(
        [_("Quota needed / remaining in %(year)s", year=c.quota_year)]
        + [f"{mu(c.quota_needed_mu)} / {mu(c.quota_remaining_mu)}"]
        + ([f"{mu(now.quota_needed_mu)} / {mu(now.quota_remaining_mu)}"] if now else [])
    )
    columns = [_("unit") + ": " + _("mu"), _("Against the boundary it was drawn on")]
    if now:
        columns.append(_("Against the current boundary"))
    return pdf.Table(_("Figures"), columns, rows, frozenset({1, 2}))


def _parcel_tables(c) -> list[pdf.Table]:
    columns = [_("Code"), _("Owner"), _("Project"), _("Inside"), _("Outside")]
    return [
        pdf.Table(
            f"{title} ({len(getattr(c, key))})",
            columns,
            [
                [p.code, p.owner or "", p.project or "", mu(p.inside_mu), mu(p.outside_mu)]
                for p in getattr(c, key)
            ],
            frozenset({3, 4}),
        )
        for title, key in (
            (_("Parcels cut by the new line"), "parcels_cut"),
            (_("Parcels entering"), "parcels_entering"),
            (_("Parcels leaving"), "parcels_leaving"),
        )
    ]


def _check_tables(c) -> list[pdf.Table]:
    loc = locale()
    land_use = pdf.Table(
        _("Land added, by land-use class"),
        [_("Code"), _("Class"), "", _("mu")],
        [
            [r.code, r.name or "?", r.category_label.render(loc), mu(r.mu)]
            for r in c.added_by_land_use
        ],
        frozenset({3}),
    )
    farmland = pdf.Table(
        _("Permanent basic farmland taken"),
        [_("Code"), _("mu")],
        [[f.code, mu(f.mu)] for f in c.farmland_patches],
        frozenset({1}),
    )
    return [figures_table(c), land_use, farmland, *_parcel_tables(c)]


def check_views(maps: briefing.CheckMaps) -> list[pdf.MapView]:
    """The current boundary (or the one the draft was drawn on) and the draft with what it
    adds, removes and takes, the parcels it cuts outlined: as on the compare page."""
    faint = {"fillOpacity": 0.35, "weight": 0.6}
    left = [pdf.Layer([g], BOUNDARY_STYLES[kind]) for kind, g in maps.before]
    shapes = [
        pdf.Layer([g], BOUNDARY_STYLES.get(kind, BOUNDARY_STYLES["default"]))
        for kind, g in maps.shapes
    ]
    cut = pdf.Layer([p.geom for p in maps.cut], {**PARCEL_STYLES["cut"], "fill": False})
    labels = _boundary_labels()
    return [
        pdf.MapView(labels[maps.before[0][0]], parcel_layers(maps.parcels, faint) + left),
        pdf.MapView(
            labels["draft"],
            parcel_layers(maps.parcels, faint)
            + shapes
            + [cut, pdf.Layer([maps.draft], BOUNDARY_STYLES["draft"])],
        ),
    ]


def check_legend() -> list[pdf.LegendItem]:
    labels = _boundary_labels()
    items = [pdf.LegendItem(labels[k], BOUNDARY_STYLES[k]) for k in labels if k in BOUNDARY_STYLES]
    cut = labels.get("cut") or _("Parcels cut by the new line")
    return items + [pdf.LegendItem(cut, PARCEL_STYLES["cut"])]


@bp.get("/zones/<code>/drafts/<int:draft_id>/check.pdf")
@requires("view")
def check_pdf(code: str, draft_id: int):
    """What goes to the approval meeting: the compare page's maps and tables."""
    year = parse_whole(request.args.get("year"), "year", FIRST_YEAR, last_year())
    session = get_session(scratch=True)
    code = code.upper()
    checked = adjustment.check(session, code, draft_id, year, settings().sliver_width_m)
    zone = zones.get_zone(session, code)
    assert zone is not None  # check refuses an unknown zone
    maps = briefing.check_maps(session, checked, zone["name"], settings().storage_srid)
    loc = locale()
    status = _("approved") if checked.draft_status != "draft" else _("draft")
    doc = pdf.Document(
        title=_("Draft %(id)s of %(zone)s", id=draft_id, zone=zone["name"]),
        subtitle=" · ".join(filter(None, [status, checked.author, checked.note[:200]])),
        maps=check_views(maps),
        legend_title=_("Legend"),
        legend=check_legend(),
        notes=_notes(),
        words=_words(),
        tables=_check_tables(checked),
        problems=[p.message.render(loc) for p in checked.problems],
    )
    return _answer(doc, f"zone-{code}-draft-{draft_id}-check.pdf")
