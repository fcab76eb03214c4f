"""PDF briefings drawn on the server with matplotlib's PDF backend: maps as vector paths (one
path per polygon, holes kept), at a stated scale with a scale bar and a north arrow; tables
and the progress chart after them. Text is set in one TrueType font with Chinese glyphs,
embedded (pdf.fonttype 42), so that the PDF's text can be selected and searched.

Plain data in (shapely geometries in a projected CRS, in metres; texts already translated;
colours from landmap.maps.styles), PDF bytes out."""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib import rc_context
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Rectangle
from matplotlib.patches import Polygon as Triangle
from matplotlib.path import Path as MplPath
from shapely import get_parts

from landmap.maps.styles import CHART_STYLES

# TrueType fonts with Chinese glyphs that Debian installs (scripts/setup.sh installs
# fonts-wqy-zenhei); the first found is used unless LANDMAP_PDF_FONT names another.
FONT_PATHS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)
A4 = (8.27, 11.69)  # inches, portrait
MARGIN = 0.55  # inches
PX_TO_PT = 0.5  # a web map's line width (CSS px) on paper
INCH_M = 0.0254
_LOCK = threading.Lock()  # matplotlib's state (rcParams, font cache) is not thread-safe


def font_path(configured: Path | None = None) -> Path | None:
    """The font the PDFs are set in: ``configured`` if it exists, else the first of
    FONT_PATHS found; None when there is none."""
    for candidate in (configured,) if configured else FONT_PATHS:
        if candidate and candidate.is_file():
            return candidate
    return None


# --- what a briefing is made of ---------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """Polygons drawn alike, or each with its own fill (``fills``, one per geometry)."""

    geoms: Sequence[Any]  # shapely Polygon / MultiPolygon, metres
    style: dict  # Leaflet-like: color, weight, dashArray, fillColor, fillOpacity, fill
    fills: Sequence[str] | None = None
    frames: bool = True  # the map's extent takes it in (False: context, drawn where it falls)


@dataclass(frozen=True)
class MapView:
    title: str
    layers: Sequence[Layer]


@dataclass(frozen=True)
class LegendItem:
    label: str
    style: dict


@dataclass(frozen=True)
class Table:
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    right: frozenset[int] = frozenset()  # columns aligned right (figures)


@dataclass(frozen=True)
class Chart:
    """A chart laid out by landmap.web.charts (marks with kind, points, text, shape,
    anchor, r, in a box of width x height units, y down)."""

    title: str
    marks: Sequence[Any]
    width: int = 640
    height: int = 260


@dataclass(frozen=True)
class Document:
    title: str
    subtitle: str
    maps: Sequence[MapView]
    legend_title: str
    legend: Sequence[LegendItem]
    notes: Sequence[str]  # the CRS, the maker and the date made
    words: dict[str, str]  # "scale" ("1:%s" inside), "north", "m", "page", "continued"
    tables: Sequence[Table] = ()
    charts: Sequence[Chart] = ()
    problems: Sequence[str] = field(default=())  # printed in red under the maps


def render(doc: Document, font: Path) -> bytes:
    """The briefing as PDF bytes: the map page, then the tables and the charts."""
    out = io.BytesIO()
    with _LOCK, rc_context({"pdf.fonttype": 42, "pdf.compression": 6}):
        fonts = _Fonts(font)
        with PdfPages(out, metadata={"Title": doc.title, "Creator": "landmap"}) as pdf:
            pdf.savefig(_map_page(doc, fonts))
            for page in _Flow(doc, fonts).pages():
                pdf.savefig(page)
    return out.getvalue()


class _Fonts:
    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self._sizes: dict[float, FontProperties] = {}

    def __call__(self, size: float) -> FontProperties:
        if size not in self._sizes:
            self._sizes[size] = FontProperties(fname=self.path, size=size)
        return self._sizes[size]


# --- the map page -----------------------------------------------------------------------


def _dash(style: dict) -> Any:
    dash = style.get("dashArray")
    if not dash:
        return "solid"
    return (0, tuple(float(v) * PX_TO_PT for v in str(dash).split()))


