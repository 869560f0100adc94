"""`one_of`: an id list as one parameter, the same statement text whatever its length;
`append_rows`: bulk appends (COPY on PostgreSQL); `next_serial`: an id before the INSERT;
`insert_loaded`: a row written without the unit of work."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from sopdesk.store.queries import append_rows, insert_loaded, next_serial, one_of
from sopdesk.store.tables import CaseEventRow, CustomerRow
from tests.conftest import statements_sent


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


def test_next_serial_hands_out_the_id_the_insert_takes(
    session: Session, engine: Engine, customers: list[int], now: Any
) -> None:
    table = CustomerRow.__table__
    taken = next_serial(session, table)
    assert taken > max(customers)
    session.add(CustomerRow(id=taken, email="taken@shop.example", created_at=now, updated_at=now))
    session.flush()
    after = CustomerRow(email="after@shop.example", created_at=now, updated_at=now)
    session.add(after)
    session.flush()
    assert after.id > taken  # never handed out twice
    assert next_serial(session, table) > after.id


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_next_serial_on_sqlite_is_read_under_the_write_lock(
    session: Session, engine: Engine, customers: list[int]
) -> None:
    """Another writer cannot insert between the read and the caller's INSERT."""
    next_serial(session, CustomerRow.__table__)
    other = sqlite3.connect(str(engine.url.database), timeout=0.05, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        session.rollback()
        other.execute("BEGIN IMMEDIATE")  # free again once the transaction ends
        other.execute("ROLLBACK")
    finally:
        other.close()


def _customer_values(email: str, now: Any) -> dict[str, Any]:
    return {"email": email, "name": "Ann Lee", "first_name": "Ann", "last_name": "Lee",
            "phone": None, "tier": "gold", "tags": ["vip"], "purchases": 2,
            "created_at": now, "updated_at": now, "unsubscribed_at": None,
            "email_bounced_at": None, "email_bounce": None}  # fmt: skip


def test_insert_loaded_gives_a_loaded_row_that_later_changes_update(
    session: Session, engine: Engine, now: Any
) -> None:
    with statements_sent(engine) as sent:
        row = insert_loaded(session, CustomerRow, _customer_values("ann@shop.example", now))
        assert (row.id, row.tags, row.tier, row.unsubscribed_at) == (row.id, ["vip"], "gold", None)
        assert session.get(CustomerRow, row.id) is row
    assert [s.split()[0] for s in sent] == ["INSERT"]  # nothing read back
    row.tier = "platinum"
    session.commit()
    session.expire_all()
    stored = session.scalars(select(CustomerRow.tier).where(CustomerRow.id == row.id)).one()
    assert stored == "platinum"


def test_insert_loaded_refuses_values_that_leave_a_column_out(session: Session, now: Any) -> None:
    values = _customer_values("bo@shop.example", now)
    del values["phone"]
    with pytest.raises(ValueError, match=r"every column of customers: \['phone'\]"):
        insert_loaded(session, CustomerRow, values)
    assert session.scalar(select(CustomerRow.id)) is None
