"""The print layout of a map page (打印): a button that opens a small dialog (paper A4 or A3,
portrait or landscape, the title prefilled with the zone, the theme and the day shown), then
lays the page out on a sheet of that paper — the title, the map (or a draft's two maps)
filling it with its legend and scale bar, the stated scale (1:N at the printed size), a north
arrow, the coordinate system, the maker and the date — and prints it.

Its script, LandMap.print, is static/js/print.js; its layout static/css/print.css (one class
per paper on <html>, each with a named @page of that size). Every word is a catalogue term
rendered here in the map's locale."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from folium.elements import JSCSSMixin
from folium.template import Template

from landmap.domain import CHINA
from landmap.maps.tools import grid_crs, rendered
from landmap.messages import Term, gettext, term

PAPERS = ("a4", "a3")
ORIENTATIONS = ("portrait", "landscape")

PRINT_TEXTS: dict[str, Term] = {
    "print": term("Print"),
    "print_title": term("Print this map"),
    "paper": term("Paper"),
    "orientation": term("Orientation"),
    "portrait": term("Portrait"),
    "landscape": term("Landscape"),
    "title": term("Title"),
    "print_now": term("Print now"),
    "cancel": term("Cancel"),
    "exit": term("Back to the page"),
    "preparing": term("Preparing the map for the paper…"),
    "scale": term("Scale"),
    "north": term("N"),
    "crs": term("Coordinate system"),
    "maker": term("Made by"),
    "date": term("Printed on"),
    "legend": term("Legend"),
}

_GK = re.compile(r"^CGCS2000 / 3-degree Gauss-Kruger CM (\d+)E$")


@dataclass
class PrintSpec:
    """What a page's print layout says besides its map."""

    title: str  # prefilled in the dialog: the zone, the theme, the day
    maker: str  # who made the map (settings.maker, 制图单位)
    srid: int  # the storage CRS, named in the CRS note
    # rows (color, label, kind) of a legend the sheet shows below the map(s): the compare
    # maps have no stage legend of their own
    legend: list[dict[str, str]] = field(default_factory=list)
    # the page's other content (a draft check's tables) prints after the sheet
    keep_page: bool = False
    # laid out on the paper as soon as the page opens (the printable check, ?print=1)
    auto: bool = False


def crs_note(srid: int, locale: str) -> str:
    """The CRS the register is kept and measured in, as a map's margin names it: e.g.
    "CGCS2000 / 3度带高斯-克吕格 CM 111E (EPSG:4546)"."""
    crs = grid_crs(srid)
    found = _GK.match(crs["name"])
    name = (
        gettext("CGCS2000 / 3-degree Gauss-Krüger CM %(cm)sE", locale) % {"cm": found.group(1)}
        if found
        else crs["name"]
    )
    return f"{name} ({crs['code']})"


def print_options(spec: PrintSpec, locale: str, caption: str = "", button: bool = True) -> dict:
    """What LandMap.print needs for one map: ``caption`` names it on a sheet of two maps;
    ``button``: this map carries the page's print button (one per page)."""
    return {
        "title": spec.title,
        "maker": spec.maker,
        "crs": crs_note(spec.srid, locale),
        "labels": rendered(PRINT_TEXTS, locale),
        "legend": spec.legend,
        "keepPage": spec.keep_page,
        "auto": spec.auto,
        "papers": list(PAPERS),
        "orientations": list(ORIENTATIONS),
        "caption": caption,
        "timeZone": CHINA.key,  # the date printed is the register's today
        "button": button,
    }


class PrintLayout(JSCSSMixin):
    """The print button and layout of the map it is added to."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        LandMap.print({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
    """)
    default_js = [("landmap_js", "js/landmap.js"), ("landmap_print_js", "js/print.js")]
    default_css = [("landmap_print_css", "css/print.css")]

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__()
        self._name = "PrintLayout"
        self.options = options
