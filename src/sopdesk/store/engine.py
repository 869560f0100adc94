"""Engines and sessions: SQLite (WAL) on one machine, PostgreSQL (psycopg 3) by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from sopdesk.settings import normalise_database_url

SQLITE_BUSY_TIMEOUT_MS = 5_000


def create_engine_for(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url`: `sqlite:///path` or `postgresql://...` (psycopg 3 is used).

    SQLite gets WAL journaling, foreign keys, a busy timeout and `synchronous=NORMAL`
    (durable with WAL except on power loss within the last commit). The folder of a
    SQLite file is created if missing.
    """
    url = normalise_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    return create_engine(url, echo=echo, pool_pre_ping=True)


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")  # = SQLITE_BUSY_TIMEOUT_MS
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer's; on PostgreSQL, nothing to do.

    pysqlite opens a transaction only at the first INSERT, UPDATE or DELETE, so an
    action's reads before its first write run outside any transaction: two actions on
    one case could both read it, and the later write would silently drop the earlier
    one's change. `BEGIN IMMEDIATE` takes SQLite's write lock before the first read
    (waiting up to the busy timeout), so writers queue up and each decides on what the
    one before it committed — what row locks give on PostgreSQL. Readers are not
    blocked (WAL). Inside a transaction that has already written, the lock is held.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = session.connection()
    if not connection.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded rows usable after commit (the shells render them)."""
    return sessionmaker(engine, expire_on_commit=False)
