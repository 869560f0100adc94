"""Importing Markdown, plain text and HTML, choosing the reader by extension and content,
and refusing what cannot be read."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from docx import Document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sopdesk.errors import SopdeskError
from sopdesk.sop.findings import Severity
from sopdesk.sop.importers import EntryKind, ImportResult, import_bytes, import_file
from sopdesk.sop.lint import lint
from sopdesk.sop.parser import parse_sop

FIXTURES = Path(__file__).parent / "fixtures" / "import"


def front(result: ImportResult) -> dict[str, Any]:
    """Parse the draft (no errors allowed), lint it (warnings only), return its YAML."""
    parsed = parse_sop(result.text, f"{result.sop_id}.md")
    assert parsed.ok, [str(f) for f in parsed.findings]
    assert [str(f) for f in lint(parsed) if f.severity is Severity.ERROR] == []
    return yaml.safe_load(result.text.split("---\n")[1])


def report(result: ImportResult, kind: EntryKind) -> str:
    return "\n".join(str(entry) for entry in result.report.of(kind))


def test_seed_example_as_plain_text() -> None:
    result = import_file(FIXTURES / "returns-seed.txt")
    data = front(result)
    assert data["title"] == "Handling Returns and Refunds"
    assert data["steps"] == [
        {
            "id": "acknowledge-return-request",
            "title": "Acknowledge return request within 24 hours",
            "owner": "system",
            "within": "24 hours",
            "send": "initial-complaint-acknowledgment",
        },
        {
            "id": "provide-return-shipping",
            "title": "Provide a return shipping label and instructions",
        },
        {
            "id": "process-refund",
            "title": "Process refund within five business days of receiving the item",
            "within": "5 business days after item_received",
        },
    ]
    assert list(data["events"]) == ["item_received"]
    template = data["templates"]["initial-complaint-acknowledgment"]
    assert template["subject"] == "We’re Here to Help – {{ case.subject }}"
    assert template["body"] == (
        "Dear {{ customer.name }},\n\nThank you for reaching out to us about {{ case.subject }}. "
        "We’re very sorry for the inconvenience this has caused and are committed to making "
        "this right. A representative will be in touch within {{ case.fields.time_frame }} to "
        "discuss a resolution.\n\nBest,\n{{ company.name }}\n"
    )
    body = result.text.split("---\n", 2)[2]
    assert "# Purpose\n\nEnsure returns are managed promptly" in body
    assert "- Process refund within five business days of receiving the item." in body
    assert "line 8: event 'item_received'" in report(result, EntryKind.MAPPED)
    assert "[time frame]" in report(result, EntryKind.UNMAPPED)
    assert "no Scope section" in report(result, EntryKind.MISSING)
    assert result.report.render().startswith("Import report for returns-seed.txt (text)\n")


def test_plain_text_headings_and_typed_lists() -> None:
    text = (
        "COMPLAINT HANDLING\n\nPURPOSE\nResolve complaints fairly.\n\n"
        "Procedure:\n1) Log the complaint\n2) The team lead calls the customer within 1 "
        "business day\n   - note the outcome\n3. Close it\n\nMISC NOTES\nBring snacks.\n"
    )
    result = import_bytes(text.encode(), "complaints.txt")
    data = front(result)
    assert data["title"] == "COMPLAINT HANDLING"
    assert [
        (s["id"], s.get("owner"), s.get("within"), s.get("checklist")) for s in data["steps"]
    ] == [
        ("log-complaint", None, None, None),
        ("team-lead-calls", "team-lead", "1 business day", ["note the outcome"]),
        ("close", None, None, None),
    ]
    assert "# MISC NOTES\n\nBring snacks." in result.text
    assert "line 12: heading 'MISC NOTES' matches no standard section" in report(
        result, EntryKind.UNMAPPED
    )


def test_markdown_with_numbered_headings_front_matter_and_quoted_script() -> None:
    result = import_file(FIXTURES / "inquiry-response.md")
    data = front(result)
    assert data["title"] == "Customer Inquiry Response"
    assert (data["owner"], data["review"]) == ("support-lead", "monthly")
    steps = {s["id"]: s for s in data["steps"]}
    assert steps["triage"]["owner"] == "agent"
    assert steps["triage"]["within"] == "2 business hours"
    respond = steps["respond-emails-using"]
    assert (respond["within"], respond["send"]) == ("12 hours", "first-reply")
    assert respond["checklist"] == ["Use the customer's name", "Answer every question they asked"]
    follow = steps["answer-needs-another"]
    assert (follow["owner"], follow["within"]) == (
        "support-team",
        "1 business day after first_response",
    )
    assert "within" not in steps["close-case-promptly"]
    assert data["standards"] == {"first_response": "12 hours", "fcr": ">= 70%", "csat": ">= 4.6"}
    assert [(e["at"], e["notify"]) for e in data["escalation"]] == [
        ("75%", ["team-lead"]),
        ("breach", ["support-manager"]),
    ]
    template = data["templates"]["first-reply"]
    assert template["subject"] == "Re: {{ case.subject }}"
    assert "Your reference is {{ case.reference }}" in template["body"]
    assert "by {{ case.fields.promised_date }}" in template["body"]
    assert "YAML front matter (lines 1-4) skipped" in report(result, EntryKind.IGNORED)
    assert "vague time limit in 'Close the case promptly.'" in report(result, EntryKind.UNMAPPED)
    assert "alert" not in result.text
    assert "Keep a friendly tone." in result.text


def test_html_is_read_as_text_and_nothing_runs() -> None:
    result = import_file(FIXTURES / "onboarding.html")
    data = front(result)
    assert data["title"] == "New customer onboarding"
    assert [(s["id"], s.get("owner"), s.get("within")) for s in data["steps"]] == [
        ("send-welcome-email", "system", "1 hour after purchase"),
        ("account-manager-books", "account-manager", "3 business days"),
        ("check", None, "14 days after walkthrough"),
    ]
    assert data["steps"][0]["send"] == "welcome"
    assert data["steps"][1]["checklist"] == ["Share the setup guide"]
    assert data["escalation"][0] == {
        "level": 1,
        "at": "50%",
        "notify": ["team-lead"],
        "respond_within": "2 business hours",
        "note": "50% of the time used",
    }
    assert data["templates"]["welcome"]["subject"] == "Welcome to {{ company.name }}!"
    for dangerous in ("alert", "evil.example", "javascript", "cookie", "Enable JavaScript"):
        assert dangerous not in result.text
    ignored = report(result, EntryKind.IGNORED)
    assert "line 7: <script> removed" in ignored
    assert "<style> removed" in ignored
    assert "Welcome every new customer & get them" in result.text
    assert "heading 'Who it applies to' (close to 'who this applies to')" in report(
        result, EntryKind.MAPPED
    )


def _docx_bytes() -> bytes:
    doc = Document()
    doc.add_heading("Refunds", 0)
    doc.add_heading("Procedure", 1)
    doc.add_paragraph("Refund within 5 business days", style="List Number")
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def test_mislabeled_files_are_read_by_their_content() -> None:
    as_text = import_bytes(_docx_bytes(), "refunds.txt")
    assert as_text.report.format == "docx"
    assert "named .txt but the content is docx" in report(as_text, EntryKind.IGNORED)
    assert front(as_text)["steps"][0]["within"] == "5 business days"

    html = b"<html><body><h1>Refunds</h1><h2>Steps</h2><ol><li>Refund within 2 days</li></ol>"
    as_docx = import_bytes(html, "refunds.docx")
    assert as_docx.report.format == "html"
    assert front(as_docx)["steps"][0]["within"] == "2 days"

    markdown = b"# Refunds\n\n## Steps\n\n1. Refund within 2 days\n"
    assert import_bytes(markdown, "refunds.txt").report.format == "markdown"
    no_extension = import_bytes(markdown, "REFUNDS")
    assert no_extension.sop_id == "refunds"
    assert "no known extension" in report(no_extension, EntryKind.IGNORED)


def test_windows_1252_text_is_decoded_with_a_note() -> None:
    text = "Procedure\n1. Reply within 12 hours \u2013 be kind\n".encode("cp1252")
    result = import_bytes(text, "reply.txt")
    assert "decoded as Windows-1252" in report(result, EntryKind.IGNORED)
    assert front(result)["steps"][0]["title"] == "Reply within 12 hours – be kind"


def _zip(names: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in names.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "message", "hint"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "scan.docx", "a binary file", ".docx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "old.doc", "Word 97-2003", ".docx"),
        (b"%PDF-1.7\n%\xe2\xe3", "sop.pdf", "a PDF", ".txt"),
        (b"{\\rtf1\\ansi Hello}", "sop.rtf", "an RTF file", ".docx"),
        (
            _zip({"mimetype": b"application/vnd.oasis.opendocument.text"}),
            "a.odt",
            "OpenDocument",
            ".docx",
        ),
        (_zip({"readme.txt": b"hi"}), "bundle.zip", "a zip archive", ".docx"),
        (b"PK\x03\x04garbage", "broken.docx", "damaged zip", ".docx"),
        (b"   \n\n", "empty.txt", "is empty", "SOP file"),
    ],
)
def test_unsupported_files_are_refused_with_a_hint(
    data: bytes, name: str, message: str, hint: str
) -> None:
    with pytest.raises(SopdeskError) as caught:
        import_bytes(data, name)
    assert message in caught.value.message
    assert caught.value.hint is not None and hint in caught.value.hint


def test_too_large_and_bad_id_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with big.open("wb") as handle:
        handle.truncate(20_000_001)
    with pytest.raises(SopdeskError, match="at most"):
        import_file(big)
    with pytest.raises(SopdeskError, match="not a valid SOP id"):
        import_bytes(b"Procedure\n1. Do it\n", "x.txt", sop_id="Bad Id")
    with pytest.raises(SopdeskError, match="cannot read"):
        import_file(tmp_path / "missing.docx")


_PIECES = st.sampled_from(
    [
        "PURPOSE",
        "Procedure:",
        "1)",
        "2.",
        "•",
        "-",
        "o",
        "  ",
        "\n",
        "\n\n",
        "\t",
        "agent",
        "within 24 hours",
        "# ",
        "## Steps",
        "<h2>",
        "</h2>",
        "<ol>",
        "<li>",
        "</li>",
        "<br>",
        "<table><tr><td>",
        "</td><td>",
        "Subject: x",
        "Dear [Name],",
        "Best,",
        "[Foo Bar]",
        "{{",
        "{%",
        "|",
        "---",
        "Escalation",
        "team lead",
        "ASAP",
        "75%",
        "=====",
        "**",
        "Owner: Jane",
        "Review: monthly",
        "<script>",
        "é",
        "Step 1:",
        "> ",
        "```",
        "\r\n",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(_PIECES, min_size=1, max_size=50),
    extension=st.sampled_from([".txt", ".md", ".html", ""]),
)
def test_any_text_file_imports_to_a_parsable_draft_or_a_user_error(
    pieces: list[str], extension: str
) -> None:
    try:
        result = import_bytes("".join(pieces).encode(), f"doc{extension}")
    except SopdeskError:
        return
    parsed = parse_sop(result.text, "doc.md")
    assert parsed.ok, [str(f) for f in parsed.findings]
    errors = {f.code for f in lint(parsed) if f.severity is Severity.ERROR}
    assert errors <= {"SOP101"}  # only "no steps", when the text has no list to map
