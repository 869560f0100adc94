"""The inbox's count cache: fresh for a few seconds, refreshed after its TTL, and at
once after a write to the cases in this process (web/ui/live_counts.py)."""

from __future__ import annotations

import re

from sqlalchemy import text, update

from sopdesk.actions import signin, users
from sopdesk.actions.case_reads import get_case
from sopdesk.actions.cases import do_assign
from sopdesk.store import create_engine_for, session_factory
from sopdesk.store.tables import CaseRow
from sopdesk.web.security import SESSION_COOKIE
from sopdesk.web.ui import inbox, live_counts
from sopdesk.web.ui.live_counts import CountCache
from tests.ui.conftest import ClientFor, World


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _count(html: str, view: str) -> int:
    match = re.search(rf'data-view="{view}">[^<]*<span class="count"[^>]*>(\d+)<', html)
    assert match, view
    return int(match.group(1))


def test_a_value_is_kept_for_its_ttl_then_computed_again() -> None:
    clock = FakeClock()
    cache = CountCache(5.0, clock=clock)
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert cache.get("k", compute) == 1
    clock.now += 4.9
    assert cache.get("k", compute) == 1  # still fresh
    clock.now += 0.2
    assert cache.get("k", compute) == 2  # past the TTL
    assert cache.get("other", compute) == 3  # keys do not share values


def test_a_case_change_outdates_every_value() -> None:
    cache = CountCache(60.0, clock=FakeClock())
    calls: list[int] = []
    assert cache.get("k", lambda: calls.append(1) or len(calls)) == 1
    live_counts.note_case_change()
    assert cache.get("k", lambda: calls.append(1) or len(calls)) == 2


def test_the_cache_is_bounded() -> None:
    cache = CountCache(60.0, max_entries=3, clock=FakeClock())
    for key in range(10):
        cache.get(key, lambda key=key: key)
    assert len(cache) == 3
    assert cache.get(9, lambda: -1) == 9 and cache.get(0, lambda: -1) == -1


def test_commits_that_write_cases_bump_the_generation(world: World) -> None:
    session = world.session
    case = get_case(session, world.case_ref)
    before = live_counts.generation()
    session.commit()  # nothing written
    get_case(session, world.critical_ref)
    session.commit()  # a read only
    assert live_counts.generation() == before
    do_assign(session, case.id, "agent@example.com", by="t")  # an ORM flush of the case
    after_flush = live_counts.generation()
    assert after_flush > before
    session.execute(update(CaseRow).where(CaseRow.id == case.id).values(group_name="tier-2"))
    session.commit()  # an ORM UPDATE statement on cases
    assert live_counts.generation() > after_flush


def test_inbox_counts_follow_a_write_in_this_process_at_once(
    world: World, client_for: ClientFor
) -> None:
    agent = client_for("agent")
    assert _count(agent.get("/inbox").text, "unassigned") == 2
    case = get_case(world.session, world.case_ref)
    do_assign(world.session, case.id, "agent@example.com", by="t")
    page = agent.get("/inbox").text
    assert _count(page, "unassigned") == 1 and _count(page, "mine") == 1


def test_inbox_counts_of_changes_elsewhere_show_after_the_ttl(
    world: World, client_for: ClientFor
) -> None:
    """A change this process's sessions do not see (another process: here a plain SQL
    UPDATE on a connection of its own) shows once the cached counts expire."""
    agent = client_for("agent")
    cache: CountCache = agent.app.state.inbox_counts  # type: ignore[attr-defined]
    assert cache.ttl == inbox.COUNTS_TTL_SECONDS
    clock = FakeClock()
    cache.clock = clock
    page = agent.get("/inbox").text
    assert _count(page, "pending") == 0 and _count(page, "all") == 2
    elsewhere = create_engine_for(str(world.settings.database_url))
    try:
        with elsewhere.begin() as connection:
            connection.execute(
                text("UPDATE cases SET status = 'pending' WHERE reference = :ref"),
                {"ref": world.case_ref},
            )
    finally:
        elsewhere.dispose()
    clock.now += inbox.COUNTS_TTL_SECONDS / 2
    page = agent.get("/inbox?view=pending").text
    assert _count(page, "pending") == 0  # the cached count, up to the TTL old
    assert re.findall(r'<a href="/cases/(SD-\d+)">', page) == [world.case_ref]  # rows: live
    clock.now += inbox.COUNTS_TTL_SECONDS
    counts = agent.get("/inbox/counts?view=pending").text
    assert _count(counts, "pending") == 1


def test_mine_is_counted_per_person(world: World, client_for: ClientFor) -> None:
    case = get_case(world.session, world.case_ref)
    do_assign(world.session, case.id, "agent@example.com", by="t")
    browser = client_for("agent")
    assert _count(browser.get("/inbox").text, "mine") == 1
    manager = users.get_user(world.session, "manager@example.com")
    started = signin.do_start_session(world.session, manager, ip="testclient")
    browser.cookies.set(SESSION_COOKIE, started.session_id)  # the same app and cache
    page = browser.get("/inbox").text
    assert "Manager" in page and _count(page, "mine") == 0 and _count(page, "all") == 2


def test_sessions_of_another_database_share_the_marker(world: World) -> None:
    """The generation is process-wide: a write through any engine outdates the cache
    (an extra recount at most, never a stale count)."""
    before = live_counts.generation()
    engine = create_engine_for(str(world.settings.database_url))
    try:
        with session_factory(engine)() as session:
            case = get_case(session, world.critical_ref)
            do_assign(session, case.id, "manager@example.com", by="t")
    finally:
        engine.dispose()
    assert live_counts.generation() > before
