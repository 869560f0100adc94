"""The SOP version actions on SQLite and PostgreSQL: numbering, workflow, immutability."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sopdesk.actions import sops
from sopdesk.errors import Conflict, InvalidInput, NotFound
from sopdesk.store.tables import SopEvent, SopVersion
from tests.conftest import sop_text

V2 = sop_text(within="12 business hours")
V3 = sop_text(title="Handling refunds well")


def _publish_v1(session: Session, now: datetime) -> None:
    sops.do_create_draft(session, sop_text(), "ann", "first cut", now=now)
    sops.do_publish(session, "refunds", approver="bob", note="ok", now=now)


def test_first_draft_creates_the_sop_at_version_1(session: Session, now: datetime) -> None:
    row = sops.do_create_draft(session, sop_text(), "ann", "first cut", now=now)
    assert (row.sop_id, row.version, row.status, row.author) == ("refunds", 1, "draft", "ann")
    assert row.source == sop_text() and row.parses and row.note == "first cut"
    sop = sops.get_sop(session, "refunds")
    assert (sop.title, sop.owner, sop.status) == ("Handling refunds", "support-lead", "draft")
    assert (sop.latest_version, sop.published_version) == (1, None)
    assert sop.created_at == now


def test_versions_are_numbered_one_by_one(session: Session, now: datetime) -> None:
    _publish_v1(session, now)
    for number, text in enumerate([V2, V3, sop_text(purpose="Why we refund.")], start=2):
        row = sops.do_create_draft(session, text, "ann", now=now)
        assert row.version == number
        sops.do_publish(session, "refunds", approver="bob", now=now)
    assert [v.version for v in sops.list_versions(session, "refunds")] == [1, 2, 3, 4]
    assert [v.status for v in sops.list_versions(session, "refunds")] == [
        "retired", "retired", "retired", "published",
    ]  # fmt: skip


def test_only_one_open_version_at_a_time(session: Session, now: datetime) -> None:
    _publish_v1(session, now)
    sops.do_create_draft(session, V2, "ann", now=now)
    with pytest.raises(Conflict, match="already has version 2 open") as info:
        sops.do_create_draft(session, V3, "cy", now=now)
    assert "edit that version" in (info.value.hint or "")


def test_a_draft_identical_to_the_latest_version_is_refused(
    session: Session, now: datetime
) -> None:
    _publish_v1(session, now)
    with pytest.raises(Conflict, match="already has exactly this text"):
        sops.do_create_draft(session, sop_text(), "ann", now=now)


def test_submit_then_publish_records_who_and_when(session: Session, now: datetime) -> None:
    sops.do_create_draft(session, sop_text(), "ann", now=now)
    later = now + timedelta(hours=2)
    row = sops.do_submit_for_review(session, "refunds", actor="ann", now=now)
    assert (row.status, row.submitted_at) == ("in_review", now)
    assert sops.get_sop(session, "refunds").status == "in_review"
    row = sops.do_publish(session, "refunds", approver="bob", note="fine", now=later)
    assert (row.status, row.published_at, row.approved_by) == ("published", later, "bob")
    assert (row.approval_note, row.material) == ("fine", True)
    assert (row.review_cadence, row.review_due) == ("quarterly", date(2026, 6, 2))
    events = [
        (e.action, e.actor, e.data.get("reviewed")) for e in sops.list_events(session, "refunds")
    ]
    assert events == [
        ("created", "ann", None),
        ("submitted", "ann", None),
        ("published", "bob", True),
    ]


def test_a_draft_may_be_published_without_review(session: Session, now: datetime) -> None:
    sops.do_create_draft(session, sop_text(), "ann", now=now)
    row = sops.do_publish(session, "refunds", approver="ann", material=False, now=now)
    assert (row.status, row.material) == ("published", False)
    published = sops.list_events(session, "refunds")[-1]
    assert (published.action, published.data["reviewed"]) == ("published", False)


def test_publishing_supersedes_the_version_in_force(session: Session, now: datetime) -> None:
    _publish_v1(session, now)
    sops.do_create_draft(session, V2, "ann", now=now)
    later = now + timedelta(days=1)
    sops.do_publish(session, "refunds", approver="bob", now=later)
    v1, v2 = sops.list_versions(session, "refunds")
    assert (v1.status, v1.retired_at, v2.status) == ("retired", later, "published")
    sop = sops.get_sop(session, "refunds")
    assert (sop.published_version, sop.latest_version, sop.status) == (2, 2, "published")
    assert sops.get_version(session, "refunds").version == 2
    actions = [(e.version, e.action) for e in sops.list_events(session, "refunds")]
    assert actions[-2:] == [(1, "superseded"), (2, "published")]


@pytest.mark.parametrize(
    ("setup", "call", "message"),
    [
        ("published", "publish", "is published; it cannot become published"),
        ("published", "submit", "is published; it cannot become in_review"),
        ("retired", "publish", "is retired; it cannot become published"),
        ("retired", "submit", "is retired; it cannot become in_review"),
        ("retired", "retire", "is retired; it cannot become retired"),
        ("in_review", "submit", "is in_review; it cannot become in_review"),
    ],
)
def test_illegal_transitions_raise_conflict_with_a_hint(
    session: Session, now: datetime, setup: str, call: str, message: str
) -> None:
    sops.do_create_draft(session, sop_text(), "ann", now=now)
    if setup == "in_review":
        sops.do_submit_for_review(session, "refunds", actor="ann", now=now)
    if setup in {"published", "retired"}:
        sops.do_publish(session, "refunds", approver="bob", now=now)
    if setup == "retired":
        sops.do_retire(session, "refunds", actor="bob", now=now)
    actions = {
        "publish": lambda: sops.do_publish(session, "refunds", 1, approver="bob", now=now),
        "submit": lambda: sops.do_submit_for_review(session, "refunds", 1, actor="a", now=now),
        "retire": lambda: sops.do_retire(session, "refunds", 1, actor="bob", now=now),
    }
    with pytest.raises(Conflict, match=message) as info:
        actions[call]()
    assert info.value.hint
    assert sops.get_version(session, "refunds", 1).status == setup


def test_published_text_is_immutable(session: Session, now: datetime) -> None:
    _publish_v1(session, now)
    with pytest.raises(Conflict, match="is published; its text cannot change") as info:
        sops.do_update_draft(session, "refunds", 1, V2, "mallory", now=now)
    assert "new draft" in (info.value.hint or "")
    session.expire_all()
    row = sops.get_version(session, "refunds", 1)
    assert row.source == sop_text() and row.author == "ann"


def test_editing_a_version_in_review_returns_it_to_draft(session: Session, now: datetime) -> None:
    sops.do_create_draft(session, sop_text(), "ann", now=now)
    sops.do_submit_for_review(session, "refunds", actor="ann", now=now)
    row = sops.do_update_draft(session, "refunds", 1, V2, "cy", "tighter limit", now=now)
    assert (row.status, row.submitted_at, row.source, row.author) == ("draft", None, V2, "cy")
    assert row.note == "tighter limit"
    edited = sops.list_events(session, "refunds")[-1]
    assert (edited.action, edited.data) == ("edited", {"returned_to_draft": True})


def test_unparseable_work_in_progress_is_kept_but_cannot_advance(
    session: Session, now: datetime
) -> None:
    _publish_v1(session, now)
    broken = sop_text().replace("review: quarterly", "review: whenever")
    row = sops.do_create_draft(session, broken, "ann", sop_id="refunds", now=now)
    assert (row.version, row.parses, row.title) == (2, False, None)
    for attempt in (
        lambda: sops.do_submit_for_review(session, "refunds", actor="ann", now=now),
        lambda: sops.do_publish(session, "refunds", approver="bob", now=now),
    ):
        with pytest.raises(InvalidInput, match="version 2 does not parse") as info:
            attempt()
        assert "SOP006" in info.value.message
        assert info.value.data["findings"][0]["code"] == "SOP006"
    assert sops.get_sop(session, "refunds").title == "Handling refunds"


def test_a_new_sop_needs_text_that_parses(session: Session, now: datetime) -> None:
    with pytest.raises(InvalidInput, match="its SOP id is unknown"):
        sops.do_create_draft(session, "no front matter", "ann", now=now)
    with pytest.raises(InvalidInput, match="a new SOP \\(fresh\\) needs text that parses"):
        sops.do_create_draft(session, "no front matter", "ann", sop_id="fresh", now=now)
    assert sops.list_sops(session) == []


def test_the_id_of_an_sop_cannot_change(session: Session, now: datetime) -> None:
    sops.do_create_draft(session, sop_text(), "ann", now=now)
    with pytest.raises(InvalidInput, match="says id 'other'"):
        sops.do_update_draft(session, "refunds", 1, sop_text("other"), "ann", now=now)
    with pytest.raises(InvalidInput, match="says id 'other'"):
        sops.do_create_draft(session, sop_text("other"), "ann", sop_id="refunds", now=now)


def test_names_are_required(session: Session, now: datetime) -> None:
    with pytest.raises(InvalidInput, match="the author is required"):
        sops.do_create_draft(session, sop_text(), "  ", now=now)
    sops.do_create_draft(session, sop_text(), "ann", now=now)
    with pytest.raises(InvalidInput, match="the approver is required"):
        sops.do_publish(session, "refunds", approver="", now=now)


def test_retiring_an_sop_retires_its_live_versions(session: Session, now: datetime) -> None:
    _publish_v1(session, now)
    sops.do_create_draft(session, V2, "ann", now=now)
    retired = sops.do_retire(session, "refunds", actor="bob", note="no longer offered", now=now)
    assert [(r.version, r.status) for r in retired] == [(1, "retired"), (2, "retired")]
    sop = sops.get_sop(session, "refunds")
    assert (sop.status, sop.published_version) == ("retired", None)
    actions = [e.action for e in sops.list_events(session, "refunds")][-2:]
    assert actions == ["retired", "withdrawn"]
    with pytest.raises(Conflict, match="already retired"):
        sops.do_retire(session, "refunds", actor="bob", now=now)
    revived = sops.do_create_draft(session, V3, "ann", now=now)
    assert (revived.version, sops.get_sop(session, "refunds").status) == (3, "draft")


def test_withdrawing_a_draft_keeps_the_version_in_force(session: Session, now: datetime) -> None:
    _publish_v1(session, now)
    sops.do_create_draft(session, V2, "ann", now=now)
    sops.do_retire(session, "refunds", 2, actor="ann", now=now)
    sop = sops.get_sop(session, "refunds")
    assert (sop.status, sop.published_version, sop.latest_version) == ("published", 1, 2)


def test_a_failed_action_writes_nothing(session: Session, now: datetime) -> None:
    _publish_v1(session, now)
    count = session.scalar(select(func.count()).select_from(SopEvent))
    with pytest.raises(Conflict):
        sops.do_publish(session, "refunds", 1, approver="bob", now=now)
    assert session.scalar(select(func.count()).select_from(SopEvent)) == count
    assert session.scalar(select(func.count()).select_from(SopVersion)) == 1


def test_reads_say_what_is_missing(session: Session, now: datetime) -> None:
    with pytest.raises(NotFound, match="no SOP with id 'nope'"):
        sops.get_sop(session, "nope")
    _publish_v1(session, now)
    with pytest.raises(NotFound, match="has no version 7") as info:
        sops.get_version(session, "refunds", 7)
    assert info.value.hint == "its versions are 1 to 1"
    with pytest.raises(Conflict, match="no draft or version in review"):
        sops.do_publish(session, "refunds", approver="bob", now=now)


def test_due_reviews_lists_overdue_published_versions(session: Session, now: datetime) -> None:
    _publish_v1(session, now)  # quarterly: due 2 June 2026
    sops.do_create_draft(session, sop_text("monthly", review="monthly"), "ann", now=now)
    sops.do_publish(session, "monthly", approver="bob", now=now)  # due 2 April 2026
    sops.do_create_draft(session, sop_text("unpublished", review="weekly"), "ann", now=now)
    assert sops.due_reviews(session, date(2026, 4, 1)) == []
    due = sops.due_reviews(session, date(2026, 6, 2))
    assert [(d.sop_id, d.review_due, d.days_overdue) for d in due] == [
        ("monthly", date(2026, 4, 2), 61),
        ("refunds", date(2026, 6, 2), 0),
    ]
    assert due[0].as_dict()["review_due"] == "2026-04-02"


def test_marking_reviewed_moves_the_next_review(session: Session, now: datetime) -> None:
    _publish_v1(session, now)
    later = datetime(2026, 6, 10, 12, 0, tzinfo=now.tzinfo)
    row = sops.do_mark_reviewed(session, "refunds", reviewer="bob", now=later)
    assert (row.reviewed_at, row.review_due) == (later, date(2026, 9, 10))
    assert sops.due_reviews(session, date(2026, 6, 10)) == []
    assert sops.list_events(session, "refunds")[-1].action == "reviewed"


def test_library_rows_show_the_version_in_force_and_the_open_one(
    session: Session, now: datetime
) -> None:
    _publish_v1(session, now)
    sops.do_create_draft(session, V2, "ann", now=now)
    sops.do_create_draft(session, sop_text("apples", title="Apples first"), "ann", now=now)
    rows = sops.list_library(session)
    assert [
        (r.id, r.status, r.published_version, r.latest_version, r.latest_status) for r in rows
    ] == [
        ("apples", "draft", None, 1, "draft"),
        ("refunds", "published", 1, 2, "draft"),
    ]
    assert rows[1].review_due == date(2026, 6, 2)
    assert rows[1].as_dict()["review_due"] == "2026-06-02"