def _paths(geoms: Sequence[Any], fills: Sequence[str] | None) -> tuple[list[MplPath], list]:
    """One path per polygon: its rings, each closed (holes drawn as holes: PostGIS gives the
    rings wound outer counter-clockwise, inner clockwise); and each polygon's fill."""
    paths, faces = [], []
    for i, geom in enumerate(geoms):
        for polygon in get_parts(geom):
            rings = [polygon.exterior, *polygon.interiors]
            paths.append(MplPath.make_compound_path(*(_ring(r) for r in rings)))
            faces.append(fills[i] if fills is not None else None)
    return paths, faces


def _ring(ring: Any) -> MplPath:
    return MplPath(list(ring.coords), closed=True)


def _draw_layer(ax: Any, layer: Layer) -> None:
    style = layer.style
    filled = layer.fills is not None or style.get("fill", "fillColor" in style)
    paths, fills = _paths(layer.geoms, layer.fills)
    opacity = style.get("fillOpacity", 0.2)
    if layer.fills is not None:
        faces: Any = [to_rgba(f, opacity) for f in fills]
    elif filled:
        faces = to_rgba(style.get("fillColor", style.get("color", "#555")), opacity)
    else:
        faces = "none"
    collection = PathCollection(
        paths,
        facecolors=faces,
        edgecolors=style.get("color", "#555"),
        linewidths=style.get("weight", 1) * PX_TO_PT,
        linestyles=_dash(style),
    )
    ax.add_collection(collection)


def nice_scale(denominator: float) -> int:
    """The smallest of 1, 2, 2.5, 5 x 10^k at least ``denominator``: the stated scale."""
    k = 10 ** math.floor(math.log10(max(denominator, 1.0)))
    return int(next(m * k for m in (1, 2, 2.5, 5, 10) if m * k >= denominator))


def _bar_length(width_m: float) -> float:
    """A round length of about a fifth of the map's width, for the scale bar."""
    k = 10 ** math.floor(math.log10(width_m / 5))
    return max(m * k for m in (1, 2, 5) if m * k <= width_m / 5)


def _extent(views: Sequence[MapView]) -> tuple[float, float, float, float]:
    boxes = [
        g.bounds
        for v in views
        for layer in v.layers
        if layer.frames
        for g in layer.geoms
        if not g.is_empty
    ]
    if not boxes:
        return (0.0, 0.0, 1000.0, 1000.0)
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _map_page(doc: Document, fonts: _Fonts) -> Figure:
    """Title, the maps side by side at one stated scale, legend, scale and notes."""
    wide = len(doc.maps) > 1
    fig = Figure(figsize=(A4[1], A4[0]) if wide else A4)
    fig_w, fig_h = fig.get_size_inches()
    fig.text(0.5, 1 - 0.45 / fig_h, doc.title, ha="center", va="top", fontproperties=fonts(16))
    fig.text(0.5, 1 - 0.8 / fig_h, doc.subtitle, ha="center", va="top", fontproperties=fonts(10))
    n = len(doc.maps)
    gap, bottom, top = 0.3, (2.2 if not wide else 1.9), (1.1 if not doc.problems else 1.45)
    box_w = (fig_w - 2 * MARGIN - gap * (n - 1)) / n
    box_h = fig_h - bottom - top
    x0, y0, x1, y1 = _extent(doc.maps)
    pad = max(x1 - x0, y1 - y0, 50.0) * 0.04
    scale = nice_scale(max((x1 - x0 + 2 * pad) / box_w, (y1 - y0 + 2 * pad) / box_h) / INCH_M)
    half_w, half_h = box_w * scale * INCH_M / 2, box_h * scale * INCH_M / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    for i, view in enumerate(doc.maps):
        rect = ((MARGIN + i * (box_w + gap)) / fig_w, bottom / fig_h, box_w / fig_w, box_h / fig_h)
        ax = fig.add_axes(rect)
        ax.set_xlim(cx - half_w, cx + half_w)
        ax.set_ylim(cy - half_h, cy + half_h)
        ax.set_xticks([])
        ax.set_yticks([])
        for layer in view.layers:
            _draw_layer(ax, layer)
        if view.title:
            ax.set_title(view.title, fontproperties=fonts(10))
        _scale_bar(ax, 2 * half_w, scale, doc.words, fonts)
        _north_arrow(ax, doc.words["north"], fonts)
    _legend_and_notes(fig, doc, scale, bottom, fonts)
    return fig


