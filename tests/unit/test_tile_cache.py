"""The tile cache: bounded in memory, shared on disk between processes, kept with its token."""

from __future__ import annotations

import os
import time

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


def _aged(folder, seconds_ago):
    """Every tile file's time set `seconds_ago` in the past, oldest written first."""
    now = time.time()
    for i, path in enumerate(sorted(folder.rglob("*.mvt.gz"), key=lambda p: p.stat().st_mtime)):
        os.utime(path, (now - seconds_ago + i, now - seconds_ago + i))


def test_the_disk_is_bounded_least_recently_used_first(tmp_path):
    writer = TileCache(1 << 20, tmp_path, disk_bytes=5100)
    for i in range(5):  # 1,006 bytes each: five fit
        writer.put(("t", i), (1, 1, i), bytes(1000))
        writer.flush()
        _aged(tmp_path, 1000)
    assert len(list(tmp_path.rglob("*.mvt.gz"))) == 5
    # another process reads tile 0 from disk: its file is the most recently used now
    assert TileCache(1 << 20, tmp_path).peek(("t", 0)) == ((1, 1, 0), bytes(1000))
    writer.put(("t", 5), (1, 1, 5), bytes(1000))  # past the bound: down to 90%
    writer.flush()
    reader = TileCache(1 << 20, tmp_path)
    kept = {i for i in range(6) if reader.peek(("t", i)) is not None}
    assert kept == {0, 3, 4, 5}
    assert sum(p.stat().st_size for p in tmp_path.rglob("*.mvt.gz")) <= 5100 * 0.9


def test_a_new_process_counts_what_the_folder_already_holds(tmp_path):
    first = TileCache(1 << 20, tmp_path, disk_bytes=3500)
    for i in range(3):
        first.put(("t", i), (1,), bytes(1000))
        first.flush()
        _aged(tmp_path, 1000)
    second = TileCache(1 << 20, tmp_path, disk_bytes=3500)  # another process, same folder
    second.put(("t", 9), (1,), bytes(1000))
    second.flush()
    assert first.peek(("t", 0)) is not None  # still in the first one's memory
    assert TileCache(1 << 20, tmp_path).peek(("t", 0)) is None  # but gone from disk
    assert TileCache(1 << 20, tmp_path).peek(("t", 9)) is not None


def test_a_file_that_vanished_is_a_miss_not_an_error(tmp_path):
    writer = TileCache(1 << 20, tmp_path, disk_bytes=10_000)
    writer.put(KEY, (1,), b"tile")
    writer.flush()
    for path in tmp_path.rglob("*.mvt.gz"):
        path.unlink()  # another process evicted it
    assert TileCache(1 << 20, tmp_path).peek(KEY) is None
    writer.put(("t", 1), (1,), b"x" * 20_000)  # an eviction over a file already gone
    writer.flush()
    assert TileCache(1 << 20, tmp_path).peek(("t", 1)) is None  # too big: evicted itself


def test_a_recent_read_does_not_write_the_file_time_again(tmp_path):
    writer = TileCache(1 << 20, tmp_path)
    writer.put(KEY, (1,), b"tile")
    writer.flush()
    (path,) = tmp_path.rglob("*.mvt.gz")
    recent = time.time() - 10
    os.utime(path, (recent, recent))
    assert TileCache(1 << 20, tmp_path).peek(KEY) is not None
    assert path.stat().st_mtime == recent
