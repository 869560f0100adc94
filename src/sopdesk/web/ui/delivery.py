"""How the case page words an outbound message's delivery: sent, queued, retrying, not
sent (cancelled) or not delivered (refused by the relay, or bounced)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sopdesk.actions.delivery import Unsent
from sopdesk.store.tables import MessageKindValue, MessageRow, OutboxStatus
from sopdesk.web.ui import countdown


@dataclass(frozen=True)
class Delivery:
    """`label` beside the message's time; `tone` a badge class (ok, warn, bad, muted);
    `detail` the relay's or the bounce's words, when there are any."""

    label: str
    tone: str
    detail: str | None = None

    @property
    def failed(self) -> bool:
        return self.tone == "bad"


def delivery_of(message: MessageRow, unsent: Unsent | None, now: datetime) -> Delivery | None:
    """The delivery line of one message; None for inbound mail and notes."""
    if message.kind != MessageKindValue.OUTBOUND.value:
        return None
    if message.delivery_failed_at is not None:
        return Delivery("not delivered", "bad", message.delivery_error)
    if message.sent_at is not None:
        return Delivery("sent", "ok")
    if unsent is None:
        return Delivery("queued", "muted")
    if unsent.status == OutboxStatus.FAILED.value:
        retry = countdown(unsent.next_attempt_at, now).replace("overdue by", "due")
        return Delivery(f"not sent yet, retry {retry}", "warn", unsent.last_error)
    if unsent.status == OutboxStatus.DEAD.value:
        return Delivery("not delivered", "bad", unsent.last_error)
    return Delivery("not sent", "muted", unsent.last_error or "cancelled")


def deliveries(
    messages: Iterable[MessageRow], unsent: Mapping[int, Unsent], now: datetime
) -> dict[int, Delivery]:
    """`delivery_of` for every outbound message, by message row id."""
    found = ((m.id, delivery_of(m, unsent.get(m.id), now)) for m in messages)
    return {message_id: d for message_id, d in found if d is not None}
