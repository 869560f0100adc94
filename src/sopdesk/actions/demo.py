"""`sopdesk demo`: a seeded, realistic support history that exercises every built-in SOP.

The stories of `demo_data` are played through the real actions at past instants,
with the worker's job (`do_fire_timer` for every timer as it falls due) done in
between, so warnings, breaches, escalations and follow-ups happen exactly as they
would have. Mail from before the last hour is marked as sent (it is history); the
newest stays queued for the worker. Loading twice is refused: a `demo.loaded` event
marks the database.
"""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sopdesk.actions import cases as changes
from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_state import load_case, log_event
from sopdesk.actions.cases import CaseRequest, do_open_request
from sopdesk.actions.demo_data import (
    AGENTS,
    DEMO_DOMAIN,
    FIRST_NAMES,
    LAST_NAMES,
    NEW_CUSTOMERS_DAYS_AGO,
    REPEAT_CUSTOMERS,
    STORIES,
    Act,
    Story,
)
from sopdesk.actions.intake import do_receive_email
from sopdesk.actions.messages import NewMessage
from sopdesk.actions.sequences import do_create_customer, do_purchase
from sopdesk.actions.sop_files import do_load_library
from sopdesk.actions.timers import do_fire_timer
from sopdesk.channels.email_in import Attachment
from sopdesk.engine import plan_steps
from sopdesk.errors import Conflict, SopdeskError
from sopdesk.settings import Settings
from sopdesk.store.tables import (
    CaseEventRow,
    CaseRow,
    CustomerRow,
    MessageRow,
    OutboxRow,
    TimerRow,
)

MAX_FIRINGS = 5_000
DEMO_EVENT = "demo.loaded"


def _png(width: int, height: int, stripes: tuple[tuple[int, int, int], ...]) -> bytes:
    """A PNG of horizontal colour bands: the demo's "photo" of a damaged parcel."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    band = max(1, height // len(stripes))
    rows = b"".join(
        b"\x00" + bytes(stripes[min(y // band, len(stripes) - 1)]) * width for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _pdf(lines: tuple[str, ...]) -> bytes:
    """A one-page PDF with `lines` of text: the demo's return label."""
    text = " ".join(f"({line}) Tj 0 -28 Td" for line in lines)
    stream = f"BT /F1 20 Tf 72 720 Td {text} ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


_CARDBOARD, _CREASE = (150, 111, 51), (92, 64, 28)
DEMO_FILES = {
    "parcel.png": ("image/png", lambda: _png(96, 64, (_CARDBOARD, _CREASE, _CARDBOARD))),
    "return-label-10388.pdf": (
        "application/pdf",
        lambda: _pdf(("RETURN LABEL", "Order 10388", "Example Shop returns, Unit 4")),
    ),
}
"""Files the demo's stories send: name -> (content type, maker); made when the demo
loads (not at import), never read from disk."""


def demo_files(names: tuple[str, ...]) -> tuple[Attachment, ...]:
    return tuple(Attachment.of(name, DEMO_FILES[name][0], DEMO_FILES[name][1]()) for name in names)


@dataclass
class DemoReport:
    customers: int = 0
    cases: list[str] = field(default_factory=list)
    timers_fired: int = 0
    sops: set[str] = field(default_factory=set)


def demo_loaded(session: Session) -> bool:
    return (
        session.scalar(select(CaseEventRow.id).where(CaseEventRow.kind == DEMO_EVENT)) is not None
    )


