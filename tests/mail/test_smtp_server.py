"""`sopdesk mail serve`'s listener with a real client (smtplib) and the real intake
action: the case appears before 250; a storage failure is 451; too big is 552; mail for
a stranger is 550."""

from __future__ import annotations

import json
import os
import re
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from sopdesk.actions.sop_files import do_load_library
from sopdesk.channels.smtp_server import IntakeHandler, address_filter, start_smtp_server
from sopdesk.cli.mail import describe_result, intake_store
from sopdesk.settings import Settings
from sopdesk.store import create_engine_for, session_factory, upgrade
from sopdesk.store.tables import CaseRow, MessageRow


def return_request(message_id: str = "<ret-1@customer.example>") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ann Lee <ann@customer.example>"
    message["To"] = "support@example.com"
    message["Subject"] = "I want to return my order"
    message["Message-ID"] = message_id
    message.set_content("Hello, the shoes do not fit. I would like a refund please.\n")
    return message


@pytest.fixture
def listener(engine: Engine) -> Iterator[tuple[int, list[str]]]:
    with session_factory(engine)() as session:
        do_load_library(session)
    store = intake_store(session_factory(engine), Settings())
    references: list[str] = []

    def record(raw: bytes, _sender: str, _rcpts: tuple[str, ...]) -> str:
        references.append(reference := describe_result(store(raw)))
        return reference

    handler = IntakeHandler(record, accept=address_filter(["support@example.com", "@help.example"]))
    controller = start_smtp_server(handler, port=0, max_size=200_000)
    try:
        yield controller.port, references
    finally:
        controller.stop()
        handler.close()


def test_a_message_is_stored_as_a_case_before_250(
    listener: tuple[int, list[str]], engine: Engine
) -> None:
    port, references = listener
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(return_request())
        code, _reply = client.noop()
    assert code == 250
    [reference] = references
    assert reference.startswith("SD-") and reference.endswith("(new_case)")
    with session_factory(engine)() as session:
        case = session.scalars(select(CaseRow)).one()
        assert case.reference == reference.split()[0]
        stored = session.scalars(select(MessageRow.message_id)).all()
    assert "ret-1@customer.example" in {s.strip("<>") for s in stored if s}


def test_the_250_reply_names_the_case_and_a_resend_is_a_duplicate(
    listener: tuple[int, list[str]], engine: Engine
) -> None:
    port, references = listener
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        for _ in range(2):
            client.mail("ann@customer.example")
            client.rcpt("support@example.com")
            code, reply = client.data(return_request().as_bytes())
            assert code == 250
            assert b"Stored as SD-" in reply
    assert references[1].endswith("(duplicate)")
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(CaseRow)) == 1


def test_mail_for_a_stranger_is_refused_with_550(listener: tuple[int, list[str]]) -> None:
    port, _ = listener
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        client.mail("ann@customer.example")
        code, reply = client.rcpt("someone@elsewhere.example")
        assert (code, reply[:5]) == (550, b"5.1.1")
        assert client.rcpt("orders@help.example")[0] == 250  # an @domain entry


def test_a_message_over_the_size_limit_is_refused_with_552(
    listener: tuple[int, list[str]],
) -> None:
    port, references = listener
    big = return_request()
    big.add_attachment(b"x" * 300_000, "application", "octet-stream", filename="big.bin")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:  # SIZE= declared by smtplib
            client.send_message(big)
        assert refused.value.smtp_code == 552
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        client.mail("ann@customer.example")  # without SIZE=: refused after DATA
        client.rcpt("support@example.com")
        code, reply = client.data(bytes(return_request()) + (b"y" * 70 + b"\r\n") * 4000)
    assert (code, reply) == (552, b"Error: Too much mail data")
    assert references == []


def test_a_storage_failure_answers_451_so_the_sender_retries() -> None:
    calls: list[bytes] = []

    def broken(raw: bytes, _sender: str, _rcpts: tuple[str, ...]) -> str:
        calls.append(raw)
        raise RuntimeError("database is locked")

    handler = IntakeHandler(broken)
    controller = start_smtp_server(handler, port=0)
    try:
        with (
            smtplib.SMTP("127.0.0.1", controller.port, timeout=10) as client,
            pytest.raises(smtplib.SMTPDataError) as error,
        ):
            client.send_message(return_request())
        assert error.value.smtp_code == 451
        assert b"try again later" in error.value.smtp_error
        assert len(calls) == 1
    finally:
        controller.stop()
        handler.close()


def test_address_filter_accepts_everything_when_empty() -> None:
    assert address_filter([]) is None
    accept = address_filter(["Support@Example.com"])
    assert accept is not None
    assert accept("<support@example.COM>")
    assert not accept("other@example.com")


def test_mail_serve_command_stores_mail_and_stops_on_sigterm(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = create_engine_for(sqlite_url)
    upgrade(engine)
    env = dict(os.environ, SOPDESK_DATABASE_URL=sqlite_url, PYTHONPATH=os.pathsep.join(sys.path))
    env["SOPDESK_LOG_FORMAT"] = "json"
    log = tmp_path / "serve.log"
    command = [sys.executable, "-c", "from sopdesk.cli import main; main()", "mail", "serve"]
    with log.open("wb") as out:
        process = subprocess.Popen([*command, "--port", "0"], env=env, stderr=out)
    try:
        deadline = time.monotonic() + 30
        while not (found := re.search(rb"SMTP on 127\.0\.0\.1:(\d+)", log.read_bytes())):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        with smtplib.SMTP("127.0.0.1", int(found.group(1)), timeout=10) as client:
            client.send_message(return_request("<by-cli@customer.example>"))
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(CaseRow)) == 1
    engine.dispose()
    # its log lines are the product's structured ones (docs/deploy.md), as the other
    # long-running commands write them
    records = [json.loads(line) for line in log.read_text().splitlines() if line[:1] == "{"]
    assert records, log.read_text()
    assert all({"timestamp", "level", "logger", "message"} <= set(r) for r in records)
