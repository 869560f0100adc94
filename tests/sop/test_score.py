"""The quality score: deterministic, explained, low with errors, high for a complete SOP."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopdesk.sop.parser import load_sop, parse_sop
from sopdesk.sop.score import BASE, CREDIT_POINTS, CREDITS, WITH_ERRORS_MAX, score
from tests.sop.test_lint import VALID_SOP, edit

LIBRARY = Path(__file__).parents[2] / "src" / "sopdesk" / "library"


def score_text(text: str):
    return score(parse_sop(text, "sop.md"))


def test_the_canonical_example_scores_at_least_90():
    result = score(load_sop(LIBRARY / "returns-and-refunds.md"))
    assert result.score >= 90, result.reasons


@pytest.mark.parametrize("path", sorted(LIBRARY.glob("*.md")), ids=lambda p: p.stem)
def test_every_library_sop_scores_at_least_90(path):
    result = score(load_sop(path))
    assert result.score >= 90, result.reasons


def test_the_scale_reaches_exactly_100():
    assert BASE + CREDIT_POINTS * len(CREDITS) == 100


def test_a_clean_sop_with_every_good_practice_scores_100_and_says_why():
    result = score_text(VALID_SOP)
    assert result.score == 100
    assert len(result.reasons) == len(CREDITS)
    assert all(reason.startswith(f"+{CREDIT_POINTS}:") for reason in result.reasons)


def test_an_unreadable_file_scores_0():
    result = score_text("not an SOP")
    assert result.score == 0
    assert "cannot be read" in result.reasons[0]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("    send: ack\n", "    send: akc\n"),
        ("notify: [support-lead]", "notify: [nobody]"),
        ('  csat: ">= 4.5"', '  csat: "4.5"'),
    ],
)
def test_any_error_scores_below_50(old, new):
    result = score_text(edit(old, new))
    assert result.score < 50
    assert any(f"capped at {WITH_ERRORS_MAX}" in reason for reason in result.reasons)


def test_each_weakness_costs_points_and_says_how_to_win_them_back():
    no_glossary = edit("# Glossary\n\n- **Trace**: a carrier's search for a lost parcel.\n", "")
    vague = edit("title: Answer with the order status", "title: Answer ASAP", no_glossary)
    one, two = score_text(no_glossary), score_text(vague)
    assert (one.score, two.score) == (96, 94)
    deduction = next(r for r in one.reasons if r.startswith("-"))
    assert "SOP102" in deduction and "to gain the points back" in deduction
    assert any("SOP106" in r for r in two.reasons)


def test_repeated_weaknesses_are_capped_per_kind():
    text = VALID_SOP
    for title in (
        "Acknowledge the question",
        "Answer with the order status",
        "Pass on the carrier's answer",
    ):
        text = edit(f"title: {title}", f"title: {title} ASAP soon promptly", text)
    result = score_text(text)
    assert result.score == 90
    assert any(r.startswith("-10: SOP106 9 times") for r in result.reasons), result.reasons


def test_missed_credits_are_listed_when_below_100():
    text = edit("    checklist:\n      - The order number is recorded\n", "")
    result = score_text(text)
    assert result.score == 100 - CREDIT_POINTS
    assert any(r.startswith("could earn") and "checklist" in r for r in result.reasons)


def test_score_is_deterministic():
    text = edit("title: Answer with the order status", "title: Answer ASAP")
    assert score_text(text) == score_text(text)
