"""Told, not asking: every server process LISTENs on the primary for what the database says
has changed (migration 0020's triggers, pg_notify on the channel ``landmap.<schema>``), and
drops what it cached about it at once; on every machine, with no polling.

Notifications (JSON):
  {"k": "tiles", "l": layer, "b": [xmin, ymin, xmax, ymax]}  a tiled layer changed in that box
                                                            (EPSG:3857)
  {"k": "auth"}      a token revoked or added, a user disabled, re-roled, a session ended
  {"k": "zones"}     a zone or a zone boundary changed (an approved boundary)
  {"k": "register"}  parcels, their stages, projects or batches changed
  {"k": "sync", "id": …}  written by this process to itself, see Listener.sync

Caches built on this (PushCache, the tile cache) only trust what they kept while the
listener is live: connected, and heard from within STALE_AFTER seconds. When the connection
is lost the process drops every cache and its caches ask the database each time, until it has
listened again (and dropped them once more, since it may have missed notifications meanwhile).
So a revoked token works no longer than a reconnect takes.

Races: a value computed from a snapshot may miss a change committed while it was computed.
Its notification arrives after the commit; so a value is kept only when no notification came
between just before its computation and its keeping (Listener.generation did not move). One
that came later drops it as any other.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

log = logging.getLogger(__name__)

PING_EVERY = 1.0  # seconds without a notification before the listener asks "still there?"
STALE_AFTER = 3.0  # seconds without hearing from the database: the listener is not live
RECONNECT_MAX = 5.0  # seconds between attempts to listen again, at most
KINDS = ("tiles", "auth", "zones", "register")


def channel_for(schema: str) -> str:
    """The channel the triggers notify: one per landmap schema in the database."""
    return f"landmap.{schema}"


class Subscriber:
    """What a cache does when told: ``notified(kind, payload)``, and ``reset()`` when the
    listener starts or stops listening (anything may have changed)."""

    kinds: tuple[str, ...] = KINDS

    def notified(self, kind: str, payload: dict[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    def reset(self) -> None:  # pragma: no cover
        raise NotImplementedError


class Listener:
    """One LISTEN connection per process and channel (see listener_for), on its own thread,
    started on first use and again in a forked child."""

    def __init__(self, dsn: str, channel: str) -> None:
        self.dsn = dsn
        self.channel = channel
        self.generation = 0  # moves on with every notification and every reset
        self._subscribers: weakref.WeakSet[Subscriber] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._connected = False
        self._last_heard = 0.0
        self._pid = 0
        self._syncs: dict[str, threading.Event] = {}
        self._sync_conn: Any = None
        self._sync_lock = threading.Lock()
        self._sync_count = 0

    # --- used by caches -------------------------------------------------------------------

    @property
    def live(self) -> bool:
        """Whether what this process keeps may be trusted without asking the database."""
        self.start()
        return self._connected and time.monotonic() - self._last_heard < STALE_AFTER

    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.add(subscriber)
        self.start()

    def wait_live(self, timeout: float = 5.0) -> bool:
        end = time.monotonic() + timeout
        while not self.live:
            if time.monotonic() > end:
                return False
            time.sleep(0.01)
        return True

    def sync(self, timeout: float = 1.0) -> bool:
        """Wait until this process has heard every notification committed before now: a
        request that wrote calls it before answering, so that the writer's next request (to
        this process) sees its own change in every cache. Sent on a connection of its own;
        notifications arrive in commit order, so hearing this one means the earlier ones were
        heard (and handled: they are handled in order, on the listening thread)."""
        if not self.live:
            return False
        with self._sync_lock:
            self._sync_count += 1
            marker = f"{os.getpid()}-{self._sync_count}"
            done = threading.Event()
            self._syncs[marker] = done
            try:
                if self._sync_conn is None or self._sync_conn.closed:
                    self._sync_conn = _connect(self.dsn, "landmap sync")
                with self._sync_conn.cursor() as cur:
                    cur.execute(
                        "SELECT pg_notify(%s, %s)",
                        (self.channel, json.dumps({"k": "sync", "id": marker})),
                    )
            except Exception:  # noqa: BLE001 - a lost connection: the caches ask the database
                log.warning("push: could not send a sync notification", exc_info=True)
                self._syncs.pop(marker, None)
                self._close_sync()
                return False
        heard = done.wait(timeout)
        self._syncs.pop(marker, None)
        return heard

    # --- the listening thread ---------------------------------------------------------------

    def start(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            # a forked child inherits no thread and must not use the parent's connection
            self._pid = os.getpid()
            self._connected = False
            self._sync_conn = None
            self._syncs = {}
            threading.Thread(target=self._run, name="landmap-listen", daemon=True).start()

    def _run(self) -> None:
        pause = 0.2
        me = os.getpid()
        while self._pid == me:
            conn = None
            try:
                conn = _connect(self.dsn, "landmap listen")
                with conn.cursor() as cur:
                    cur.execute(f'LISTEN "{self.channel}"')
                # anything kept before now may have missed a notification: dropped, then live
                self._reset()
                self._last_heard = time.monotonic()
                self._connected = True
                pause = 0.2
                log.info("push: listening on %s", self.channel)
                self._listen(conn)
            except Exception:  # noqa: BLE001 - any failure: stop trusting caches, reconnect
                if self._connected:
                    log.warning("push: lost the connection to %s", self.channel, exc_info=True)
            finally:
                was = self._connected
                self._connected = False
                if was:
                    self._reset()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
            time.sleep(pause)
            pause = min(pause * 2, RECONNECT_MAX)

    def _listen(self, conn) -> None:
        while True:
            ready, _, _ = select.select([conn], [], [], PING_EVERY)
            if not ready:
                with conn.cursor() as cur:  # still there? (raises when it is not)
                    cur.execute("SELECT 1")
            conn.poll()
            self._last_heard = time.monotonic()
            while conn.notifies:
                self._dispatch(conn.notifies.pop(0).payload)

    def _dispatch(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            kind = message["k"]
        except (ValueError, KeyError, TypeError):
            log.warning("push: a notification landmap did not write: %.80r", payload)
            return
        if kind == "sync":
            done = self._syncs.get(str(message.get("id")))
            if done is not None:
                done.set()
            return
        with self._lock:
            self.generation += 1
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            if kind in subscriber.kinds:
                try:
                    subscriber.notified(kind, message)
                except Exception:  # noqa: BLE001 - one cache failing must not stop the rest
                    log.exception("push: a cache failed on %s", kind)
                    subscriber.reset()

    def _reset(self) -> None:
        with self._lock:
            self.generation += 1
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber.reset()
            except Exception:  # noqa: BLE001
                log.exception("push: a cache failed to reset")

    def _close_sync(self) -> None:
        if self._sync_conn is not None:
            with contextlib.suppress(Exception):
                self._sync_conn.close()
        self._sync_conn = None


def _connect(dsn: str, name: str):
    import psycopg2

    conn = psycopg2.connect(
        dsn,
        application_name=name,
        connect_timeout=5,
        # a dead peer is noticed in seconds, not the kernel's two hours
        keepalives=1,
        keepalives_idle=5,
        keepalives_interval=2,
        keepalives_count=2,
        tcp_user_timeout=5000,
    )
    conn.autocommit = True
    return conn


_LISTENERS: dict[tuple[str, str], Listener] = {}
_LISTENERS_LOCK = threading.Lock()


def listener_for(dsn: str, schema: str) -> Listener:
    """The process's listener for this database and schema (one connection, however many
    apps)."""
    from landmap.db.engine import _sqlalchemy_url

    dsn = _sqlalchemy_url(dsn).replace("postgresql+psycopg2://", "postgresql://", 1)
    key = (dsn, schema)
    with _LISTENERS_LOCK:
        found = _LISTENERS.get(key)
        if found is None:
            found = _LISTENERS[key] = Listener(dsn, channel_for(schema))
    return found


_MISSING = object()


class PushCache(Subscriber):
    """A bounded map of values computed from the database, kept while the listener is live
    and dropped whole on any notification of its kinds (they are rare: a token revoked, a zone
    changed); ``ttl`` seconds at most in any case. Without a live listener it keeps nothing and
    every get computes."""

    def __init__(
        self,
        listener: Listener | None,
        kinds: tuple[str, ...],
        max_items: int = 10_000,
        ttl: float = 60.0,
    ) -> None:
        self.listener = listener
        self.kinds = kinds
        self.max_items = max_items
        self.ttl = ttl
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        if listener is not None:
            listener.subscribe(self)

    def get(self, key: Hashable, compute: Callable[[], Any], keep: bool = True) -> Any:
        """The value kept under ``key``, or ``compute()``'s (kept when ``keep`` says so of it:
        a callable taking the value, or a bool)."""
        listener = self.listener
        if listener is None or not listener.live:
            return compute()
        now = time.monotonic()
        with self._lock:
            found = self._items.get(key, _MISSING)
            if found is not _MISSING and found[0] > now:
                self._items.move_to_end(key)
                return found[1]
        before = listener.generation
        value = compute()
        wanted = keep(value) if callable(keep) else keep
        if wanted:
            with self._lock:
                # nothing was heard meanwhile (else the value may be older than the news)
                if listener.generation == before and listener.live:
                    self._items[key] = (now + self.ttl, value)
                    self._items.move_to_end(key)
                    while len(self._items) > self.max_items:
                        self._items.popitem(last=False)
        return value

    def notified(self, kind: str, payload: dict[str, Any]) -> None:
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
