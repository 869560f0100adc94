"""Settings → e-mail: what is configured for mail in (and the public support form) and
out (secrets masked), the outbox's health, and a test e-mail queued through the normal
outbox path.

Mail settings come from the environment and the mail commands' options, so the page
reads them and never changes them; the test e-mail is the one thing it writes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from sopdesk.actions.base import utcnow
from sopdesk.actions.delivery import bouncing_customers
from sopdesk.actions.mail_check import do_queue_test_email, find_test_email
from sopdesk.actions.support_form import request_types
from sopdesk.auth.permissions import Principal
from sopdesk.channels.email_out import SmtpConfig
from sopdesk.errors import InvalidInput, SopdeskError
from sopdesk.settings import Settings
from sopdesk.web.ui import CSRF, DbSession, back_to, countdown, person, ui_page
from sopdesk.worker.status import QueueStatus, outbox_status

router = APIRouter()
SettingsReader = person("settings.read")
SettingsWriter = person("settings.write")
FormText = Annotated[str, Form()]
MASK = "••••••"
Facts = list[tuple[str, str]]


def mail_in_facts(settings: Settings) -> Facts:
    """How mail reaches sopdesk: the address, and the two ways of taking it in."""
    ours = ", ".join(settings.support_addresses) or "none"
    return [
        ("Support address (SOPDESK_SUPPORT_ADDRESS)", settings.support_address),
        ("Other addresses of ours (SOPDESK_SUPPORT_ADDRESSES)", ours),
        (
            "SMTP listener",
            "'sopdesk mail serve' with --host, --port, --max-size and --rcpt; set on the "
            "command, not in the environment (see docs/mail-setup.md)",
        ),
        (
            "IMAP polling",
            "'sopdesk mail poll' with --host, --user, --port, --folder, --move-to and "
            "--interval; the password comes on standard input or from an OAuth2 command",
        ),
        ("Replies to a resolved case (SOPDESK_CLOSE_RESOLVED_AFTER_DAYS)", reopen_window(settings)),
    ]


def reopen_window(settings: Settings) -> str:
    """What a customer's reply to a resolved case does, in words."""
    days = settings.close_resolved_after_days
    if days <= 0:
        return "reopen it, however long ago it was resolved (resolved cases never close)"
    return (
        f"reopen it for {days} day{'s' if days != 1 else ''}; after that the case closes "
        "and a reply opens a follow-up case"
    )


def web_form_facts(session: Session, settings: Settings) -> Facts:
    """The public support form: where it is, and what its menu offers customers."""
    if not settings.support_form:
        return [("Support form (SOPDESK_SUPPORT_FORM)", "off: /support answers 404")]
    offered = request_types(session, settings)
    left_out = [kind for kind in settings.support_form_types if kind not in dict(offered)]
    menu = "; ".join(f"{label} ({kind})" for kind, label in offered) or "no types"
    facts = [
        ("Support form (SOPDESK_SUPPORT_FORM)", f"on at {settings.public_base_url}/support"),
        ("Its menu (SOPDESK_SUPPORT_FORM_TYPES)", f"{menu}; then Something else"),
    ]
    if left_out:
        facts.append(("Not offered: no published SOP starts web cases of", ", ".join(left_out)))
    return facts + embedding_facts(settings)


def embedding_facts(settings: Settings) -> Facts:
    """Which websites may show the form in a frame, and the line they paste to do it."""
    setting = "On other websites (SOPDESK_SUPPORT_EMBED_ORIGINS)"
    if not settings.support_embed_origins:
        return [(setting, "none: list your website's address to show the form on it")]
    loader = f"{settings.public_base_url.rstrip('/')}/support/embed.js"
    return [
        (setting, ", ".join(settings.support_embed_origins)),
        ("To show it there, paste into the page", f'<script src="{loader}" async></script>'),
    ]


def tls_mode(config: SmtpConfig) -> str:
    if config.use_tls:
        return "TLS from the first byte (smtps)"
    if config.start_tls is None:
        return "STARTTLS when the server offers it"
    return "STARTTLS required" if config.start_tls else "none (plain SMTP)"


def mail_out_facts(settings: Settings) -> Facts:
    """The relay and the addresses outgoing mail carries; the password never shown."""
    sender = f"{settings.company_name} <{settings.support_address}>"
    try:
        config = SmtpConfig.from_url(settings.smtp_url)
    except SopdeskError as exc:
        relay: Facts = [("Relay (SOPDESK_SMTP_URL)", exc.message)]
    else:
        relay = [
            ("Relay host", config.host),
            ("Relay port", str(config.port)),
            ("TLS", tls_mode(config)),
            ("Certificate check", "on" if config.validate_certs else "off"),
            ("User name", config.username or "none"),
            ("Password", MASK if config.password else "none"),
        ]
    roles = ", ".join(f"{role}: {address}" for role, address in settings.role_addresses.items())
    return [
        *relay,
        ("From", sender),
        ("Reply-To", f"not set: replies go to the From address, {settings.support_address}"),
        ("Escalation fallback (SOPDESK_ROLE_ADDRESSES)", roles or "none"),
    ]


def age(seconds: float) -> str:
    """`3 h 20 min` for a lag in seconds; `none` when nothing waits."""
    if seconds <= 0:
        return "none"
    now = utcnow()
    return countdown(now - timedelta(seconds=seconds), now).removeprefix("overdue by ")


def health(status: QueueStatus) -> dict[str, object]:
    return {
        "pending": status.due + status.scheduled,
        "in_flight": status.in_flight,
        "retrying": status.retrying,
        "dead": status.dead,
        "sent": status.done,
        "oldest": age(status.lag_seconds),
    }


def _page(
    request: Request,
    session: Session,
    me: Principal,
    *,
    queued: int | None = None,
    error: str | None = None,
    to: str = "",
) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    context = {
        "mail_in": mail_in_facts(settings) + web_form_facts(session, settings),
        "mail_out": mail_out_facts(settings),
        "health": health(outbox_status(session, utcnow())),
        "bouncing": bouncing_customers(session),
        "queued": find_test_email(session, queued) if queued else None,
        "error": error,
        "to": to,
        "active": "settings",
        "section": "email",
    }
    return ui_page(request, "ui/settings_email.html", me, context, 422 if error else 200)


@router.get("/settings/email", response_class=HTMLResponse)
def email_page(
    request: Request, session: DbSession, me: SettingsReader, queued: int | None = None
) -> HTMLResponse:
    return _page(request, session, me, queued=queued)


@router.post("/settings/email/test", dependencies=CSRF)
def send_test_email(
    request: Request, session: DbSession, me: SettingsWriter, to: FormText = ""
) -> Response:
    """Queue a test e-mail to the typed address; the worker sends it like any other."""
    try:
        row = do_queue_test_email(
            session, to, settings=request.app.state.settings, requested_by=me.email
        )
    except InvalidInput as exc:
        session.rollback()
        return _page(request, session, me, error=exc.message, to=to)
    return back_to(f"/settings/email?queued={row.id}")
