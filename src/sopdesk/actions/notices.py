"""Internal notices: e-mails telling a role that a case is about to breach or escalated.

One fire can cross several thresholds of a case at once, most often when the worker
catches up on a case nobody watched: every step and metric breached together. Each
threshold is still its own `sla.warning` or `escalated` event, but each recipient gets
one e-mail per fire that lists them all, not one per threshold. Four alerts about the
same case in the same second are noise that buries the next real one.

A notice about one escalation is keyed `{escalation key}:notify:{role}` (plus
`:{address}` when a group is told person by person); one about several,
`{first key}+{digest of all their keys}:notify:{role}`. The engine fires each
escalation once per case, target and level, so the same key means the same news: a
retried fire queues nothing twice, and a later fire's news always gets a key of its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from sopdesk.actions.case_state import LoadedCase
from sopdesk.actions.context import Thread, email_outbox_values, email_payload, queue_email
from sopdesk.actions.groups import Contacts, recipients
from sopdesk.actions.outbound import already_queued
from sopdesk.channels.email_out import Mailbox, text_to_html
from sopdesk.engine import Escalate
from sopdesk.store.tables import CaseRow


def queue_notices(
    session: Session,
    loaded: LoadedCase,
    escalations: Sequence[Escalate],
    now: datetime,
    *,
    contacts: Mapping[str, Contacts],
) -> dict[str, list[str]]:
    """Queue one notice per recipient for `escalations` (a fire's, in order); returns,
    per escalation key, the roles a notice about it was queued for now.

    A role reaches the group of that name: its shared mailbox if it has one (one
    notice), else each active member (one notice per person, keyed by address, so each
    is retried and can fail on its own), else `settings.role_addresses` (one notice).
    `contacts`: the groups the escalations name (`escalation_contacts`).
    """
    told: dict[str, list[str]] = {escalation.key: [] for escalation in escalations}
    by_role: dict[str, list[Escalate]] = {}
    for escalation in escalations:
        for role in dict.fromkeys(escalation.notify):
            by_role.setdefault(role, []).append(escalation)
    for role, about in by_role.items():
        if _queue(session, loaded, about, role, now, contacts):
            for escalation in about:
                told[escalation.key].append(role)
    return told


def _queue(
    session: Session,
    loaded: LoadedCase,
    about: list[Escalate],
    role: str,
    now: datetime,
    contacts: Mapping[str, Contacts],
) -> list[str]:
    settings, case = loaded.settings, loaded.case
    group = contacts.get(role)
    per_person = group is not None and not group.shared and bool(group.members)
    subject, text = notice_subject(case, about), notice_text(case, about)
    queued = []
    for address, name in recipients(role, contacts, settings.role_addresses):
        key = f"{notice_key(about)}:notify:{role}" + (f":{address}" if per_person else "")
        if already_queued(session, loaded, key):
            continue
        payload = email_payload(
            key=key,
            subject=subject,
            text=text,
            html=text_to_html(text),
            to=[Mailbox(address, name)],
            settings=settings,
            thread=Thread(),
            case_reference=case.reference,
            automatic=True,
        )
        queue_email(session, email_outbox_values(key, payload, now, case.id))
        queued.append(key)
    return queued


def notice_key(about: Sequence[Escalate]) -> str:
    if len(about) == 1:
        return about[0].key
    # Past the case's own prefix (the same on every key of a notice, and in the first
    # key in full), so one fire's keys look alike from case to case.
    news = "\n".join(escalation.key.partition(":")[2] for escalation in about)
    return f"{about[0].key}+{hashlib.sha256(news.encode()).hexdigest()[:12]}"


def notice_subject(case: CaseRow, about: Sequence[Escalate]) -> str:
    """The subject names the gravest alert (highest level) and how many more there are."""
    first = max(about, key=lambda escalation: (not escalation.warning, escalation.level))
    subject = f"{_what(first)}: {case.reference} {first.target}"
    if len(about) == 1:
        return f"{subject} due {first.due_at:%Y-%m-%d %H:%M} UTC"
    more = len(about) - 1
    return f"{subject} and {more} more alert{'s' if more > 1 else ''}"


def notice_text(case: CaseRow, about: Sequence[Escalate]) -> str:
    if len(about) == 1:
        return f"{_what(about[0])} for case {case.reference} ({case.subject}).\n" + _details(
            about[0]
        )
    head = f"{len(about)} alerts for case {case.reference} ({case.subject}).\n"
    return head + "".join(f"\n{_what(escalation)}: {_details(escalation)}" for escalation in about)


def _what(escalation: Escalate) -> str:
    return "Warning" if escalation.warning else f"Escalation level {escalation.level}"


def _details(escalation: Escalate) -> str:
    return (
        f"{escalation.target} is due at {escalation.due_at.isoformat()}.\n"
        + (f"Note: {escalation.note}\n" if escalation.note else "")
        + (f"Assigned to {escalation.assign}.\n" if escalation.assign else "")
    )
