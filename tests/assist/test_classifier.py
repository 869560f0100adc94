"""TfidfClassifier: learns case types from labelled past cases and serves as routing fallback."""

from __future__ import annotations

from functools import cache

import pytest

from sopdesk.assist.classifier import TfidfClassifier
from sopdesk.assist.routing import Inquiry, RouteSource, route
from sopdesk.errors import InvalidInput
from sopdesk.sop.model import FrontMatter
from tests.assist.library_sops import library_sops

PAST_CASES = [
    ("The heel came off after two days, I'd like to send these shoes back", "return"),
    ("Parcel arrived but the jacket is too small, how do I send it back", "return"),
    ("I sent the item back last week, when do I get my money", "return"),
    ("Please take back the blender, it is not what I ordered", "return"),
    ("Can I swap the trainers for a bigger pair", "return"),
    ("I posted the boots back to you, please confirm you received them", "return"),
    ("Your courier threw my parcel over the fence and broke it", "complaint"),
    ("The agent hung up on me, that is no way to treat a customer", "complaint"),
    ("I waited an hour on hold and nobody answered", "complaint"),
    ("Terrible experience in your store today, staff ignored me", "complaint"),
    ("I am furious about how I was treated by your delivery driver", "complaint"),
    ("Worst service I have ever had, staff were so impolite", "complaint"),
    ("Do you deliver to Ireland and what does it cost", "inquiry"),
    ("What sizes does the linen shirt come in", "inquiry"),
    ("Are you open on bank holidays", "inquiry"),
    ("Can I pay with PayPal on your website", "inquiry"),
    ("Do you sell gift cards in the shop", "inquiry"),
    ("What is the warranty period on your kettles", "inquiry"),
]


@cache
def trained() -> TfidfClassifier:
    return TfidfClassifier.train(PAST_CASES)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I want to send the dress back, it is too small", "return"),
        ("Nobody answered the phone and the staff were impolite", "complaint"),
        ("Do you deliver to France", "inquiry"),
    ],
)
def test_it_learns_the_labels_of_past_cases(text: str, label: str) -> None:
    ranked = trained().predict(Inquiry(body=text))
    assert ranked[0][0] == label
    assert len(ranked) == 3
    assert sum(score for _, score in ranked) == pytest.approx(1.0)
    assert [score for _, score in ranked] == sorted((s for _, s in ranked), reverse=True)


def test_the_report_says_what_training_saw() -> None:
    model = TfidfClassifier.train([*PAST_CASES, ("   ", "return"), ("text", "")])
    assert model.report.examples == len(PAST_CASES)
    assert model.report.skipped == 2
    assert model.report.labels == ("complaint", "inquiry", "return")
    assert model.report.notes == ()


def test_one_label_is_not_enough_to_learn_from() -> None:
    with pytest.raises(InvalidInput, match="at least 2 labels"):
        TfidfClassifier.train([("send it back", "return"), ("refund me", "return")])


def test_a_solver_that_stops_early_is_reported_not_raised() -> None:
    model = TfidfClassifier.train(PAST_CASES, max_iter=1)
    assert model.report.notes
    assert "max_iter" in model.report.notes[0]


def test_batches_and_single_predictions_agree() -> None:
    texts = ["send it back please", "your staff were impolite", "do you sell gift cards"]
    batch = trained().predict_texts(texts)
    assert batch == [trained().predict(Inquiry(body=text)) for text in texts]
    assert [ranked[0][0] for ranked in batch] == trained().label_texts(texts)
    assert trained().predict_texts([]) == []


def returns_only() -> list[FrontMatter]:
    return [meta for meta in library_sops() if meta.applies_to.case_type in {"return", "complaint"}]


def test_it_routes_what_the_rules_miss() -> None:
    inquiry = Inquiry(body="The zip broke, I'd like to send the bag back to you")
    rules_only = route(inquiry, returns_only())
    assert rules_only.triage
    decision = route(inquiry, returns_only(), trained(), threshold=0.4)
    assert decision.source is RouteSource.CLASSIFIER
    assert decision.sop_id == "returns-and-refunds"
    assert decision.confidence is not None
    assert decision.confidence >= 0.4
