"""Two writers on one SOP queue up on its row lock; the second sees the first's change."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine

from sopdesk.actions import sops
from sopdesk.errors import Conflict
from sopdesk.store import create_engine_for, session_factory, upgrade
from tests.conftest import sop_text


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = create_engine_for(pg_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_a_second_draft_waits_for_the_first_and_then_conflicts(
    pg_engine: Engine, now: datetime
) -> None:
    sessions = session_factory(pg_engine)
    with sessions() as first:
        sops.do_create_draft(first, sop_text(), "ann", now=now)
        sops.do_publish(first, "refunds", approver="bob", now=now)
        sops.get_sop(first, "refunds", lock=True)  # `first` now holds the row lock
        outcome: list[BaseException | int] = []

        def second_writer() -> None:
            with sessions() as second:
                try:
                    row = sops.do_create_draft(second, sop_text(title="Other"), "cy", now=now)
                    outcome.append(row.version)
                except Conflict as exc:
                    outcome.append(exc)

        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive(), "the second writer must wait for the lock"
        sops.create_draft(
            first, sop_text(within="12 business hours"), "ann", "", sop_id="refunds", now=now
        )
        first.commit()
        thread.join(timeout=10)
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict)
    assert "already has version 2 open" in str(outcome[0])


def test_an_action_decides_on_fresh_rows_not_on_what_its_session_saw(
    engine: Engine, now: datetime
) -> None:
    sessions = session_factory(engine)
    with sessions() as first, sessions() as second:
        sops.do_create_draft(first, sop_text(), "ann", now=now)
        sops.do_publish(first, "refunds", approver="bob", now=now)
        assert len(sops.list_versions(second, "refunds")) == 1  # `second` has loaded v1
        second.commit()
        sops.do_create_draft(first, sop_text(within="12 business hours"), "ann", now=now)
        with pytest.raises(Conflict, match="already has version 2 open"):
            sops.do_create_draft(second, sop_text(title="Other"), "cy", now=now)
