"""Settings → groups: who escalations reach, which SOPs name each group, and the forms."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from sopdesk.actions import groups, users
from sopdesk.actions.sop_files import do_load_library
from tests.ui.conftest import ClientFor, World


@pytest.fixture
def library(world: World) -> Session:
    """The built-in SOPs published: returns-and-refunds escalates to support-lead."""
    do_load_library(world.session)
    return world.session


def panel(page: str, name: str) -> str:
    """The HTML of one group's panel."""
    return page.split(f'id="group-{name}-title"', 1)[1].split("</section>", 1)[0]


def test_owner_creates_edits_and_deletes_a_group(
    world: World, library: Session, client_for: ClientFor
) -> None:
    owner = client_for("owner")
    before = owner.get("/settings/groups").text
    missing = before.split("Named by SOPs, but no group yet", 1)[1].split("</section>", 1)[0]
    assert "<code>support-lead</code>" in missing and "no one will be notified" in missing
    assert 'href="/sops/returns-and-refunds"' in missing

    data = {"name": "support-lead", "description": "Leads", "tier": "3", "email": ""}
    assert owner.post_form("/settings/groups", data).status_code == 303
    page = owner.get("/settings/groups?done=created").text
    assert "The group is created." in page
    lead = panel(page, "support-lead")
    assert "tier 3" in lead and 'href="/sops/returns-and-refunds"' in lead
    assert "no one will be notified" in lead  # no members, no mailbox, no role address
    missing = page.split("Named by SOPs, but no group yet", 1)[1].split("</section>", 1)[0]
    assert "<code>support-lead</code>" not in missing

    edit = {
        "new_name": "support-lead",
        "description": "Leads",
        "tier": "",
        "email": "L@Shop.example",
    }
    assert owner.post_form("/settings/groups/support-lead", edit).status_code == 303
    group = groups.get_group(world.session, "support-lead")
    assert (group.tier, group.email) == (None, "l@shop.example")
    assert "the shared mailbox l@shop.example" in panel(
        owner.get("/settings/groups").text, "support-lead"
    )

    assert owner.post_form("/settings/groups/support-lead/delete").status_code == 303
    assert groups.list_groups(world.session) == []


def test_invalid_and_duplicate_groups_are_refused(world: World, client_for: ClientFor) -> None:
    owner = client_for("owner")
    bad = owner.post_form("/settings/groups", {"name": "Support Lead", "tier": "2"})
    assert bad.status_code == 422 and "is not a group name" in bad.text
    assert 'value="Support Lead"' in bad.text and 'role="alert"' in bad.text
    assert owner.post_form("/settings/groups", {"name": "lead", "tier": "12"}).status_code == 422
    assert owner.post_form("/settings/groups", {"name": "lead", "email": "nope"}).status_code == 422
    assert owner.post_form("/settings/groups", {"name": "lead"}).status_code == 303
    again = owner.post_form("/settings/groups", {"name": "lead"})
    assert again.status_code == 422 and "already a group named lead" in again.text
    taken = owner.post_form("/settings/groups", {"name": "other"})
    assert taken.status_code == 303
    rename = owner.post_form("/settings/groups/other", {"new_name": "lead"})
    assert rename.status_code == 422
    assert [g.name for g in groups.list_groups(world.session)] == ["lead", "other"]


def test_members_are_added_and_removed(world: World, client_for: ClientFor) -> None:
    owner = client_for("owner")
    groups.do_create_group(world.session, "support-lead")
    page = owner.get("/settings/groups").text
    assert '<label for="group-support-lead-add">' in page
    added = owner.post_form("/settings/groups/support-lead/members", {"email": "agent@example.com"})
    assert added.status_code == 303
    page = owner.get("/settings/groups").text
    lead = panel(page, "support-lead")
    assert "agent@example.com" in lead and "each active member" in lead
    assert 'aria-label="Remove agent@example.com from support-lead"' in lead
    users.do_set_active(world.session, "agent@example.com", False)
    lead = panel(owner.get("/settings/groups").text, "support-lead")
    assert "disabled, not notified" in lead and "no one will be notified" in lead
    removed = owner.post_form(
        "/settings/groups/support-lead/members/remove", {"email": "agent@example.com"}
    )
    assert removed.status_code == 303
    assert groups.get_group(world.session, "support-lead").members == ()
    gone = owner.post_form(
        "/settings/groups/support-lead/members/remove", {"email": "agent@example.com"}
    )
    assert gone.status_code == 404


def test_managers_see_groups_but_cannot_change_them(world: World, client_for: ClientFor) -> None:
    groups.do_create_group(world.session, "support-lead", tier=2)
    manager = client_for("manager")
    page = manager.get("/settings/groups")
    assert page.status_code == 200 and "tier 2" in page.text
    assert "Create a group" not in page.text and "<form" not in page.text.split("<main", 1)[1]
    assert manager.post_form("/settings/groups", {"name": "x"}).status_code == 403
    assert client_for("agent").get("/settings/groups").status_code == 403


def test_groups_page_on_both_backends(any_world: World, any_client_for: ClientFor) -> None:
    do_load_library(any_world.session)
    owner = any_client_for("owner")
    assert (
        owner.post_form("/settings/groups", {"name": "support-manager", "tier": "4"}).status_code
        == 303
    )
    owner.post_form("/settings/groups/support-manager/members", {"email": "manager@example.com"})
    page = owner.get("/settings/groups").text
    manager_panel = panel(page, "support-manager")
    assert "manager@example.com" in manager_panel and "tier 4" in manager_panel
    assert 'href="/sops/escalation-matrix"' in manager_panel
    assert 'href="/settings/groups" aria-current="page"' in page
