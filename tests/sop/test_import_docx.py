"""Importing Word documents: a clean one (heading styles, numbered steps, an email
script, an escalation table) and a messy one (bold lines for headings, numbering typed
as text, ASAP, a header and footer), built with python-docx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from docx import Document
from docx.enum.text import WD_BREAK
from docx.shared import Inches

from sopdesk.sop.findings import Severity
from sopdesk.sop.importers import EntryKind, ImportResult, import_file
from sopdesk.sop.lint import lint
from sopdesk.sop.parser import parse_sop


def front(result: ImportResult) -> dict[str, Any]:
    """Parse the draft (no errors allowed), lint it (warnings only), return its YAML."""
    parsed = parse_sop(result.text, f"{result.sop_id}.md")
    assert parsed.ok, [str(f) for f in parsed.findings]
    errors = [str(f) for f in lint(parsed) if f.severity is Severity.ERROR]
    assert errors == []
    return yaml.safe_load(result.text.split("---\n")[1])


def steps_by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in data["steps"]}


def messages(result: ImportResult, kind: EntryKind) -> str:
    return "\n".join(str(entry) for entry in result.report.of(kind))


def clean_docx(path: Path) -> Path:
    doc = Document()
    doc.core_properties.title = "Handling customer complaints"
    doc.add_heading("Handling customer complaints", 0)
    doc.add_paragraph("Owner: Customer Service Manager")
    doc.add_paragraph("Review: every 6 months")
    doc.add_heading("Purpose", 1)
    doc.add_paragraph("Every complaint is heard, answered and fixed the same way.")
    doc.add_heading("Scope", 1)
    doc.add_paragraph("All complaints by email, phone or web form.")
    doc.add_heading("Roles and Responsibilities", 1)
    doc.add_paragraph("Support agent: logs and answers every complaint", style="List Bullet")
    doc.add_paragraph("Team lead: handles escalations", style="List Bullet")
    doc.add_heading("Procedure", 1)
    for text in (
        "The support agent logs the complaint with the order number.",
        "Acknowledge the complaint within 24 business hours using the acknowledgement email below.",
        "Investigate and propose a resolution within 3 business days after acknowledging.",
    ):
        doc.add_paragraph(text, style="List Number")
    doc.add_paragraph("Check the order history", style="List Number 2")
    doc.add_paragraph("Check earlier complaints", style="List Number 2")
    doc.add_paragraph("Send the satisfaction survey 7 days after completion.", style="List Number")
    doc.add_heading("Performance Standards", 1)
    for text in (
        "First response within 12 hours",
        "Resolution within 5 business days",
        "CSAT of 4.5 or more",
        "Be friendly",
    ):
        doc.add_paragraph(text, style="List Bullet")
    doc.add_heading("Escalation Matrix", 1)
    rows = [
        ("Level", "Trigger", "Contact", "Respond within"),
        ("1", "75% of the response time used", "Team lead", "4 business hours"),
        ("2", "Response time breached", "Customer Service Manager", "1 business day"),
        ("3", "Legal threat or press enquiry", "Business owner", "2 hours"),
    ]
    table = doc.add_table(rows=len(rows), cols=4)
    for row, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    doc.add_heading("Email Scripts", 1)
    doc.add_heading("Complaint acknowledgement", 2)
    for text in (
        "Subject: We’re Here to Help – [Issue Summary]",
        "Dear [Customer Name],",
        "Thank you for reaching out to us about [brief summary of the issue]. A representative "
        "will be in touch within [time frame] to discuss a resolution.",
        "Best,",
        "[Your Team/Company Name]",
    ):
        doc.add_paragraph(text)
    doc.add_heading("Glossary", 1)
    doc.add_paragraph("CSAT: customer satisfaction score, 1 to 5", style="List Bullet")
    out = path / "Complaint Handling.docx"
    doc.save(str(out))
    return out


def _bold(doc: Any, text: str) -> None:
    doc.add_paragraph().add_run(text).bold = True


def messy_docx(path: Path) -> Path:
    doc = Document()
    section = doc.sections[0]
    section.header.paragraphs[0].text = "ACME Outdoor Ltd — INTERNAL — v3 DRAFT"
    section.footer.paragraphs[0].text = "Printed copies are uncontrolled"
    _bold(doc, "Returns & Refunds Procedure")
    doc.add_paragraph("")
    _bold(doc, "PURPOSE")
    doc.add_paragraph("We want every customer to feel “looked after”   when they return an item.  ")
    doc.add_paragraph("")
    _bold(doc, "Who does what")
    doc.add_paragraph("The warehouse team logs every returned parcel the day it arrives.")
    doc.add_paragraph("Agents handle all customer emails.")
    _bold(doc, "Steps:")
    doc.add_paragraph("1)\tAcknowledge the customer’s return request within 24 hours.")
    doc.add_paragraph("2)  Send the return label   ASAP.")
    doc.add_paragraph("3) Warehouse checks the item within 2 business days of receiving the item")
    for text in ("•\tno visible damage", "- photos attached to the case"):
        doc.add_paragraph(text).paragraph_format.left_indent = Inches(0.5)
    doc.add_paragraph("4) Refund the customer within five business days of receiving the item.")
    doc.add_paragraph("")
    doc.add_paragraph("5) Agent sends a review request 7 days after completion.")
    _bold(doc, "Escalation")
    table = doc.add_table(rows=3, cols=3)
    for row, values in zip(
        table.rows,
        [
            ("Situation", "Who", "Time"),
            ("Customer is angry or threatens a chargeback", "Team Lead (Sam)", "within 4 hours"),
            ("Refund over $500", "Manager", "same day"),
        ],
        strict=True,
    ):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    doc.add_paragraph("Acknowledgement email:")
    script = doc.add_paragraph()
    lines = [
        "Subject: Your return for order [Order Number]",
        "Hi [Customer First Name],",
        "Thanks for your return request. We’ll refund [Refund Amount] within [time frame].",
        "Kind regards,",
        "[Agent Name]",
    ]
    for index, line in enumerate(lines):
        run = script.add_run(line)
        if index < len(lines) - 1:
            run.add_break(WD_BREAK.LINE)
    doc.add_paragraph("note - the label printer is on the 2nd floor!!")
    out = path / "returns (old).docx"
    doc.save(str(out))
    return out


def test_clean_word_document_maps_every_component(tmp_path: Path) -> None:
    result = import_file(clean_docx(tmp_path))
    data = front(result)
    assert result.sop_id == "complaint-handling"
    assert data["title"] == "Handling customer complaints"
    assert data["owner"] == "support-manager"
    assert data["review"] == "semiannually"
    steps = steps_by_id(data)
    assert list(steps) == [
        "support-agent-logs",
        "acknowledge-complaint-using",
        "investigate-propose-resolution",
        "send-satisfaction-survey",
    ]
    assert steps["support-agent-logs"]["owner"] == "agent"
    ack = steps["acknowledge-complaint-using"]
    assert ack["within"] == "24 business hours"
    assert ack["send"] == "complaint-acknowledgement"
    assert ack["owner"] == "system"
    investigate = steps["investigate-propose-resolution"]
    assert investigate["within"] == "3 business days after acknowledge-complaint-using"
    assert investigate["checklist"] == ["Check the order history", "Check earlier complaints"]
    assert steps["send-satisfaction-survey"]["within"] == "7 days after resolved"
    assert data["standards"] == {
        "first_response": "12 hours",
        "resolution": "5 business days",
        "csat": ">= 4.5",
    }
    assert data["escalation"] == [
        {
            "level": 1,
            "at": "75%",
            "notify": ["team-lead"],
            "respond_within": "4 business hours",
            "note": "75% of the response time used",
        },
        {
            "level": 2,
            "at": "breach",
            "notify": ["support-manager"],
            "respond_within": "1 business day",
            "note": "Response time breached",
        },
        {
            "level": 3,
            "at": "1 business day after breach",
            "notify": ["owner"],
            "respond_within": "2 hours",
            "note": "Legal threat or press enquiry",
        },
    ]
    assert data["roles"]["agent"]["responsibilities"] == ["logs and answers every complaint"]
    assert data["roles"]["team-lead"]["responsibilities"] == ["handles escalations"]
    template = data["templates"]["complaint-acknowledgement"]
    assert template["subject"] == "We’re Here to Help – {{ case.subject }}"
    assert template["body"].startswith("Dear {{ customer.name }},\n\nThank you for reaching")
    assert "within {{ case.fields.time_frame }}" in template["body"]
    assert template["body"].endswith("Best,\n{{ company.name }}\n")
    assert data["fields"] == {"time_frame": "Filled in for each case (was [time frame])"}
    assert "[time frame]" in messages(result, EntryKind.UNMAPPED)
    assert "'Be friendly'" in messages(result, EntryKind.UNMAPPED)
    assert "level 3 fires at '1 business day after breach'" in messages(result, EntryKind.ASSUMED)
    body = result.text.split("---\n", 2)[2]
    assert "| 3 | Legal threat or press enquiry | Business owner | 2 hours |" in body
    assert "1. The support agent logs the complaint" in body
    assert "    1. Check the order history" in body


def test_messy_word_document(tmp_path: Path) -> None:
    result = import_file(messy_docx(tmp_path))
    data = front(result)
    assert result.sop_id == "returns-old"
    assert data["title"] == "Returns & Refunds Procedure"
    steps = steps_by_id(data)
    assert [s["title"] for s in data["steps"]] == [
        "Acknowledge the customer’s return request within 24 hours",
        "Send the return label ASAP",
        "Warehouse checks the item within 2 business days of receiving the item",
        "Refund the customer within five business days of receiving the item",
        "Agent sends a review request 7 days after completion",
    ]
    ack = steps["acknowledge-customer-return"]
    assert ack["within"] == "24 hours"
    assert ack["send"] == "acknowledgement"
    assert "within" not in steps["send-return-label"]
    check = steps["warehouse-checks-item"]
    assert check["owner"] == "warehouse"
    assert check["within"] == "2 business days after item_received"
    assert check["checklist"] == ["no visible damage", "photos attached to the case"]
    assert steps["refund-customer"]["within"] == "5 business days after item_received"
    assert steps["agent-sends-review"] == {
        "id": "agent-sends-review",
        "title": "Agent sends a review request 7 days after completion",
        "owner": "agent",
        "within": "7 days after resolved",
    }
    assert data["events"] == {"item_received": "Item received (imported from “receiving the item”)"}
    assert data["roles"]["warehouse"]["responsibilities"] == [
        "The warehouse team logs every returned parcel the day it arrives."
    ]
    assert data["owner"] == "team-lead"
    assert [(e["at"], e["notify"], e.get("respond_within")) for e in data["escalation"]] == [
        ("breach", ["team-lead"], "4 hours"),
        ("4 hours after breach", ["manager"], None),
    ]
    template = data["templates"]["acknowledgement"]
    assert template["subject"] == "Your return for order {{ case.fields.order_number }}"
    assert template["body"] == (
        "Hi {{ customer.first_name }},\n\nThanks for your return request. We’ll refund "
        "{{ case.fields.refund_amount }} within {{ case.fields.time_frame }}.\n\n"
        "Kind regards,\n{{ agent.name }}\n"
    )
    assert set(data["fields"]) == {"order_number", "refund_amount", "time_frame"}
    unmapped = messages(result, EntryKind.UNMAPPED)
    assert "paragraph 11: vague time limit in 'Send the return label ASAP.'" in unmapped
    assert "[Refund Amount]" in unmapped
    ignored = messages(result, EntryKind.IGNORED)
    assert "header text ignored: 'ACME Outdoor Ltd — INTERNAL — v3 DRAFT'" in ignored
    assert "footer text ignored: 'Printed copies are uncontrolled'" in ignored
    assumed = messages(result, EntryKind.ASSUMED)
    assert "SOP owner 'team-lead'" in assumed
    assert "review cadence 'quarterly'" in assumed
    body = result.text.split("---\n", 2)[2]
    assert "We want every customer to feel “looked after” when they return an item." in body
    assert "note - the label printer is on the 2nd floor!!" in body
    assert "ACME Outdoor" not in result.text


def test_word_numbering_and_bullets_from_numbering_part(tmp_path: Path) -> None:
    doc = Document()
    doc.add_heading("Order processing", 0)
    doc.add_heading("Process", 1)
    doc.add_paragraph("Check payment cleared within 2 hours", style="List Number")
    doc.add_paragraph("Card payments", style="List Bullet 2")
    doc.add_paragraph("Ship the order within 1 business day", style="List Number")
    out = tmp_path / "orders.docx"
    doc.save(str(out))
    data = front(import_file(out, sop_id="order-processing"))
    assert data["id"] == "order-processing"
    assert [(s["id"], s.get("within"), s.get("checklist")) for s in data["steps"]] == [
        ("check-payment-cleared", "2 hours", ["Card payments"]),
        ("ship-order", "1 business day", None),
    ]


def test_damaged_word_file_is_a_user_error(tmp_path: Path) -> None:
    good = clean_docx(tmp_path).read_bytes()
    broken = tmp_path / "broken.docx"
    broken.write_bytes(good[: len(good) // 2])
    from sopdesk.errors import SopdeskError

    with pytest.raises(SopdeskError) as caught:
        import_file(broken)
    assert caught.value.hint


def test_word_step_table_gives_owners_and_limits(tmp_path: Path) -> None:
    doc = Document()
    doc.add_heading("Chargebacks", 0)
    doc.add_heading("Procedure", 1)
    rows = [
        ("Step", "Action", "Responsible", "Timeframe"),
        ("1", "Log the chargeback notice", "Customer Service Rep", "4 business hours"),
        ("2", "Send evidence to the bank", "Finance team", "5 business days of the notice"),
        ("3", "Tell the customer the outcome", "", ""),
    ]
    grid = doc.add_table(rows=len(rows), cols=4)
    for row, values in zip(grid.rows, rows, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    out = tmp_path / "chargebacks.docx"
    doc.save(str(out))
    result = import_file(out)
    data = front(result)
    assert [(s["id"], s.get("owner"), s.get("within")) for s in data["steps"]] == [
        ("log-chargeback-notice", "agent", "4 business hours"),
        ("send-evidence-bank", "finance", "5 business days after notice"),
        ("tell-customer-outcome", None, None),
    ]
    assert list(data["events"]) == ["notice"]
    assert "table 1 row 3: event 'notice' from 'the notice'" in messages(result, EntryKind.ASSUMED)
    assert "table 1 row 3: step 'Send evidence to the bank'" in messages(result, EntryKind.MAPPED)
