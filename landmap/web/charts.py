"""Small SVG charts rendered on the server: no chart library, nothing to load."""

from __future__ import annotations

import datetime as dt

from markupsafe import Markup, escape


def progress_chart(
    progress: dict, labels: dict[str, str], width: int = 640, height: int = 260
) -> Markup:
    """Cleared mu over time against the straight line from the start to the target by the
    due date; the projected completion marked when there is one."""
    pad_l, pad_r, pad_t, pad_b = 56, 16, 14, 34
    start = dt.date.fromisoformat(progress["started"])
    as_of = dt.date.fromisoformat(progress["as_of"])
    due = dt.date.fromisoformat(progress["due"]) if progress.get("due") else as_of
    proj = progress.get("projected_completion")
    projected = dt.date.fromisoformat(proj) if proj else None
    end = max(as_of, due)
    if projected and projected < due + dt.timedelta(days=730):  # a far-off date would flatten it
        end = max(end, projected)
    span = max((end - start).days, 1)
    target = max(progress["target_mu"], 1.0)
    top = target * 1.1

    def x(day: dt.date) -> float:
        return pad_l + (width - pad_l - pad_r) * (day - start).days / span

    def y(mu: float) -> float:
        return height - pad_b - (height - pad_t - pad_b) * mu / top

    pts = " ".join(
        f"{x(dt.date.fromisoformat(p['date'])):.1f},{y(p['cleared_mu']):.1f}"
        for p in progress["series"]
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="lm-chart" role="img" aria-label="{escape(labels["title"])}">',
        f'<line x1="{pad_l}" y1="{y(0):.1f}" x2="{width - pad_r}" y2="{y(0):.1f}" class="axis"/>',
        f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{y(0):.1f}" class="axis"/>',
        f'<line x1="{pad_l}" y1="{y(target):.1f}" x2="{width - pad_r}" y2="{y(target):.1f}" '
        'class="target"/>',
        f'<text x="{pad_l - 4}" y="{y(target) + 4:.1f}" text-anchor="end">{target:.0f}</text>',
        f'<text x="{pad_l - 4}" y="{y(0) + 4:.1f}" text-anchor="end">0</text>',
        f'<line x1="{x(start):.1f}" y1="{y(0):.1f}" x2="{x(due):.1f}" y2="{y(target):.1f}" '
        'class="plan"/>',
        f'<line x1="{x(due):.1f}" y1="{pad_t}" x2="{x(due):.1f}" y2="{y(0):.1f}" class="due"/>',
        f'<text x="{x(due):.1f}" y="{height - 18}" text-anchor="middle">'
        f"{escape(labels['due'])} {due.isoformat()}</text>",
        f'<polyline points="{pts}" class="cleared"/>',
        f'<text x="{x(start):.1f}" y="{height - 4}">{start.isoformat()}</text>',
        f'<text x="{x(as_of):.1f}" y="{height - 4}" text-anchor="middle">'
        f"{as_of.isoformat()}</text>",
    ]
    if projected and projected <= end:
        parts.append(
            f'<line x1="{x(as_of):.1f}" y1="{y(progress["cleared_mu"]):.1f}" '
            f'x2="{x(projected):.1f}" y2="{y(target):.1f}" class="projection"/>'
            f'<circle cx="{x(projected):.1f}" cy="{y(target):.1f}" r="4" class="projected"/>'
        )
    parts.append(
        f'<g class="legend" transform="translate({pad_l + 8},{pad_t + 6})">'
        f'<line x1="0" y1="0" x2="18" y2="0" class="cleared"/>'
        f'<text x="22" y="4">{escape(labels["cleared"])}</text>'
        f'<line x1="0" y1="16" x2="18" y2="16" class="plan"/>'
        f'<text x="22" y="20">{escape(labels["plan"])}</text></g></svg>'
    )
    return Markup("".join(parts))


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
