"""The SOP pages: library, new from a template, editor with lint, review, publish, diff."""

from __future__ import annotations

from sopdesk.actions import sops
from tests.conftest import sop_text
from tests.ui.conftest import ClientFor, World


def test_library_shows_owner_status_score_and_review(world: World, client_for: ClientFor) -> None:
    page = client_for("agent").get("/").text
    assert '<a href="/sops/refunds">Handling refunds</a>' in page
    assert "support-lead" in page and 'title="quality score out of 100"' in page
    assert "New SOP from a template" not in page  # agents do not edit
    assert "New SOP from a template" in client_for("manager").get("/").text


def test_new_sop_from_a_template(world: World, client_for: ClientFor) -> None:
    manager = client_for("manager")
    form = manager.get("/sops/new").text
    assert 'value="returns-and-refunds"' in form
    data = {"template": "returns-and-refunds", "sop_id": "shop-returns", "title": "Shop returns"}
    answer = manager.post_form("/sops/new", data)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sops/shop-returns/edit?saved=created"
    row = sops.get_version(world.session, "shop-returns")
    assert (
        row.status == "draft"
        and row.title == "Shop returns"
        and row.author == "manager@example.com"
    )
    again = manager.post_form("/sops/new", data)
    assert again.status_code == 422 and "already" in again.text
    bad = manager.post_form("/sops/new", {**data, "sop_id": "Bad Id"})
    assert bad.status_code == 422 and "is not an SOP id" in bad.text


def test_editor_lints_saves_and_submits(world: World, client_for: ClientFor) -> None:
    manager = client_for("manager")
    page = manager.get("/sops/refunds/edit").text
    assert "You are editing version 2 (draft)" in page and "quality score" in page
    assert (
        'hx-post="/sops/refunds/lint"' in page and 'hx-trigger="input changed delay:700ms"' in page
    )
    vague = sop_text(purpose="Refund ASAP.")
    htmx = {"HX-Request": "true"}
    lint = manager.post_form("/sops/refunds/lint", {"text": vague}, headers=htmx).text
    assert "SOP106" in lint and "<html" not in lint
    without_js = manager.post_form("/sops/refunds/lint", {"text": vague}).text
    assert "<h1>Edit Handling refunds</h1>" in without_js and "SOP106" in without_js
    assert "Refund ASAP." in without_js  # the text as typed, not saved
    broken = manager.post_form("/sops/refunds/lint", {"text": "no front matter"}, headers=htmx).text
    assert "SOP001" in broken and ">0<" in broken
    saved = manager.post_form(
        "/sops/refunds/edit", {"text": vague, "note": "vaguer", "action": "save"}
    )
    assert saved.status_code == 303
    assert sops.get_version(world.session, "refunds", 2).source == vague
    submitted = manager.post_form("/sops/refunds/edit", {"text": vague, "action": "submit"})
    assert submitted.headers["location"].endswith("saved=submitted")
    world.session.expire_all()
    assert sops.get_version(world.session, "refunds", 2).status == "in_review"


def test_editor_refuses_a_changed_id_on_the_page(world: World, client_for: ClientFor) -> None:
    answer = client_for("manager").post_form(
        "/sops/refunds/edit", {"text": sop_text("other"), "action": "save"}
    )
    assert answer.status_code == 422
    assert "but it was given for SOP" in answer.text
    assert "other" in answer.text  # the typed text is kept


def test_publish_records_the_approver(world: World, client_for: ClientFor) -> None:
    manager = client_for("manager")
    sops.do_submit_for_review(world.session, "refunds", actor="cy")
    versions = manager.get("/sops/refunds/versions").text
    assert "Version 2 is in review" in versions and "publish-button" in versions
    answer = manager.post_form(
        "/sops/refunds/publish", {"version": "2", "note": "ok", "material": "no"}
    )
    assert answer.status_code == 303
    world.session.expire_all()
    row = sops.get_version(world.session, "refunds", 2)
    assert (row.status, row.approved_by, row.material) == (
        "published",
        "manager@example.com",
        False,
    )
    again = manager.post_form("/sops/refunds/publish", {"version": "2"})
    assert again.status_code == 409
    agent = client_for("agent").post_form("/sops/refunds/publish", {"version": "1"})
    assert agent.status_code == 403


def test_diff_between_versions(world: World, client_for: ClientFor) -> None:
    page = client_for("agent").get("/sops/refunds/diff?a=1&b=2").text
    assert "What changed: v1 → v2" in page
    assert "24 business hours → 12 business hours" in page
    assert '<span class="add">' in page and '<span class="del">' in page
    same = client_for("agent").get("/sops/refunds/diff?a=1&b=1").text
    assert "exactly the same text" in same
    assert client_for("agent").get("/sops/refunds/diff?a=1&b=9").status_code == 404


def test_acknowledge_the_version_in_force(world: World, client_for: ClientFor) -> None:
    agent, manager = client_for("agent"), client_for("manager")
    bar = agent.get("/sops/refunds").text  # the rendered page allows no form (its own CSP)
    assert '<a class="sd-ack" href="/sops/refunds/versions#read-title">' in bar
    assert 'id="acknowledge-button"' in agent.get("/sops/refunds/versions").text
    assert "0 of 3 people have read" in agent.get("/sops/refunds/versions").text
    draft = agent.post_form("/sops/refunds/acknowledge", {"version": "2"})
    assert draft.status_code == 409 and "not the version in force" in draft.text
    answer = agent.post_form("/sops/refunds/acknowledge", {"version": "1"})
    assert answer.status_code == 303
    page = agent.get(answer.headers["location"]).text
    assert "you have read the version in force" in page and "You have read it" in page
    assert "1 of 3 people have read" in page and "Not read yet" not in page  # agents: count only
    assert "✓ You have read this version" in agent.get("/sops/refunds").text
    listing = manager.get("/sops/refunds/versions").text
    not_read = listing.split("Not read yet", 1)[1].split("<h3>Read</h3>", 1)
    assert "manager@example.com" in not_read[0] and "owner@example.com" in not_read[0]
    assert "Agent" in not_read[1] and "agent@example.com" not in not_read[0]
