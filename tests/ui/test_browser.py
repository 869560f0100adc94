"""The main journey in a real browser: Playwright driving Debian's Chromium against a
`sopdesk serve` started here on a free port, on a temporary SQLite database that
`sopdesk init` filled with the built-in library.

First-run setup, sign in, a new SOP from a template (live lint), submit and publish it,
add an agent, a case arrives by e-mail, the agent finds it in the inbox with the
keyboard, replies with the SOP's template, completes the steps and resolves. A hostile
e-mail is shown as text and runs nothing. Last, the customer's side: a worker round
run here with its clock just past the survey follow-up's due time queues the survey
e-mail; the customer opens the signed link from its text on a 360 px phone, rates and
sees the thank-you page. Screenshots of each page are kept under
test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import select

from sopdesk.actions.intake import do_receive_email
from sopdesk.settings import Settings
from sopdesk.store import create_engine_for, session_factory
from sopdesk.store.tables import CaseRow, OutboxRow, TimerRow
from sopdesk.worker.outbox import build_message
from sopdesk.worker.runner import Worker, WorkerConfig, default_fire_timers

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
OWNER = ("Olive Owner", "olive@example.com", "a long owner passphrase 2026")
AGENT = ("Andy Agent", "andy@example.com", "a long agent passphrase 2026")
XSS = "<img src=x onerror=alert('xss')><script>alert('xss')</script>"
SECRET = "browser-test-secret"
SURVEY_LINK = re.compile(r"https?://[^\s<>\"]+/l/survey/[A-Za-z0-9_.-]+")

pytestmark = [
    pytest.mark.slow,
    # Under CI a missing browser is a failure (the launch names the path), never a skip.
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CI") != "true",
        reason="needs Debian's /usr/bin/chromium ('make chromium' installs it)",
    ),
]


@dataclass(frozen=True)
class Server:
    url: str
    env: dict[str, str]
    settings: Settings
    shop_port: int  # the business's own website, allowed to embed the support form


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sopdesk() -> str:
    return str(Path(sys.executable).with_name("sopdesk"))


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sopdesk serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("sopdesk serve did not become healthy in 30 s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("browser")
    port, shop_port = _free_port(), _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SOPDESK_DATA_DIR": str(data),
        "SOPDESK_SECRET_KEY": SECRET,
        "SOPDESK_DATABASE_URL": f"sqlite:///{data / 'sopdesk.db'}",
        "SOPDESK_PUBLIC_BASE_URL": url,
        "SOPDESK_SUPPORT_EMBED_ORIGINS": json.dumps([f"http://localhost:{shop_port}"]),
    }
    subprocess.run([_sopdesk(), "init"], env=env, check=True, capture_output=True)
    command = [_sopdesk(), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"]
    log = (data / "serve.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(url, process)
        settings = Settings(  # what the server runs with: links signed here verify there
            database_url=env["SOPDESK_DATABASE_URL"],
            data_dir=data,
            secret_key=SECRET,
            public_base_url=url,
        )
        yield Server(url, env, settings, shop_port)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    """Keep a screenshot for people to look at. It is an artefact, not a check: headless
    Chromium on a loaded machine sometimes answers a capture with "Unable to capture
    screenshot", so it is tried three times and then left out, with a line on stderr."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        try:
            page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)
            return
        except PlaywrightError as exc:
            if "Unable to capture screenshot" not in str(exc):
                raise
            time.sleep(0.5 * (attempt + 1))
    print(f"no screenshot {name}.png: Chromium could not capture it", file=sys.stderr)


def receive(
    server: Server, subject: str, text: str, *, html: str | None = None, name: str = ""
) -> None:
    """An e-mail arrives, through the real intake (parse, thread, route, open)."""
    message = EmailMessage()
    message["From"] = f'"{name}" <customer{abs(hash(subject)) % 10_000}@example.org>'
    message["To"] = server.settings.support_address
    message["Subject"] = subject
    message["Message-ID"] = f"<{abs(hash(subject))}@example.org>"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    engine = create_engine_for(server.settings.resolved_database_url)
    try:
        with session_factory(engine)() as session:
            do_receive_email(session, message.as_bytes(), settings=server.settings)
    finally:
        engine.dispose()


def sign_in(page: Page, server: Server, email: str, password: str) -> None:
    page.goto(server.url + "/signin")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_load_state()


