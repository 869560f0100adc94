"""What every action shares: its transaction, the clock (the shell may read it), and
row buffers that write what a block collected in one statement."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sopdesk.errors import Conflict
from sopdesk.store.engine import begin_write

P = ParamSpec("P")
R = TypeVar("R")


def utcnow() -> datetime:
    """The one place the actions layer reads the clock; tests pass `now=` instead."""
    return datetime.now(UTC)  # noqa: TID251 - the shell reads the clock


def resolve_now(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    return now.astimezone(UTC)


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Commit everything done inside, or roll all of it back on any exception.

    Rows loaded earlier are expired first, so the action decides on what the database
    holds now, not on what this session saw before. Two writers that still collide
    (e.g. both create the same new SOP) get a `Conflict` instead of a driver error.
    On SQLite the transaction starts with the write lock (`store.engine.begin_write`).
    """
    session.expire_all()
    try:
        begin_write(session)
        yield session
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(
            "another change to the same SOP or calendar was saved at the same moment",
            hint="load it again and retry",
        ) from None
    except BaseException:
        session.rollback()
        raise


def atomic(fn: Callable[Concatenate[Session, P], R]) -> Callable[Concatenate[Session, P], R]:
    """Run a `do_*` action in its own transaction (zulip's `@transaction.atomic`).

    Callers must not hold uncommitted writes in the session: the action commits them.
    """

    @wraps(fn)
    def wrapper(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with transaction(session):
            return fn(session, *args, **kwargs)

    return wrapper


Rows = list[dict[str, Any]]


@contextmanager
def collecting(session: Session, name: str) -> Iterator[Rows | None]:
    """A buffer of rows, kept in `session.info[name]` for the block.

    The outermost block gets the list to write once the block is done (nothing is
    written on an error: the rows go with the transaction); a nested block of the same
    name gets None, as its rows join the outer block's. `collect` adds to it.
    """
    if session.info.get(name) is not None:
        yield None
        return
    rows: Rows = []
    session.info[name] = rows
    try:
        yield rows
    finally:
        session.info.pop(name, None)


def collect(session: Session, name: str, row: dict[str, Any]) -> bool:
    """Add `row` to the open `collecting` block `name`; False when there is none."""
    rows: Rows | None = session.info.get(name)
    if rows is None:
        return False
    rows.append(row)
    return True
