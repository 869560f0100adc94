"""The built-in SOP library: each SOP loads, lints clean, scores >= 90, keeps the seed facts."""

from __future__ import annotations

import itertools
import re
from importlib.resources import files
from pathlib import Path

import pytest

from sopdesk import library
from sopdesk.errors import NotFound
from sopdesk.sop.findings import Severity
from sopdesk.sop.lint import lint, vague_spans
from sopdesk.sop.model import SYSTEM_OWNER, SectionKey, SopDocument, Trigger
from sopdesk.sop.parser import load_sop, parse_sop
from sopdesk.sop.score import score
from sopdesk.sop.templating import render_template
from sopdesk.sop.timephrase import parse_limit

EXPECTED_IDS = {
    "complaint-resolution",
    "crisis-handling",
    "customer-onboarding",
    "customer-sla",
    "escalation-matrix",
    "faq-upkeep",
    "inquiry-response",
    "loyalty-recognition",
    "order-processing",
    "returns-and-refunds",
    "review-request",
    "tone-of-voice",
}
LIBRARY_FILES = sorted(Path(str(files("sopdesk.library"))).glob("*.md"))
IDS = [path.stem for path in LIBRARY_FILES]


def _document(sop_id: str) -> SopDocument:
    result = load_sop(library.template_path(sop_id))
    assert result.document is not None, [str(f) for f in result.findings]
    return result.document


@pytest.fixture(scope="module")
def documents() -> dict[str, SopDocument]:
    return {sop_id: _document(sop_id) for sop_id in IDS}


def test_the_library_has_every_seed_sop() -> None:
    assert len(IDS) >= 12
    assert set(IDS) >= EXPECTED_IDS


def test_templates_lists_every_file_sorted_with_title_and_summary() -> None:
    entries = library.templates()
    assert [e.id for e in entries] == sorted(IDS)
    for entry in entries:
        assert entry.path.is_file()
        assert entry.title and entry.title != entry.id
        assert len(entry.summary) > 20


@pytest.mark.parametrize("sop_id", IDS)
def test_parses_without_findings_and_id_is_the_file_stem(sop_id: str) -> None:
    result = load_sop(library.template_path(sop_id))
    assert result.findings == []
    assert result.document is not None
    assert result.document.id == sop_id