def set_up_owner(page: Page, server: Server) -> None:
    """First run: the setup page creates the owner, who lands in the library."""
    page.goto(server.url + "/")
    expect(page).to_have_url(server.url + "/setup")
    shot(page, "01-setup")
    name, email, password = OWNER
    page.fill("#name", name)
    page.fill("#email", email)
    page.fill("#password", password)
    page.fill("#password_again", password)
    page.click("form button[type=submit]")
    expect(page.get_by_role("heading", name="SOP library")).to_be_visible()
    shot(page, "02-library")
    page.click(".user-menu summary")
    page.click("text=Sign out")
    expect(page).to_have_url(server.url + "/signin")
    shot(page, "03-signin")
    sign_in(page, server, email, password)
    expect(page.get_by_role("heading", name="SOP library")).to_be_visible()


def write_and_publish_sop(page: Page, server: Server) -> None:
    """A new SOP from a built-in template; lint refreshes as you type; review; publish."""
    page.goto(server.url + "/sops/new")
    shot(page, "04-new-sop")
    page.check("input[name=template][value=returns-and-refunds]")
    page.fill("#sop-id", "web-returns")
    page.fill("#sop-title", "Web shop returns")
    page.click("text=Create draft")
    expect(page).to_have_url(server.url + "/sops/web-returns/edit?saved=created")
    expect(page.locator("#lint-panel")).not_to_contain_text("SOP106")
    page.locator("#source").press("Control+End")
    page.locator("#source").type("\nReply ASAP to every return.\n")
    expect(page.locator("#lint-panel")).to_contain_text("SOP106", timeout=10_000)
    shot(page, "05-editor")
    page.click("button[value=submit]")
    expect(page.get_by_role("status")).to_contain_text("submitted for review")
    page.goto(server.url + "/sops/web-returns/versions")
    shot(page, "06-versions")
    page.fill("#publish-note", "Approved for the web shop")
    page.click("#publish-button")
    expect(page.get_by_role("status")).to_contain_text("Published")
    expect(page.locator("table")).to_contain_text(OWNER[1])  # the approver
    page.goto(server.url + "/sops/web-returns")
    expect(page.get_by_role("heading", name="Web shop returns").first).to_be_visible()
    shot(page, "07-sop")
    page.goto(server.url + "/sops/returns-and-refunds/diff?a=1&b=1")
    shot(page, "08-diff")


def add_agent(page: Page, server: Server) -> None:
    """The owner adds an agent in Settings."""
    page.goto(server.url + "/settings")
    shot(page, "09-settings")
    page.goto(server.url + "/settings/users")
    name, email, password = AGENT
    page.fill("#user-email", email)
    page.fill("#user-name", name)
    page.select_option("#user-role", "agent")
    page.fill("#user-password", password)
    page.click("text=Add user")
    expect(page.get_by_role("status")).to_contain_text(email)
    shot(page, "10-users")


def open_from_inbox(agent: Page, server: Server) -> None:
    """The agent finds the case in the inbox and opens it with the keyboard."""
    agent.goto(server.url + "/inbox?q=order+5521")
    expect(agent.locator("[data-case-row]")).to_have_count(1)
    assert agent.evaluate("typeof window.htmx") == "object"  # vendored from npm, allowed by CSP
    shot(agent, "11-inbox")
    agent.locator("body").press("j")
    agent.keyboard.press("Enter")
    expect(agent.get_by_role("heading", name="Return and refund for order 5521")).to_be_visible()
    shot(agent, "12-case")


def reply_with_template(agent: Page) -> None:
    """Reply with the SOP's template, filled in for this case; preview it first."""
    agent.locator("#reply a.button").first.click()
    assert "Rita" in agent.locator("#reply-text").input_value()
    agent.click("text=Preview")
    expect(agent.locator("#reply-preview")).to_contain_text("Rita")
    agent.click("text=Send reply")
    expect(agent.get_by_role("status")).to_contain_text("reply is queued")
    expect(agent.locator(".message.outbound")).to_have_count(2)  # the auto-ack and ours
    shot(agent, "13-replied")


