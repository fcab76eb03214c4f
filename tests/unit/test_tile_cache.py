"""The tile cache: bounded in memory, shared on disk between processes, kept with its token."""

from __future__ import annotations

from landmap.services.tiles import TileCache

KEY = ("parcels", 16, 52890, 27222, (None, None, None, None, None, False))


def test_another_process_finds_the_tile_on_disk_with_the_token_it_was_made_under(tmp_path):
    writer = TileCache(1 << 20, tmp_path)
    writer.put(KEY, (7, 3, 41), b"\x1f\x8b tile")
    writer.flush()
    reader = TileCache(1 << 20, tmp_path)  # a second worker: nothing in its memory
    assert reader.peek(KEY) == ((7, 3, 41), b"\x1f\x8b tile")
    assert reader.peek(("parcels", 16, 1, 1, KEY[-1])) is None
    # the newer version replaces the older one: one file per tile, not one per version
    writer.put(KEY, (7, 4, 42), b"\x1f\x8b newer")
    writer.flush()
    assert TileCache(1 << 20, tmp_path).peek(KEY) == ((7, 4, 42), b"\x1f\x8b newer")
    assert len(list(tmp_path.rglob("*.mvt.gz"))) == 1
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".gz"]


def test_memory_is_bounded_least_recently_used_first():
    cache = TileCache(25)
    for i in range(3):
        cache.put(("t", i), (1,), bytes(10))
    assert cache.size == 20
    assert cache.peek(("t", 0)) is None and cache.peek(("t", 2)) == ((1,), bytes(10))
    cache.put(("big",), (1,), bytes(26))  # larger than the whole cache: not kept
    assert cache.peek(("big",)) is None and cache.size == 20
