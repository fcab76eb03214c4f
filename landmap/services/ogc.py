"""The register as OGC API Features, served by pygeoapi (the OGC reference implementation).

pygeoapi answers the protocol (landing page, OpenAPI 3.0, conformance, collections, items,
paging, bbox, crs and bbox-crs of Part 2, property filters); landmap gives it its configuration
and a provider over the GIS views of migration 0017 (parcels, zones, landuse, farmland in the
schema ``lm_gis_schema()``). The provider differs from pygeoapi's PostgreSQLProvider in four
ways, each for a reason:

- it reads through the request's own database connection (handed over in ``CONNECTION``), so
  it sees what landmap's roles and sessions allow and opens no second pool of its own;
- ``datetime`` is the register's as-of: a day (``2011-06-30`` or a time on it) sets
  ``landmap.as_of`` for the views (parcels in force on that day, their stage then, the zone
  boundaries then); an interval is refused, as it means nothing for a register's state;
- geometries are stored easting/northing (x, y), as PostGIS keeps them, whatever axis order
  the EPSG definition gives: transforms take x, y in and give the axis order of the CRS asked
  for (CRS84 lon/lat; EPSG:4490 lat/lon; EPSG:4546 northing/easting), as Part 2 requires;
- a ``bbox`` is taken as the request gave it and transformed by PostGIS, densified (pygeoapi
  transforms only its two corners, in the axis order of the EPSG definition).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from contextvars import ContextVar
from functools import partial
from typing import Any

import pyproj
import shapely
from pygeoapi.provider.base import BaseProvider, ProviderInvalidQueryError
from pygeoapi.provider.sql import PostgreSQLProvider, get_table_model
from sqlalchemy import func, text
from sqlalchemy.engine import Connection

CONNECTION: ContextVar[Connection] = ContextVar("landmap_ogc_connection")
# the request's bbox as given (numbers, bbox-crs URI or None), for the provider
REQUEST_BBOX: ContextVar[tuple[list[float], str | None]] = ContextVar("landmap_ogc_bbox")

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
OUTPUT_SRIDS = (4490, 4326, 4545, 4546, 4547)
MAX_ITEMS = 10_000
DEFAULT_ITEMS = 100

# collection -> (view, id column, zh title, en title, zh description, en description)
COLLECTIONS = {
    "parcels": (
        "parcels",
        "code",
        "宗地",
        "Parcels",
        "开发区宗地：权利人、土地用途、面积（亩）、项目、批次和征地拆迁阶段；"
        "datetime=日期 给出该日的状态。",
        "The zone's parcels with owner, land use, area in mu, project, batch and acquisition "
        "stage; datetime=<day> gives them as they stood on that day.",
    ),
    "zones": (
        "zones",
        "code",
        "园区边界",
        "Zone boundaries",
        "园区 A、B、C 的现行边界（datetime=日期 给出该日有效的边界）。",
        "The boundaries of the zones in force (datetime=<day>: those in force that day).",
    ),
    "landuse": (
        "landuse",
        "code",
        "土地利用现状",
        "Land use",
        "第三次国土调查土地利用现状图斑。",
        "Land-use survey patches (DLTB).",
    ),
    "farmland": (
        "farmland",
        "code",
        "永久基本农田",
        "Permanent basic farmland",
        "永久基本农田保护图斑。",
        "Permanent basic farmland patches.",
    ),
}

_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$")


def as_of(datetime_: str | None) -> dt.date | None:
    """The day an OGC ``datetime`` names, or None (now); an interval or anything else is a
    ProviderInvalidQueryError, which pygeoapi answers with 400."""
    if datetime_ in (None, "", "../.."):
        return None
    found = _DAY.match(datetime_)
    if not found:
        raise ProviderInvalidQueryError("datetime must be one day (YYYY-MM-DD), not an interval")
    try:
        return dt.date.fromisoformat(found.group(1))
    except ValueError as err:
        raise ProviderInvalidQueryError("datetime is not a date") from err


@functools.lru_cache(maxsize=64)
def _crs(given: str) -> pyproj.CRS:
    return pyproj.CRS.from_user_input(given)


@functools.lru_cache(maxsize=64)
def _transformer(source: str, target: str) -> pyproj.Transformer:
    """A transformer from x, y (as stored) to x, y; building one costs half a second."""
    return pyproj.Transformer.from_crs(_crs(source), _crs(target), always_xy=True)


def _north_first(crs: pyproj.CRS) -> bool:
    return crs.axis_info[0].direction.lower() in ("north", "south")


_MODELS: dict[tuple[str, str], Any] = {}


def _table_model(table: str, id_field: str, schema: str, connection: Connection):
    """pygeoapi's automapped model of a view, reflected once per process and view."""
    key = (schema, table)
    if key not in _MODELS:
        _MODELS[key] = get_table_model.__wrapped__(table, id_field, (schema,), connection)
    return _MODELS[key]