def complete_and_resolve(agent: Page) -> None:
    """Complete every step on the checklist, then resolve with the `e` shortcut."""
    buttons = agent.locator(".checklist button[aria-label^='Complete']")
    while buttons.count():
        before = buttons.count()
        buttons.first.click()
        expect(agent.get_by_role("status")).to_contain_text("marked done")
        expect(buttons).to_have_count(before - 1)
    agent.locator("body").press("e")
    expect(agent.get_by_role("status")).to_contain_text("The case is resolved.")
    expect(agent.locator(".page-head .badge").first).to_have_text("resolved")
    shot(agent, "14-resolved")


def acknowledge_sop(agent: Page, server: Server) -> None:
    """The agent reads the SOP the case ran and says so."""
    agent.goto(server.url + "/sops/returns-and-refunds")
    agent.click("text=I have read this version")
    agent.click("#acknowledge-button")
    expect(agent.get_by_role("status")).to_contain_text("you have read the version in force")
    expect(agent.locator("#read-title + p")).to_contain_text("You have read it")
    shot(agent, "15-acknowledged")


def hostile_email_is_text(agent: Page, server: Server) -> None:
    """The hostile e-mail: its subject, name and HTML are shown as text; nothing runs."""
    agent.goto(server.url + "/inbox?q=refund")
    hostile = agent.locator("[data-case-row] a", has_text="Refund <img")
    expect(hostile).to_have_count(1)
    hostile.click()
    expect(agent.locator("h1")).to_have_text(f"Refund {XSS}")
    expect(agent.locator(".message.inbound").first).to_contain_text("Hello")
    expect(agent.locator("#customer-title + dl")).to_contain_text(XSS)
    assert agent.locator(".message script, .message img[onerror]").count() == 0
    agent.wait_for_timeout(300)
    shot(agent, "16-hostile-email")


def small_screen(agent: Page, server: Server) -> None:
    """360 px wide: nothing needs a sideways scroll; the shortcut list opens with `?`."""
    agent.set_viewport_size({"width": 360, "height": 780})
    for path, name in (("/inbox", "17-inbox-360"), ("/cases/SD-1", "18-case-360")):
        agent.goto(server.url + path)
        width = agent.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, (path, width)
        shot(agent, name)
    agent.goto(server.url + "/inbox")
    agent.locator("body").press("?")
    expect(agent.locator("#shortcuts")).to_be_visible()
    shot(agent, "19-shortcuts-360")


def survey_email_text(server: Server, subject: str) -> str:
    """Run one worker round with its clock just past the case's survey follow-up, as
    `sopdesk worker` would then; return the text part of the survey e-mail it queued.

    The server runs without a worker (--no-worker), so the round runs here, on the same
    database and settings; no SMTP is configured, so the e-mail stays in the outbox and
    is composed from its row exactly as the worker would send it.
    """
    engine = create_engine_for(server.settings.resolved_database_url)
    sessions = session_factory(engine)
    try:
        with sessions() as session:
            case_id = session.scalar(select(CaseRow.id).where(CaseRow.subject == subject))
            followup = select(TimerRow.due_at).where(
                TimerRow.case_id == case_id, TimerRow.key.contains(":followup:survey")
            )
            due = session.scalar(followup)
        assert due is not None, "resolving the case scheduled no survey follow-up"
        config = WorkerConfig(worker_id="browser-test", secret=SECRET)
        worker = Worker(
            sessions,
            config,
            deliver=None,
            fire_timers=default_fire_timers(server.settings),
            clock=lambda: due + timedelta(minutes=1),
        )
        assert worker.run_once().fired >= 1
        with sessions() as session:
            row = session.scalar(
                select(OutboxRow).where(
                    OutboxRow.case_id == case_id, OutboxRow.key.contains(":followup:survey")
                )
            )
            assert row is not None, "the survey follow-up was not queued"
            message = build_message(row.key, row.payload, created_at=row.created_at, secret=SECRET)
    finally:
        engine.dispose()
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def customer_answers_survey(customer: Page, server: Server) -> None:
    """The customer opens the survey link from the e-mail on a phone, rates, is thanked."""
    text = survey_email_text(server, "Return and refund for order 5521")
    found = SURVEY_LINK.search(text)
    assert found is not None, text
    assert found.group(0).startswith(server.url + "/l/survey/")
    customer.goto(found.group(0))
    expect(customer.get_by_role("heading", name="How did we do?")).to_be_visible()
    width = customer.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width
    shot(customer, "20-survey-360")
    customer.get_by_label("5 – Very satisfied").check()
    customer.get_by_role("group", name="Did we solve your problem?").get_by_label("Yes").check()
    customer.fill("#comment", "Quick and friendly, thank you!")
    shot(customer, "21-survey-filled-360")
    customer.get_by_role("button", name="Send my answer").click()
    expect(customer.get_by_role("heading", name="Thank you!")).to_be_visible()
    expect(customer.get_by_role("status")).to_contain_text("Your answer is saved")
    shot(customer, "22-survey-thanks-360")


