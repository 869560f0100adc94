"""The inbox: views, narrowing, order by next due time, counts, paging."""

from __future__ import annotations

import re
from datetime import timedelta

from sopdesk.actions.case_reads import get_case
from sopdesk.actions.cases import (
    CaseRequest,
    do_assign,
    do_change_status,
    do_open_case,
    do_open_request,
    do_reply,
)
from sopdesk.actions.delivery import record_delivery_failure
from sopdesk.web.ui import countdown
from tests.ui.conftest import ClientFor, World


def _refs(html: str) -> list[str]:
    return re.findall(r'<a href="/cases/(SD-\d+)">', html)


def _count(html: str, view: str) -> int:
    match = re.search(rf'data-view="{view}">[^<]*<span class="count"[^>]*>(\d+)<', html)
    assert match, view
    return int(match.group(1))


def test_views_and_counts(world: World, client_for: ClientFor) -> None:
    agent = client_for("agent")
    page = agent.get("/inbox").text
    assert _count(page, "all") == 2 and _count(page, "mine") == 0 and _count(page, "pending") == 0
    assert 'data-shortcuts="inbox"' in page and 'hx-trigger="every 30s"' in page
    case = get_case(world.session, world.case_ref)
    do_assign(world.session, case.id, "agent@example.com", by="t")
    do_change_status(world.session, case.id, "pending", by="t")
    page = agent.get("/inbox?view=mine").text
    assert _refs(page) == [world.case_ref]
    assert (
        _count(page, "mine") == 1
        and _count(page, "unassigned") == 1
        and _count(page, "pending") == 1
    )
    assert _refs(agent.get("/inbox?view=unassigned").text) == [world.critical_ref]
    counts = agent.get("/inbox/counts?view=pending").text
    assert counts.startswith('<ul class="views"') and _count(counts, "pending") == 1


def test_sorted_by_next_due_time_and_narrowed(world: World, client_for: ClientFor) -> None:
    agent = client_for("agent")
    refs = _refs(agent.get("/inbox").text)
    dues = [get_case(world.session, ref).next_due_at for ref in refs]
    assert dues == sorted(dues)  # earliest due first
    assert _refs(agent.get("/inbox?sop=critical-check").text) == [world.critical_ref]
    assert _refs(agent.get("/inbox?channel=email").text) == []
    assert _refs(agent.get("/inbox?q=balance").text) == [world.critical_ref]
    assert _refs(agent.get(f"/inbox?q={world.case_ref.lower()}").text) == [world.case_ref]
    assert agent.get("/inbox?view=nonsense").status_code == 422


def test_breached_and_due_soon(world: World, client_for: ClientFor) -> None:
    agent = client_for("agent")
    late = do_open_case(
        world.session,
        customer_email="late@example.com",
        subject="Old refund",
        sop_id="refunds",
        now=world.now - timedelta(days=30),
    )
    page = agent.get("/inbox?view=breached").text
    assert _refs(page) == [late.reference] and "Breached" in page and "overdue by" in page


def test_paging(world: World, client_for: ClientFor) -> None:
    from sopdesk.web.ui import inbox

    for number in range(inbox.PAGE_SIZE + 3):
        do_open_case(world.session, customer_email=f"c{number}@example.com", subject=f"Q {number}")
    agent = client_for("agent")
    first = agent.get("/inbox").text
    link = re.search(r'href="(/inbox\?[^"]*after=[^"]+)"', first)
    assert link and len(_refs(first)) == inbox.PAGE_SIZE
    second = agent.get(link.group(1).replace("&amp;", "&")).text
    assert len(_refs(second)) == 5 and not set(_refs(first)) & set(_refs(second))
    assert agent.get("/inbox?after=garbage").status_code == 422


def test_countdown_words(world: World) -> None:
    now = world.now
    assert countdown(now + timedelta(hours=3, minutes=20), now) == "in 3 h 20 min"
    assert countdown(now - timedelta(days=2, hours=4), now) == "overdue by 2 d 4 h"
    assert countdown(None, now) == "—"


def test_inbox_and_counts_on_both_backends(any_world: World, any_client_for: ClientFor) -> None:
    agent = any_client_for("agent")
    page = agent.get("/inbox?channel=api").text
    assert sorted(_refs(page)) == sorted([any_world.case_ref, any_world.critical_ref])
    assert _count(page, "all") == 2 and _count(page, "breached") == 0
    assert _count(agent.get("/inbox/counts?view=mine").text, "unassigned") == 2


def test_the_cases_in_triage_are_one_filter_away(world: World, client_for: ClientFor) -> None:
    request = CaseRequest(
        customer_email="walter@example.com", subject="Call me", body="Ring me.", start_sop=False
    )
    triage = str(do_open_request(world.session, request, now=world.now).reference)
    agent = client_for("agent")
    page = agent.get("/inbox?sop=(triage)").text
    assert _refs(page) == [triage] and "· in triage" in page
    assert '<option value="(triage)" selected>In triage (no SOP)</option>' in page
    assert triage in _refs(agent.get("/inbox").text)
    assert triage not in _refs(agent.get("/inbox?sop=critical-check").text)


def test_a_case_whose_last_mail_bounced_says_so_in_the_inbox(
    world: World, client_for: ClientFor
) -> None:
    agent = client_for("agent")
    case = get_case(world.session, world.case_ref)
    first = do_reply(world.session, case.id, author="Agent", text="First.", now=world.now)
    assert "Mail not delivered" not in agent.get("/inbox").text
    record_delivery_failure(world.session, first.id, "bounced: 5.1.1", world.now, via="bounce")
    world.session.commit()
    page = agent.get("/inbox").text
    row = next(r for r in page.split("<tr data-case-row>")[1:] if world.case_ref in r)
    assert "Mail not delivered" in row
    assert page.count("Mail not delivered") == 1  # the other case is not marked
    do_reply(world.session, case.id, author="Agent", text="Again.", now=world.now)
    assert "Mail not delivered" not in agent.get("/inbox").text  # a later mail went out
