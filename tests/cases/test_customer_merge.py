"""Customers with more than one address, and merging two customers who are one person,
on SQLite and PostgreSQL: everything moves to the kept customer, mail from either
address finds them, purchases and sequences are not counted or sent twice, and links
sent to the merged customer still work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sopdesk.actions import sops
from sopdesk.actions.customer_addresses import do_add_address, do_remove_address, other_addresses
from sopdesk.actions.customer_changes import CustomerChange, do_update_customer
from sopdesk.actions.customer_merge import do_merge_customers, merged_details
from sopdesk.actions.customers import customer_by_key, find_customer
from sopdesk.actions.intake import do_receive_email
from sopdesk.actions.sequences import do_add_customer, do_count_purchase
from sopdesk.actions.surveys import customer_for_link, do_review_clicked
from sopdesk.actions.unsubscribe import do_unsubscribe
from sopdesk.errors import Conflict, InvalidInput, NotFound
from sopdesk.settings import Settings
from sopdesk.store.tables import (
    CaseEventRow,
    CaseRow,
    CustomerRow,
    OutboxRow,
    SurveyResponseRow,
    TimerRow,
)
from tests.cases.conftest import MONDAY, email, fire_due
from tests.cases.test_timers_end_to_end import WELCOME_SERIES

WORK, HOME = "ann@work.example", "ann@home.example"


def _arrives(session: Session, settings: Settings, sender: str, subject: str, n: int) -> int:
    raw = email(subject, "Please help.", sender=f"Ann Lee <{sender}>", message_id=f"<m{n}@x>")
    result = do_receive_email(
        session, raw, received_at=MONDAY + timedelta(hours=n), settings=settings
    )
    assert result.case_id is not None
    return result.case_id


def _customers(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CustomerRow)) or 0


def _two_anns(session: Session, settings: Settings) -> tuple[CustomerRow, CustomerRow]:
    """Ann wrote from work and from home: two customers, each with a case."""
    _arrives(session, settings, WORK, "I want to return my shoes", 1)
    _arrives(session, settings, HOME, "Complaint about the delivery", 2)
    return customer_by_key(session, WORK), customer_by_key(session, HOME)


def test_merging_moves_every_case_and_event_and_mail_finds_the_kept_customer(
    library: Session, settings: Settings
) -> None:
    work, home = _two_anns(library, settings)
    work_id, home_id = work.id, home.id
    home_cases = set(library.scalars(select(CaseRow.id).where(CaseRow.customer_id == home_id)))
    merged = do_merge_customers(library, WORK, HOME, by="lead@shop.example", now=MONDAY)
    assert (merged.customer.id, merged.merged_id, merged.merged_email) == (
        work_id,
        home_id,
        HOME,
    )
    assert merged.cases == len(home_cases) == 1
    library.expire_all()
    assert library.get(CustomerRow, home_id) is None
    for table in (CaseRow, CaseEventRow, OutboxRow, TimerRow):
        left = select(func.count()).select_from(table).where(table.customer_id == home_id)
        assert library.scalar(left) == 0, table.__tablename__
    moved = set(library.scalars(select(CaseRow.id).where(CaseRow.customer_id == work_id)))
    assert home_cases < moved
    assert [row.address for row in other_addresses(library, work_id)] == [HOME]
    # the next e-mail from home is Ann's: no new customer
    before = _customers(library)
    case_id = _arrives(library, settings, HOME, "Another question about my order", 3)
    assert library.get(CaseRow, case_id).customer_id == work_id  # type: ignore[union-attr]
    assert _customers(library) == before
    assert customer_by_key(library, HOME).id == work_id
    assert customer_by_key(library, "ANN@home.example").id == work_id
    [logged] = library.scalars(select(CaseEventRow).where(CaseEventRow.kind == "customer.merged"))
    assert (logged.customer_id, logged.actor) == (work_id, "lead@shop.example")
    assert logged.data["merged"] == {"id": home_id, "email": HOME, "name": "Ann Lee"}
    assert logged.data["cases"] == 1


def test_links_sent_to_the_merged_customer_lead_to_the_kept_one(
    library: Session, settings: Settings
) -> None:
    work, home = _two_anns(library, settings)
    work_id, home_id = work.id, home.id
    do_merge_customers(library, work_id, home_id, by="lead", now=MONDAY)
    assert customer_for_link(library, {"customer": home_id, "sop": "x"}) == work_id
    do_review_clicked(library, customer_id=home_id, now=MONDAY)
    clicked = library.scalars(select(CaseEventRow).where(CaseEventRow.kind == "review.clicked"))
    assert [row.customer_id for row in clicked] == [work_id]
    with pytest.raises(NotFound):
        customer_for_link(library, {"customer": 99_999})


def test_a_chain_of_merges_keeps_every_address_and_link(
    library: Session, settings: Settings
) -> None:
    work, home = _two_anns(library, settings)
    work_id, home_id = work.id, home.id
    _arrives(library, settings, "ann@phone.example", "Where is my refund?", 3)
    phone_id = customer_by_key(library, "ann@phone.example").id
    do_merge_customers(library, work_id, home_id, by="lead", now=MONDAY)
    do_merge_customers(library, phone_id, work_id, by="lead", now=MONDAY)
    for address in (WORK, HOME, "ann@phone.example"):
        assert customer_by_key(library, address).id == phone_id, address
    assert {row.address for row in other_addresses(library, phone_id)} == {WORK, HOME}
    assert customer_for_link(library, {"customer": home_id}) == phone_id
    assert library.scalar(select(func.count()).select_from(CaseRow)) == 3
    assert set(library.scalars(select(CaseRow.customer_id))) == {phone_id}


def test_a_purchase_both_counted_counts_once(library: Session, settings: Settings) -> None:
    kept = do_add_customer(library, email=WORK, name="Ann", now=MONDAY, settings=settings)
    gone = do_add_customer(library, email=HOME, name="Ann", now=MONDAY, settings=settings)
    for who, purchase in ((WORK, "A"), (WORK, "B"), (HOME, "A"), (HOME, "C")):
        do_count_purchase(library, who, purchase_id=purchase, now=MONDAY, settings=settings)
    merged = do_merge_customers(library, kept.customer.id, gone.customer.id, by="x", now=MONDAY)
    assert merged.customer.purchases == 3  # A, B and C
    assert "purchases" in merged.changed
    again = do_count_purchase(library, WORK, purchase_id="C", now=MONDAY, settings=settings)
    assert not again.counted  # counted for home before the merge: counted for Ann
    assert do_count_purchase(library, HOME, purchase_id="D", now=MONDAY, settings=settings).counted
    assert customer_by_key(library, WORK).purchases == 4


def test_nobody_gets_the_same_welcome_series_twice(library: Session, settings: Settings) -> None:
    sops.do_create_draft(library, WELCOME_SERIES, "ann", now=MONDAY - timedelta(days=1))
    sops.do_publish(library, "welcome-series", approver="bob", now=MONDAY - timedelta(days=1))
    kept = do_add_customer(library, email=WORK, name="Ann Lee", now=MONDAY, settings=settings)
    gone = do_add_customer(library, email=HOME, name="Ann Lee", now=MONDAY, settings=settings)
    do_merge_customers(library, kept.customer.id, gone.customer.id, by="x", now=MONDAY)
    fire_due(library, MONDAY + timedelta(days=4), settings)
    subjects = [
        row.payload["subject"]
        for row in library.scalars(select(OutboxRow).order_by(OutboxRow.id))
        if row.payload["subject"] in {"Hello Ann", "Three tips"}
    ]
    assert subjects == ["Hello Ann", "Hello Ann", "Three tips"]  # both said hello before
    cancelled = library.scalars(select(TimerRow).where(TimerRow.status == "cancelled"))
    assert [row.key for row in cancelled] == [
        f"customer:{gone.customer.id}:welcome-series:created:followup:tips"
    ]


def test_a_series_only_the_merged_customer_ran_goes_on_for_the_kept_one(
    library: Session, settings: Settings
) -> None:
    kept = do_add_customer(library, email=WORK, name="Ann Lee", now=MONDAY, settings=settings)
    sops.do_create_draft(library, WELCOME_SERIES, "ann", now=MONDAY)
    sops.do_publish(library, "welcome-series", approver="bob", now=MONDAY)
    gone = do_add_customer(library, email=HOME, name="Ann Lee", now=MONDAY, settings=settings)
    do_merge_customers(library, kept.customer.id, gone.customer.id, by="x", now=MONDAY)
    [tips] = library.scalars(select(TimerRow).where(TimerRow.kind == "sequence"))
    assert tips.key == f"customer:{kept.customer.id}:welcome-series:created:followup:tips"
    assert tips.customer_id == kept.customer.id and tips.status == "pending"
    fire_due(library, MONDAY + timedelta(days=4), settings)
    [sent] = library.scalars(select(OutboxRow).where(OutboxRow.key == tips.key))
    assert sent.customer_id == kept.customer.id and sent.payload["subject"] == "Three tips"


def test_survey_answers_about_the_same_sop_keep_the_later_one(
    library: Session, settings: Settings
) -> None:
    work, home = _two_anns(library, settings)
    work_id, home_id = work.id, home.id
    for customer_id, rating, day in ((work_id, 2, 1), (home_id, 5, 2)):
        library.add(
            SurveyResponseRow(
                customer_id=customer_id,
                sop_id="customer-onboarding",
                rating=rating,
                comment="",
                answered_at=MONDAY + timedelta(days=day),
                updated_at=MONDAY + timedelta(days=day),
            )
        )
    library.commit()
    do_merge_customers(library, work_id, home_id, by="x", now=MONDAY)
    answers = library.scalars(select(SurveyResponseRow).where(SurveyResponseRow.case_id.is_(None)))
    assert [(row.customer_id, row.rating) for row in answers] == [(work_id, 5)]


def test_what_cannot_be_merged_is_refused_and_nothing_changes(
    library: Session, settings: Settings
) -> None:
    work, home = _two_anns(library, settings)
    work_id, home_id = work.id, home.id
    with pytest.raises(InvalidInput, match="cannot be merged into themselves"):
        do_merge_customers(library, work_id, WORK, by="x", now=MONDAY)
    with pytest.raises(NotFound):
        do_merge_customers(library, work_id, "nobody@x.example", by="x", now=MONDAY)
    at_work = [f"w{n}" for n in range(26)]
    at_home = [*(f"h{n}" for n in range(25)), "w0"]  # 51 different tags in all
    do_update_customer(library, work_id, CustomerChange(tags=at_work), by="x", now=MONDAY)
    do_update_customer(library, home_id, CustomerChange(tags=at_home), by="x", now=MONDAY)
    with pytest.raises(InvalidInput, match="at most 50"):
        do_merge_customers(library, work_id, home_id, by="x", now=MONDAY)
    library.expire_all()
    assert library.get(CustomerRow, home_id) is not None
    assert _customers(library) == 2


def test_the_kept_customers_details_win_and_gaps_are_filled() -> None:
    jan = datetime(2026, 1, 5, tzinfo=UTC)
    kept = {
        "name": "",
        "first_name": "",
        "last_name": "",
        "phone": None,
        "tier": "standard",
        "tags": ["vip", "b2b"],
        "created_at": jan + timedelta(days=30),
        "unsubscribed_at": None,
    }
    merged = {
        "name": "Ann Lee",
        "first_name": "Ann",
        "last_name": "Lee",
        "phone": "+44 20 7946 0000",
        "tier": "gold",
        "tags": ["b2b", "returns"],
        "created_at": jan,
        "unsubscribed_at": jan + timedelta(days=3),
    }
    out = merged_details(kept, merged)
    assert (out["name"], out["first_name"], out["last_name"]) == ("Ann Lee", "Ann", "Lee")
    assert out["phone"] == "+44 20 7946 0000" and out["tier"] == "gold"
    assert out["tags"] == ["vip", "b2b", "returns"]
    assert out["created_at"] == jan  # a customer since the earlier of the two
    assert out["unsubscribed_at"] == jan + timedelta(days=3)  # either said stop: stop
    named = {**kept, "name": "A. Lee", "phone": "+1 555", "tier": "silver"}
    out = merged_details(named, merged)
    assert (out["name"], out["phone"], out["tier"]) == ("A. Lee", "+1 555", "silver")
    assert out["first_name"] == "" and out["unsubscribed_at"] == jan + timedelta(days=3)
    assert merged_details(named, {**merged, "unsubscribed_at": None})["unsubscribed_at"] is None


# --- other addresses ------------------------------------------------------------------


def test_another_address_finds_the_customer_and_can_be_removed(
    library: Session, settings: Settings
) -> None:
    _arrives(library, settings, WORK, "I want to return my shoes", 1)
    ann = customer_by_key(library, WORK)
    added = do_add_address(library, ann.id, " Ann@Home.example ", by="agent", now=MONDAY)
    assert added.others == [HOME]
    case_id = _arrives(library, settings, HOME, "Complaint about the delivery", 2)
    assert library.get(CaseRow, case_id).customer_id == ann.id  # type: ignore[union-attr]
    assert _customers(library) == 1
    assert find_customer(library, HOME).id == ann.id  # type: ignore[union-attr]
    removed = do_remove_address(library, WORK, HOME, by="agent", now=MONDAY)
    assert removed.others == []
    _arrives(library, settings, HOME, "Hello again", 3)
    assert _customers(library) == 2  # an unknown address again: a new customer
    kinds = library.scalars(
        select(CaseEventRow.kind).where(CaseEventRow.kind.startswith("customer.address"))
    )
    assert list(kinds) == ["customer.address_added", "customer.address_removed"]


def test_an_address_belongs_to_one_customer(library: Session, settings: Settings) -> None:
    work, home = _two_anns(library, settings)
    work_id, home_id = work.id, home.id
    with pytest.raises(Conflict, match=f"customer {home_id}'s") as refused:
        do_add_address(library, work_id, HOME, by="agent", now=MONDAY)
    assert refused.value.hint == f"merge customer {home_id} into customer {work_id} instead"
    with pytest.raises(Conflict, match="has the address"):
        do_add_address(library, work_id, WORK, by="agent", now=MONDAY)
    do_add_address(library, work_id, "ann@old.example", by="agent", now=MONDAY)
    with pytest.raises(Conflict, match=f"customer {work_id}'s"):
        do_add_address(library, home_id, "ann@old.example", by="agent", now=MONDAY)
    with pytest.raises(Conflict, match="has the e-mail address"):  # an address change too
        do_update_customer(library, home_id, CustomerChange(email="ann@old.example"), by="x")
    with pytest.raises(InvalidInput, match="own address"):
        do_remove_address(library, work_id, WORK, by="agent", now=MONDAY)
    with pytest.raises(NotFound):
        do_remove_address(library, home_id, "ann@old.example", by="agent", now=MONDAY)
    with pytest.raises(InvalidInput):
        do_add_address(library, work_id, "not an address", by="agent", now=MONDAY)


def test_making_another_address_the_customers_own_swaps_the_two(
    library: Session, settings: Settings
) -> None:
    _arrives(library, settings, WORK, "I want to return my shoes", 1)
    ann = customer_by_key(library, WORK)
    do_add_address(library, ann.id, HOME, by="agent", now=MONDAY)
    updated = do_update_customer(library, ann.id, CustomerChange(email=HOME), by="agent")
    assert updated.customer.email == HOME
    assert [row.address for row in other_addresses(library, ann.id)] == [WORK]
    assert customer_by_key(library, WORK).id == ann.id


def test_a_merged_customer_who_said_stop_stops_the_kept_customers_follow_ups(
    library: Session, settings: Settings
) -> None:
    sops.do_create_draft(library, WELCOME_SERIES, "ann", now=MONDAY - timedelta(days=1))
    sops.do_publish(library, "welcome-series", approver="bob", now=MONDAY - timedelta(days=1))
    kept = do_add_customer(library, email=WORK, name="Ann Lee", now=MONDAY, settings=settings)
    gone = do_add_customer(library, email=HOME, name="Ann Lee", now=MONDAY, settings=settings)
    kept_id, gone_id = kept.customer.id, gone.customer.id
    do_unsubscribe(library, gone_id, now=MONDAY + timedelta(hours=1))
    merged = do_merge_customers(library, kept_id, gone_id, by="x", now=MONDAY + timedelta(hours=2))
    assert merged.customer.unsubscribed_at == MONDAY + timedelta(hours=1)
    tips = f"customer:{kept_id}:welcome-series:created:followup:tips"
    [logged] = library.scalars(select(CaseEventRow).where(CaseEventRow.kind == "customer.merged"))
    assert tips in logged.data["followups_cancelled"]
    fire_due(library, MONDAY + timedelta(days=4), settings)
    subjects = [row.payload["subject"] for row in library.scalars(select(OutboxRow))]
    assert "Three tips" not in subjects
    assert library.scalars(select(TimerRow.status).where(TimerRow.key == tips)).one() == "cancelled"


def test_a_case_token_threads_mail_from_another_of_the_customers_addresses(
    library: Session, settings: Settings
) -> None:
    case_id = _arrives(library, settings, WORK, "I want to return my shoes", 1)
    do_add_address(library, WORK, HOME, by="agent", now=MONDAY)
    reference = library.get(CaseRow, case_id).reference  # type: ignore[union-attr]
    raw = email(
        f"Re: my return [{reference}]",
        "Writing from home: any news?",
        sender=f"Ann Lee <{HOME}>",
        message_id="<home-1@x>",
    )
    answer = do_receive_email(
        library, raw, received_at=MONDAY + timedelta(hours=2), settings=settings
    )
    assert (answer.outcome, answer.case_id, answer.threaded_via) == ("reply", case_id, "case_token")
    stranger = email(
        f"Re: [{reference}]", "Let me in", sender="Eve <eve@x.example>", message_id="<eve-1@x>"
    )
    answer = do_receive_email(
        library, stranger, received_at=MONDAY + timedelta(hours=3), settings=settings
    )
    assert answer.outcome == "new_case" and answer.case_id != case_id
