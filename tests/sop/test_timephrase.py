import pytest

from sopdesk.calendar.durations import Duration, Unit
from sopdesk.sop.timephrase import (
    Cadence,
    TimePhraseError,
    parse_cadence,
    parse_escalation_point,
    parse_limit,
)


@pytest.mark.parametrize(
    ("text", "amount", "unit", "business", "anchor"),
    [
        ("12 hours", 12, Unit.HOUR, False, "opened"),
        ("24 business hours", 24, Unit.HOUR, True, "opened"),
        ("5 business days after item_received", 5, Unit.DAY, True, "item_received"),
        ("7 days after resolved", 7, Unit.DAY, False, "resolved"),
        ("seven days after completion", 7, Unit.DAY, False, "resolved"),
        ("within five working days of", None, None, None, None),
        ("within 5 business days of receipt", 5, Unit.DAY, True, "opened"),
        ("3 days of item_received", 3, Unit.DAY, False, "item_received"),
        ("1 business day after acknowledge", 1, Unit.DAY, True, "acknowledge"),
        ("immediately", 0, Unit.MINUTE, False, "opened"),
        ("30 minutes after the case opened", 30, Unit.MINUTE, False, "opened"),
    ],
)
def test_limits(text, amount, unit, business, anchor):
    if amount is None:
        with pytest.raises(TimePhraseError):
            parse_limit(text)
        return
    limit = parse_limit(text)
    assert limit.duration == Duration(amount, unit, business)
    assert limit.anchor == anchor


@pytest.mark.parametrize("text", ["ASAP", "promptly", "as soon as possible", "soon", ""])
def test_vague_limits_are_rejected_with_a_fix(text):
    with pytest.raises(TimePhraseError) as info:
        parse_limit(text)
    assert "e.g." in str(info.value) or "such as" in str(info.value)


def test_escalation_points():
    assert parse_escalation_point("75%").percent == 75
    assert parse_escalation_point("breach").is_breach
    assert parse_escalation_point("100%").is_breach
    late = parse_escalation_point("2 business hours after breach")
    assert late.is_breach and late.after_breach == Duration(2, Unit.HOUR, True)
    with pytest.raises(TimePhraseError):
        parse_escalation_point("150%")


def test_cadences():
    assert parse_cadence("quarterly") == Cadence(months=3)
    assert parse_cadence("every 6 months") == Cadence(months=6)
    assert parse_cadence("every two weeks") == Cadence(days=14)
    assert str(parse_cadence("Annually")) == "annually"
    with pytest.raises(TimePhraseError):
        parse_cadence("now and then")
