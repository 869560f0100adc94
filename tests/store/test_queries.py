"""`one_of`: an id list as one parameter, the same statement text whatever its length;
`append_rows`: bulk appends (COPY on PostgreSQL); `next_serial`: an id before the INSERT."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from sopdesk.store.queries import append_rows, next_serial, one_of
from sopdesk.store.tables import CaseEventRow, CustomerRow


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


def test_append_rows_writes_the_rows_in_order_through_the_column_types(
    session: Session, now: Any
) -> None:
    """COPY on PostgreSQL, executemany elsewhere: the same rows, ids in the given order,
    instants and JSON documents converted as an INSERT converts them."""
    table = CaseEventRow.__table__
    rows = [
        {"case_id": None, "customer_id": None, "at": now + timedelta(minutes=i),
         "actor": "system", "kind": f"test.{i}", "data": {"i": i, "note": "a\tb\nc\\d"}}
        for i in range(5)
    ]  # fmt: skip
    append_rows(session, table, rows)
    append_rows(session, table, [])
    session.commit()
    found = session.execute(
        select(CaseEventRow.kind, CaseEventRow.at, CaseEventRow.data).order_by(CaseEventRow.id)
    ).all()
    assert [tuple(row) for row in found] == [(r["kind"], r["at"], r["data"]) for r in rows]
    assert all(row.at.tzinfo is not None for row in found)


def test_append_rows_refuses_a_naive_instant(session: Session, now: Any) -> None:
    row = {"case_id": None, "customer_id": None, "at": now.replace(tzinfo=None),
           "actor": "system", "kind": "test.naive", "data": {}}  # fmt: skip
    with pytest.raises((ValueError, StatementError), match="naive datetime"):
        append_rows(session, CaseEventRow.__table__, [row])
    session.rollback()
    assert session.scalar(select(CaseEventRow.id)) is None


def test_next_serial_hands_out_the_ids_the_inserts_would_on_postgresql(
    session: Session, engine: Engine, customers: list[int], now: Any
) -> None:
    table = CustomerRow.__table__
    taken = next_serial(session, table)
    if engine.dialect.name != "postgresql":
        assert taken is None  # SQLite: the INSERT gives the id
        return
    assert taken is not None and taken > max(customers)
    session.add(CustomerRow(id=taken, email="taken@shop.example", created_at=now, updated_at=now))
    session.flush()
    after = CustomerRow(email="after@shop.example", created_at=now, updated_at=now)
    session.add(after)
    session.flush()
    assert after.id > taken  # the sequence moved on: an id taken first is never reused
