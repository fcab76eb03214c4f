"""The tile change log is pruned, and a pruned entry never lets a stale tile be served."""

from __future__ import annotations

import mapbox_vector_tile
from conftest import free_parcels, invoke
from sqlalchemy import text
from test_tiles import where

from landmap.cli import Ctx, main
from landmap.services.tiles import prune_tile_changes


def _age(db, below_id: int, days: int = 40) -> None:
    """The log's entries with an id below `below_id` made `days` days ago."""
    db.execute(
        text("UPDATE tile_change SET at = now() - make_interval(days => :d) WHERE id < :i"),
        {"d": days, "i": below_id},
    )


def _ids(db) -> list[int]:
    return list(db.execute(text("SELECT id FROM tile_change ORDER BY id")).scalars())


def _another_change_elsewhere(db) -> int:
    """A newer entry of another layer (it changes no parcels tile); its id."""
    return db.execute(
        text("""INSERT INTO tile_change (layer, geom)
                SELECT 'farmland', geom FROM tile_change ORDER BY id DESC LIMIT 1 RETURNING id""")
    ).scalar_one()


def test_entries_older_than_the_days_go_and_newer_ones_stay(db):
    ids = _ids(db)
    assert len(ids) >= 4
    cut = ids[len(ids) // 2]
    _age(db, cut, days=40)
    _age(db, ids[1], days=500)
    assert prune_tile_changes(db, older_than_days=400) == 1
    assert _ids(db) == ids[1:]
    assert prune_tile_changes(db, older_than_days=30) == len(ids) // 2 - 1
    assert _ids(db) == ids[len(ids) // 2 :]
    assert prune_tile_changes(db, older_than_days=30) == 0
    # all old: every entry but the newest goes (the newest keeps the log's last id)
    _age(db, ids[-1] + 1, days=40)
    assert prune_tile_changes(db, older_than_days=30) == len(ids) - len(ids) // 2 - 1
    assert _ids(db) == [ids[-1]]


def test_a_cached_tile_over_a_pruned_entry_is_drawn_again(client, db):
    (code,) = free_parcels(db, 1, 0)
    url = "/tiles/parcels/{}/{}/{}.pbf".format(*where(client, code))
    first = client.get(url)
    assert first.headers["X-Tile-Cache"] == "miss"
    assert client.get(url).headers["X-Tile-Cache"] == "hit"
    _age(db, _another_change_elsewhere(db))
    assert prune_tile_changes(db, older_than_days=30) > 0
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200 and again.headers["X-Tile-Cache"] == "miss"
    assert again.data == first.data  # the same data, drawn again under a new token
    assert client.get(url).headers["X-Tile-Cache"] == "hit"


def test_a_tile_changed_and_then_pruned_is_never_served_from_before(client, db):
    """The tile is cached while no entry lies over it (as a process that then sees no
    requests for it), changes, and the change is pruned: its token must not come back."""
    (code,) = free_parcels(db, 1, 0)
    url = "/tiles/parcels/{}/{}/{}.pbf".format(*where(client, code))
    _age(db, _another_change_elsewhere(db))
    prune_tile_changes(db, older_than_days=30)  # nothing over the tile now
    assert client.get(url).headers["X-Tile-Cache"] == "miss"
    assert client.get(url).headers["X-Tile-Cache"] == "hit"
    moved = client.post(f"/api/parcels/{code}/stage", json={"stage": "surveyed",
                                                            "date": "2011-12-01"})  # fmt: skip
    assert moved.status_code == 201
    _age(db, _another_change_elsewhere(db))
    assert prune_tile_changes(db, older_than_days=30) > 0  # the change's entry with them
    after = client.get(url)
    assert after.headers["X-Tile-Cache"] == "miss"
    layer = mapbox_vector_tile.decode(after.data)["parcels"]["features"]
    assert {f["properties"]["code"]: f["properties"]["stage"] for f in layer}[code] == "surveyed"


def test_tiles_prune_command(runner, scratch, monkeypatch):
    monkeypatch.delenv("LANDMAP_LANG", raising=False)
    with Ctx(scratch).session() as session:
        session.execute(
            text("""INSERT INTO tile_change (layer, geom, at)
                    SELECT 'parcels', ST_SetSRID(ST_MakeEnvelope(0, 0, 1, 1), lm_storage_srid()),
                           now() - make_interval(days => d) FROM unnest(ARRAY[50, 40, 1]) d""")
        )
    result = invoke(runner, scratch, "tiles", "prune", "--days", "30")
    assert result.output == "已删除 30 天前的瓦片变更记录 2 条\n"
    monkeypatch.setenv("LANDMAP_LANG", "en")
    again = invoke(runner, scratch, "tiles", "prune")
    assert again.output == "0 tile change entries older than 30 days deleted\n"
    refused = runner.invoke(main, ["tiles", "prune", "--days", "-1"], obj=Ctx(scratch))
    assert refused.exit_code == 2 and "-1" in refused.output