def watch(page: Page, dialogs: list[str], errors: list[str]) -> Page:
    """Record any alert() and any console error (a CSP violation, a failing script)."""
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


def test_the_main_journey(server: Server, browser: Browser) -> None:
    dialogs: list[str] = []
    errors: list[str] = []
    owner_context = browser.new_context(viewport={"width": 1280, "height": 900})
    owner = watch(owner_context.new_page(), dialogs, errors)
    set_up_owner(owner, server)
    write_and_publish_sop(owner, server)
    add_agent(owner, server)

    receive(server, "Return and refund for order 5521", "Wrong size, I want to return it.",
            name="Rita Return")  # fmt: skip
    receive(server, f"Refund {XSS}", f"Text part {XSS}", html=f"<p>Hello</p>{XSS}", name=XSS)

    agent_context = browser.new_context(viewport={"width": 1280, "height": 900})
    agent = watch(agent_context.new_page(), dialogs, errors)
    sign_in(agent, server, AGENT[1], AGENT[2])
    open_from_inbox(agent, server)
    reply_with_template(agent)
    complete_and_resolve(agent)
    acknowledge_sop(agent, server)
    hostile_email_is_text(agent, server)
    small_screen(agent, server)

    customer_context = browser.new_context(viewport={"width": 360, "height": 780})
    customer = watch(customer_context.new_page(), dialogs, errors)
    customer_answers_survey(customer, server)
    customer_context.close()
    assert dialogs == [], dialogs  # no script ran: no alert() fired anywhere
    assert errors == [], errors  # no CSP violation, no failing script
    agent_context.close()
    owner_context.close()


PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(64)


def customer_writes_in(customer: Page, server: Server) -> str:
    """A customer without e-mail at hand uses the support form on a phone, with a photo."""
    customer.goto(server.url + "/support")
    expect(customer.get_by_role("heading", name="Contact Example Shop")).to_be_visible()
    width = customer.evaluate("document.documentElement.scrollWidth")
    wide = customer.evaluate(
        "[...document.querySelectorAll('*')]"
        ".filter(e => e.getBoundingClientRect().right > 360).map(e => e.tagName + '#' + e.id)"
    )
    assert width <= 360, (width, wide)  # the elements that stick out
    customer.get_by_label("Your name").fill("Wanda Web")
    customer.get_by_label("Your e-mail address").fill("wanda@example.com")
    customer.get_by_label("What is it about?").select_option(label="A return or a refund")
    customer.get_by_label("Subject").fill("The blue vase arrived broken")
    customer.get_by_label("Your message").fill("Order 7781: the vase was in pieces.")
    customer.set_input_files(
        "#files", files=[{"name": "vase.png", "mimeType": "image/png", "buffer": PHOTO}]
    )
    shot(customer, "30-support-form-360")
    customer.get_by_role("button", name="Send your request").click()
    expect(customer.get_by_role("heading", name="We have your request")).to_be_visible()
    status = customer.get_by_role("status")
    expect(status).to_contain_text("Your request is SD-")
    shot(customer, "31-support-thanks-360")
    found = re.search(r"SD-\d+", status.inner_text())
    assert found is not None
    return found.group(0)


def agent_sees_the_photo_and_logs_a_call(agent: Page, server: Server, reference: str) -> None:
    agent.goto(f"{server.url}/cases/{reference}")
    expect(agent.get_by_role("heading", name="The blue vase arrived broken")).to_be_visible()
    link = agent.get_by_role("link", name="vase.png")
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    assert href is not None
    photo = agent.request.get(server.url + href)
    assert photo.status == 200 and photo.body() == PHOTO
    agent.goto(server.url + "/inbox")
    agent.get_by_role("link", name="New case").click()
    expect(agent.get_by_role("heading", name="New case")).to_be_visible()
    agent.get_by_label("Customer's e-mail").fill("carl@example.com")
    agent.get_by_label("Customer's name").fill("Carl Caller")
    agent.get_by_label("Subject").fill("Refund for a late delivery")
    agent.get_by_label("What the customer said").fill("Called: parcel two weeks late.")
    shot(agent, "32-new-case")
    agent.get_by_role("button", name="Open the case").click()
    expect(agent.get_by_role("heading", name="Refund for a late delivery")).to_be_visible()
    expect(agent.get_by_text("The case is open and its SOP has started.")).to_be_visible()
    shot(agent, "33-new-case-opened")


