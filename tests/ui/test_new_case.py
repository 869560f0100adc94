"""The agent's New case page: a phone call becomes a routed case with its SOP running,
and a refusal keeps everything the agent typed."""

from __future__ import annotations

from sqlalchemy import select

from sopdesk.store.tables import CaseRow, MessageRow
from tests.ui.conftest import ClientFor, World

CALL = {
    "email": "Nora@Example.com",
    "name": "Nora Batty",
    "channel": "phone",
    "subject": "Wants a refund for the kettle",
    "body": "Called at 10:05. The kettle leaks; she would like her money back.",
}


def _newest(world: World) -> CaseRow:
    world.session.expire_all()
    return world.session.scalars(select(CaseRow).order_by(CaseRow.id.desc())).first()


def test_the_inbox_offers_a_new_case_to_those_who_may_open_one(client_for: ClientFor) -> None:
    assert 'href="/cases/new"' in client_for("agent").get("/inbox").text


def test_a_phone_call_becomes_a_routed_case_with_its_sop_running(
    world: World, client_for: ClientFor
) -> None:
    agent = client_for("agent")
    form = agent.get("/cases/new")
    assert form.status_code == 200
    assert '<option value="phone" selected>' in form.text
    answer = agent.post_form("/cases/new", CALL)
    assert answer.status_code == 303
    case = _newest(world)
    assert answer.headers["location"] == f"/cases/{case.reference}?done=opened"
    assert case.channel == "phone"
    assert case.customer.email == "nora@example.com"
    assert case.customer.name == "Nora Batty"
    assert case.route["source"] == "rules"  # routed as an e-mail would be
    assert case.sop_id in {"refunds", "critical-check"}
    [first] = world.session.scalars(select(MessageRow).where(MessageRow.case_id == case.id))
    assert first.text == CALL["body"]
    page = agent.get(answer.headers["location"])
    assert "The case is open and its SOP has started." in page.text


def test_the_agent_may_choose_the_sop_and_the_priority(world: World, client_for: ClientFor) -> None:
    chosen = {**CALL, "subject": "Balance", "body": "Asked for her balance.", "priority": "high"}
    answer = client_for("agent").post_form("/cases/new", {**chosen, "sop": "critical-check"})
    assert answer.status_code == 303
    case = _newest(world)
    assert (case.sop_id, case.priority) == ("critical-check", "high")


def test_a_refusal_keeps_what_was_typed(world: World, client_for: ClientFor) -> None:
    agent = client_for("agent")
    before = _newest(world).id
    bad_email = agent.post_form("/cases/new", {**CALL, "email": "nora at example"})
    assert bad_email.status_code == 422
    assert "like name@example.com" in bad_email.text
    assert "The kettle leaks" in bad_email.text
    empty = agent.post_form("/cases/new", {**CALL, "subject": "", "body": ""})
    assert empty.status_code == 422
    assert "a case needs a subject or a message" in empty.text
    unpublished = agent.post_form("/cases/new", {**CALL, "sop": "no-such-sop"})
    assert unpublished.status_code == 422
    assert 'value="Nora Batty"' in unpublished.text
    machine = agent.post_form("/cases/new", {**CALL, "channel": "csv"})
    assert machine.status_code == 422
    assert _newest(world).id == before


def test_a_call_can_bring_the_photo_the_customer_sent_another_way(
    world: World, client_for: ClientFor
) -> None:
    from sopdesk.store.tables import AttachmentRow

    agent = client_for("agent")
    assert 'enctype="multipart/form-data"' in agent.get("/cases/new").text
    photo = b"\x89PNG\r\n\x1a\n" + bytes(64)
    opened = agent.post(
        "/cases/new",
        data={"csrf_token": agent.csrf, **CALL},
        files=[("files", ("kettle.png", photo, "image/png"))],
    )
    assert opened.status_code == 303, opened.text
    case = _newest(world)
    [first] = world.session.scalars(select(MessageRow).where(MessageRow.case_id == case.id))
    [row] = world.session.scalars(select(AttachmentRow).where(AttachmentRow.message_id == first.id))
    assert (row.filename, row.content) == ("kettle.png", photo)
    before = case.id
    six = [("files", (f"f{i}.png", photo, "image/png")) for i in range(6)]
    refused = agent.post("/cases/new", data={"csrf_token": agent.csrf, **CALL}, files=six)
    assert refused.status_code == 422 and "attach at most 5 files" in refused.text
    assert "Not sent: f0.png, f1.png, f2.png, f3.png, f4.png, f5.png. Choose them again" in (
        refused.text
    )
    one = [("files", ("kettle.png", photo, "image/png"))]
    bad_email = {"csrf_token": agent.csrf, **CALL, "email": "nora at example"}
    early = agent.post("/cases/new", data=bad_email, files=one)
    assert early.status_code == 422 and "Not sent: kettle.png. Choose it again" in early.text
    assert _newest(world).id == before
    assert "Not sent" not in agent.get("/cases/new").text