def do_load_demo(
    session: Session,
    *,
    seed: int = 7,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> DemoReport:
    """Load the demo into an initialised database; `Conflict` if it is already there."""
    moment, settings = resolve_now(now), settings or Settings()
    if demo_loaded(session):
        raise Conflict(
            "the demo data is already loaded in this database",
            hint="use a fresh database (e.g. SOPDESK_DATA_DIR=/tmp/demo sopdesk init)",
        )
    session.rollback()
    do_load_library(session, now=moment - timedelta(days=60))
    before = session.scalar(select(func.max(CaseRow.id))) or 0
    player = _Player(session, settings, moment, random.Random(seed))
    player.play()
    player.advance(moment)
    # with the cases customers' events opened (onboarding, loyalty), not only the stories
    loaded = select(CaseRow.reference).where(CaseRow.id > before).order_by(CaseRow.id)
    player.report.cases = [reference or "" for reference in session.scalars(loaded)]
    _mark_history_sent(session, moment)
    log_event(session, DEMO_EVENT, moment, seed=seed, cases=len(player.report.cases))
    session.commit()
    return player.report


class _Player:
    def __init__(self, session: Session, settings: Settings, now: datetime, rng: random.Random):
        self.session, self.settings, self.now, self.rng = session, settings, now, rng
        self.report = DemoReport()
        self.people: dict[str, tuple[str, str, tuple[str, ...]]] = {}
        self.names = [(f, l) for f in FIRST_NAMES for l in LAST_NAMES]  # noqa: E741
        rng.shuffle(self.names)

    def at(self, days_ago: float) -> datetime:
        return self.now - timedelta(days=days_ago)

    def person(self, key: str | None) -> tuple[str, str, tuple[str, ...]]:
        """(email, name, tags): a repeat customer by key, else a new seeded person."""
        if key is not None and key in self.people:
            return self.people[key]
        if key is not None:
            first, last, tags = REPEAT_CUSTOMERS[key]
        else:
            (first, last), tags = self.names.pop(), ()
        local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
        email = f"{local.encode('ascii', 'ignore').decode()}@{DEMO_DOMAIN}"
        found = (email, f"{first} {last}", tags)
        if key is not None:
            self.people[key] = found
        return found

    def play(self) -> None:
        for days in NEW_CUSTOMERS_DAYS_AGO:
            self.advance(self.at(days))
            email, name, _ = self.person(None)
            do_create_customer(
                self.session, email=email, name=name, now=self.at(days), settings=self.settings
            )
            self.report.customers += 1
        for story in sorted(STORIES, key=lambda s: -s.opened_days_ago):
            self.story(story)
        for number in range(1, 6):
            when = self.at(25 - number * 4)
            self.advance(when)
            customer = self._customer("maya")
            do_purchase(
                self.session,
                customer.id,
                purchase_id=f"demo-{number}",
                now=when,
                settings=self.settings,
            )
            if number == 3:  # her first recognition, worked the next morning
                self._thank(customer.id, when + timedelta(hours=18))
        self.report.sops.update({"customer-onboarding", "loyalty-recognition"})

    def _thank(self, customer_id: int, when: datetime) -> None:
        """An agent works a loyalty case: reward chosen, thank-you sent, resolved."""
        self.advance(when)
        query = select(CaseRow.id).where(
            CaseRow.customer_id == customer_id, CaseRow.sop_id == "loyalty-recognition"
        )
        case_id = self.session.scalars(query).first()
        if case_id is None:
            return
        reward = {"reward": "15% off your next order", "reward_code": "THANKYOU15"}
        agent, common = AGENTS[0], {"now": when, "settings": self.settings}
        changes.do_set_fields(self.session, case_id, reward, by=agent, **common)
        changes.do_complete_step(self.session, case_id, "check-history", by=agent, **common)
        changes.do_reply(
            self.session,
            case_id,
            author=agent,
            text="Thank you for coming back!",
            template_id="loyalty-thank-you",
            **common,
        )
        self._finish_steps(case_id, agent, when)
        changes.do_resolve(self.session, case_id, by=agent, **common)

    def _customer(self, key: str) -> CustomerRow:
        email, name, tags = self.person(key)
        row = self.session.scalar(select(CustomerRow).where(CustomerRow.email == email))
        if row is None:
            row = do_create_customer(
                self.session,
                email=email,
                name=name,
                tags=list(tags),
                now=self.at(40),
                settings=self.settings,
            )
        return row

    def story(self, story: Story) -> None:
        opened = self.at(story.opened_days_ago)
        self.advance(opened)
        if story.customer:
            self._customer(story.customer)
        email, name, _ = self.person(story.customer)
        if story.by_email:
            case_id = self._email(email, name, story, opened)
        else:
            files = demo_files(story.files)
            request = CaseRequest(
                customer_email=email,
                customer_name=name,
                subject=story.subject,
                body=story.body,
                channel=story.channel,
                case_type=story.case_type,
                fields=story.fields,
                sop_id=story.sop if story.manual else None,
                message=NewMessage(text=story.body, attachments=files) if files else None,
            )
            case_id = do_open_request(self.session, request, now=opened, settings=self.settings).id
        for act in sorted(story.acts, key=lambda a: a.days):
            when = opened + timedelta(days=act.days)
            if when > self.now:
                continue
            self.advance(when)
            self.act(case_id, act, when)
        case = load_case(self.session, case_id, self.settings).case
        self.report.cases.append(case.reference or "")
        self.report.sops.add(case.sop_id or "triage")
        self.session.commit()

    def _raw(self, name: str, email: str, subject: str, body: str) -> bytes:
        message_id = f"<demo-{self.rng.getrandbits(64):x}@{DEMO_DOMAIN}>"
        return (
            f"From: {name} <{email}>\r\nTo: {self.settings.support_address}\r\n"
            f"Subject: {subject}\r\nMessage-ID: {message_id}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        ).encode()

    def _email(self, email: str, name: str, story: Story, at: datetime) -> int:
        raw = self._raw(name, email, story.subject, story.body)
        result = do_receive_email(self.session, raw, received_at=at, settings=self.settings)
        assert result.case_id is not None
        return result.case_id

    def act(self, case_id: int, act: Act, when: datetime) -> None:
        agent = self.rng.choice(AGENTS)
        common = {"now": when, "settings": self.settings}
        match act.what:
            case "reply":
                changes.do_reply(
                    self.session,
                    case_id,
                    author=agent,
                    text="Thanks!",
                    template_id=act.template,
                    status=act.arg,
                    files=demo_files(act.files),
                    **common,
                )
            case "complete":
                changes.do_complete_step(self.session, case_id, act.arg, by=agent, **common)
            case "event":
                changes.do_record_event(self.session, case_id, act.arg, by="warehouse", **common)
            case "assign":
                changes.do_assign(self.session, case_id, act.arg, by=agent, **common)
            case "resolve":
                self._finish_steps(case_id, agent, when)
                changes.do_resolve(self.session, case_id, by=agent, **common)
            case "customer":
                self._customer_writes(case_id, act.arg, when)
            case "bounce":
                self._bounce(case_id, when)

    def _finish_steps(self, case_id: int, agent: str, when: datetime) -> None:
        loaded = load_case(self.session, case_id, self.settings, lock=False)
        if loaded.state is None or loaded.sop is None or loaded.calendar is None:
            return
        plan = plan_steps(loaded.state, loaded.sop, loaded.calendar, when)
        for step in plan:
            if step.applies and step.status.value == "pending" and step.waiting_for is None:
                changes.do_complete_step(
                    self.session, case_id, step.step_id, by=agent, now=when, settings=self.settings
                )

    def _customer_writes(self, case_id: int, text: str, when: datetime) -> None:
        case = load_case(self.session, case_id, self.settings, lock=False).case
        email, name = case.customer.email, case.customer.name
        raw = self._raw(name, email, f"Re: {case.subject} [{case.reference}]", text)
        do_receive_email(self.session, raw, received_at=when, settings=self.settings)

    def _bounce(self, case_id: int, when: datetime) -> None:
        """The customer's mail server returns our newest message: the address does not
        exist (the case page says so, and follow-ups to it stop)."""
        sent = self.session.scalars(
            select(MessageRow)
            .where(MessageRow.case_id == case_id, MessageRow.kind == "outbound")
            .order_by(MessageRow.id.desc())
        ).first()
        if sent is None:
            return
        to = sent.to_addresses[0]
        raw = (
            f"From: Mail Delivery System <MAILER-DAEMON@mx.{DEMO_DOMAIN}>\r\n"
            f"To: {self.settings.support_address}\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            f"Message-ID: <bounce-{sent.id}@mx.{DEMO_DOMAIN}>\r\nAuto-Submitted: auto-replied\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;"
            ' boundary="dsn"\r\n\r\n--dsn\r\nContent-Type: text/plain\r\n\r\n'
            "Your message could not be delivered to one or more recipients.\r\n"
            "--dsn\r\nContent-Type: message/delivery-status\r\n\r\n"
            f"Reporting-MTA: dns; mx.{DEMO_DOMAIN}\r\n\r\n"
            f"Final-Recipient: rfc822; {to}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            f"Diagnostic-Code: smtp; 550 5.1.1 <{to}>: Recipient address rejected: "
            "User unknown\r\n\r\n--dsn\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"From: {self.settings.support_address}\r\nTo: {to}\r\n"
            f"Message-ID: <{sent.message_id}>\r\n\r\n--dsn--\r\n"
        ).encode()
        do_receive_email(self.session, raw, received_at=when, settings=self.settings)

    def advance(self, until: datetime) -> None:
        """Do the worker's job up to `until`: fire every timer as it falls due."""
        for _ in range(MAX_FIRINGS):
            query = (
                select(TimerRow)
                .where(TimerRow.status == "pending", TimerRow.due_at <= until)
                .order_by(TimerRow.due_at, TimerRow.id)
                .limit(1)
            )
            timer = self.session.scalar(query)
            if timer is None:
                return
            timer_id, due = timer.id, timer.due_at
            try:
                do_fire_timer(
                    self.session, timer_id, now=due, worker_id="demo", settings=self.settings
                )
            except SopdeskError:  # pragma: no cover - a broken SOP must not stop the demo
                self.session.rollback()
            self.report.timers_fired += 1
            self._done(timer_id)

    def _done(self, timer_id: int) -> None:
        timer = self.session.get(TimerRow, timer_id)
        if timer is not None and timer.status == "pending" and timer.fired_at is None:
            timer.status = "dead"  # never loop on a timer that would not fire
            self.session.commit()


def _mark_history_sent(session: Session, now: datetime) -> None:
    """The worker would have sent the mail of the past weeks: mark it sent (not the newest)."""
    cutoff = now - timedelta(hours=1)
    rows = session.scalars(
        select(OutboxRow).where(OutboxRow.status == "pending", OutboxRow.created_at < cutoff)
    )
    for row in rows:
        row.status, row.sent_at, row.attempts = "sent", row.created_at, 1
        message_row = row.payload.get("message_row_id")
        if message_row is not None:
            message = session.get(MessageRow, message_row)
            if message is not None:
                message.sent_at = row.created_at
