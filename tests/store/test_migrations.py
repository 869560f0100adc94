"""The schema: migrations run on SQLite and PostgreSQL and match the table classes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from sopdesk.errors import SopdeskError
from sopdesk.store import (
    create_engine_for,
    current_revision,
    head_revision,
    require_current,
    upgrade,
)
from sopdesk.store.migrate import alembic_config
from sopdesk.store.tables import Base, CalendarRow, Sop

TABLES = {"sops", "sop_versions", "sop_events", "calendars", "alembic_version"}


def test_upgrade_creates_every_table_at_head(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        assert current_revision(engine) is None
        before, after = upgrade(engine)
        assert (before, after) == (None, head_revision())
        assert set(inspect(engine).get_table_names()) >= TABLES
        assert upgrade(engine) == (head_revision(), head_revision())
    finally:
        engine.dispose()


def test_migrations_match_the_table_classes(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_and_up_again(engine: Engine) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert not TABLES - {"alembic_version"} & set(inspect(engine).get_table_names())
    assert upgrade(engine)[1] == head_revision()


def test_require_current_explains_an_empty_database(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        with pytest.raises(SopdeskError, match="empty") as info:
            require_current(engine)
        assert "sopdesk init" in (info.value.hint or "")
        upgrade(engine)
        require_current(engine)
    finally:
        engine.dispose()


def test_require_current_explains_an_old_schema(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    with pytest.raises(SopdeskError, match="schema is at old") as info:
        require_current(engine)
    assert "sopdesk db upgrade" in (info.value.hint or "")


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        engine.dispose()


def test_postgresql_urls_use_psycopg_3(sqlite_url: str) -> None:
    engine = create_engine_for("postgresql://user@db.example:5432/sopdesk")
    try:
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


def test_timestamps_come_back_aware_utc(session: Session) -> None:
    paris = timezone(timedelta(hours=1))
    session.add(
        CalendarRow(
            name="default",
            config={"timezone": "UTC"},
            created_at=datetime(2026, 1, 5, 10, 0, tzinfo=paris),
            updated_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        )
    )
    session.commit()
    session.expire_all()
    row = session.get(CalendarRow, "default")
    assert row is not None
    assert row.created_at == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert row.created_at.utcoffset() == timedelta(0)
    assert row.config == {"timezone": "UTC"}


def test_naive_timestamps_are_refused(session: Session) -> None:
    naive = datetime(2026, 1, 5, 9, 0)
    session.add(CalendarRow(name="x", config={}, created_at=naive, updated_at=naive))
    with pytest.raises(StatementError, match="naive datetime"):
        session.commit()


def test_status_values_are_checked_by_the_database(session: Session, now: datetime) -> None:
    session.add(
        Sop(
            id="x",
            title="X",
            owner="o",
            status="bogus",
            latest_version=1,
            created_at=now,
            updated_at=now,
        )
    )
    with pytest.raises(IntegrityError):
        session.commit()
