"""A case opened in one transaction renders and threads its first e-mail without
reading itself back: what it is known to hold equals what the reads would return."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from sopdesk.actions import outbound
from sopdesk.actions.cases import do_open_case
from sopdesk.actions.intake import do_receive_email
from sopdesk.settings import Settings
from tests.cases.conftest import MONDAY, email, outbox


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every use of a known conversation is checked against the database's answer."""
    uses: list[str] = []
    real_rendering, real_queue = outbound.case_rendering, outbound.queue_case_email

    def rendering(session: Session, case: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("known") is not None:
            uses.append("rendering")
            read = real_rendering(session, case, *args, **{**kwargs, "known": None})
            assert real_rendering(session, case, *args, **kwargs) == read
        return real_rendering(session, case, *args, **kwargs)

    def queue(session: Session, case: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("thread") is not None:
            uses.append("thread")
            assert kwargs["thread"] == outbound.thread_for(session, case.id)
        return real_queue(session, case, *args, **kwargs)

    monkeypatch.setattr(outbound, "case_rendering", rendering)
    monkeypatch.setattr(outbound, "queue_case_email", queue)
    return uses


def test_new_and_returning_customers_by_web_and_email(
    library: Session, settings: Settings, checked: list[str]
) -> None:
    refund = ("I want a refund", "The shoes do not fit, please refund me.")
    for address in ("new@customer.example", "new@customer.example"):  # new, then returning
        case = do_open_case(
            library,
            customer_email=address,
            customer_name="Ann Lee",
            subject=refund[0],
            body=refund[1],
            channel="web",
            now=MONDAY,
            settings=settings,
        )
        assert [row.status for row in outbox(library, case.id)] == ["pending"]
    for n, sender in enumerate(("Bo Chan <bo@customer.example>", "Ann Lee <new@customer.example>")):
        raw = email(*refund, sender=sender, message_id=f"<m{n}@customer.example>")
        result = do_receive_email(library, raw, received_at=MONDAY, settings=settings)
        assert result.outcome == "new_case"
        (ack,) = outbox(library, result.case_id)
        assert ack.payload["in_reply_to"] == f"m{n}@customer.example"  # stored bare
    assert checked == ["rendering", "thread"] * 4