def test_ids_are_unique() -> None:
    ids = [_document(sop_id).id for sop_id in IDS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("sop_id", IDS)
def test_lints_clean(sop_id: str) -> None:
    findings = lint(load_sop(library.template_path(sop_id)))
    errors = [str(f) for f in findings if f.severity is Severity.ERROR]
    warnings = [str(f) for f in findings if f.severity is Severity.WARNING]
    assert errors == []
    assert warnings == []


@pytest.mark.parametrize("sop_id", IDS)
def test_scores_at_least_90(sop_id: str) -> None:
    result = score(load_sop(library.template_path(sop_id)))
    assert result.score >= 90, result.reasons


@pytest.mark.parametrize("sop_id", IDS)
def test_is_complete(sop_id: str) -> None:
    """Every standard section, roles with responsibilities, owned and timed steps."""
    doc = _document(sop_id)
    meta = doc.meta
    for key in SectionKey:
        section = doc.section(key)
        assert section is not None, f"{sop_id}: no {key} section"
        assert len(section.markdown.split()) >= 10, f"{sop_id}: {key} section is thin"
    assert meta.owner in meta.roles
    assert all(role.responsibilities for role in meta.roles.values())
    assert len(meta.steps) >= 4
    for step in meta.steps:
        assert step.owner in {*meta.roles, SYSTEM_OWNER}, step.id
        assert step.within is not None, step.id
    assert meta.standards and meta.escalation and meta.templates and meta.followups
    assert any(re.fullmatch(r"\d+%", level.at) for level in meta.escalation)
    assert any(level.at == "breach" for level in meta.escalation)
    assert meta.review == "quarterly"


@pytest.mark.parametrize("sop_id", IDS)
def test_no_vague_time_words_anywhere(sop_id: str) -> None:
    text = library.template_text(sop_id)
    assert vague_spans(text) == []


@pytest.mark.parametrize("sop_id", IDS)
def test_every_template_renders_with_a_full_context(sop_id: str) -> None:
    meta = _document(sop_id).meta
    context = {
        "customer": {
            "name": "Sam Lee",
            "first_name": "Sam",
            "last_name": "Lee",
            "email": "sam@example.com",
            "purchases": 5,
        },
        "case": {
            "subject": "Lamp arrived broken",
            "reference": "C-1042",
            "fields": {name: f"<{name}>" for name in meta.fields},
        },
        "agent": {"name": "Ana Ruiz", "first_name": "Ana"},
        "company": {
            "name": "Acme Lamps",
            "email": "help@acme.example",
            "phone": "01234 567890",
            "website": "acme.example",
            "hours": "Monday to Friday, 9:00 to 17:30",
        },
        "links": {
            "survey": "https://acme.example/s",
            "review": "https://reviews.example/acme",
            "case": "https://acme.example/c/1042",
            "return_label": "https://acme.example/l/1042",
        },
    }
    for template_id, template in meta.templates.items():
        body = render_template(template.body, context)
        assert "{{" not in body, template_id
        assert not re.search(r"\[[A-Z][^\]]*\]", body), f"{template_id}: a [Placeholder] left"
        if template.subject is not None:
            assert render_template(template.subject, context).strip()


def _case_sops(documents: dict[str, SopDocument]) -> dict[str, SopDocument]:
    return {
        sop_id: doc
        for sop_id, doc in documents.items()
        if doc.meta.applies_to.trigger is Trigger.CASE
    }


def test_case_sops_route_to_distinct_types_and_priorities(
    documents: dict[str, SopDocument],
) -> None:
    case_sops = _case_sops(documents)
    types = [doc.meta.applies_to.case_type for doc in case_sops.values()]
    typed = [t for t in types if t is not None]
    assert len(typed) == len(set(typed))
    priorities = [doc.meta.applies_to.priority for doc in case_sops.values()]
    assert len(priorities) == len(set(priorities))
    for doc in case_sops.values():
        rules = doc.meta.applies_to
        assert rules.case_type or rules.customer_tags, doc.id


def test_keywords_do_not_overlap_between_case_sops(documents: dict[str, SopDocument]) -> None:
    keywords = {
        sop_id: {k.lower() for k in doc.meta.applies_to.keywords}
        for sop_id, doc in _case_sops(documents).items()
    }
    for (a, words_a), (b, words_b) in itertools.combinations(keywords.items(), 2):
        assert not words_a & words_b, (a, b, words_a & words_b)


def test_crisis_outranks_complaints_which_outrank_general_inquiries(
    documents: dict[str, SopDocument],
) -> None:
    rank = {sop_id: doc.meta.applies_to.priority for sop_id, doc in documents.items()}
    assert rank["crisis-handling"] < rank["escalation-matrix"] < rank["complaint-resolution"]
    assert rank["complaint-resolution"] < rank["returns-and-refunds"] < rank["inquiry-response"]
    assert rank["inquiry-response"] == max(rank[s] for s in _case_sops(documents))


# --- facts from the seed documents ----------------------------------------------------------


def test_inquiry_response_answers_within_12_hours_with_an_escalation_path() -> None:
    meta = _document("inquiry-response").meta
    assert meta.standards["first_response"] == "12 hours"
    answer = next(s for s in meta.steps if s.id == "answer")
    assert parse_limit(answer.within or "").duration.minutes == 12 * 60
    assert answer.send in meta.templates
    assert any(s.owner == "specialist" and s.when for s in meta.steps)
    assert len(meta.templates) >= 4


def test_complaint_ack_is_the_seed_script_sent_at_once() -> None:
    meta = _document("complaint-resolution").meta
    first = meta.steps[0]
    assert first.owner == SYSTEM_OWNER
    assert first.within == "immediately"
    ack = meta.templates[first.send or ""]
    assert (ack.subject or "").startswith("We're Here to Help – ")
    assert "We're very sorry for the inconvenience" in " ".join(ack.body.split())
    assert "within 24 hours to discuss a resolution" in " ".join(ack.body.split())
    assert meta.standards["first_response"] == "24 hours"
    assert any(parse_limit(f.after).anchor == "resolved" for f in meta.followups)
    assert "links.survey" in "".join(t.body for t in meta.templates.values())


def test_review_request_goes_out_7_days_after_completion_by_email_text_or_call() -> None:
    meta = _document("review-request").meta
    requests = [f for f in meta.followups if parse_limit(f.after).anchor == "resolved"]
    seven_days = [f for f in requests if parse_limit(f.after).duration.minutes == 7 * 1440]
    assert {f.channel.value for f in seven_days} == {"email", "sms", "call"}
    assert {meta.templates[f.send].channel for f in seven_days} == {f.channel for f in seven_days}
    assert {"positive-feedback", "negative-feedback"} <= {s.id for s in meta.steps}


def test_returns_follow_the_seed_example() -> None:
    meta = _document("returns-and-refunds").meta
    steps = {s.id: s for s in meta.steps}
    assert steps["acknowledge"].within == "24 business hours"
    assert steps["label"].send == "return-label"
    assert steps["refund"].within == "5 business days after item_received"


def test_onboarding_and_loyalty_start_on_customer_events() -> None:
    onboarding = _document("customer-onboarding").meta
    assert onboarding.applies_to.trigger is Trigger.CUSTOMER_CREATED
    assert {"welcome", "access-instructions", "walkthrough-call-script"} <= set(
        onboarding.templates
    )
    loyalty = _document("loyalty-recognition").meta
    assert loyalty.applies_to.trigger is Trigger.PURCHASE
    assert "customer.purchases" in (loyalty.applies_to.when or "")


# --- the package API --------------------------------------------------------------------------


def test_template_text_is_the_shipped_file() -> None:
    path = library.template_path("returns-and-refunds")
    assert path.name == "returns-and-refunds.md"
    text = library.template_text("returns-and-refunds")
    assert text == path.read_text(encoding="utf-8")
    assert parse_sop(text).ok


def test_unknown_template_raises_not_found_with_close_ids() -> None:
    with pytest.raises(NotFound) as caught:
        library.template_text("returns")
    assert "returns-and-refunds" in (caught.value.hint or "")
    with pytest.raises(NotFound) as caught:
        library.template_path("complaint-resolutoin")
    assert "complaint-resolution" in (caught.value.hint or "")
    with pytest.raises(NotFound) as caught:
        library.template_path("zzzz")
    assert "sopdesk sop templates" in (caught.value.hint or "")
