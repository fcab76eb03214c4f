"""Round trip: an exported shapefile or GeoPackage loads back with ``load parcels`` as
"unchanged" (nothing inserted, nothing updated)."""

import io
import zipfile

import pytest
from sqlalchemy import text

from landmap import loaders
from landmap.loaders import LoadOptions


def register(db):
    return db.execute(
        text("""SELECT md5(string_agg(concat_ws('|', code, name, owner, location, land_use_code,
                    land_use_name, official_area_m2, zone_id, stage, project_id, batch_id,
                    attributes::text, md5(ST_AsBinary(geom)), updated_at), ',' ORDER BY code))
                FROM parcel""")
    ).scalar_one()


@pytest.mark.parametrize("fmt", ["zip", "gpkg"])
def test_an_export_loads_back_unchanged(client, db, settings, tmp_path, fmt):
    resp = client.get(f"/exports/parcels.{fmt}")
    assert resp.status_code == 200
    path = tmp_path / f"parcels.{fmt}"
    path.write_bytes(resp.data)
    resp.close()
    if fmt == "zip":
        assert zipfile.is_zipfile(io.BytesIO(resp.data))
    before = register(db)
    report = loaders.load(db, settings, "parcels", path, LoadOptions(run_by="tester"))
    count = db.execute(text("SELECT count(*) FROM parcel WHERE retired_on IS NULL")).scalar_one()
    assert (report.inserted, report.updated, len(report.rejected)) == (0, 0, 0)
    assert report.records_read == report.unchanged == count
    assert register(db) == before
