"""Reads from hot-standby replicas (DATABASE_READ_URL): which replica may serve a read, if any.

PostgreSQL's streaming replication keeps the replicas; landmap only chooses. Positions are WAL
locations in bytes (``pg_lsn - '0/0'``). A replica may serve a read when it answers, when it is
at most ``max_lag`` seconds behind the primary, and, for a user who has just written, when it
has replayed that write; otherwise the read goes to the primary (None from ``choose``).

How far behind: every ``check_every`` seconds at most the primary's flushed position is noted
with the time; a replica that has replayed a noted position has everything the primary held
then, so its lag is at most the age of the newest such note. This holds when the primary is
idle (nothing new: no lag) and when replay is paused (the lag grows). It errs one way only: a
replica whose replay stops just short of a position the primary flushed in the middle of a
record (seen while the rest of that record waits to be written) counts as lagging until the
next flush, and its reads go to the primary meanwhile.

One max_lag bounds both: a replica lagging more is not read from, so a write flushed more
than max_lag ago is on every replica that is read from, and a user's reads need go to the
primary for at most ``pin_for`` (max_lag, and FLUSH_GRACE for a commit that did not wait for
its flush) after their write.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("landmap")

# how often, at most, a replica's position and the primary's are asked for (seconds)
CHECK_EVERY = 0.15
# a replica that did not answer is not asked again for this long (seconds)
DOWN_FOR = 3.0
# seconds within which the WAL writer flushes a commit that did not wait for it
# (synchronous_commit = off: three times wal_writer_delay, 200 ms by default)
FLUSH_GRACE = 1.0

_BYTES = "- '0/0'::pg_lsn)::bigint"
# what the primary has flushed: what a replica can have received
FLUSHED = text(f"SELECT (pg_current_wal_flush_lsn() {_BYTES}")
# after a commit: at or past the end of its commit record, even when commits do not wait
# for the flush (synchronous_commit = off, as the local cluster runs)
WRITTEN = text(f"SELECT (pg_current_wal_insert_lsn() {_BYTES}")
# what a replica has replayed (a URL that names a primary: all it has)
REPLAYED = text(
    "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
    f"ELSE pg_current_wal_insert_lsn() END {_BYTES}"
)


@dataclass(eq=False)
class Replica:
    name: str  # host:port/database, for the log (never the password)
    engine: Engine
    sessions: sessionmaker[Session]
    replayed: int = -1  # position replayed when last checked; -1: unknown
    checked: float = -math.inf
    down_until: float = -math.inf
    checking: bool = False


def describe(engine: Engine) -> str:
    url = engine.url
    return f"{url.host}:{url.port or 5432}/{url.database}"


class ReadRouter:
    """Chooses the replica for each read; one per app, shared by its threads. ``primary``: a
    read-only engine on the primary, asked for its position only."""

    def __init__(
        self,
        primary: Engine,
        replicas: Sequence[Engine],
        max_lag: float,
        check_every: float = CHECK_EVERY,
        down_for: float = DOWN_FOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary, self.max_lag = primary, max_lag
        self.check_every, self.down_for, self.clock = check_every, down_for, clock
        self.replicas = [
            Replica(describe(e), e, sessionmaker(bind=e, expire_on_commit=False)) for e in replicas
        ]
        self.pin_for = max_lag + FLUSH_GRACE  # how long a writer's reads may need the primary
        self.recent = RecentWrites(self.pin_for, clock=clock)  # token users' writes
        self._notes: deque[tuple[float, int]] = deque()  # (time, primary's flushed position)
        self._noted = -math.inf
        self._noting = False
        self._lock = threading.Lock()
        self._next = 0  # where the turn goes on from

    def choose(self, after: int | None = None) -> Replica | None:
        """The replica to read from, in turn among those that may serve: up, lagging at most
        max_lag, and past ``after`` (the position of the reader's last write) when given.
        None: read from the primary."""
        now = self.clock()
        self._note_primary(now)
        start = self._next
        for i in range(len(self.replicas)):
            index = (start + i) % len(self.replicas)
            replica = self.replicas[index]
            if replica.down_until > now:
                continue
            self._check(replica, now)
            if replica.down_until > now or (after is not None and replica.replayed < after):
                continue
            if self.lag(replica, now) <= self.max_lag:
                self._next = index + 1  # threads racing here at worst take the same turn
                return replica
        return None

    def lag(self, replica: Replica, now: float | None = None) -> float:
        """Seconds the replica may be behind the primary at most (inf: not known to be within
        what was noted)."""
        now = self.clock() if now is None else now
        with self._lock:
            for noted, position in reversed(self._notes):
                if position <= replica.replayed:
                    return max(0.0, now - noted)
        return math.inf

    def failed(self, replica: Replica, error: BaseException | None = None) -> None:
        """The replica did not answer: reads go elsewhere for down_for seconds."""
        with self._lock:
            replica.down_until = self.clock() + self.down_for
            replica.checked = -math.inf
        log.warning(
            "replica %s does not answer (%s): its reads go elsewhere for %.0f s",
            replica.name,
            type(error).__name__ if error else "no answer",
            self.down_for,
        )
        replica.engine.dispose()

    def written(self) -> int | None:
        """The primary's position now: after a commit, at or past it. None: not known."""
        try:
            with self.primary.connect() as conn:
                return conn.execute(WRITTEN).scalar_one()
        except SQLAlchemyError:
            log.exception("the primary's WAL position is not known")
            return None

    def dispose(self) -> None:
        for replica in self.replicas:
            replica.engine.dispose()

    def _note_primary(self, now: float) -> None:
        with self._lock:
            if self._noting or now - self._noted < self.check_every:
                return
            self._noting = True
        position = None
        try:
            with self.primary.connect() as conn:
                position = conn.execute(FLUSHED).scalar_one()
        except SQLAlchemyError as exc:
            log.warning("the primary's WAL position is not known (%s)", type(exc).__name__)
        with self._lock:
            self._noting, self._noted = False, now
            if position is not None:
                self._notes.append((now, position))
            # a replica that has only the oldest note lags more than max_lag anyway
            while len(self._notes) > 1 and self._notes[1][0] < now - self.max_lag - 1:
                self._notes.popleft()

    def _check(self, replica: Replica, now: float) -> None:
        with self._lock:
            if replica.checking or now - replica.checked < self.check_every:
                return
            replica.checking = True
        try:
            with replica.engine.connect() as conn:
                replayed = conn.execute(REPLAYED).scalar()
        except SQLAlchemyError as exc:
            with self._lock:
                replica.checking = False
            self.failed(replica, exc)
            return
        with self._lock:
            replica.checking, replica.checked = False, now
            replica.replayed = -1 if replayed is None else replayed


class RecentWrites:
    """Positions of recent writes by key (a token's hash), each kept for ``keep`` seconds; in
    this process only. At most ``limit`` are kept, the oldest going first."""

    def __init__(
        self, keep: float, limit: int = 100_000, clock: Callable[[], float] = time.monotonic
    ):
        self.keep, self.limit, self.clock = keep, limit, clock
        self._entries: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, key: str, position: int) -> None:
        now = self.clock()
        with self._lock:
            self._entries[key] = (position, now + self.keep)
            self._entries.move_to_end(key)
            while self._entries:  # every entry is kept as long: the oldest expire first
                _, (_, until) = next(iter(self._entries.items()))
                if until > now and len(self._entries) <= self.limit:
                    break
                self._entries.popitem(last=False)

    def get(self, key: str) -> int | None:
        with self._lock:
            found = self._entries.get(key)
        if found is None or found[1] <= self.clock():
            return None
        return found[0]
