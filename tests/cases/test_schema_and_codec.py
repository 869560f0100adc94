"""The case tables exist on both backends, and the engine state round-trips through JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sopdesk.engine import Case, CaseState, CaseStatus, Customer, Message, MessageKind, StepState
from sopdesk.engine.state import (
    FiredEscalation,
    FollowupStatus,
    LogEntry,
    RecordedBreach,
    RecordedEvent,
    Run,
    ScheduledFollowup,
    StatusChange,
    StepStatus,
    Timer,
)
from sopdesk.sop.parser import parse_sop
from sopdesk.store.codec import CODEC_VERSION, StateCodecError, decode_state, encode_state
from sopdesk.store.tables import CustomerRow, TimerRow
from tests.conftest import sop_text

CASE_TABLES = {
    "customers",
    "cases",
    "messages",
    "attachments",
    "quarantine",
    "sop_runs",
    "step_states",
    "case_events",
    "timers",
    "outbox",
}
SOP = parse_sop(sop_text()).document.meta  # type: ignore[union-attr]


def test_migration_creates_the_case_tables(engine: Engine) -> None:
    inspector = inspect(engine)
    assert set(inspector.get_table_names()) >= CASE_TABLES
    indexes = {ix["name"] for ix in inspector.get_indexes("cases")}
    assert {"ix_cases_status_next_due_at", "ix_cases_customer_id", "ix_cases_assignee"} <= indexes
    assert "ix_timers_status_due_at" in {ix["name"] for ix in inspector.get_indexes("timers")}
    outbox = {ix["name"] for ix in inspector.get_indexes("outbox")}
    assert "ix_outbox_status_next_attempt_at" in outbox


def test_timer_and_customer_keys_are_unique(session: Session, now: datetime) -> None:
    for _ in range(2):
        session.add(
            TimerRow(
                key="k",
                kind="step",
                due_at=now,
                status="pending",
                attempts=0,
                payload={},
                created_at=now,
            )
        )
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    for _ in range(2):
        session.add(
            CustomerRow(
                email="a@b.example",
                name="",
                first_name="",
                last_name="",
                tier="standard",
                tags=[],
                purchases=0,
                created_at=now,
                updated_at=now,
            )
        )
    with pytest.raises(IntegrityError):
        session.commit()


def test_timer_status_is_checked_by_the_database(session: Session, now: datetime) -> None:
    session.add(
        TimerRow(
            key="k", kind="step", due_at=now, status="bogus", attempts=0, payload={}, created_at=now
        )
    )
    with pytest.raises(IntegrityError):
        session.commit()


# --- the codec --------------------------------------------------------------------------

BASE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
instants = st.integers(0, 60 * 24 * 90).map(lambda m: BASE + timedelta(minutes=m))
names = st.text("abcdefghij-", min_size=1, max_size=12)
maybe_names = st.none() | names
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)
fields = st.dictionaries(names, json_values | instants, max_size=4)


@st.composite
def states(draw: st.DrawFn) -> CaseState:
    case = Case(
        id=draw(names),
        opened_at=draw(instants),
        type=draw(maybe_names),
        channel=draw(st.sampled_from(["email", "web"])),
        status=draw(st.sampled_from(CaseStatus)),
        priority=draw(st.sampled_from(["low", "normal", "high"])),
        subject=draw(st.text(max_size=20)),
        assignee=draw(maybe_names),
        fields=draw(fields),
        tags=tuple(draw(st.lists(names, max_size=3))),
        resolved_at=draw(st.none() | instants),
        reopened=draw(st.integers(0, 5)),
    )
    customer = draw(
        st.none()
        | st.builds(
            Customer,
            id=names,
            created_at=instants,
            tier=names,
            tags=st.tuples(names),
            purchases=st.integers(0, 50),
            attributes=fields,
        )
    )
    return CaseState(
        case=case,
        run=Run(SOP, draw(st.integers(1, 9)), draw(instants)),
        customer=customer,
        messages=tuple(
            draw(
                st.lists(
                    st.builds(
                        Message,
                        id=names,
                        kind=st.sampled_from(MessageKind),
                        at=instants,
                        automated=st.booleans(),
                        author=maybe_names,
                    ),
                    max_size=3,
                )
            )
        ),
        steps=tuple(
            draw(
                st.lists(
                    st.builds(
                        StepState,
                        step_id=names,
                        status=st.sampled_from(StepStatus),
                        completed_at=st.none() | instants,
                        by=maybe_names,
                        reason=maybe_names,
                    ),
                    max_size=3,
                )
            )
        ),
        events=tuple(
            draw(
                st.lists(
                    st.builds(RecordedEvent, name=names, at=instants, by=maybe_names), max_size=2
                )
            )
        ),
        status_history=tuple(
            draw(
                st.lists(
                    st.builds(
                        StatusChange,
                        at=instants,
                        status=st.sampled_from(CaseStatus),
                        by=maybe_names,
                    ),
                    max_size=3,
                )
            )
        ),
        escalations=tuple(
            draw(
                st.lists(
                    st.builds(
                        FiredEscalation,
                        target=names,
                        level=st.integers(1, 4),
                        at=instants,
                        warning=st.booleans(),
                    ),
                    max_size=2,
                )
            )
        ),
        breaches=tuple(
            draw(
                st.lists(
                    st.builds(RecordedBreach, target=names, due_at=instants, at=instants),
                    max_size=2,
                )
            )
        ),
        followups=tuple(
            draw(
                st.lists(
                    st.builds(
                        ScheduledFollowup,
                        key=names,
                        followup_id=names,
                        template=names,
                        channel=names,
                        send_at=instants,
                        status=st.sampled_from(FollowupStatus),
                        reason=maybe_names,
                    ),
                    max_size=2,
                )
            )
        ),
        timers=tuple(
            draw(st.lists(st.builds(Timer, key=names, at=instants, target=names), max_size=3))
        ),
        sent=frozenset(draw(st.lists(names, max_size=3))),
        log=tuple(
            draw(
                st.lists(
                    st.builds(
                        LogEntry,
                        at=instants,
                        what=names,
                        subject=names,
                        by=maybe_names,
                        reason=maybe_names,
                    ),
                    max_size=2,
                )
            )
        ),
    )


@settings(max_examples=150, deadline=None)
@given(states())
def test_state_round_trips_through_json(state: CaseState) -> None:
    document = json.loads(json.dumps(encode_state(state)))
    assert document["codec"] == CODEC_VERSION
    assert decode_state(document, SOP) == state


def test_the_sop_is_not_copied_into_the_document() -> None:
    state = CaseState(Case("C-1", BASE), Run(SOP, 3, BASE))
    document = encode_state(state)
    assert document["run"] == {"sop_id": SOP.id, "version": 3, "started_at": BASE.isoformat()}
    assert "steps" not in json.dumps(document["run"])


def test_a_newer_codec_or_another_sop_is_refused() -> None:
    document = encode_state(CaseState(Case("C-1", BASE), Run(SOP, 1, BASE)))
    with pytest.raises(StateCodecError, match="codec version 99"):
        decode_state({**document, "codec": 99}, SOP)
    other = parse_sop(sop_text("other-sop")).document.meta  # type: ignore[union-attr]
    with pytest.raises(StateCodecError, match="not 'other-sop'"):
        decode_state(document, other)
