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


# --- trusted by what push tells (landmap.db.notify) ----------------------------------------


class FakeListener:
    """Stands in for the process's listener: live, and told what the test says."""

    def __init__(self) -> None:
        self.live = True
        self.generation = 0
        self.subscribers = []

    def subscribe(self, subscriber) -> None:
        self.subscribers.append(subscriber)

    def tell(self, layer: str, box) -> None:
        self.generation += 1
        for subscriber in self.subscribers:
            subscriber.notified("tiles", {"k": "tiles", "l": layer, "b": list(box)})

    def reset(self) -> None:
        self.generation += 1
        for subscriber in self.subscribers:
            subscriber.reset()


def _box_of(z, x, y, inset=0.4):
    from landmap.services.tiles import _tile_box

    x0, y0, x1, y1 = _tile_box(z, x, y)
    w, h = x1 - x0, y1 - y0
    return (x0 + w * inset, y0 + h * inset, x1 - w * inset, y1 - h * inset)


def test_a_tile_kept_is_trusted_until_told_of_a_change_over_it():
    from landmap.services.tiles import FRESH

    push = FakeListener()
    cache = TileCache(1 << 20, push=push)
    cache.put(KEY, (1, 0, 0), b"tile", since=push.generation)
    assert cache.lookup(KEY)[1] is FRESH
    push.tell("parcels", _box_of(16, 52890 + 3, 27222))  # another tile: still trusted
    push.tell("zones", _box_of(16, 52890, 27222))  # another layer: still trusted
    assert cache.lookup(KEY)[1] is FRESH
    push.tell("parcels", _box_of(16, 52890, 27222, inset=0.49))  # a small box inside it
    stale = cache.lookup(KEY)[1]
    assert isinstance(stale, float) and stale <= time.monotonic()
    push.tell("parcels", _box_of(16, 52890, 27222))
    assert cache.lookup(KEY)[1] == stale  # stale since the first news, not the last
    push.reset()
    assert cache.lookup(KEY)[1] is None  # nothing is trusted after a reset


def test_news_heard_while_a_tile_was_drawn_leave_it_stale_and_a_live_listener_is_needed():
    from landmap.services.tiles import FRESH

    push = FakeListener()
    cache = TileCache(1 << 20, push=push)
    since = push.generation  # the drawing's snapshot is taken now ...
    push.tell("parcels", _box_of(16, 52890, 27222))  # ... and a change lands meanwhile
    cache.put(KEY, (1, 0, 0), b"tile", since=since)
    assert isinstance(cache.lookup(KEY)[1], float)
    cache.put(KEY, (1, 0, 1), b"tile", since=push.generation)
    assert cache.lookup(KEY)[1] is FRESH
    push.live = False
    cache.put(KEY, (1, 0, 2), b"tile", since=push.generation)
    assert cache.lookup(KEY)[1] is None


def test_a_tile_another_process_drew_is_trusted_only_if_listened_to_since(tmp_path):
    from landmap.services.tiles import FRESH

    push = FakeListener()
    reader = TileCache(1 << 20, tmp_path, push=push)
    reader.reset()  # started listening
    time.sleep(0.1)
    writer = TileCache(1 << 20, tmp_path)
    writer.put(KEY, (1, 0, 0), b"tile", drawn=time.time())
    writer.flush()
    assert reader.lookup(KEY) == (((1, 0, 0), b"tile"), FRESH)
    # drawn before this process listened: checked with its token
    other = ("parcels", 16, 1, 1, KEY[-1])
    writer.put(other, (1, 0, 0), b"tile", drawn=time.time() - 5)
    writer.flush()
    assert reader.lookup(other)[1] is None
    # drawn, then a change over it was heard: stale
    third = ("parcels", 16, 52890, 27223, KEY[-1])
    writer.put(third, (1, 0, 0), b"tile", drawn=time.time())
    writer.flush()
    push.tell("parcels", _box_of(16, 52890, 27223))
    assert isinstance(reader.lookup(third)[1], float)


def test_a_cache_made_while_the_listener_is_live_trusts_no_file_drawn_before_it(tmp_path):
    """It heard nothing of what changed before it existed (the listener may have)."""
    from landmap.services.tiles import FRESH

    writer = TileCache(1 << 20, tmp_path)
    writer.put(KEY, (1, 0, 0), b"tile", drawn=time.time())
    writer.flush()
    time.sleep(0.1)
    push = FakeListener()
    late = TileCache(1 << 20, tmp_path, push=push)
    assert late.lookup(KEY)[1] is None
    writer.put(KEY, (1, 0, 1), b"tile", drawn=time.time())
    writer.flush()
    assert TileCache(1 << 20, tmp_path, push=push).lookup(KEY)[1] is None  # made before it
    time.sleep(0.1)
    newest = TileCache(1 << 20, tmp_path, push=push)
    time.sleep(0.1)
    writer.put(KEY, (1, 0, 2), b"tile", drawn=time.time())
    writer.flush()
    assert newest.lookup(KEY)[1] is FRESH