def agent_tags_the_customer_and_counts_a_purchase(agent: Page, server: Server) -> None:
    agent.goto(server.url + "/inbox")
    agent.get_by_role("link", name="Customers").click()
    agent.get_by_label("Name or e-mail").fill("wanda")
    agent.get_by_role("button", name="Find").click()
    agent.get_by_role("link", name="Wanda Web").click()
    expect(agent.get_by_role("heading", name="Wanda Web")).to_be_visible()
    expect(agent.get_by_role("link", name="The blue vase arrived broken")).to_be_visible()
    agent.get_by_label("Tags").fill("vip, sla")
    agent.get_by_role("button", name="Save the details").click()
    expect(agent.get_by_role("status")).to_contain_text("The details are saved.")
    agent.get_by_label("Order number").fill("7781")
    agent.get_by_role("button", name="Count the purchase").click()
    expect(agent.get_by_role("status")).to_contain_text("The purchase is counted.")
    expect(agent.locator(".facts")).to_contain_text("vip")
    shot(agent, "34-customer")


def agent_merges_a_duplicate_and_adds_an_address(agent: Page, server: Server) -> None:
    """Wanda called from her home address: a second customer, merged into the first."""
    wanda = agent.url.split("?")[0]  # her page, from the step before
    agent.goto(server.url + "/cases/new")
    agent.get_by_label("Customer's e-mail").fill("wanda.web@home.example")
    agent.get_by_label("Customer's name").fill("Wanda Web")
    agent.get_by_label("Subject").fill("Calling about the vase again")
    agent.get_by_label("What the customer said").fill("Called: still waiting for the new vase.")
    agent.get_by_role("button", name="Open the case").click()
    expect(agent.get_by_text("The case is open and its SOP has started.")).to_be_visible()
    agent.goto(wanda)
    agent.get_by_label("The other customer").fill("wanda.web@home.example")
    agent.get_by_role("button", name="Merge into this customer").click()
    confirm = agent.get_by_label("I understand that a merge cannot be undone")
    assert confirm.evaluate("box => !box.validity.valid")  # the browser asks for the tick first
    confirm.check()
    agent.get_by_role("button", name="Merge into this customer").click()
    expect(agent.get_by_role("status")).to_contain_text("The other customer is merged into this")
    expect(agent.get_by_role("link", name="Calling about the vase again")).to_be_visible()
    expect(agent.get_by_role("list", name="Other addresses")).to_contain_text(
        "wanda.web@home.example"
    )
    agent.get_by_label("Another e-mail address of theirs").fill("wanda@work.example")
    agent.get_by_role("button", name="Add the address").click()
    expect(agent.get_by_role("status")).to_contain_text("The address is added")
    expect(agent.get_by_role("button", name="Remove wanda@work.example")).to_be_visible()
    shot(agent, "35-customer-merged")


def test_customers_write_in_by_the_form_and_agents_log_calls_and_keep_customers(
    server: Server, browser: Browser
) -> None:
    from sopdesk.actions import users

    dialogs: list[str] = []
    errors: list[str] = []
    customer_context = browser.new_context(viewport={"width": 360, "height": 780})
    customer = watch(customer_context.new_page(), dialogs, errors)
    reference = customer_writes_in(customer, server)
    customer_context.close()

    name, email, password = ("Casey Caller", "casey@example.com", "a long caller passphrase 2026")
    engine = create_engine_for(server.settings.resolved_database_url)
    try:
        with session_factory(engine)() as session:
            users.do_create_user(session, email, role="agent", password=password, name=name)
    finally:
        engine.dispose()
    agent_context = browser.new_context(viewport={"width": 1280, "height": 900})
    agent = watch(agent_context.new_page(), dialogs, errors)
    sign_in(agent, server, email, password)
    agent_sees_the_photo_and_logs_a_call(agent, server, reference)
    agent_tags_the_customer_and_counts_a_purchase(agent, server)
    agent_merges_a_duplicate_and_adds_an_address(agent, server)
    agent_context.close()
    assert dialogs == [], dialogs
    assert errors == [], errors


