"""The built-in SOP library routes its own kind of inquiry to itself."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopdesk.assist.routing import Inquiry, RouteSource, route, triage_suggestions
from sopdesk.sop.model import FrontMatter
from tests.assist.library_sops import case_sops, library_sops

SAMPLES = [
    ("I want to return my shoes", {}, "returns-and-refunds"),
    ("These are the wrong size, can I exchange them?", {}, "returns-and-refunds"),
    ("When will I get my money back for the jacket I sent back?", {}, "returns-and-refunds"),
    ("this is unacceptable, I want to complain", {}, "complaint-resolution"),
    ("Your driver was rude and I'm very disappointed.", {}, "complaint-resolution"),
    ("I have a question about your opening hours", {}, "inquiry-response"),
    ("How do I change my delivery address?", {}, "inquiry-response"),
    ("Where is my order? It has been a week.", {}, "inquiry-response"),
    ("Is the blue kettle in stock?", {"channel": "web"}, "inquiry-response"),
    ("Your site has been down all morning, is there an outage?", {}, "crisis-handling"),
    ("My child had an allergic reaction to the snack bar", {}, "crisis-handling"),
    ("My lawyer will be in touch.", {}, "crisis-handling"),
    ("This is the third time I write, I want to speak to a manager", {}, "escalation-matrix"),
    ("Please escalate this, it is still not resolved", {}, "escalation-matrix"),
    ("Hello, the dashboard is slow today", {"customer_tags": ("sla",)}, "customer-sla"),
    ("Order 1234 for 3 chairs", {"channel": "web", "case_type": "order"}, "order-processing"),
    ("Boiler serviced today", {"channel": "phone", "case_type": "service"}, "review-request"),
]


@pytest.mark.parametrize(("text", "given", "expected"), SAMPLES, ids=[s[2] for s in SAMPLES])
def test_sample_phrases_route_to_their_sop(text: str, given: dict, expected: str) -> None:
    decision = route(Inquiry(body=text, **given), library_sops())
    assert decision.sop_id == expected, decision.explain()
    assert decision.reasons


def test_every_case_sop_in_the_library_has_a_sample() -> None:
    covered = {expected for _, _, expected in SAMPLES}
    missing = sorted(meta.id for meta in case_sops() if meta.id not in covered)
    assert not missing, f"add sample phrases for {missing} to SAMPLES"


def test_a_message_that_names_nothing_goes_to_triage() -> None:
    assert route(Inquiry(body="Hello, it's me again."), library_sops()).triage


def test_a_return_from_a_contract_customer_is_still_a_return() -> None:
    inquiry = Inquiry(body="I want a refund", customer_tags=("contract",))
    decision = route(inquiry, library_sops())
    assert decision.sop_id == "returns-and-refunds"
    assert "customer-sla" in {match.sop_id for match in decision.runners_up}


@pytest.mark.parametrize("meta", case_sops(), ids=lambda meta: meta.id)
def test_each_keyword_alone_routes_to_its_own_sop(meta: FrontMatter) -> None:
    rules = meta.applies_to
    channel = rules.channels[0].value if rules.channels else "email"
    wrong = {
        keyword: route(Inquiry(channel=channel, body=f"Hello, {keyword}. Thanks"), case_sops())
        for keyword in rules.keywords
    }
    assert {k: d.sop_id for k, d in wrong.items() if d.sop_id != meta.id} == {}


@pytest.mark.parametrize(
    "meta", [m for m in case_sops() if m.applies_to.case_type], ids=lambda meta: meta.id
)
def test_the_explicit_case_type_routes_to_its_sop(meta: FrontMatter) -> None:
    rules = meta.applies_to
    channel = rules.channels[0].value if rules.channels else "email"
    decision = route(
        Inquiry(channel=channel, body="Hello", case_type=rules.case_type), library_sops()
    )
    assert decision.sop_id == meta.id


@settings(max_examples=200, deadline=None)
@given(
    subject=st.text(max_size=80),
    body=st.text(max_size=400),
    channel=st.sampled_from(["email", "web", "api", "phone", "chat", "sms", "call", "fax"]),
    tags=st.lists(st.sampled_from(["sla", "vip", "contract", "x"]), max_size=3),
)
def test_any_inquiry_gets_exactly_one_well_formed_decision(
    subject: str, body: str, channel: str, tags: list[str]
) -> None:
    inquiry = Inquiry(channel=channel, subject=subject, body=body, customer_tags=tuple(tags))
    decision = route(inquiry, library_sops())
    assert decision == route(inquiry, tuple(reversed(library_sops())))
    if decision.triage:
        assert decision.sop_id is None
        assert decision.runners_up == ()
    else:
        assert decision.source is RouteSource.RULES
        assert decision.sop_id in {meta.id for meta in case_sops()}
        assert decision.sop_id not in {match.sop_id for match in decision.runners_up}


def test_the_triage_form_offers_the_classifier_s_candidates_first_then_every_case_sop() -> None:
    sops = library_sops()
    returns = next(s for s in sops if s.id == "returns-and-refunds")
    assert returns.applies_to.case_type is not None
    candidates = [(returns.applies_to.case_type, 0.42), ("complaint-resolution", 0.3), ("x", 0.2)]
    offered = triage_suggestions(candidates, sops)
    assert [(s.sop_id, s.suggested, s.confidence) for s in offered[:2]] == [
        ("returns-and-refunds", True, 0.42),
        ("complaint-resolution", True, 0.3),
    ]
    rest = offered[2:]
    assert not any(s.suggested for s in rest)
    assert [s.title for s in rest] == sorted(s.title for s in rest)
    assert {s.sop_id for s in offered} == {s.id for s in case_sops()}  # each once, cases only
    plain = triage_suggestions([], sops)
    assert [s.title for s in plain] == sorted(s.title for s in plain)
