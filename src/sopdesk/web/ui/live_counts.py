"""A per-process cache of the inbox's live counts: a few seconds old at most.

Every inbox page and every htmx poll of `/inbox/counts` shows how many open cases each
view holds. At a million cases those COUNTs are most of a page's cost (they read tens
of thousands of index entries), and fifty agents clicking through the inbox ask for
the same figures many times a second. `CountCache` keeps each answer for `ttl` seconds
(`inbox.COUNTS_TTL_SECONDS`):

- **Staleness.** A count may be up to `ttl` seconds old: a change made by another
  process (another `serve --workers` process, `sopdesk worker`, the CLI) or the
  passing of time (a case becoming due soon or breached) shows within `ttl` seconds.
  The rows of the page itself are always read fresh.
- **Writes in this process** show at once: any commit of a session in this process
  that wrote to the `cases` table (an ORM flush of a `CaseRow`, or an ORM
  insert/update/delete statement on it) bumps a process-wide generation, and an entry
  from an older generation is not used. Writes through the web app, the API and the
  in-process worker (SQLite) are all such commits.
- **Bounded.** At most `max_entries` answers (keys hold the search text of a page, so
  they are not a closed set); the oldest are dropped first.

The cache holds numbers only — no rows, nothing a permission decides: every request
still passes its route's permission check before it asks for counts.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from sopdesk.store.tables import CaseRow

T = TypeVar("T")
_WROTE_CASES = "sopdesk_wrote_cases"
_CASES_TABLE = CaseRow.__table__

_generation = 0
_generation_lock = threading.Lock()


def generation() -> int:
    """How many commits that wrote to `cases` this process has seen (a change marker)."""
    return _generation


def note_case_change() -> None:
    """Count a change to the cases: every cached count from before it is out of date."""
    global _generation
    with _generation_lock:
        _generation += 1


class CountCache:
    """Values by key, each used for `ttl` seconds unless a case write came in between."""

    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = 512,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, int, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value of `key` if it is fresh, else `compute()` (stored)."""
        now = self.clock()
        current = generation()
        with self._lock:
            found = self._entries.get(key)
        if found is not None:
            expires, made_in, value = found
            if now < expires and made_in == current:
                return value  # type: ignore[no-any-return]
        # the generation is read before the database: a write committed while computing
        # leaves the entry already outdated, never a stale one marked current
        value = compute()
        with self._lock:
            self._entries[key] = (now + self.ttl, current, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# --- noticing writes to the cases table, in any session of this process ---------------


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    if _WROTE_CASES in session.info:
        return
    for changed in (session.new, session.dirty, session.deleted):
        if any(isinstance(row, CaseRow) for row in changed):
            session.info[_WROTE_CASES] = True
            return


@event.listens_for(Session, "do_orm_execute")
def _orm_execute(state: ORMExecuteState) -> None:
    writes = state.is_insert or state.is_update or state.is_delete
    table = getattr(state.statement, "table", None)  # an annotated copy of the Table
    if writes and getattr(table, "name", None) == _CASES_TABLE.name:
        state.session.info[_WROTE_CASES] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_WROTE_CASES, False):
        note_case_change()


# No reset on rollback: a savepoint's rollback can leave the outer transaction's writes
# standing, so a flag left over costs one needless recount at most, never a stale count.
