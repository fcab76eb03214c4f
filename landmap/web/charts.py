"""Small SVG charts rendered on the server: no chart library, nothing to load."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Mark:
    """One mark of a chart in its own units (x right, y down, as SVG): a line or polyline
    through ``points``, a dot (one point, ``r``) or a text at its point; ``kind`` names its
    look (the page's CSS class, landmap.maps.styles.CHART_STYLES in a PDF)."""

    kind: str
    points: tuple[tuple[float, float], ...]
    text: str = ""
    shape: str = "line"  # line (through two points), polyline, dot, text
    anchor: str = "start"  # of a text: start, middle, end
    r: float = 0.0


def progress_marks(
    progress: dict, labels: dict[str, str], width: int = 640, height: int = 260
) -> list[Mark]:
    """Cleared mu over time against the straight line from the start to the target by the
    due date; the projected completion marked when there is one. The one layout of the
    progress chart: the page draws it as SVG (progress_chart), a PDF briefing with
    matplotlib."""
    pad_l, pad_r, pad_t, pad_b = 56, 16, 14, 34
    start = dt.date.fromisoformat(str(progress["started"]))
    as_of = dt.date.fromisoformat(str(progress["as_of"]))
    due = dt.date.fromisoformat(str(progress["due"])) if progress.get("due") else as_of
    proj = progress.get("projected_completion")
    projected = dt.date.fromisoformat(str(proj)) if proj else None
    end = max(as_of, due)
    if projected and projected < due + dt.timedelta(days=730):  # a far-off date would flatten it
        end = max(end, projected)
    span = max((end - start).days, 1)
    target = max(progress["target_mu"], 1.0)
    top = target * 1.1

    def x(day: dt.date) -> float:
        return round(pad_l + (width - pad_l - pad_r) * (day - start).days / span, 1)

    def y(mu: float) -> float:
        return round(height - pad_b - (height - pad_t - pad_b) * mu / top, 1)

    cleared = tuple(
        (x(dt.date.fromisoformat(str(p["date"]))), y(p["cleared_mu"])) for p in progress["series"]
    )
    marks = [
        Mark("axis", ((pad_l, y(0)), (width - pad_r, y(0)))),
        Mark("axis", ((pad_l, pad_t), (pad_l, y(0)))),
        Mark("target", ((pad_l, y(target)), (width - pad_r, y(target)))),
        Mark("text", ((pad_l - 4, y(target) + 4),), f"{target:.0f}", "text", "end"),
        Mark("text", ((pad_l - 4, y(0) + 4),), "0", "text", "end"),
        Mark("plan", ((x(start), y(0)), (x(due), y(target)))),
        Mark("due", ((x(due), pad_t), (x(due), y(0)))),
        Mark(
            "text", ((x(due), height - 18),), f"{labels['due']} {due.isoformat()}", "text", "middle"
        ),
        Mark("cleared", cleared, shape="polyline"),
        Mark("text", ((x(start), height - 4),), start.isoformat(), "text"),
        Mark("text", ((x(as_of), height - 4),), as_of.isoformat(), "text", "middle"),
    ]
    if projected and projected <= end:
        ends = ((x(as_of), y(progress["cleared_mu"])), (x(projected), y(target)))
        marks += [Mark("projection", ends), Mark("projected", ends[1:], shape="dot", r=4)]
    legend_x, legend_y = pad_l + 8, pad_t + 6
    for i, kind in enumerate(("cleared", "plan")):
        row = legend_y + 16 * i
        marks.append(Mark(kind, ((legend_x, row), (legend_x + 18, row))))
        marks.append(Mark("text", ((legend_x + 22, row + 4),), labels[kind], "text"))
    return marks


def _svg_mark(mark: Mark) -> str:
    (x1, y1), *rest = mark.points or ((0.0, 0.0),)
    if mark.shape == "text":
        anchor = "" if mark.anchor == "start" else f' text-anchor="{mark.anchor}"'
        return f'<text x="{x1:.1f}" y="{y1:.1f}"{anchor}>{escape(mark.text)}</text>'
    if mark.shape == "dot":
        return f'<circle cx="{x1:.1f}" cy="{y1:.1f}" r="{mark.r:g}" class="{mark.kind}"/>'
    if mark.shape == "line":
        x2, y2 = rest[0]
        return (
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" class="{mark.kind}"/>'
        )
    pts = " ".join(f"{px:.1f},{py:.1f}" for px, py in mark.points)
    return f'<polyline points="{pts}" class="{mark.kind}"/>'


def progress_chart(
    progress: dict, labels: dict[str, str], width: int = 640, height: int = 260
) -> Markup:
    """progress_marks as an SVG for the page."""
    marks = progress_marks(progress, labels, width, height)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="lm-chart" role="img" aria-label="{escape(labels["title"])}">'
        + "".join(_svg_mark(mark) for mark in marks)
        + "</svg>"
    )


def monthly_bars(
    rows: list[dict], labels: dict[str, str], width: int = 640, height: int = 200
) -> Markup:
    """Granted, reserved and consumed mu per month as grouped bars (negative = released)."""
    keys = [("granted", "#1f78b4"), ("reserved", "#ff7f00"), ("consumed", "#33a02c")]
    pad_l, pad_b, pad_t = 44, 24, 20
    top = max([abs(r[k]) for r in rows for k, _ in keys] + [1.0])
    group = (width - pad_l - 8) / 12
    bar = group / 4

    def h(v: float) -> float:
        return (height - pad_b - pad_t) * abs(v) / top

    base = height - pad_b
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="lm-chart lm-bars">',
        f'<line x1="{pad_l}" y1="{base}" x2="{width - 8}" y2="{base}" class="axis"/>',
        f'<text x="{pad_l - 4}" y="{pad_t + 4}" text-anchor="end">{top:.0f}</text>',
    ]
    for r in rows:
        x0 = pad_l + (r["month"] - 1) * group + bar / 2
        for i, (k, color) in enumerate(keys):
            v = r[k]
            if v:
                y = base - h(v) if v > 0 else base
                parts.append(
                    f'<rect x="{x0 + i * bar:.1f}" y="{y:.1f}" width="{bar - 1:.1f}" '
                    f'height="{max(h(v), 1):.1f}" fill="{color}" '
                    f'fill-opacity="{1 if v > 0 else 0.4}"><title>{escape(labels[k])} '
                    f"{v:.2f}</title></rect>"
                )
        parts.append(
            f'<text x="{x0 + bar * 1.5:.1f}" y="{height - 6}" '
            f'text-anchor="middle">{r["month"]}</text>'
        )
    for i, (k, color) in enumerate(keys):
        parts.append(
            f'<rect x="{pad_l + 10 + i * 110}" y="4" width="10" height="10" '
            f'fill="{color}"/><text x="{pad_l + 24 + i * 110}" y="13">'
            f"{escape(labels[k])}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