def _scale_bar(ax: Any, width_m: float, scale: int, words: dict, fonts: _Fonts) -> None:
    length = _bar_length(width_m)
    (x_lo, _), (y_lo, y_hi) = ax.get_xlim(), ax.get_ylim()
    left, base = x_lo + width_m * 0.04, y_lo + (y_hi - y_lo) * 0.04
    height = 0.06 * scale * INCH_M  # 0.06 inch on paper
    for k in range(4):
        ax.add_patch(
            Rectangle(
                (left + k * length / 4, base),
                length / 4,
                height,
                facecolor="#000" if k % 2 == 0 else "#fff",
                edgecolor="#000",
                linewidth=0.5,
            )
        )
    for at, text in (
        (0, "0"),
        (length / 2, f"{length / 2:g}"),
        (length, f"{length:g} {words['m']}"),
    ):
        ax.text(left + at, base + height * 1.6, text, ha="center", fontproperties=fonts(7))
    ax.text(left, base + height * 3.6, words["scale"] % f"{scale:,}", fontproperties=fonts(8))


def _north_arrow(ax: Any, label: str, fonts: _Fonts) -> None:
    """Grid north (the map is in Gauss-Krüger: true north differs by the meridian
    convergence, under a degree near the central meridian)."""
    x, y, w, h = 0.93, 0.84, 0.025, 0.09
    transform = ax.transAxes
    ax.add_patch(
        Triangle(
            [(x - w, y), (x, y + h), (x, y + h * 0.3)],
            closed=True,
            facecolor="#000",
            edgecolor="#000",
            linewidth=0.6,
            transform=transform,
        )
    )
    ax.add_patch(
        Triangle(
            [(x + w, y), (x, y + h), (x, y + h * 0.3)],
            closed=True,
            facecolor="#fff",
            edgecolor="#000",
            linewidth=0.6,
            transform=transform,
        )
    )
    ax.text(
        x,
        y + h + 0.01,
        label,
        ha="center",
        va="bottom",
        transform=transform,
        fontproperties=fonts(11),
    )


def _swatch(fig: Figure, x: float, y: float, style: dict) -> None:
    fw, fh = fig.get_size_inches()
    filled = style.get("fill", "fillColor" in style)
    face = to_rgba(style["fillColor"], style.get("fillOpacity", 0.7)) if filled else "none"
    fig.add_artist(
        Rectangle(
            (x / fw, y / fh),
            0.28 / fw,
            0.14 / fh,
            facecolor=face,
            edgecolor=style.get("color", "#555"),
            linewidth=max(style.get("weight", 1) * PX_TO_PT, 0.4),
            linestyle=_dash(style),
            transform=fig.transFigure,
        )
    )


def _legend_and_notes(fig: Figure, doc: Document, scale: int, bottom: float, fonts) -> None:
    fw, fh = fig.get_size_inches()
    y = bottom - 0.35
    fig.text(MARGIN / fw, y / fh, doc.legend_title, fontproperties=fonts(10))
    per_column = max(1, math.ceil(len(doc.legend) / 2))
    for i, item in enumerate(doc.legend):
        col, row = divmod(i, per_column)
        x, yy = MARGIN + col * 2.3, y - 0.25 * (row + 1)
        _swatch(fig, x, yy - 0.02, item.style)
        fig.text((x + 0.38) / fw, yy / fh, item.label, fontproperties=fonts(8))
    notes = [doc.words["scale"] % f"{scale:,}", *doc.notes]
    for i, note in enumerate(notes):
        fig.text((fw - MARGIN) / fw, (y - 0.2 * i) / fh, note, ha="right", fontproperties=fonts(7))
    if doc.problems:
        problems = "; ".join(doc.problems[:6])
        fig.text(
            0.5,
            1 - 1.1 / fh,
            problems,
            ha="center",
            va="top",
            color="#b71c1c",
            fontproperties=fonts(8),
            wrap=True,
        )


# --- tables and charts, flowed over A4 pages --------------------------------------------


