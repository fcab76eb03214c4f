"""The quota page's map: its tiles and its legend say where a batch stands in the ledger of the
year the page shows (SQL lm_quota_status of that year), not of every year."""

from __future__ import annotations

import math
from decimal import Decimal

import mapbox_vector_tile
import shapely
from sqlalchemy import text

from landmap.services import quota
from landmap.services.quota import Entry


def _tile_of(client, code: str, z: int = 16) -> str:
    feature = client.get(f"/api/parcels/{code}").get_json()
    point = shapely.geometry.shape(feature["geometry"]).representative_point()
    n = 2**z
    x = int((point.x + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(point.y))) / math.pi) / 2 * n)
    return f"/tiles/parcels/{z}/{x}/{y}.pbf"


def _status(client, tile: str, batch: int, year: int, code: str) -> str:
    resp = client.get(f"{tile}?style=quota&batch={batch}&year={year}")
    assert resp.status_code == 200, resp.status_code
    layer = mapbox_vector_tile.decode(resp.data)["parcels"]
    (found,) = [f for f in layer["features"] if f["properties"]["code"] == code]
    return found["properties"]["quota"]


def test_the_map_colours_a_batch_by_the_ledger_of_the_year_shown(client, db):
    batch, project, code = db.execute(
        text("""SELECT b.id, b.project_id, min(p.code) FROM acquisition_batch b
                JOIN parcel p ON p.batch_id = b.id
                WHERE NOT EXISTS (SELECT 1 FROM quota_entry e WHERE e.batch_id = b.id)
                GROUP BY b.id ORDER BY b.id LIMIT 1""")
    ).one()
    quota.record(db, Entry(2030, "grant", "plan", Decimal(100)), "t")
    quota.record(db, Entry(2030, "reserve", "plan", Decimal(5), project, batch), "t")
    tile = _tile_of(client, code)
    assert _status(client, tile, batch, 2030, code) == "reserved"
    assert _status(client, tile, batch, 2031, code) == "none"
    page = client.get(f"/quota?year=2030&batch={batch}").get_data(as_text=True)
    assert '"year": 2030' in page  # the tiles are asked for with the page's year
    assert '"year": 2030' not in client.get("/quota?year=2030").get_data(as_text=True)
    assert client.get(f"{tile}?style=quota&year=1800").status_code == 400
