"""Which coordinate reference system a file is in: decided once, here.

Order: ``--srs``; the file's own CRS (.prj, including ESRI "Gauss_Kruger" WKT for CGCS2000,
Xian 1980 and Beijing 1954); without one, the coordinates themselves:

* all within ±180/±90: degrees, CGCS2000 geographic (EPSG:4490);
* an 8-digit easting whose leading digits are a 3-degree zone 25-45: CGCS2000 3-degree
  Gauss-Krüger with zone prefix (EPSG:4513-4533);
* a 6-digit easting (200 000-800 000): CGCS2000 3-degree GK without prefix, but only when the
  central meridian is configured (LANDMAP_GK_CENTRAL_MERIDIAN); otherwise a refusal.

After reprojection every feature must fall in the configured region: a parcel placed 100 km
off is worse than an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as _ProjCRSError

from landmap.domain import Refused


class CRSError(Refused):
    """The file's CRS is unknown or wrong; the message names --srs."""


@dataclass(frozen=True)
class Decision:
    crs: CRS
    reason: str

    @property
    def label(self) -> str:
        epsg = self.crs.to_epsg(min_confidence=70)
        return f"EPSG:{epsg}" if epsg else self.crs.name


def parse_srs(text: str) -> CRS:
    try:
        return CRS.from_user_input(text.strip())
    except _ProjCRSError as exc:
        raise CRSError(f"--srs {text!r} is not a CRS PROJ knows (use EPSG:N)") from exc


def gk_epsg(central_meridian: int) -> int:
    """CGCS2000 3-degree Gauss-Krüger without zone prefix for a central meridian (75-135E)."""
    if central_meridian % 3 or not 75 <= central_meridian <= 135:
        raise CRSError(f"{central_meridian} is not a 3-degree central meridian between 75 and 135")
    return 4534 + (central_meridian - 75) // 3


def from_coordinates(
    bounds: tuple[float, float, float, float], central_meridian: int | None
) -> Decision:
    """Guess the CRS of a file without a .prj from its coordinate ranges."""
    minx, miny, maxx, maxy = bounds
    if not all(np.isfinite(bounds)):
        raise CRSError("the file has no usable coordinates to tell its CRS from; pass --srs")
    if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
        return Decision(CRS.from_epsg(4490), "no .prj; coordinates are degrees (CGCS2000 assumed)")
    zone_lo, zone_hi = int(minx // 1_000_000), int(maxx // 1_000_000)
    in_gk_y = miny > 0 and maxy < 10_000_000
    if zone_lo == zone_hi and 25 <= zone_lo <= 45 and in_gk_y:
        return Decision(
            CRS.from_epsg(4488 + zone_lo),
            f"no .prj; 8-digit eastings carry zone prefix {zone_lo} "
            "(CGCS2000 3-degree Gauss-Krüger assumed; pass --srs for Xian 1980 or Beijing 1954)",
        )
    if 100_000 <= minx <= maxx <= 900_000 and in_gk_y:
        if central_meridian is None:
            raise CRSError(
                "no .prj and 6-digit eastings without a zone prefix: the central meridian is "
                "unknown. Pass --srs (e.g. --srs EPSG:4546 for CGCS2000 CM 111E) or set "
                "LANDMAP_GK_CENTRAL_MERIDIAN"
            )
        epsg = gk_epsg(central_meridian)
        return Decision(
            CRS.from_epsg(epsg),
            f"no .prj; 6-digit eastings, configured central meridian {central_meridian}E",
        )
    raise CRSError(
        f"no .prj and the coordinates (x {minx:.0f}..{maxx:.0f}, y {miny:.0f}..{maxy:.0f}) fit "
        "no known Chinese CRS; pass --srs EPSG:N"
    )


def decide(
    override: str | None,
    file_crs: str | None,
    bounds: tuple[float, float, float, float],
    central_meridian: int | None,
) -> Decision:
    if override:
        return Decision(parse_srs(override), "given with --srs")
    if file_crs:
        try:
            crs = CRS.from_user_input(file_crs)
        except _ProjCRSError as exc:
            raise CRSError(f"the file's CRS cannot be read ({exc}); pass --srs EPSG:N") from exc
        epsg = crs.to_epsg(min_confidence=70)
        if epsg:
            crs = CRS.from_epsg(epsg)
        return Decision(crs, f"from the file ({crs.name})")
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
