"""CSV intake: Zendesk, Freshdesk and sopdesk exports, messy rows, dialects and encodings."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopdesk.channels.csv_import import (
    CsvImportError,
    ImportResult,
    Severity,
    SourceSystem,
    decode,
    detect_format,
    parse_instant,
    read_cases,
    sniff_delimiter,
    split_tags,
)
from sopdesk.engine.state import CaseStatus

BERLIN = ZoneInfo("Europe/Berlin")

ZENDESK_HEADER = [
    "Summation column",
    "Id",
    "Requester",
    "Requester id",
    "Requester email",
    "Organization",
    "Assignee",
    "Group",
    "Subject",
    "Description",
    "Tags",
    "Status",
    "Priority",
    "Via",
    "Ticket type",
    "Created at",
    "Updated at",
    "Solved at",
    "Satisfaction Score",
]


def zendesk_row(**cells: str) -> list[str]:
    base = {
        "Summation column": "1",
        "Id": "5001",
        "Requester": "Ana Núñez",
        "Requester id": "9001",
        "Requester email": "Ana@Example.com",
        "Organization": "Núñez Shoes S.L.",
        "Assignee": "Bob Agent",
        "Group": "Support",
        "Subject": "Wrong size",
        "Description": "Hello,\nthe shoes are too small, I want to return them.\n\nThanks, Ana",
        "Tags": "returns vip  shoes",
        "Status": "Solved",
        "Priority": "High",
        "Via": "Mail",
        "Ticket type": "Question",
        "Created at": "2024-03-29 17:45",
        "Updated at": "2024-04-02 09:10",
        "Solved at": "2024-04-02 09:00",
        "Satisfaction Score": "Good",
    }
    base.update(cells)
    return [base[column] for column in ZENDESK_HEADER]


def as_csv(header: list[str], rows: list[list[str]], delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


ZENDESK_EXPORT = as_csv(
    ZENDESK_HEADER,
    [
        zendesk_row(),
        zendesk_row(
            Id="5002",
            **{"Requester email": "", "Requester": "Walk-in customer"},
            Subject="Phone call, no email",
            Via="Phone call (inbound)",
            Status="Open",
            Priority="",
            Tags="",
        ),
        zendesk_row(Id="5003", **{"Created at": "31/02/2024 25:61"}, Status="Pending"),
        zendesk_row(
            Id="5004", Status="Escalated to legal", Priority="Critical", Via="Carrier pigeon"
        ),
        zendesk_row(Id="5005", Subject="", Description=""),
        zendesk_row(
            Id="5006",
            Subject='Refund, "urgent", please',
            Description='Line one, with commas, and "quotes"\nLine two; semicolons\n',
            Status="Closed",
            **{"Solved at": "", "Updated at": "2024-04-10 12:00"},
        ),
        zendesk_row(Id="5001", Subject="Same ticket exported twice"),
        zendesk_row(Id="5007", **{"Requester email": "not-an-email"}, Status="on-hold"),
    ],
)


@pytest.fixture(scope="module")
def zendesk() -> ImportResult:
    return read_cases("\ufeff" + ZENDESK_EXPORT, default_tz=BERLIN)


def problems_of(result: ImportResult, row: int) -> list[str]:
    return [f"{p.severity.value}: {p.column}: {p.message}" for p in result.problems if p.row == row]


def test_zendesk_is_recognised_and_every_row_is_accounted_for(zendesk: ImportResult) -> None:
    assert zendesk.format is SourceSystem.ZENDESK
    assert zendesk.rows == 8
    imported = {case.row for case in zendesk.cases}
    assert imported == {2, 3, 4, 5, 7, 9}
    assert zendesk.rejected_rows == (6, 8)
    assert imported.isdisjoint(zendesk.rejected_rows)
    assert "Satisfaction Score" in zendesk.ignored_columns
    assert zendesk.columns["external_id"] == "Id"


def test_a_clean_zendesk_row(zendesk: ImportResult) -> None:
    case = zendesk.cases[0]
    assert (case.source, case.external_id, case.dedup_key) == (
        SourceSystem.ZENDESK,
        "5001",
        ("zendesk", "5001"),
    )
    assert case.customer.email == "ana@example.com"
    assert case.customer.name == "Ana Núñez"
    assert case.customer.company == "Núñez Shoes S.L."
    assert case.subject == "Wrong size"
    assert case.body.startswith("Hello,\nthe shoes are too small")
    assert (case.channel, case.status, case.priority) == ("email", CaseStatus.RESOLVED, "high")
    assert case.tags == ("returns", "vip", "shoes")
    assert (case.case_type, case.source_type, case.source_status) == (None, "Question", "Solved")
    assert (case.group, case.assignee) == ("Support", "Bob Agent")
    # 17:45 in Berlin on 29 March 2024 is still winter time (UTC+1); 2 April is summer (UTC+2)
    assert case.created_at == datetime(2024, 3, 29, 16, 45, tzinfo=UTC)
    assert case.resolved_at == datetime(2024, 4, 2, 7, 0, tzinfo=UTC)
    assert problems_of(zendesk, 2) == []


def test_a_missing_email_is_a_warning_and_the_row_is_kept(zendesk: ImportResult) -> None:
    case = next(c for c in zendesk.cases if c.external_id == "5002")
    assert case.customer.email is None
    assert case.customer.name == "Walk-in customer"
    assert (case.channel, case.status, case.priority, case.tags) == ("phone", "open", "normal", ())
    assert problems_of(zendesk, 3) == [
        "warning: Requester email: no customer email; the customer cannot be matched or written to"
    ]


def test_a_bad_date_is_reported_and_left_empty(zendesk: ImportResult) -> None:
    case = next(c for c in zendesk.cases if c.external_id == "5003")
    assert case.created_at is None
    assert case.status is CaseStatus.PENDING
    assert problems_of(zendesk, 4) == [
        "warning: Created at: '31/02/2024 25:61' is not a date and time; left empty"
    ]


def test_unknown_status_priority_and_channel_fall_back_and_say_so(zendesk: ImportResult) -> None:
    case = next(c for c in zendesk.cases if c.external_id == "5004")
    assert (case.status, case.priority, case.channel) == (CaseStatus.OPEN, "normal", "email")
    assert problems_of(zendesk, 5) == [
        "warning: Status: unknown status 'Escalated to legal'; imported as 'open'",
        "warning: Via: unknown channel 'Carrier pigeon'; imported as 'email'",
        "warning: Priority: unknown priority 'Critical'; imported as 'normal'",
    ]


def test_a_row_with_nothing_to_import_is_an_error(zendesk: ImportResult) -> None:
    assert problems_of(zendesk, 6) == [
        "error: Subject: no subject and no description: nothing to import"
    ]


def test_embedded_newlines_commas_and_quotes_survive(zendesk: ImportResult) -> None:
    case = next(c for c in zendesk.cases if c.external_id == "5006")
    assert case.subject == 'Refund, "urgent", please'
    assert case.body == 'Line one, with commas, and "quotes"\nLine two; semicolons'
    assert case.status is CaseStatus.CLOSED
    assert case.resolved_at == datetime(2024, 4, 10, 10, 0, tzinfo=UTC)
    assert problems_of(zendesk, 7) == [
        "warning: Solved at: solved with no solved time; used the updated time"
    ]


def test_a_repeated_ticket_id_is_not_imported_twice(zendesk: ImportResult) -> None:
    assert problems_of(zendesk, 8) == [
        "error: Id: the same ticket id as row 2; this row was not imported"
    ]
    assert [c.external_id for c in zendesk.cases].count("5001") == 1


def test_an_invalid_email_is_dropped_with_a_warning(zendesk: ImportResult) -> None:
    case = next(c for c in zendesk.cases if c.external_id == "5007")
    assert case.customer.email is None
    assert case.status is CaseStatus.ON_HOLD
    assert problems_of(zendesk, 9) == [
        "warning: Requester email: 'not-an-email' is not an email address; left empty"
    ]


def test_problems_name_the_file_line_where_the_row_starts(zendesk: ImportResult) -> None:
    # rows 2, 3, 4 hold a description of four lines each
    by_row = {p.row: p.line for p in zendesk.problems}
    assert by_row[3] == 6
    assert by_row[4] == 10
    assert str(zendesk.problems[0]).startswith("row 3, column 'Requester email': warning:")


# --- Freshdesk, semicolons, BOM -----------------------------------------------------------

FRESHDESK_EXPORT = (
    "\ufeffTicket ID;Subject;Description;Status;Priority;Source;Type;Agent;Group;"
    "Created time;Due by Time;Resolved time;Closed time;Last updated time;"
    "Full name;Email;Company Name;Tags\r\n"
    '812;Refund for order 1001;"Hi team;\r\nI paid twice, please refund one.";Resolved;'
    "Medium;Portal;Refund;Priya;Billing;2024-10-27 01:30:00;2024-10-28 09:00:00;"
    '2024-10-27 15:00:00;;2024-10-27 15:00:00;José Álvarez;jose@example.es;ACME;"billing, VIP"\r\n'
    "813;Where is my parcel?;Tracking says delivered;Waiting on Customer;Urgent;WhatsApp;"
    "Question;;;2024-10-28T08:00:00Z;;;;;;sam@example.com;;\r\n"
    "814;Broken lamp;It arrived broken;Closed;2;Email;Incident;;;2024-10-26 10:00:00 +0530;;"
    ";2024-10-29 10:00:00;;Li Wei;li@example.cn;;\r\n"
    "815;Custom status;x;Awaiting Parts;Low;Email;;;;yesterday;;;;;Kay;kay@example.com;;\r\n"
)


@pytest.fixture(scope="module")
def freshdesk() -> ImportResult:
    return read_cases(io.StringIO(FRESHDESK_EXPORT), default_tz=BERLIN)


def test_freshdesk_with_semicolons_and_a_bom(freshdesk: ImportResult) -> None:
    assert freshdesk.format is SourceSystem.FRESHDESK
    assert [c.external_id for c in freshdesk.cases] == ["812", "813", "814", "815"]
    first = freshdesk.cases[0]
    assert first.subject == "Refund for order 1001"
    assert first.body == "Hi team;\r\nI paid twice, please refund one."
    assert (first.channel, first.status, first.priority) == ("web", CaseStatus.RESOLVED, "normal")
    assert (first.case_type, first.source_type) == ("return", "Refund")
    assert first.customer.name == "José Álvarez"
    assert first.customer.company == "ACME"
    assert first.tags == ("billing", "vip")
    assert (first.assignee, first.group) == ("Priya", "Billing")
    # 01:30 on the night Berlin leaves summer time: the first (summer, UTC+2) reading
    assert first.created_at == datetime(2024, 10, 26, 23, 30, tzinfo=UTC)
    assert first.resolved_at == datetime(2024, 10, 27, 14, 0, tzinfo=UTC)


def test_freshdesk_statuses_sources_and_offsets(freshdesk: ImportResult) -> None:
    _, second, third, fourth = freshdesk.cases
    assert (second.status, second.channel, second.priority) == (
        CaseStatus.PENDING,
        "chat",
        "urgent",
    )
    assert second.case_type is None
    assert second.customer == type(second.customer)("sam@example.com", None, None)
    assert second.created_at == datetime(2024, 10, 28, 8, 0, tzinfo=UTC)
    assert (third.status, third.priority) == (CaseStatus.CLOSED, "normal")
    assert third.created_at == datetime(2024, 10, 26, 4, 30, tzinfo=UTC)
    assert third.closed_at == third.resolved_at == datetime(2024, 10, 29, 9, 0, tzinfo=UTC)
    assert fourth.status is CaseStatus.OPEN
    assert [str(p) for p in freshdesk.problems] == [
        "row 5, column 'Status': warning: unknown status 'Awaiting Parts'; imported as 'open'",
        "row 5, column 'Created time': warning: 'yesterday' is not a date and time; left empty",
    ]


# --- sopdesk's own format and options ----------------------------------------------------

PLAIN = (
    "customer_email,customer_name,subject,body,channel,case_type,created_at,status,tags\n"
    "a@example.com,Ann,I want to return my shoes,They pinch,web,return,2024-05-01T10:00:00+02:00,"
    'open,"shoes, returns"\n'
    "b@example.com,Ben,Question,Open on Sunday?,,Inquiry,2024-05-02,new,\n"
    ',,,"only a body line\nand more",,,,,\n'
)


def test_the_plain_sopdesk_format() -> None:
    result = read_cases(PLAIN, default_channel="web")
    assert result.format is SourceSystem.SOPDESK
    first, second, third = result.cases
    assert (first.case_type, first.channel, first.tags) == ("return", "web", ("shoes", "returns"))
    assert first.created_at == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert (second.case_type, second.channel, second.status) == ("inquiry", "web", CaseStatus.NEW)
    assert second.created_at == datetime(2024, 5, 2, tzinfo=UTC)
    assert first.external_id is None
    assert first.dedup_key is None
    assert third.subject == "only a body line"
    assert [p.message for p in result.problems] == [
        "no creation time; the import time will be used",
        "no customer email; the customer cannot be matched or written to",
    ]


def test_a_forced_format_and_a_custom_type_map() -> None:
    text = as_csv(ZENDESK_HEADER, [zendesk_row(**{"Ticket type": "Problem"})])
    result = read_cases(text, source_format="ZENDESK", type_map={"problem": "complaint"})
    assert result.cases[0].case_type == "complaint"
    with pytest.raises(CsvImportError, match="unknown import format 'jira'"):
        read_cases(text, source_format="jira")


def test_headers_match_whatever_the_case_spacing_and_underscores() -> None:
    text = "  TICKET_ID ;subject;  created-TIME ;EMAIL\n7;Hello;2024-01-02 03:04:05;x@y.org\n"
    result = read_cases(text)
    assert result.format is SourceSystem.FRESHDESK
    assert result.cases[0].external_id == "7"
    assert result.cases[0].created_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_a_missing_required_column_says_did_you_mean() -> None:
    text = "Id,Subjet,Requester email,Via\n1,Hi,a@b.co,Mail\n"
    with pytest.raises(CsvImportError, match=r"'subject' \(did you mean 'subjet'\?\)"):
        read_cases(text)
    with pytest.raises(CsvImportError, match=r"'subject'$"):
        read_cases("Id,Requester email,Via\n1,a@b.co,Mail\n")


def test_an_unknown_or_empty_file_is_refused() -> None:
    with pytest.raises(CsvImportError, match="cannot tell which export"):
        read_cases("Name,Colour\nKettle,red\n")
    with pytest.raises(CsvImportError, match="empty"):
        read_cases("\ufeff\n\n")


def test_an_unclosed_quote_is_reported_not_swallowed_silently() -> None:
    text = (
        "Id,Subject,Description,Requester email\n"
        '1,ok,"fine",a@b.co\n2,bad,"oops,c@d.co\n3,x,y,e@f.co\n'
    )
    result = read_cases(text)
    assert [c.external_id for c in result.cases] == ["1"]
    assert result.problems[0].row == 3
    assert "closing quote" in result.problems[0].message


def test_a_huge_cell_is_one_error_and_the_rows_after_it_still_import() -> None:
    big = "x" * (16 * 1024 * 1024 + 10)
    text = f'Id,Subject,Requester email\n1,ok,a@b.co\n2,"{big}",b@b.co\n3,after,c@b.co\n'
    result = read_cases(text)
    assert [c.external_id for c in result.cases] == ["1", "3"]
    assert [(p.row, p.severity) for p in result.problems] == [(3, Severity.ERROR)]


def test_extra_cells_and_blank_lines() -> None:
    text = "Id,Subject,Requester email\n1,Hi,a@b.co,surplus\n\n,,\n2,There,b@b.co\n"
    result = read_cases(text)
    assert [c.row for c in result.cases] == [2, 5]
    assert [str(p) for p in result.problems] == [
        "row 2: warning: 1 cell(s) more than the header; ignored"
    ]


# --- pieces --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05T14:22:01Z", datetime(2024, 3, 5, 14, 22, 1, tzinfo=UTC)),
        ("2024-03-05 14:22:01 +0100", datetime(2024, 3, 5, 13, 22, 1, tzinfo=UTC)),
        ("2024-03-05 14:22 -05:00", datetime(2024, 3, 5, 19, 22, tzinfo=UTC)),
        ("2024-07-05 14:22", datetime(2024, 7, 5, 12, 22, tzinfo=UTC)),
        ("2024/07/05 14:22:09", datetime(2024, 7, 5, 12, 22, 9, tzinfo=UTC)),
        ("05.07.2024 14:22", datetime(2024, 7, 5, 12, 22, tzinfo=UTC)),
        ("05/07/2024 14:22", datetime(2024, 7, 5, 12, 22, tzinfo=UTC)),
        ("7/5/2024 2:22 PM", datetime(2024, 5, 7, 12, 22, tzinfo=UTC)),
    ],
)
def test_parse_instant(text: str, expected: datetime) -> None:
    assert parse_instant(text, BERLIN) == expected


def test_parse_instant_month_first_and_failures() -> None:
    assert parse_instant("07/05/2024", UTC, day_first=False) == datetime(2024, 7, 5, tzinfo=UTC)
    tokyo = timezone(timedelta(hours=9))
    assert parse_instant("2024-01-01 09:00", tokyo) == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    for bad in ("", "yesterday", "2024-13-01", "31/02/2024"):
        with pytest.raises(ValueError, match=r"date|month|day|Invalid"):
            parse_instant(bad, UTC)


def test_split_tags() -> None:
    assert split_tags("vip  returns vip", " ") == ("vip", "returns")
    assert split_tags("Late delivery, VIP,,", ",") == ("late delivery", "vip")
    assert split_tags("", ",") == ()


@pytest.mark.parametrize(
    ("line", "delimiter"),
    [
        ("Id,Subject,Status\n", ","),
        ("Id;Subject;Status\n", ";"),
        ("Id\tSubject\tStatus\n", "\t"),
        ('"Id;x","Subject","Status"\n', ","),
        ("Subject\n", ","),
    ],
)
def test_sniff_delimiter(line: str, delimiter: str) -> None:
    assert sniff_delimiter(line) == delimiter


def test_decode_handles_boms_and_legacy_encodings() -> None:
    assert decode("\ufeffId,Subject".encode()) == "Id,Subject"
    assert decode("Id,Café".encode("utf-16")) == "Id,Café"
    assert decode("Id,Café".encode("cp1252")) == "Id,Café"


def test_detect_format() -> None:
    assert detect_format(["Ticket ID", "Subject", "Full name"]) is SourceSystem.FRESHDESK
    assert detect_format(["Id", "Requester", "Via", "Subject"]) is SourceSystem.ZENDESK
    assert detect_format(["customer_email", "subject", "body"]) is SourceSystem.SOPDESK


# --- properties ----------------------------------------------------------------------------

cell_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"))


@settings(max_examples=150, deadline=None)
@given(
    subjects=st.lists(cell_text, min_size=1, max_size=6),
    bodies=st.lists(cell_text, min_size=6, max_size=6),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
)
def test_any_cell_text_round_trips_and_every_row_is_accounted_for(
    subjects: list[str], bodies: list[str], delimiter: str
) -> None:
    header = ["Ticket ID", "Subject", "Description", "Email", "Created time"]
    rows = [
        [str(i), subject, body, "a@b.co", "2024-01-01 10:00:00"]
        for i, (subject, body) in enumerate(zip(subjects, bodies, strict=False))
    ]
    result = read_cases(as_csv(header, rows, delimiter), source_format="freshdesk")
    for case in result.cases:
        subject, body = subjects[int(case.external_id or 0)], bodies[int(case.external_id or 0)]
        assert case.body == body.strip()
        assert case.subject == (subject.strip() or body.strip().splitlines()[0][:120])
    accounted = {c.row for c in result.cases} | set(result.rejected_rows)
    nonblank = {i + 2 for i, row in enumerate(rows) if any(cell.strip() for cell in row)}
    assert accounted == nonblank


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_is_read_or_refused_but_never_crashes(text: str) -> None:
    try:
        result = read_cases("Id,Subject,Requester email\n" + text)
    except CsvImportError:
        return
    assert all(case.subject for case in result.cases)


def test_a_plain_case_type_must_be_an_identifier() -> None:
    text = "customer_email,subject,case_type\na@b.co,Hi,Return Request\nb@b.co,Yo,Refund!\n"
    result = read_cases(text)
    assert [c.case_type for c in result.cases] == ["return_request", None]
    assert [str(p) for p in result.problems] == [
        "row 3, column 'case_type': warning: 'Refund!' is not a case type "
        "(a-z, 0-9, - or _); left empty"
    ]


def test_an_empty_type_map_maps_nothing() -> None:
    text = as_csv(ZENDESK_HEADER, [zendesk_row(**{"Ticket type": "Refund"})])
    assert read_cases(text).cases[0].case_type == "return"
    assert read_cases(text, type_map={}).cases[0].case_type is None


def test_blank_lines_before_the_header_keep_row_and_line_numbers_true() -> None:
    text = "\n\nId,Subject,Requester email\n1,Hi,nobody\n"
    (problem,) = read_cases(text).problems
    assert (problem.row, problem.line) == (4, 4)


def test_an_unreadable_row_still_counts_as_a_row() -> None:
    big = "x" * (16 * 1024 * 1024 + 10)
    result = read_cases(f'Id,Subject,Requester email\n1,"{big}",a@b.co\n')
    assert (result.rows, result.cases, result.rejected_rows) == (1, (), (2,))
