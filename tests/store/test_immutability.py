"""The store's own guard: no writer may change a published or retired version's text."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from sopdesk.actions.sops import do_create_draft, do_publish, do_retire, get_version
from sopdesk.errors import Conflict
from tests.conftest import sop_text


def test_published_text_cannot_be_rewritten_through_the_orm(
    session: Session, now: datetime
) -> None:
    do_create_draft(session, sop_text(), "ann", now=now)
    do_publish(session, "refunds", 1, approver="bob", now=now)
    row = get_version(session, "refunds", 1)
    row.source = sop_text(title="Tampered with")
    with pytest.raises(Conflict, match="version 1 is published; its text cannot change"):
        session.commit()
    session.rollback()
    session.expire_all()
    assert get_version(session, "refunds", 1).source == sop_text()


def test_retired_text_cannot_be_rewritten_either(session: Session, now: datetime) -> None:
    do_create_draft(session, sop_text(), "ann", now=now)
    do_publish(session, "refunds", 1, approver="bob", now=now)
    do_retire(session, "refunds", actor="bob", now=now)
    row = get_version(session, "refunds", 1)
    row.content_hash = "0" * 64
    with pytest.raises(Conflict, match="is retired"):
        session.commit()


def test_draft_text_may_change(session: Session, now: datetime) -> None:
    do_create_draft(session, sop_text(), "ann", now=now)
    row = get_version(session, "refunds", 1)
    row.source = sop_text(title="Better title")
    session.commit()
    session.expire_all()
    assert "Better title" in get_version(session, "refunds", 1).source
