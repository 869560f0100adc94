"""CSV import into the database, the demo data, and the `sopdesk case` / `demo` commands."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sopdesk.actions.case_import import do_import_cases
from sopdesk.actions.demo import do_load_demo
from sopdesk.actions.sop_files import library_sources
from sopdesk.errors import Conflict
from sopdesk.settings import Settings
from sopdesk.sop.parser import parse_sop
from sopdesk.store.tables import (
    AttachmentRow,
    CaseEventRow,
    CaseRow,
    CustomerRow,
    MessageRow,
    OutboxRow,
    SopRunRow,
)
from tests.cases.conftest import MONDAY
from tests.channels.test_csv_import import FRESHDESK_EXPORT, ZENDESK_EXPORT
from tests.conftest import Runner


def test_a_messy_zendesk_export_is_imported_with_its_bad_rows_reported(
    library: Session, settings: Settings
) -> None:
    report = do_import_cases(library, "\ufeff" + ZENDESK_EXPORT, now=MONDAY, settings=settings)
    assert report.format == "zendesk" and report.rows == 8
    assert report.rejected_rows == (6, 8)  # no subject or body; ticket 5001 a second time
    assert len(report.imported) == report.rows - len(report.rejected_rows)
    assert any("same ticket id" in p.message for p in report.problems)
    cases = {c.external_id: c for c in library.scalars(select(CaseRow))}
    assert set(cases) == {"5001", "5002", "5003", "5004", "5006", "5007"}
    solved = cases["5001"]
    assert (solved.status, solved.priority, solved.external_source) == (
        "resolved",
        "high",
        "zendesk",
    )
    assert solved.resolved_at is not None and solved.opened_at < solved.resolved_at
    assert solved.customer.email == "ana@example.com" and solved.assignee == "Bob Agent"
    assert solved.route["sop_id"] == "returns-and-refunds"  # suggested, not started
    walk_in = cases["5002"]
    assert walk_in.customer.email.endswith("@import.invalid")
    assert library.scalar(select(func.count(SopRunRow.id))) == 0
    assert library.scalar(select(func.count(OutboxRow.id))) == 0


def test_importing_the_same_export_twice_adds_nothing(library: Session, settings: Settings) -> None:
    first = do_import_cases(library, FRESHDESK_EXPORT, now=MONDAY, settings=settings)
    assert first.format == "freshdesk" and first.imported
    count = library.scalar(select(func.count(CaseRow.id)))
    again = do_import_cases(
        library,
        FRESHDESK_EXPORT,
        source_format="freshdesk",
        now=MONDAY + timedelta(days=1),
        settings=settings,
    )
    assert again.imported == () and len(again.duplicates) == len(first.imported)
    assert library.scalar(select(func.count(CaseRow.id))) == count


def test_the_demo_runs_every_library_sop_and_refuses_to_load_twice(
    session: Session, settings: Settings
) -> None:
    report = do_load_demo(session, now=MONDAY + timedelta(days=30), settings=settings)
    library_ids = {parse_sop(raw).document.meta.id for _, raw in library_sources()}  # type: ignore[union-attr]
    assert library_ids <= report.sops
    statuses = set(session.scalars(select(CaseRow.status)))
    assert {"new", "open", "pending", "resolved"} <= statuses
    every_case = session.scalars(select(CaseRow.reference).order_by(CaseRow.id))
    assert report.cases == list(every_case)  # the triggered ones too
    kinds = set(session.scalars(select(CaseEventRow.kind)))
    assert {
        "sla.warning",
        "sla.breached",
        "escalated",
        "followup.sent",
        "case.reopened",
        "sequence.started",
    } <= kinds
    triggered = set(session.scalars(select(CaseRow.sop_id).where(CaseRow.channel == "internal")))
    assert {"customer-onboarding", "loyalty-recognition"} <= triggered
    sent_texts = " ".join(row.payload["text"] for row in session.scalars(select(OutboxRow)))
    assert "THANKYOU15" in sent_texts  # a loyalty case worked: the reward reached Maya
    repeat = session.scalar(
        select(func.count(CaseRow.id)).where(CaseRow.customer.has(email="maya.rossi@example.net"))
    )
    assert repeat is not None and repeat >= 3
    assert session.scalar(select(func.count(OutboxRow.id)).where(OutboxRow.status == "sent"))
    failed = list(
        session.scalars(select(CaseEventRow).where(CaseEventRow.kind == "message.failed"))
    )
    assert failed == []
    # one customer mistyped their address: the answer bounced, and the case page says so
    failed_to = select(MessageRow).where(MessageRow.delivery_failed_at.isnot(None))
    [bounced] = session.scalars(failed_to)
    assert bounced.kind == "outbound" and "5.1.1" in (bounced.delivery_error or "")
    marked = select(func.count(CustomerRow.id)).where(CustomerRow.email_bounced_at.isnot(None))
    assert session.scalar(marked) == 1
    files = {
        (kind, filename)
        for kind, filename in session.execute(
            select(MessageRow.kind, AttachmentRow.filename).join(
                AttachmentRow, AttachmentRow.message_id == MessageRow.id
            )
        )
    }
    # a customer's photo came with their complaint; a return label went with a reply
    assert {("inbound", "parcel.png"), ("outbound", "return-label-10388.pdf")} <= files
    assert any(row.payload.get("attachments") for row in session.scalars(select(OutboxRow)))
    with pytest.raises(Conflict, match="already loaded"):
        do_load_demo(session, now=MONDAY + timedelta(days=31), settings=settings)


@pytest.fixture
def initialised(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Runner
) -> Iterator[Runner]:
    monkeypatch.setenv("SOPDESK_DATABASE_URL", db_url)
    monkeypatch.setenv("SOPDESK_DATA_DIR", str(tmp_path))
    assert cli("init").code == 0
    yield cli


def test_case_open_list_show_and_import_commands(initialised: Runner, tmp_path: Path) -> None:
    cli = initialised
    opened = cli(
        "case",
        "open",
        "--email",
        "ann@customer.example",
        "--name",
        "Ann Lee",
        "--subject",
        "Return my shoes",
        "--body",
        "Wrong size, refund please",
    )
    assert opened.code == 0, opened.err
    assert "opened SD-1" in opened.out and "returns-and-refunds" in opened.out
    listed = cli("case", "list")
    assert "SD-1" in listed.out and "ann@customer.example" in listed.out
    shown = cli("case", "show", "SD-1")
    assert "acknowledge" in shown.out and "message.queued" in shown.out
    missing = cli("case", "show", "SD-99")
    assert missing.code == 1 and "no case" in missing.err
    export = tmp_path / "zendesk.csv"
    export.write_text(ZENDESK_EXPORT, encoding="utf-8")
    imported = cli("case", "import", str(export), "--format", "zendesk")
    assert imported.code == 0 and "zendesk: 8 rows" in imported.out and "row " in imported.out
    assert "0 imported" in cli("case", "import", str(export)).out


def test_case_merge_command(initialised: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = initialised
    for subject in ("Return my shoes", "Shoes again"):
        opened = cli("case", "open", "--email", "ann@customer.example", "--subject", subject,
                     "--body", "Wrong size, refund please")  # fmt: skip
        assert opened.code == 0, opened.err
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    asked = cli("case", "merge", "SD-1", "SD-2")
    assert asked.code == 1 and "This cannot be undone" in asked.out
    merged = cli("case", "merge", "sd-1", "SD-2", "--yes", "--format", "json")
    assert merged.code == 0, merged.err
    assert json.loads(merged.out) == {"case": "SD-1", "merged": "SD-2", "messages": 2}
    shown = cli("case", "show", "SD-2")
    assert "closed" in shown.out and "case.merged_into" in shown.out
    again = cli("case", "merge", "SD-1", "SD-2", "--yes")
    assert again.code == 1 and "merged into another case already" in again.err


def test_case_start_sop_command_takes_a_case_out_of_triage(initialised: Runner) -> None:
    cli = initialised
    opened = cli("case", "open", "--email", "bo@customer.example", "--subject", "Hello",
                 "--body", "Call me back please.")  # fmt: skip
    assert opened.code == 0 and "triage" in opened.out, opened.out
    assert cli("case", "open", "--email", "cy@customer.example", "--subject", "Return my shoes",
               "--body", "Wrong size, refund please").code == 0  # fmt: skip
    in_triage = json.loads(cli("case", "list", "--triage", "--format", "json").out)
    assert [row["reference"] for row in in_triage] == ["SD-1"]
    unknown = cli("case", "start-sop", "SD-1", "no-such-sop")
    assert unknown.code == 1 and "no-such-sop" in unknown.err
    started = cli("case", "start-sop", "SD-1", "inquiry-response")
    assert started.code == 0, started.err
    assert started.out.strip() == "SD-1 runs inquiry-response from now on"
    assert cli("case", "list", "--triage").out.strip() == "no cases"
    shown = cli("case", "show", "SD-1")
    assert "chosen by cli from the triage queue" in shown.out and "case.triaged" in shown.out
    again = cli("case", "start-sop", "SD-1", "inquiry-response")
    assert again.code == 1 and "already runs inquiry-response" in again.err


def test_demo_command_loads_once(initialised: Runner) -> None:
    cli = initialised
    first = cli("demo")
    assert first.code == 0 and "returns-and-refunds" in first.out
    second = cli("demo")
    assert second.code == 1 and "already loaded" in second.err
    assert cli("demo", "--if-new").code == 0
