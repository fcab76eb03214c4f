"""The benchmarks' schemas: each benchmark (scripts/bench_*.py) makes a `bench_*` schema of
100,000 parcels in the register's database, where a GIS's browser would list it beside the real
tables. So each drops its schema (and the schemas made with it, such as `<schema>_gis`) when it
ends, also on Ctrl-C or SIGTERM; and at its start it drops the `bench_*` schemas that a killed
run left, unless another benchmark is running (every running benchmark holds a shared advisory
lock; the clean-up needs it alone).

    if __name__ == "__main__":
        sys.exit(benchdb.run(SCHEMA, main))
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from landmap.config import Settings  # noqa: E402
from landmap.db import make_engine  # noqa: E402

PREFIX = "bench_"
LOCK = "SELECT {fn}(hashtext('landmap benchmarks'))"


def bench_schemas(conn: Connection) -> list[str]:
    found = conn.execute(
        text(r"SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\_%' ORDER BY 1")
    )
    return list(found.scalars())


def _family(name: str, schema: str) -> bool:
    """``name`` is ``schema`` or a schema made with it (``<schema>_gis``)."""
    return name == schema or name.startswith(schema + "_")


def _drop(conn: Connection, names: list[str]) -> None:
    for name in names:
        try:
            conn.execute(text("SET lock_timeout = '10s'"))
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            print(f"dropped schema {name}")
        except OperationalError as exc:
            why = type(exc.orig).__name__
            print(f"could not drop schema {name} now ({why}): the next benchmark drops it")


def _leftovers(conn: Connection, schema: str, reuse: bool) -> None:
    """Drop the `bench_*` schemas no running benchmark holds (with ``reuse``, not our own)."""
    if not conn.execute(text(LOCK.format(fn="pg_try_advisory_lock"))).scalar():
        print("another benchmark is running: its bench_* schemas are left as they are")
        return
    try:
        left = [n for n in bench_schemas(conn) if not (reuse and _family(n, schema))]
        _drop(conn, left)
    finally:
        conn.execute(text(LOCK.format(fn="pg_advisory_unlock")))


def _stop_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds: the schema is dropped on the way out


@contextmanager
def bench_schema(settings: Settings, keep: bool = False, reuse: bool = False) -> Iterator[None]:
    """Work in ``settings.db_schema`` (a `bench_*` schema) and drop it at the end, unless
    ``keep``; ``reuse``: leave the schema a kept run made, to work in it again."""
    schema = settings.db_schema
    if not schema.startswith(PREFIX):
        raise SystemExit(f"a benchmark works in a {PREFIX}* schema, not {schema}")
    engine = make_engine(settings.with_(db_role=""))  # the schemas' owner
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        conn.execute(text(LOCK.format(fn="pg_advisory_lock_shared")))  # for the whole run
        _leftovers(conn, schema, reuse)
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if keep:
            print(f"schema {schema} kept")
        else:
            _drop(conn, [n for n in bench_schemas(conn) if _family(n, schema)])
        conn.close()
        engine.dispose()


def run(schema: str, main: Callable[[], int]) -> int:
    """``main()`` in the benchmark's schema, dropped when it ends however it ends."""
    with bench_schema(Settings.from_env().with_(db_schema=schema)):
        return main()