class RegisterProvider(PostgreSQLProvider):
    """pygeoapi's PostgreSQL provider over landmap's GIS views, on the request's connection."""

    def __init__(self, provider_def: dict):
        BaseProvider.__init__(self, provider_def)
        self.table = provider_def["table"]
        self.id_field = provider_def["id_field"]
        self.geom = provider_def.get("geom_field", "geom")
        self.driver_name = "postgresql+psycopg2"
        self.storage_crs = provider_def["storage_crs"]
        self.db_search_path = (provider_def["data"]["schema"],)
        self._engine = CONNECTION.get()
        self.table_model = _table_model(
            self.table, self.id_field, self.db_search_path[0], self._engine
        )
        self.get_fields()

    def query(self, *args, datetime_=None, **kwargs):
        day = as_of(datetime_)
        self._engine.execute(
            text("SELECT set_config('landmap.as_of', :day, true)"),
            {"day": day.isoformat() if day else ""},
        )
        return super().query(*args, datetime_=None, **kwargs)

    def _get_datetime_filter(self, datetime_):
        return True  # the views answer for landmap.as_of (query)

    def _get_bbox_filter(self, bbox: list[float]):
        """The request's own bbox (pygeoapi has transformed only its two corners, which
        misses parcels near the edges of a box drawn in another CRS): the box in its CRS,
        densified, transformed by PostGIS into the storage CRS."""
        if not bbox:
            return True
        values, crs_uri = REQUEST_BBOX.get()
        crs = _crs(crs_uri or CRS84)
        a, b, c, d = values[:2] + values[-2:] if len(values) == 6 else values
        if _north_first(crs):
            a, b, c, d = b, a, d, c
        srid = crs.to_epsg() or 4326  # CRS84 is lon/lat as 4326 is stored
        storage = _crs(self.storage_crs).to_epsg()
        area = func.ST_MakeEnvelope(min(a, c), min(b, d), max(a, c), max(b, d), srid)
        if srid != storage:
            step = max(abs(c - a), abs(d - b)) / 64 or 1e-6
            area = func.ST_Transform(func.ST_Segmentize(area, step), storage)
        return func.ST_Intersects(getattr(self.table_model, self.geom), area)

    def _get_crs_transform(self, crs_transform_spec=None):
        """Geometry -> geometry in the CRS asked for, in its axis order (stored x, y in)."""
        if crs_transform_spec is None:  # asked for the storage CRS itself: its axis order
            target, forward = _crs(self.storage_crs), None
        else:
            target = _crs(crs_transform_spec.target_crs_wkt)
            forward = _transformer(
                crs_transform_spec.source_crs_wkt, crs_transform_spec.target_crs_wkt
            ).transform
        swap = _north_first(target)
        if forward is None and not swap:
            return None

        def coordinates(x, y):
            if forward is not None:
                x, y = forward(x, y)
            return (y, x) if swap else (x, y)

        return partial(shapely.transform, transformation=coordinates, interleaved=False)


def config(base_url: str, schema: str, srid: int, bbox: list[float]) -> dict[str, Any]:
    """pygeoapi's configuration for the register at ``base_url`` (…/ogc): the four collections
    over the views in ``schema``, stored in EPSG ``srid``, within ``bbox`` (CRS84)."""
    crs = [CRS84] + [EPSG.format(code) for code in sorted({srid, *OUTPUT_SRIDS})]
    resources = {}
    for name, (view, id_field, zh, en, zh_text, en_text) in COLLECTIONS.items():
        resources[name] = {
            "type": "collection",
            "title": {"zh": zh, "en": en},
            "description": {"zh": zh_text, "en": en_text},
            "keywords": {"zh": ["宗地", "征地拆迁", "开发区"], "en": ["parcels", "land"]},
            "links": [],
            "extents": {"spatial": {"bbox": bbox, "crs": CRS84}},
            "limits": {"max_items": MAX_ITEMS, "default_items": DEFAULT_ITEMS},
            "providers": [
                {
                    "type": "feature",
                    "name": f"{__name__}.RegisterProvider",
                    "data": {"schema": schema},
                    "table": view,
                    "id_field": id_field,
                    "geom_field": "geom",
                    "storage_crs": EPSG.format(srid),
                    "crs": crs,
                }
            ],
        }
    return {
        "server": {
            "bind": {"host": "127.0.0.1", "port": 0},
            "url": base_url,
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["zh-CN", "en-US"],
            "limits": {"max_items": MAX_ITEMS, "default_items": DEFAULT_ITEMS},
            "map": {"url": "", "attribution": ""},
            "pretty_print": False,
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": {"zh": "landmap 开发区土地一张图", "en": "landmap land register"},
                "description": {
                    "zh": "开发区宗地、园区边界、土地利用现状和永久基本农田（OGC API Features）",
                    "en": "The development zone's parcels, zones, land use and farmland",
                },
                "keywords": {"zh": ["宗地", "开发区"], "en": ["parcels", "development zone"]},
                "keywords_type": "theme",
                "terms_of_service": "",
                "url": base_url,
            },
            "license": {"name": "内部资料 / internal", "url": base_url},
            "provider": {"name": "landmap", "url": base_url},
            "contact": {"name": "landmap", "email": "", "url": base_url, "role": "pointOfContact"},
        },
        "resources": resources,
    }
