"""Conditions on a case: the context `when` and `unless` read, and their evaluation.

The context follows `sop.templating.TEMPLATE_CONTEXT` (`case.*`, `customer.*`, `sop.*`);
evaluation is `sop.expressions.evaluate` (Jinja2's sandbox, never `eval`). A value the
case does not have is undefined and counts as false. Pure.
"""

from __future__ import annotations

from typing import Any

from sopdesk.engine.anchors import first_response_at
from sopdesk.engine.policy import DEFAULT_POLICY, ClockPolicy
from sopdesk.engine.state import CaseState, Customer, reopenings, resolutions
from sopdesk.sop.expressions import evaluate


def customer_context(customer: Customer | None) -> dict[str, Any]:
    if customer is None:
        return {}
    return {
        **customer.attributes,
        "tier": customer.tier,
        "tags": list(customer.tags),
        "purchases": customer.purchases,
        "first_seen_at": customer.attributes.get("first_seen_at", customer.created_at),
    }


def case_context(state: CaseState, policy: ClockPolicy = DEFAULT_POLICY) -> dict[str, Any]:
    """The names a condition on this case may read."""
    case = state.case
    resolved = resolutions(state)
    return {
        "case": {
            "id": case.id,
            "subject": case.subject,
            "type": case.type,
            "channel": case.channel,
            "priority": case.priority,
            "status": case.status.value,
            "tags": list(case.tags),
            "fields": dict(case.fields),
            "reopened": bool(reopenings(state)),
            "reopen_count": len(reopenings(state)),
            "assignee": case.assignee,
            "opened_at": case.opened_at,
            "first_response_at": first_response_at(state, policy),
            "resolved_at": resolved[-1] if resolved else None,
        },
        "customer": customer_context(state.customer),
        "sop": {"id": state.run.sop.id, "title": state.run.sop.title, "version": state.run.version},
    }


def holds(condition: str | None, context: dict[str, Any]) -> bool:
    """True when there is no condition or it evaluates true."""
    return condition is None or evaluate(condition, context)
