"""The tile cache: bounded in memory, shared on disk between processes, keyed by freshness."""

from __future__ import annotations

from landmap.services.tiles import TileCache

KEY = ("parcels", 16, 52890, 27222, (None, None, None, None, None, False))


def test_another_process_finds_the_tile_on_disk_only_while_it_is_fresh(tmp_path):
    writer = TileCache(1 << 20, tmp_path)
    writer.put(KEY, (7, 3, 41), b"\x1f\x8b tile")
    writer.flush()
    reader = TileCache(1 << 20, tmp_path)  # a second worker: nothing in its memory
    assert reader.get(KEY, (7, 3, 41)) == b"\x1f\x8b tile"
    assert reader.get(KEY, (7, 4, 42)) is None  # the data under the tile changed since
    assert reader.get(("parcels", 16, 1, 1, KEY[-1]), (7, 3, 41)) is None
    # the newer version replaces the older one: one file per tile, not one per version
    writer.put(KEY, (7, 4, 42), b"\x1f\x8b newer")
    writer.flush()
    assert TileCache(1 << 20, tmp_path).get(KEY, (7, 4, 42)) == b"\x1f\x8b newer"
    assert TileCache(1 << 20, tmp_path).get(KEY, (7, 3, 41)) is None
    assert len(list(tmp_path.rglob("*.mvt.gz"))) == 1
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".gz"]


def test_memory_is_bounded_least_recently_used_first():
    cache = TileCache(25)
    for i in range(3):
        cache.put(("t", i), (1,), bytes(10))
    assert cache.size == 20
    assert cache.get(("t", 0), (1,)) is None and cache.get(("t", 2), (1,)) == bytes(10)
    cache.put(("big",), (1,), bytes(26))  # larger than the whole cache: not kept
    assert cache.get(("big",), (1,)) is None and cache.size == 20
