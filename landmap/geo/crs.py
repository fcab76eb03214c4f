"""Which coordinate reference system a file is in: decided once, here.

Order: the user's choice (the CLI's option, the upload form's list); the file's own CRS
(.prj, including ESRI "Gauss_Kruger" WKT for CGCS2000, Xian 1980 and Beijing 1954); without
one, the coordinates themselves:

* all within ±180/±90: degrees, CGCS2000 geographic (EPSG:4490);
* an 8-digit easting whose leading digits are a 3-degree zone 25-45: CGCS2000 3-degree
  Gauss-Krüger with zone prefix (EPSG:4513-4533);
* a 6-digit easting (200 000-800 000): CGCS2000 3-degree GK without prefix, but only when the
  central meridian is configured; otherwise a refusal asking for the coordinate system.

After reprojection every feature must fall in the configured region: a parcel placed 100 km
off is worse than an error. Messages name the choice (``CHOICE``), never a command-line
option or a setting: the CLI adds those itself.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as _ProjCRSError

from landmap.domain import Refused
from landmap.messages import Message, msg, term

log = logging.getLogger("landmap")

# what the user chooses when the file does not say (a form field's label)
CHOICE = term("coordinate system")
CHOSEN = msg("chosen_by_user", "chosen by the user")
_EPSG = re.compile(r"(?:EPSG:)?(\d{4,5})", re.IGNORECASE)


class CRSError(Refused):
    """The file's CRS is unknown or wrong; the message says to choose it."""


@dataclass(frozen=True)
class Decision:
    crs: CRS
    reason: Message

    @property
    def label(self) -> str:
        epsg = self.crs.to_epsg(min_confidence=70)
        return f"EPSG:{epsg}" if epsg else self.crs.name


def parse_srs(text: str) -> CRS:
    try:
        return CRS.from_user_input(text.strip())
    except _ProjCRSError as exc:
        given = repr(text[:40])
        raise CRSError(
            msg(
                "crs_not_known",
                "%(given)s is not a coordinate system landmap knows: give an EPSG code "
                "such as EPSG:4546",
                given=given,
            )
        ) from exc


def parse_epsg(text: str) -> CRS:
    """A coordinate system chosen on a form: an EPSG code (``EPSG:4546`` or ``4546``)."""
    found = _EPSG.fullmatch(text.strip())
    if not found:
        given = repr(text[:40])
        raise CRSError(
            msg(
                "crs_choice_not_epsg",
                "the %(choice)s is given as an EPSG code such as EPSG:4546, not %(given)s",
                choice=CHOICE,
                given=given,
            )
        )
    return parse_srs(f"EPSG:{found.group(1)}")


def gk_epsg(central_meridian: int) -> int:
    """CGCS2000 3-degree Gauss-Krüger without zone prefix for a central meridian (75-135E)."""
    if central_meridian % 3 or not 75 <= central_meridian <= 135:
        raise CRSError(
            msg(
                "crs_bad_central_meridian",
                "%(cm)s is not a 3-degree central meridian between 75 and 135",
                cm=central_meridian,
            )
        )
    return 4534 + (central_meridian - 75) // 3


def usual_central_meridian(bbox_lonlat: tuple[float, float, float, float]) -> int:
    """The 3-degree central meridian nearest the middle of a lon/lat region."""
    middle = (bbox_lonlat[0] + bbox_lonlat[2]) / 2
    return min(max(round(middle / 3) * 3, 75), 135)


@dataclass(frozen=True)
class Choice:
    """A coordinate system offered to a user whose file does not say its own."""

    value: str  # EPSG:N
    label: Message


# datum -> (EPSG of the 3-degree zone without prefix at CM 75°E, EPSG of the prefixed zone 0)
_GK_DATUMS = (
    (term("CGCS2000"), 4534, 4488),
    (term("Xian 1980"), 2370, 2324),
    (term("Beijing 1954"), 2422, 2376),
)


def _gk_choices(datum, no_prefix: int, prefixed: int, cm: int) -> list[Choice]:
    epsg, zone = no_prefix + (cm - 75) // 3, cm // 3
    plain = msg(
        "crs_choice_gk",
        "%(datum)s 3-degree Gauss-Krüger, central meridian %(cm)s°E (EPSG:%(epsg)s)",
        datum=datum,
        cm=cm,
        epsg=epsg,
    )
    zoned = msg(
        "crs_choice_gk_zone",
        "%(datum)s 3-degree Gauss-Krüger zone %(zone)s, eastings with the zone prefix "
        "(EPSG:%(epsg)s)",
        datum=datum,
        zone=zone,
        epsg=prefixed + zone,
    )
    return [Choice(f"EPSG:{epsg}", plain), Choice(f"EPSG:{prefixed + zone}", zoned)]


