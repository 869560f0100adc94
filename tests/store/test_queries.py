"""`one_of`: an id list as one parameter, the same statement text whatever its length."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from sopdesk.store.queries import one_of
from sopdesk.store.tables import CustomerRow


@pytest.fixture
def customers(session: Session, now: Any) -> list[int]:
    rows = [
        CustomerRow(email=f"c{i}@shop.example", created_at=now, updated_at=now) for i in range(7)
    ]
    session.add_all(rows)
    session.commit()
    return [row.id for row in rows]


def test_one_of_finds_exactly_the_listed_rows(session: Session, customers: list[int]) -> None:
    for chosen in ([], customers[:1], customers[2:6], customers, [*customers[:2], 10**9]):
        query = select(CustomerRow.id).where(one_of(session, CustomerRow.id, chosen))
        assert sorted(session.scalars(query)) == sorted(set(chosen) & set(customers))


def test_the_statement_does_not_grow_with_the_list(
    session: Session, engine: Engine, customers: list[int]
) -> None:
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    for size in (1, 3, 7):
        listed = one_of(session, CustomerRow.id, customers[:size])
        session.scalars(select(CustomerRow.id).where(listed)).all()
    if engine.dialect.name == "postgresql":
        assert len(set(sent)) == 1  # one text: parsed and prepared once
    else:
        assert len({len(text) for text in sent}) == 3  # SQLite: one placeholder per id
