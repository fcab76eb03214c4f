"""Database access: engine and sessions, models, migrations."""

from landmap.db.engine import make_engine, make_sessionmaker, session_scope

__all__ = ["make_engine", "make_sessionmaker", "session_scope"]