def _text_width(text: str) -> int:
    """Width in half-ems: a Chinese character takes two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


class _Flow:
    """Tables and charts placed top to bottom, a new page when one is full."""

    ROW = 0.2  # inches

    def __init__(self, doc: Document, fonts: _Fonts) -> None:
        self.doc, self.fonts = doc, fonts
        self.done: list[Figure] = []
        self.fig: Figure | None = None
        self.y = 0.0

    def pages(self) -> list[Figure]:
        for table in self.doc.tables:
            self._table(table)
        for chart in self.doc.charts:
            self._chart(chart)
        return self.done

    def _room(self, needed: float) -> Figure:
        if self.fig is None or self.y - needed < MARGIN:
            self.fig = Figure(figsize=A4)
            self.done.append(self.fig)
            self.fig.text(
                0.5,
                1 - 0.35 / A4[1],
                self.doc.title,
                ha="center",
                va="top",
                fontproperties=self.fonts(9),
                color="#555",
            )
            self.y = A4[1] - 0.75
        return self.fig

    def _at(self, x: float, text: str, size: float = 8, **kw) -> None:
        assert self.fig is not None
        self.fig.text(x / A4[0], self.y / A4[1], text, fontproperties=self.fonts(size), **kw)

    def _table(self, table: Table) -> None:
        widths = [
            max([_text_width(c)] + [_text_width(str(r[i])) for r in table.rows]) + 2
            for i, c in enumerate(table.columns)
        ]
        usable = A4[0] - 2 * MARGIN
        unit = min(usable / max(sum(widths), 1), 0.075)
        lefts = [MARGIN + unit * sum(widths[:i]) for i in range(len(widths))]
        self._room(self.ROW * 4)
        self._at(MARGIN, table.title, 10)
        self.y -= self.ROW * 1.3
        self._row(table, table.columns, lefts, widths, unit, bold=True)
        for row in table.rows:
            if self.y - self.ROW < MARGIN:
                self._room(self.ROW * 3)
                self._at(MARGIN, f"{table.title} {self.doc.words['continued']}", 9)
                self.y -= self.ROW * 1.3
                self._row(table, table.columns, lefts, widths, unit, bold=True)
            self._row(table, [str(c) for c in row], lefts, widths, unit)
        self.y -= self.ROW * 1.2

    def _row(self, table: Table, cells, lefts, widths, unit, bold: bool = False) -> None:
        for i, cell in enumerate(cells):
            right = i in table.right
            x = lefts[i] + (widths[i] - 1) * unit if right else lefts[i]
            self._at(x, cell, 8, ha="right" if right else "left", color="#000" if bold else "#222")
        assert self.fig is not None
        line_y = (self.y - 0.05) / A4[1]
        self.fig.add_artist(
            Line2D(
                [MARGIN / A4[0], (A4[0] - MARGIN) / A4[0]],
                [line_y, line_y],
                linewidth=0.6 if bold else 0.2,
                color="#777",
                transform=self.fig.transFigure,
            )
        )
        self.y -= self.ROW

    def _chart(self, chart: Chart) -> None:
        width_in = A4[0] - 2 * MARGIN
        height_in = width_in * chart.height / chart.width
        fig = self._room(height_in + self.ROW * 2)
        self._at(MARGIN, chart.title, 10)
        self.y -= 0.1
        ax = fig.add_axes(
            (MARGIN / A4[0], (self.y - height_in) / A4[1], width_in / A4[0], height_in / A4[1])
        )
        ax.set_xlim(0, chart.width)
        ax.set_ylim(chart.height, 0)
        ax.set_axis_off()
        for mark in chart.marks:
            _chart_mark(ax, mark, self.fonts)
        self.y -= height_in + self.ROW


_ANCHOR = {"start": "left", "middle": "center", "end": "right"}


def _chart_mark(ax: Any, mark: Any, fonts: _Fonts) -> None:
    style = CHART_STYLES.get(mark.kind, CHART_STYLES["axis"])
    (x, y), *_ = mark.points or ((0.0, 0.0),)
    if mark.shape == "text":
        ax.text(x, y, mark.text, ha=_ANCHOR.get(mark.anchor, "left"), fontproperties=fonts(7))
    elif mark.shape == "dot":
        ax.add_patch(Circle((x, y), mark.r, color=style["color"]))
    else:
        xs, ys = zip(*mark.points, strict=True) if mark.points else ((), ())
        ax.plot(
            xs, ys, color=style["color"], linewidth=style["weight"] * 0.6, linestyle=_dash(style)
        )