def choices(central_meridian: int) -> list[Choice]:
    """What a user may choose for a file that does not say its coordinate system: the
    CGCS2000 3-degree Gauss-Krüger zones of ``central_meridian`` and its neighbours (without
    and with zone prefix), and Xian 1980 and Beijing 1954 on ``central_meridian``."""
    found: list[Choice] = []
    for cm in (central_meridian, central_meridian - 3, central_meridian + 3):
        if 75 <= cm <= 135:
            found += _gk_choices(*_GK_DATUMS[0], cm)
    for datum, no_prefix, prefixed in _GK_DATUMS[1:]:
        found += _gk_choices(datum, no_prefix, prefixed, central_meridian)
    return found


def _refuse_unstated(minx: float, maxx: float, miny: float, maxy: float) -> CRSError:
    x = f"{minx:.0f}..{maxx:.0f}"
    y = f"{miny:.0f}..{maxy:.0f}"
    return CRSError(
        msg(
            "crs_no_fit",
            "the file does not say its coordinate system and its coordinates (x %(x)s, "
            "y %(y)s) fit no known Chinese one: choose its %(choice)s",
            x=x,
            y=y,
            choice=CHOICE,
        )
    )


def from_coordinates(
    bounds: tuple[float, float, float, float], central_meridian: int | None
) -> Decision:
    """Guess the CRS of a file without a .prj from its coordinate ranges."""
    minx, miny, maxx, maxy = bounds
    if not all(np.isfinite(bounds)):
        raise CRSError(
            msg(
                "crs_no_coordinates",
                "the file has no usable coordinates to tell its coordinate system from: "
                "choose its %(choice)s",
                choice=CHOICE,
            )
        )
    if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
        reason = msg("crs_guess_degrees", "no .prj; the coordinates are degrees (CGCS2000 assumed)")
        return Decision(CRS.from_epsg(4490), reason)
    zone_lo, zone_hi = int(minx // 1_000_000), int(maxx // 1_000_000)
    in_gk_y = miny > 0 and maxy < 10_000_000
    if zone_lo == zone_hi and 25 <= zone_lo <= 45 and in_gk_y:
        reason = msg(
            "crs_guess_zone_prefix",
            "no .prj; 8-digit eastings carry zone prefix %(zone)s (CGCS2000 3-degree "
            "Gauss-Krüger assumed; choose the coordinate system for Xian 1980 or Beijing 1954)",
            zone=zone_lo,
        )
        return Decision(CRS.from_epsg(4488 + zone_lo), reason)
    if 100_000 <= minx <= maxx <= 900_000 and in_gk_y:
        if central_meridian is None:
            raise CRSError(
                msg(
                    "crs_not_stated",
                    "the file does not say its coordinate system, and its 6-digit eastings "
                    "carry no zone prefix, so the central meridian is unknown: choose its "
                    "%(choice)s (for example CGCS2000 3-degree Gauss-Krüger, central meridian "
                    "111°E, EPSG:4546)",
                    choice=CHOICE,
                )
            )
        reason = msg(
            "crs_guess_configured_cm",
            "no .prj; 6-digit eastings, the configured central meridian %(cm)s°E",
            cm=central_meridian,
        )
        return Decision(CRS.from_epsg(gk_epsg(central_meridian)), reason)
    raise _refuse_unstated(minx, maxx, miny, maxy)


def decide(
    override: str | None,
    file_crs: str | None,
    bounds: tuple[float, float, float, float],
    central_meridian: int | None,
) -> Decision:
    if override:
        return Decision(parse_srs(override), CHOSEN)
    if file_crs:
        try:
            crs = CRS.from_user_input(file_crs)
        except _ProjCRSError as exc:
            log.warning("unreadable CRS in a file: %s", exc)
            raise CRSError(
                msg(
                    "crs_unreadable",
                    "the file's coordinate system cannot be read: choose its %(choice)s",
                    choice=CHOICE,
                )
            ) from exc
        epsg = crs.to_epsg(min_confidence=70)
        if epsg:
            crs = CRS.from_epsg(epsg)
        reason = msg("crs_from_file", "from the file (%(name)s)", name=crs.name)
        return Decision(crs, reason)
    return from_coordinates(bounds, central_meridian)


class Reprojector:
    """Vectorised reprojection of shapely geometries into the storage CRS (x = easting)."""

    def __init__(self, source: CRS, target_epsg: int) -> None:
        self.target = CRS.from_epsg(target_epsg)
        self.identity = source == self.target
        self._t = Transformer.from_crs(source, self.target, always_xy=True)

    def __call__(self, geoms: np.ndarray) -> np.ndarray:
        if self.identity:
            return geoms
        return shapely.transform(geoms, self._transform)

    def _transform(self, coords: np.ndarray) -> np.ndarray:
        x, y = self._t.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])


def region_in(target_epsg: int, bbox_lonlat: tuple[float, float, float, float]):
    """The configured lon/lat region as a polygon in the storage CRS."""
    t = Transformer.from_crs(4326, target_epsg, always_xy=True)
    ring = shapely.box(*bbox_lonlat).segmentize(0.01)
    return shapely.transform(ring, lambda c: np.column_stack(t.transform(c[:, 0], c[:, 1])))