SHOP_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Example Shop: contact</title></head>
<body><h1>Contact the shop</h1><p>Vases, lamps and rugs since 1998.</p>
<script src="{sopdesk}/support/embed.js" data-type="complaint" async></script>
<footer><p>Example Shop, 1 High Street</p></footer></body></html>
"""


@contextmanager
def website(port: int, html: str) -> Iterator[str]:
    """A business's own website on localhost:`port`: another site than sopdesk's
    127.0.0.1, so the frame is a third-party one and its SameSite cookies are dropped."""
    body = html.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    site = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{port}"
    finally:
        site.shutdown()
        site.server_close()


def test_the_support_form_embedded_on_the_shops_website(server: Server, browser: Browser) -> None:
    dialogs: list[str] = []
    errors: list[str] = []
    # tall enough for the whole form: a full-page capture draws a frame's content wrongly
    context = browser.new_context(viewport={"width": 1024, "height": 1200})
    page = watch(context.new_page(), dialogs, errors)
    with website(server.shop_port, SHOP_PAGE.format(sopdesk=server.url)) as shop:
        page.goto(shop + "/contact")
        frame = page.locator("iframe[data-sopdesk=support-form]")
        expect(frame).to_have_attribute("title", "Contact form")
        form = page.frame_locator("iframe[data-sopdesk=support-form]")
        expect(form.get_by_role("heading", name="Contact Example Shop")).to_be_visible()
        expect(form.get_by_label("What is it about?")).to_have_value("complaint")
        page.wait_for_function("() => document.querySelector('iframe').style.height !== ''")
        inner = form.locator("html").evaluate("e => e.getBoundingClientRect().height")
        outer = frame.evaluate("f => f.getBoundingClientRect().height")
        assert abs(outer - inner) <= 1, (outer, inner)  # the frame fits the form: no scroll bar
        form.get_by_label("Your name").fill("Elsa Embed")
        form.get_by_label("Your e-mail address").fill("elsa@example.com")
        form.get_by_label("Subject").fill("The lamp flickers")
        form.get_by_label("Your message").fill("Order 9120: the new lamp flickers all evening.")
        shot(page, "36-support-embedded", full_page=False)
        form.get_by_role("button", name="Send your request").click()
        expect(form.get_by_role("heading", name="We have your request")).to_be_visible()
        status = form.get_by_role("status")
        expect(status).to_contain_text("Your request is SD-")
        expect(form.get_by_role("link", name="Send another request")).to_be_visible()
        assert page.url == shop + "/contact"  # the customer never left the shop's page
        page.wait_for_function(
            "h => Math.abs(document.querySelector('iframe').getBoundingClientRect().height - h)"
            " > 50",
            arg=outer,
        )  # the shorter thanks page: the frame shrank with it
        shot(page, "37-support-embedded-thanks", full_page=False)
        found = re.search(r"SD-\d+", status.inner_text())
        assert found is not None
    engine = create_engine_for(server.settings.resolved_database_url)
    try:
        with session_factory(engine)() as session:
            case = session.scalars(select(CaseRow).where(CaseRow.reference == found.group(0))).one()
            assert (case.channel, case.case_type) == ("web", "complaint")
            assert case.customer.email == "elsa@example.com"
    finally:
        engine.dispose()
    context.close()
    assert dialogs == [], dialogs
    assert errors == [], errors


def test_a_website_not_listed_cannot_show_the_support_form(
    server: Server, browser: Browser
) -> None:
    refused: list[str] = []
    context = browser.new_context()
    page = context.new_page()
    page.on("console", lambda msg: refused.append(msg.text))
    with website(_free_port(), SHOP_PAGE.format(sopdesk=server.url)) as elsewhere:
        page.goto(elsewhere + "/contact")
        frame = page.locator("iframe[data-sopdesk=support-form]")
        expect(frame).to_have_count(1)  # the script ran and added the frame...
        handle = frame.element_handle()
        assert handle is not None
        inside = handle.content_frame()
        assert inside is not None
        inside.wait_for_load_state()
        # ...which the browser refused to fill: its error page, not the form
        assert inside.url.startswith("chrome-error://"), inside.url
        assert page.locator("iframe").evaluate("f => f.style.height") == ""
    context.close()
