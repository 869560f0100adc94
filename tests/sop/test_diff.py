"""The readable SOP diff: a summary of what changed in meaning, then the text."""

from __future__ import annotations

from sopdesk.sop.diff import diff_texts, unified_diff
from tests.conftest import sop_text

BASE = sop_text()


def _changes(new: str, old: str = BASE) -> list[str]:
    return diff_texts(old, new).changes


def test_identical_texts() -> None:
    result = diff_texts(BASE, BASE, old_label="v1", new_label="v2")
    assert result.identical and result.changes == []
    assert "The two texts are identical." in result.render()


def test_time_limit_change_reads_like_a_sentence() -> None:
    new = BASE.replace("within: 24 business hours", "within: 12 business hours")
    assert _changes(new) == [
        'step "acknowledge": time limit: 24 business hours → 12 business hours'
    ]


def test_title_owner_review_and_standards() -> None:
    new = sop_text(title="Refunds, fast", review="monthly", within="12 business hours").replace(
        "owner: support-lead", "owner: support-manager"
    )
    changes = _changes(new)
    assert "title: Handling refunds → Refunds, fast" in changes
    assert "owner: support-lead → support-manager" in changes
    assert "review cadence: quarterly → monthly" in changes
    assert 'standard "first_response": 24 business hours → 12 business hours' in changes


def test_steps_added_removed_reordered_and_fields() -> None:
    new = BASE.replace(
        "  - id: refund\n",
        "  - id: check\n    title: Check the order\n    owner: agent\n    within: 2 hours\n"
        "    checklist: [Order number matches]\n  - id: refund\n",
    ).replace("    send: ack\n", "    critical: true\n")
    changes = _changes(new)
    assert 'step "check" added at position 2: Check the order' in changes
    assert 'step "acknowledge": template: ack → (none)' in changes
    assert 'step "acknowledge": critical: no → yes' in changes
    removed = BASE.replace(
        "  - id: refund\n    title: Refund the customer\n    owner: agent\n"
        "    within: 5 business days after acknowledge\n",
        "",
    )
    assert 'step "refund" removed: Refund the customer' in _changes(removed)


def test_reordered_steps() -> None:
    first = "  - id: acknowledge\n    title: Acknowledge the request\n    owner: agent\n"
    first += "    within: 24 business hours\n    send: ack\n"
    second = "  - id: refund\n    title: Refund the customer\n    owner: agent\n"
    second += "    within: 5 business days after acknowledge\n"
    swapped = BASE.replace(first + second, second + first)
    assert "steps reordered: acknowledge, refund → refund, acknowledge" in _changes(swapped)


def test_templates_escalation_followups_and_sections() -> None:
    new = (
        BASE.replace('subject: "We have your request"', 'subject: "Got it"')
        .replace(
            "templates:\n",
            "escalation:\n  - at: 75%\n    notify: [support-lead]\nfollowups:\n"
            "  - send: ack\n    after: 7 days after resolved\ntemplates:\n",
        )
        .replace("Acknowledge, then refund.", "Acknowledge, check, then refund.")
        .replace("# Procedure", "# Glossary\n\nRMA: return authorisation.\n\n# Procedure")
    )
    changes = _changes(new)
    assert 'template "ack": subject changed' in changes
    assert "escalation level 1 added: at: 75%, notify: support-lead" in " ".join(changes) or any(
        c.startswith("escalation level 1 added") for c in changes
    )
    assert any(c.startswith("follow-up 1 added") for c in changes)
    assert 'section "Procedure" edited' in changes
    assert 'section "Glossary" added' in changes


def test_unparseable_side_gets_a_note_and_a_text_diff() -> None:
    broken = BASE.replace("review: quarterly", "review: whenever")
    result = diff_texts(BASE, broken, old_label="v1", new_label="v2")
    assert result.changes == []
    assert result.notes == ["v2 does not parse; only its text is compared"]
    rendered = result.render()
    assert "-review: quarterly" in rendered and "+review: whenever" in rendered


def test_render_puts_the_summary_before_the_text() -> None:
    new = BASE.replace("within: 24 business hours", "within: 12 business hours")
    rendered = diff_texts(BASE, new, old_label="refunds v1", new_label="refunds v2").render()
    assert rendered.startswith("--- refunds v1\n+++ refunds v2\n\nSummary of changes:\n")
    assert rendered.index("time limit") < rendered.index("@@")


def test_layout_only_changes_say_so() -> None:
    new = BASE.replace("owner: support-lead\n", "owner:   support-lead\n")
    assert "only whitespace or layout changed" in diff_texts(BASE, new).render()


def test_unified_diff_marks_a_missing_final_newline() -> None:
    text = unified_diff("a\nb", "a\nc", "x", "y")
    assert text.endswith("+c\n\\ No newline at end of file\n")
