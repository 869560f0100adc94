"""Who an escalation reaches: a group's shared mailbox, else its active members, else
`SOPDESK_ROLE_ADDRESSES`; and `assign:` naming a group puts the case in that group.

The returns SOP warns `support-lead` at 75% of check-eligibility (13:00 on Monday) and,
at the breach (14:00), notifies `support-lead` again and assigns `support-manager`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from sopdesk.actions import groups, users
from sopdesk.actions.case_reads import get_case
from sopdesk.settings import Settings
from tests.cases.conftest import LEAD, MONDAY, fire_due, outbox, start_return

ANN, BO = "ann@shop.example", "bo@shop.example"


def hours(n: float) -> datetime:
    return MONDAY + timedelta(hours=n)


def person(session: Session, address: str, name: str) -> None:
    users.do_create_user(session, address, role="agent", password=None, name=name)


def notices(session: Session, case_id: int, role: str) -> dict[str, str]:
    """Notice key suffix after `:notify:` → the address it goes to."""
    found = {}
    for row in outbox(session, case_id):
        head, sep, tail = row.key.partition(":notify:")
        if sep and tail.startswith(role):
            assert row.key.startswith(head) and len(row.payload["to"]) == 1
            found[tail] = row.payload["to"][0]["address"]
    return found


@pytest.fixture
def leads(library: Session) -> Session:
    """`support-lead` with two members, Ann and Bo."""
    person(library, ANN, "Ann")
    person(library, BO, "Bo")
    groups.do_create_group(library, "support-lead", tier=3)
    groups.do_add_member(library, "support-lead", ANN)
    groups.do_add_member(library, "support-lead", BO)
    return library


def test_a_group_with_two_members_notifies_both(leads: Session, settings: Settings) -> None:
    case_id = start_return(leads, settings)
    fire_due(leads, hours(3), settings)
    assert notices(leads, case_id, "support-lead") == {
        f"support-lead:{ANN}": ANN,
        f"support-lead:{BO}": BO,
    }
    # the breach notifies both again (level 2), and nobody at the environment's address
    fire_due(leads, hours(4), settings)
    sent = [r.payload["to"][0]["address"] for r in outbox(leads, case_id) if ":notify:" in r.key]
    assert sorted(sent) == [ANN, ANN, BO, BO]


def test_a_shared_mailbox_gets_one_notice(leads: Session, settings: Settings) -> None:
    groups.do_update_group(leads, "support-lead", email="Leads@Shop.example")
    case_id = start_return(leads, settings)
    fire_due(leads, hours(3), settings)
    assert notices(leads, case_id, "support-lead") == {"support-lead": "leads@shop.example"}


def test_disabled_members_are_left_out(leads: Session, settings: Settings) -> None:
    users.do_set_active(leads, BO, False)
    case_id = start_return(leads, settings)
    fire_due(leads, hours(3), settings)
    assert notices(leads, case_id, "support-lead") == {f"support-lead:{ANN}": ANN}


def test_without_a_group_the_role_address_is_used(library: Session, settings: Settings) -> None:
    case_id = start_return(library, settings)
    fire_due(library, hours(3), settings)
    assert notices(library, case_id, "support-lead") == {"support-lead": LEAD}


def test_an_empty_group_falls_back_to_the_role_address(
    library: Session, settings: Settings
) -> None:
    groups.do_create_group(library, "support-lead")
    case_id = start_return(library, settings)
    fire_due(library, hours(3), settings)
    assert notices(library, case_id, "support-lead") == {"support-lead": LEAD}


def test_nobody_is_told_when_nothing_names_an_address(library: Session) -> None:
    bare = Settings(support_address="support@shop.example", secret_key="test-secret")
    case_id = start_return(library, bare)
    fire_due(library, hours(3), bare)
    assert notices(library, case_id, "support-lead") == {}


def test_assign_to_a_group_sets_the_case_group(leads: Session, settings: Settings) -> None:
    groups.do_create_group(leads, "support-manager", tier=4)
    case_id = start_return(leads, settings)
    fire_due(leads, hours(4), settings)
    case = get_case(leads, case_id)
    assert (case.group_name, case.priority) == ("support-manager", "high")


def test_assign_to_a_role_without_a_group_leaves_the_case_group(
    library: Session, settings: Settings
) -> None:
    case_id = start_return(library, settings)
    fire_due(library, hours(4), settings)
    case = get_case(library, case_id)
    assert case.group_name is None and case.assignee == "support-manager"


@pytest.fixture
def group_queries(leads: Session) -> Iterator[list[str]]:
    """Every statement that reads the groups table while the fixture is in use."""
    seen: list[str] = []
    bind = leads.get_bind()

    def record(*args: Any) -> None:
        statement = str(args[2])
        if "FROM groups" in statement:
            seen.append(statement)

    event.listen(bind, "before_cursor_execute", record)
    yield seen
    event.remove(bind, "before_cursor_execute", record)


def test_one_group_query_per_escalation(
    leads: Session, settings: Settings, group_queries: list[str]
) -> None:
    groups.do_create_group(leads, "support-manager")
    case_id = start_return(leads, settings)
    group_queries.clear()
    fire_due(leads, hours(3), settings)  # the warning: notify support-lead
    assert len(group_queries) == 1
    fire_due(leads, hours(4), settings)  # the breach: notify support-lead, assign manager
    assert len(group_queries) == 2
    assert get_case(leads, case_id).group_name == "support-manager"
