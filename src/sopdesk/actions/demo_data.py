"""The people and the stories `sopdesk demo` plays out: plain data, no logic.

Every story names the built-in SOP it exercises; `actions.demo` plays them against
the real actions at past instants, so the demo database holds what a few weeks of a
small shop's support would: open, pending, breached and resolved cases, follow-ups
sent and due, a repeat customer, and onboarding and loyalty sequences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEMO_DOMAIN = "example.net"
"""Demo customers live at this reserved domain (RFC 2606), so no real person is mailed."""

FIRST_NAMES = (
    "Amira",
    "Ben",
    "Chloe",
    "Dmitri",
    "Elena",
    "Femi",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kavya",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sami",
    "Tessa",
    "Uma",
    "Victor",
    "Wen",
    "Yusuf",
    "Zoe",
)
LAST_NAMES = (
    "Adeyemi",
    "Becker",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "García",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "O'Brien",
    "Patel",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Van Dijk",
    "Walsh",
    "Yilmaz",
    "Zhang",
)
AGENTS = ("alex", "sam", "priya", "tom")


@dataclass(frozen=True)
class Act:
    """One thing that happens in a story, `days` (fractional) after the case opened.

    `what`: reply (text or `template`), note, complete (a step), event (an SOP event),
    fields, customer (the customer writes back by e-mail), bounce (the customer's mail
    server returns our last message: no such user), assign, pending, resolve (completes
    the steps still due first), close.
    """

    days: float
    what: str
    arg: Any = None
    template: str | None = None
    files: tuple[str, ...] = ()  # demo files sent with a reply (`actions.demo.DEMO_FILES`)


@dataclass(frozen=True)
class Story:
    sop: str  # the SOP the story exercises (routed to it, or chosen for manual SOPs)
    subject: str
    body: str
    opened_days_ago: float
    channel: str = "email"
    case_type: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    acts: tuple[Act, ...] = ()
    by_email: bool = False
    customer: str | None = None  # a key of REPEAT_CUSTOMERS, else a new person
    tags: tuple[str, ...] = ()
    manual: bool = False
    files: tuple[str, ...] = ()  # demo files the first message brings (`actions.demo`)


REPEAT_CUSTOMERS = {
    "maya": ("Maya", "Rossi", ("vip",)),
    "acme": ("Jonas", "Becker", ("sla", "contract")),
}

STORIES: tuple[Story, ...] = (
    Story(
        "returns-and-refunds",
        "I'd like to return my running shoes",
        "Hello, the shoes I ordered are the wrong size. Can I send them back for a refund? "
        "Order 10452.",
        0.02,
        by_email=True,
        fields={"order_number": "10452"},
    ),
    Story(
        "returns-and-refunds",
        "Return request for order 10388",
        "The jacket does not fit. How do I return it?",
        9,
        fields={"order_number": "10388"},
        acts=(
            Act(0.1, "reply", template="return-label", files=("return-label-10388.pdf",)),
            Act(0.1, "complete", "check-eligibility"),
            Act(0.1, "complete", "label"),
            Act(2, "event", "item_received"),
        ),
    ),
    Story(
        "returns-and-refunds",
        "Refund for the desk lamp, I want to send it back",
        "I want to return the lamp, I would like my money back.",
        12,
        customer="maya",
        fields={"order_number": "10211"},
        acts=(
            Act(0.05, "reply", template="return-label"),
            Act(0.05, "complete", "check-eligibility"),
            Act(0.05, "complete", "label"),
            Act(3, "event", "item_received"),
            Act(4, "reply", template="refund-confirmation"),
            Act(4, "complete", "receive"),
            Act(4, "complete", "refund"),
            Act(4.1, "resolve"),
        ),
    ),
    Story(
        "returns-and-refunds",
        "Exchange the blue mug for a green one",
        "Can I exchange the mug? I would like to send it back.",
        16,
        fields={"order_number": "10190"},
        acts=(
            Act(0.1, "reply", template="return-label"),
            Act(0.1, "complete", "check-eligibility"),
            Act(0.1, "complete", "label"),
            Act(1, "event", "item_received"),
            Act(2, "complete", "receive"),
            Act(2, "complete", "refund"),
            Act(2.1, "resolve"),
            Act(5, "customer", "Actually the green mug has a chip too, can you help?"),
        ),
    ),
    Story(
        "complaint-resolution",
        "Very disappointed with the delivery",
        "The parcel arrived damaged and the courier was rude. This is not acceptable. "
        "A photo of the parcel is attached.",
        1.2,
        channel="web",
        files=("parcel.png",),
        fields={"order_number": "10477", "remedy": "a full refund of the delivery charge"},
        acts=(
            Act(0.1, "complete", "intake"),
            Act(0.2, "reply", template="complaint-contact", arg="pending"),
            Act(0.2, "complete", "contact"),
        ),
    ),
    Story(
        "complaint-resolution",
        "Complaint: broken blender",
        "The blender is faulty after a week.",
        10,
        customer="maya",
        fields={"remedy": "a replacement blender, sent by express"},
        acts=(
            Act(0.05, "complete", "intake"),
            Act(0.1, "reply", template="complaint-contact"),
            Act(0.1, "complete", "contact"),
            Act(1, "reply", template="complaint-resolution"),
            Act(1, "complete", "resolve"),
            Act(1.2, "resolve"),
        ),
    ),
    Story(
        "crisis-handling",
        "Your website says my account was hacked",
        "I got an email saying there was a data breach. Is my card safe?",
        0.3,
        fields={"workaround": "change your password", "next_update": "17:00 today"},
    ),
    Story(
        "customer-sla",
        "Production export failing since this morning",
        "Our nightly export has failed twice. We need this fixed under our contract.",
        0.8,
        customer="acme",
        fields={"sla_priority": "P2", "workaround": "run the export by hand"},
        acts=(Act(0.05, "complete", "prioritise"),),
    ),
    Story(
        "escalation-matrix",
        "I want to speak to a manager",
        "This is the third time I write and nobody has replied. Please escalate.",
        0.5,
        fields={"plan_date": "Friday"},
        acts=(Act(0.05, "complete", "handover"), Act(0.1, "assign", "priya")),
    ),
    Story(
        "inquiry-response",
        "Question about opening hours",
        "Hi, what are your opening hours on public holidays?",
        0.1,
    ),
    Story(
        "inquiry-response",
        "Is the linen shirt in stock?",
        "Do you have the linen shirt in stock in size M?",
        4,
        acts=(
            Act(0.1, "complete", "triage"),
            Act(0.2, "reply", template="inquiry-answer"),
            Act(0.2, "complete", "answer"),
            Act(0.3, "resolve"),
        ),
    ),
    Story(
        "inquiry-response",
        "Question about shipping to Norway",
        "Hello, do you ship to Norway, and what is the price?",
        3,
        acts=(
            Act(0.1, "complete", "triage"),
            Act(0.2, "reply", template="inquiry-answer"),
            Act(0.21, "bounce"),  # the customer mistyped their address in the web form
        ),
        channel="web",
    ),
    Story(
        "inquiry-response",
        "Where is my order?",
        "Where is my order 10401? Delivery time?",
        2,
        customer="maya",
        acts=(Act(0.1, "complete", "triage"),),
    ),
    Story(
        "order-processing",
        "New order 10501",
        "Order placed on the web shop.",
        1.5,
        channel="web",
        case_type="order",
        fields={"order_number": "10501", "tracking_number": "JD0002249"},
        acts=(Act(0.1, "complete", "verify"), Act(0.6, "complete", "pick-pack")),
    ),
    Story(
        "order-processing",
        "New order 10377",
        "Order placed by phone.",
        14,
        channel="phone",
        case_type="order",
        fields={"order_number": "10377", "tracking_number": "JD0001876"},
        acts=(
            Act(0.1, "complete", "verify"),
            Act(0.5, "complete", "pick-pack"),
            Act(1, "reply", template="dispatch-notice"),
            Act(1, "complete", "dispatch"),
            Act(3, "event", "delivered"),
            Act(3.2, "complete", "confirm-delivery"),
            Act(3.3, "resolve"),
        ),
    ),
    Story(
        "review-request",
        "Kitchen fitting completed",
        "Fitting done at the customer's home.",
        9,
        channel="phone",
        case_type="service",
        fields={"review_channel": "email"},
        acts=(Act(0.2, "complete", "confirm-completion"), Act(0.3, "resolve")),
    ),
    Story(
        "faq-upkeep",
        "Quarterly FAQ review",
        "Review the FAQ against last quarter's questions.",
        3,
        channel="internal",
        manual=True,
        acts=(Act(0.5, "complete", "pull-top-questions"),),
    ),
    Story(
        "tone-of-voice",
        "Monthly tone-of-voice check",
        "Sample and score ten replies.",
        2,
        channel="internal",
        manual=True,
        acts=(Act(0.5, "complete", "sample"),),
    ),
    Story("triage", "Hello", "Can someone call me back please?", 0.4, channel="email"),
)

NEW_CUSTOMERS_DAYS_AGO = (20, 6, 1)
"""Customers created this many days ago: onboarding sequences at different stages."""

PURCHASES = (("maya", 3), ("maya", 5))
"""(customer, purchase number) pairs: loyalty recognition at the 3rd and 5th purchase."""
