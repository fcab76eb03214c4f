"""Loading land layers from files: shapefiles, zips, GeoPackages, GeoJSON."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from landmap.config import Settings
from landmap.loaders import parcels, patches, zones
from landmap.loaders.core import Layer, LoadOptions, LoadRefused, LoadReport, run

LAYERS: dict[str, Layer] = {
    "parcels": parcels.LAYER,
    "landuse": patches.LANDUSE_LAYER,
    "farmland": patches.FARMLAND_LAYER,
    "zones": zones.LAYER,
}

__all__ = ["LAYERS", "LoadOptions", "LoadRefused", "LoadReport", "load"]


def load(
    session: Session,
    settings: Settings,
    layer: str,
    path: str | Path,
    options: LoadOptions,
    progress: Callable[[int, int], None] | None = None,
) -> LoadReport:
    """Load one file into the register in the session's transaction, or raise LoadRefused."""
    if options.central_meridian is None:
        options.central_meridian = settings.gk_central_meridian
    return run(
        session, LAYERS[layer], path, options, region_bbox=settings.region_bbox, progress=progress
    )
