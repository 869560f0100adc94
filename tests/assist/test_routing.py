"""Routing rules: each `applies_to` criterion, ranking, explicit types, triage, classifier."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from sopdesk.assist.routing import (
    Criterion,
    Inquiry,
    RouteSource,
    fold,
    keyword_pattern,
    rank,
    route,
)
from sopdesk.engine.state import Case, Customer
from sopdesk.sop.model import AppliesTo


@dataclass(frozen=True)
class Sop:
    """The least a routable SOP needs: an id and its rules."""

    id: str
    applies_to: AppliesTo


def sop(sop_id: str, **rules: Any) -> Sop:
    return Sop(sop_id, AppliesTo(**rules))


RETURNS = sop("returns", case_type="return", keywords=["return", "refund"], priority=20)
COMPLAINTS = sop("complaints", case_type="complaint", keywords=["complain"], priority=10)


def ask(body: str = "", subject: str = "", **fields: Any) -> Inquiry:
    return Inquiry(subject=subject, body=body, **fields)


# --- each criterion --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inquiry", "routed"),
    [
        (ask("please refund me"), True),
        (ask("hello", case_type="return"), True),
        (ask("please refund me", case_type="complaint"), False),
        (ask("hello"), False),
    ],
)
def test_case_type_and_keywords(inquiry: Inquiry, routed: bool) -> None:
    decision = route(inquiry, [RETURNS])
    assert (decision.sop_id == "returns") is routed
    assert decision.triage is not routed


def test_a_type_without_keywords_needs_the_type_from_the_channel() -> None:
    orders = sop("orders", case_type="order")
    assert route(ask("my order"), [orders]).triage
    decision = route(ask("anything", case_type="order"), [orders])
    assert decision.sop_id == "orders"
    assert [r.criterion for r in decision.reasons] == [Criterion.CASE_TYPE]


@pytest.mark.parametrize(
    ("channel", "routed"), [("email", True), ("web", True), ("phone", False), ("EMAIL", True)]
)
def test_channels(channel: str, routed: bool) -> None:
    rules = sop("returns", keywords=["refund"], channels=["email", "web"])
    assert (route(ask("refund", channel=channel), [rules]).sop_id == "returns") is routed


def test_no_channels_listed_means_any_channel() -> None:
    rules = sop("returns", keywords=["refund"])
    assert route(ask("refund", channel="sms"), [rules]).sop_id == "returns"


@pytest.mark.parametrize(
    ("tags", "routed"),
    [(("contract",), True), (("SLA", "vip"), True), (("vip",), False), ((), False)],
)
def test_customer_tags_any_one_is_enough(tags: tuple[str, ...], routed: bool) -> None:
    rules = sop("sla", customer_tags=["sla", "contract"])
    assert (route(ask("hi", customer_tags=tags), [rules]).sop_id == "sla") is routed


@pytest.mark.parametrize(
    ("inquiry", "routed"),
    [
        (ask("refund", customer_tier="vip"), True),
        (ask("refund", customer_tier="standard"), False),
        (ask("refund"), False),
    ],
)
def test_when_condition(inquiry: Inquiry, routed: bool) -> None:
    rules = sop("vip-returns", keywords=["refund"], when='customer.tier == "vip"')
    decision = route(inquiry, [rules])
    assert (decision.sop_id == "vip-returns") is routed
    if routed:
        assert decision.reasons[-1].criterion is Criterion.WHEN


def test_when_reads_fields_and_case() -> None:
    rules = sop("big", when="case.fields.amount > 100 and case.channel == 'web'")
    assert route(ask("x", channel="web", fields={"amount": 250}), [rules]).sop_id == "big"
    assert route(ask("x", channel="web", fields={"amount": 50}), [rules]).triage
    assert route(ask("x", channel="web"), [rules]).triage


def test_a_condition_that_fails_skips_the_sop_and_says_so() -> None:
    broken = sop("broken", when="case.fields.amount > 100", priority=1)
    decision = route(ask("refund", fields={"amount": "lots"}), [broken, RETURNS])
    assert decision.sop_id == "returns"
    assert len(decision.problems) == 1
    assert decision.problems[0].startswith("broken:")


# --- keywords: words, inflections, accents --------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "text", "found"),
    [
        ("return", "I want to return my shoes", True),
        ("return", "RETURN", True),
        ("return", "returns policy", True),
        ("return", "I returned it last week", True),
        ("return", "returning an item", True),
        ("return", "is it returnable?", False),
        ("turn", "I want to return it", False),
        ("refund", "refund.", True),
        ("refund", "(refund)", True),
        ("refund", "refunded", True),
        ("exchange", "can it be exchanged?", True),
        ("exchange", "exchanging sizes", True),
        ("reply", "nobody replied", True),
        ("money back", "I want my money\n back", True),
        ("money back", "money-back guarantee", True),
        ("money back", "money is back", False),
        ("café", "the cafe was closed", True),
        ("refund", "un réfund s'il vous plaît", True),
        ("not acceptable", "This is NOT ACCEPTABLE!", True),
        ("don't work", "it don’t work", True),
        ("how do i", "How do I reset it?", True),
        ("in stock", "is it instock", False),
        ("  ", "anything", False),
    ],
)
def test_keyword_matching(keyword: str, text: str, found: bool) -> None:
    pattern = keyword_pattern(keyword)
    assert (pattern is not None and pattern.search(fold(text)) is not None) is found


def test_fold_removes_case_accents_and_curly_quotes() -> None:
    assert fold("  Ça  N’EST\tPAS ÉGAL ") == "ca n'est pas egal"


def test_keyword_in_the_subject_counts_and_is_named() -> None:
    decision = route(ask("see subject", subject="Refund request"), [RETURNS])
    assert decision.sop_id == "returns"
    assert "subject mentions 'refund'" in decision.explain()


# --- ranking -----------------------------------------------------------------------------


def test_lowest_priority_number_wins_and_the_rest_are_runners_up() -> None:
    decision = route(ask("I complain and want a refund"), [RETURNS, COMPLAINTS])
    assert decision.sop_id == "complaints"
    assert [m.sop_id for m in decision.runners_up] == ["returns"]
    assert decision.source is RouteSource.RULES


def test_priority_tie_goes_to_more_criteria_then_to_the_id() -> None:
    broad = sop("b-broad", keywords=["refund"], priority=5)
    narrow = sop("z-narrow", keywords=["refund"], channels=["email"], priority=5)
    twin = sop("a-twin", keywords=["refund"], priority=5)
    decision = route(ask("refund"), [broad, narrow, twin])
    assert decision.sop_id == "z-narrow"
    assert [m.sop_id for m in decision.runners_up] == ["a-twin", "b-broad"]


def test_the_decision_does_not_depend_on_the_order_of_the_sops() -> None:
    sops = [
        RETURNS,
        COMPLAINTS,
        sop("x", keywords=["refund"], priority=20),
        sop("w", keywords=["refund"], priority=20),
    ]
    inquiry = ask("refund please")
    decisions = {route(inquiry, list(order)) for order in itertools.permutations(sops)}
    assert len(decisions) == 1
    assert next(iter(decisions)).sop_id == "returns"


def test_an_explicit_case_type_beats_keywords_and_priority() -> None:
    crisis = sop("crisis", case_type="crisis", keywords=["outage"], priority=1)
    anything = sop("untyped", keywords=["outage"], priority=1)
    inquiry = ask("there was an outage and I want my order back", case_type="return")
    decision = route(inquiry, [crisis, anything, RETURNS])
    assert decision.sop_id == "returns"
    assert decision.case_type == "return"
    assert [m.sop_id for m in decision.runners_up] == ["untyped"]


def test_only_case_triggered_sops_route_cases() -> None:
    manual = sop("manual", trigger="manual", keywords=["refund"], priority=1)
    onboarding = sop("welcome", trigger="customer_created", priority=1)
    assert route(ask("refund"), [manual, onboarding]).triage


def test_an_sop_that_states_no_criterion_catches_every_case() -> None:
    catch_all = sop("catch-all", priority=1000)
    assert route(ask("anything at all"), [catch_all]).sop_id == "catch-all"
    assert route(ask("refund"), [catch_all, RETURNS]).sop_id == "returns"


def test_rank_lists_every_match_best_first() -> None:
    matches, problems = rank([RETURNS, COMPLAINTS], ask("complain about the refund"))
    assert [m.sop_id for m in matches] == ["complaints", "returns"]
    assert problems == []


# --- triage ------------------------------------------------------------------------------


def test_no_match_goes_to_triage_keeping_the_given_type() -> None:
    decision = route(ask("hello", case_type="billing"), [RETURNS, COMPLAINTS])
    assert decision.triage
    assert decision.queue == "triage"
    assert decision.sop_id is None
    assert decision.case_type == "billing"
    assert "triage" in decision.explain()


def test_no_sops_at_all_is_triage() -> None:
    assert route(ask("refund"), []).triage


# --- classifier fallback -----------------------------------------------------------------


@dataclass(frozen=True)
class Fixed:
    """A classifier that always says the same thing."""

    answer: Sequence[tuple[str, float]]

    def predict(self, inquiry: Inquiry) -> Sequence[tuple[str, float]]:
        return self.answer


class Refuses:
    def predict(self, inquiry: Inquiry) -> Sequence[tuple[str, float]]:
        raise AssertionError("the classifier must not be asked when a rule matches")


def test_the_classifier_is_not_asked_when_a_rule_matches() -> None:
    assert route(ask("refund"), [RETURNS], Refuses()).sop_id == "returns"


def test_a_confident_case_type_routes_to_the_sop_of_that_type() -> None:
    decision = route(ask("the heel came off"), [RETURNS, COMPLAINTS], Fixed([("return", 0.83)]))
    assert decision.source is RouteSource.CLASSIFIER
    assert decision.by_classifier
    assert decision.sop_id == "returns"
    assert decision.case_type == "return"
    assert decision.confidence == pytest.approx(0.83)
    assert decision.reasons[0].criterion is Criterion.CLASSIFIER
    assert "0.83" in decision.explain()


def test_a_confident_sop_id_routes_to_that_sop() -> None:
    decision = route(ask("the heel came off"), [RETURNS, COMPLAINTS], Fixed([("complaints", 0.7)]))
    assert decision.sop_id == "complaints"
    assert decision.case_type == "complaint"


def test_an_unsure_classifier_leaves_the_case_in_triage_with_its_suggestions() -> None:
    guess = [("complaint", 0.2), ("return", 0.35)]
    decision = route(ask("the heel came off"), [RETURNS, COMPLAINTS], Fixed(guess))
    assert decision.triage
    assert decision.candidates == (("return", 0.35), ("complaint", 0.2))
    assert route(ask("x"), [RETURNS], Fixed([("return", 0.35)]), threshold=0.3).sop_id == "returns"


def test_a_label_no_sop_stands_for_is_passed_over() -> None:
    guess = [("billing", 0.9), ("complaint", 0.6)]
    decision = route(ask("the heel came off"), [RETURNS, COMPLAINTS], Fixed(guess))
    assert decision.sop_id == "complaints"
    assert decision.confidence == pytest.approx(0.6)


def test_the_classifier_still_obeys_the_other_rules() -> None:
    email_only = sop("returns", case_type="return", channels=["email"])
    assert route(ask("x", channel="phone"), [email_only], Fixed([("return", 0.9)])).triage
    assert route(ask("x", channel="phone"), [email_only], Fixed([("returns", 0.9)])).triage


def test_the_channel_given_type_outranks_the_classifier() -> None:
    inquiry = ask("the heel came off", case_type="complaint")
    orders = sop("complaint-desk", case_type="complaint", channels=["web"])
    decision = route(inquiry, [RETURNS, orders], Fixed([("return", 0.95), ("returns", 0.9)]))
    assert decision.triage
    assert decision.case_type == "complaint"


# --- engine types ------------------------------------------------------------------------


def test_an_inquiry_from_engine_case_and_customer() -> None:
    opened = datetime(2026, 3, 2, 9, tzinfo=UTC)
    case = Case(id="c1", opened_at=opened, channel="web", subject="Refund", fields={"n": 1})
    customer = Customer(id="u1", created_at=opened, tier="vip", tags=("sla",))
    inquiry = Inquiry.from_case(case, "please", customer)
    assert (inquiry.customer_tier, inquiry.customer_tags, inquiry.case_type) == (
        "vip",
        ("sla",),
        None,
    )
    rules = sop("vip", keywords=["refund"], customer_tags=["sla"], when="customer.tier == 'vip'")
    assert route(inquiry, [rules]).sop_id == "vip"
    assert Inquiry.from_case(case).customer_tier is None
