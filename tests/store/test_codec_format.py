"""The stored shape of a case state (`sop_runs.state`, codec version 1), pinned.

Databases in use hold documents in this shape; a change to the codec must read them
and write them exactly so (or raise `CODEC_VERSION` and upgrade them). The document in
`data/case_state_v1.json` was written by the first codec; `STATE` fills every field of
every part of a state, including free-form values with instants inside.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sopdesk.engine.state import (
    Case,
    CaseState,
    CaseStatus,
    Customer,
    FiredEscalation,
    FollowupStatus,
    LogEntry,
    Message,
    MessageKind,
    RecordedBreach,
    RecordedEvent,
    Run,
    ScheduledFollowup,
    StatusChange,
    StepState,
    StepStatus,
    Timer,
)
from sopdesk.sop.parser import parse_sop
from sopdesk.store.codec import decode_state, encode_state
from tests.conftest import sop_text

SOP = parse_sop(sop_text()).document.meta  # type: ignore[union-attr]
T = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DOCUMENT = json.loads((Path(__file__).parent / "data" / "case_state_v1.json").read_text())


def at(hours: float) -> datetime:
    return T + timedelta(hours=hours)


STATE = CaseState(
    case=Case(
        "SD-7",
        T,
        type="return",
        channel="web",
        status=CaseStatus.PENDING,
        priority="high",
        subject="Shoes",
        assignee="ann",
        fields={"order": "A-1", "when": at(1), "n": [1, {"x": at(2)}]},
        tags=("vip", "eu"),
        resolved_at=None,
        reopened=1,
    ),
    run=Run(SOP, 3, T),
    customer=Customer(
        "42",
        at(-48),
        tier="gold",
        tags=("loyal",),
        purchases=5,
        attributes={"city": "Oslo", "since": at(-100)},
    ),
    messages=(
        Message("m1", MessageKind.INBOUND, T),
        Message("m2", MessageKind.PUBLIC, at(1), automated=True, author="system"),
    ),
    steps=(
        StepState("acknowledge", StepStatus.DONE, at(1), "system"),
        StepState("label", StepStatus.SKIPPED, at(2), "ann", "no item"),
    ),
    events=(RecordedEvent("item_received", at(3), "warehouse"),),
    status_history=(
        StatusChange(at(1), CaseStatus.OPEN, "ann"),
        StatusChange(at(2), CaseStatus.PENDING),
    ),
    escalations=(FiredEscalation("step:label", 1, at(2), warning=True),),
    breaches=(RecordedBreach("metric:first_response", at(4), at(5)),),
    followups=(
        ScheduledFollowup(
            "SD-7:f:survey", "survey", "csat", "email", at(30), FollowupStatus.CANCELLED, "reopened"
        ),
    ),
    timers=(Timer("SD-7:metric:resolution", at(40), "metric:resolution"),),
    sent=frozenset({"b", "a"}),
    log=(LogEntry(at(2), "skipped", "label", "ann", "no item"),),
)


def test_a_state_is_written_in_the_stored_shape() -> None:
    assert json.loads(json.dumps(encode_state(STATE))) == DOCUMENT


def test_a_stored_document_is_read_back_exactly() -> None:
    assert decode_state(DOCUMENT, SOP) == STATE


def test_instants_in_other_zones_are_stored_in_utc() -> None:
    oslo = T.astimezone(ZoneInfo("Europe/Oslo"))
    state = CaseState(Case("SD-8", oslo, fields={"when": oslo}), Run(SOP, 1, oslo))
    document = encode_state(state)
    assert document["case"]["opened_at"] == "2026-03-02T10:00:00+00:00"
    assert document["case"]["fields"]["when"] == {"$dt": "2026-03-02T10:00:00+00:00"}
    assert document["run"]["started_at"] == "2026-03-02T10:00:00+00:00"
