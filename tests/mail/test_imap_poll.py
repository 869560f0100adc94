"""IMAP polling: fetch → store → flag, against fakes.

There is no IMAP server in the test process: `poll_once` is tested through the small
`ImapFolder` protocol with an in-memory folder, and the imapclient adapter and `connect`
with a fake `IMAPClient` that records the commands it is given (the same methods and
return shapes as imapclient 3/4). The store is the real intake action."""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from imapclient.exceptions import IMAPClientError, LoginError
from sqlalchemy import Engine, func, select

from sopdesk.channels.imap_poll import (
    SEEN,
    ImapAccount,
    ImapClientFolder,
    ImapError,
    ImapLoginError,
    connect,
    poll_once,
    token_from_command,
)
from sopdesk.store import session_factory
from sopdesk.store.tables import CaseRow
from tests.conftest import Runner


def raw_mail(n: int) -> bytes:
    return (
        f"From: c{n}@customer.example\r\nTo: support@example.com\r\n"
        f"Subject: Question {n}\r\nMessage-ID: <q{n}@customer.example>\r\n\r\n"
        f"Where is order {n}?\r\n"
    ).encode()


@dataclass
class MemoryFolder:
    """An `ImapFolder` in memory: uid → raw bytes, and the set of seen uids."""

    messages: dict[int, bytes]
    seen: set[int] = field(default_factory=set)
    log: list[str] = field(default_factory=list)

    def unseen(self) -> list[int]:
        return [uid for uid in self.messages if uid not in self.seen]

    def fetch(self, uids: Sequence[int]) -> dict[int, bytes]:
        self.log.append(f"fetch {list(uids)}")
        return {uid: self.messages[uid] for uid in uids if uid in self.messages}

    def mark_stored(self, uid: int) -> None:
        self.log.append(f"seen {uid}")
        self.seen.add(uid)


def test_each_message_is_flagged_only_after_it_is_stored() -> None:
    folder = MemoryFolder({1: raw_mail(1), 2: raw_mail(2), 3: raw_mail(3)})
    stored: list[bytes] = []

    def store(raw: bytes) -> str:
        folder.log.append(f"store {raw.split(b'Question ')[1][:1].decode()}")
        stored.append(raw)
        return "ok"

    result = poll_once(folder, store, chunk=2)
    assert result.stored == [1, 2, 3]
    assert folder.log == [
        "fetch [1, 2]", "store 1", "seen 1", "store 2", "seen 2", "fetch [3]", "store 3", "seen 3",
    ]  # fmt: skip
    assert poll_once(folder, store).stored == []  # nothing unseen is left


def test_a_message_that_cannot_be_stored_stays_unseen_for_the_next_poll() -> None:
    folder = MemoryFolder({1: raw_mail(1), 2: raw_mail(2)})
    down = {True}

    def store(raw: bytes) -> str:
        if b"Question 1" in raw and down:
            raise RuntimeError("database is locked")
        return "ok"

    result = poll_once(folder, store)
    assert (result.stored, result.failed, folder.seen) == ([2], [1], {2})
    down.clear()
    assert poll_once(folder, store).stored == [1]
    assert folder.seen == {1, 2}


def test_a_message_expunged_between_search_and_fetch_is_skipped() -> None:
    folder = MemoryFolder({1: raw_mail(1)})
    folder.unseen = lambda: [1, 7]  # type: ignore[method-assign]
    assert poll_once(folder, lambda raw: "ok").stored == [1]


def test_polled_mail_becomes_cases_through_the_real_intake(engine: Engine) -> None:
    from sopdesk.cli.mail import describe_result, intake_store
    from sopdesk.settings import Settings

    store = intake_store(session_factory(engine), Settings())
    folder = MemoryFolder({1: raw_mail(1), 2: raw_mail(2)})
    assert poll_once(folder, lambda raw: describe_result(store(raw))).stored == [1, 2]
    folder.seen.clear()  # a crash before the flag: the same mail comes again
    assert poll_once(folder, lambda raw: describe_result(store(raw))).stored == [1, 2]
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(CaseRow)) == 2  # no duplicates


# --- the imapclient adapter -----------------------------------------------------------


class FakeIMAPClient:
    """Records calls; answers like imapclient's IMAPClient."""

    def __init__(self, host: str, **kwargs: Any) -> None:
        self.host, self.kwargs = host, kwargs
        self.calls: list[tuple[Any, ...]] = []
        self.refuse_login = False
        self.messages = {11: raw_mail(11), 12: raw_mail(12)}
        FakeIMAPClient.last = self

    last: FakeIMAPClient

    def login(self, user: str, password: str) -> bytes:
        self.calls.append(("login", user, password))
        if self.refuse_login or password == "wrong":
            raise LoginError("[AUTHENTICATIONFAILED] Invalid credentials")
        return b"OK"

    def oauth2_login(self, user: str, access_token: str) -> bytes:
        self.calls.append(("oauth2_login", user, access_token))
        return b"OK"

    def select_folder(self, folder: str) -> dict[bytes, Any]:
        self.calls.append(("select_folder", folder))
        if folder == "Missing":
            raise IMAPClientError("select failed: folder not found")
        return {b"EXISTS": len(self.messages)}

    def search(self, criteria: list[str]) -> list[int]:
        self.calls.append(("search", criteria))
        return list(self.messages)

    def fetch(self, uids: list[int], items: list[str]) -> dict[int, dict[bytes, Any]]:
        self.calls.append(("fetch", uids, items))
        return {uid: {b"BODY[]": self.messages[uid], b"SEQ": uid} for uid in uids}

    def add_flags(self, uids: list[int], flags: list[bytes]) -> None:
        self.calls.append(("add_flags", uids, flags))

    def move(self, uids: list[int], folder: str) -> None:
        self.calls.append(("move", uids, folder))

    def logout(self) -> bytes:
        self.calls.append(("logout",))
        return b"BYE"


def test_the_adapter_peeks_then_flags_and_moves() -> None:
    account = ImapAccount("imap.example", "support@example.com", password="pw", move_to="Done")
    with connect(account, FakeIMAPClient) as folder:
        assert isinstance(folder, ImapClientFolder)
        assert poll_once(folder, lambda raw: "ok").stored == [11, 12]
    calls = FakeIMAPClient.last.calls
    assert calls[:3] == [
        ("login", "support@example.com", "pw"),
        ("select_folder", "INBOX"),
        ("search", ["UNSEEN"]),
    ]
    assert ("fetch", [11, 12], ["BODY.PEEK[]"]) in calls  # PEEK: fetching does not mark Seen
    assert calls[-5:] == [
        ("add_flags", [11], [SEEN]), ("move", [11], "Done"),
        ("add_flags", [12], [SEEN]), ("move", [12], "Done"), ("logout",),
    ]  # fmt: skip
    assert FakeIMAPClient.last.kwargs == {"port": 993, "ssl": True, "timeout": 60.0}


def test_xoauth2_asks_the_token_command_at_each_connection() -> None:
    token = token_from_command(f"{sys.executable} -c \"print('ya29.token')\"")
    account = ImapAccount("imap.gmail.com", "support@example.com", oauth2_token=token)
    with connect(account, FakeIMAPClient):
        pass
    assert FakeIMAPClient.last.calls[0] == ("oauth2_login", "support@example.com", "ya29.token")


def test_a_failing_token_command_is_a_login_error() -> None:
    token = token_from_command(f"{sys.executable} -c \"import sys; sys.exit('no refresh token')\"")
    with pytest.raises(ImapLoginError, match="no refresh token"):
        token()
    with pytest.raises(ImapLoginError, match="empty"):
        token_from_command("  ")


def test_imap_errors_are_translated_at_the_boundary() -> None:
    wrong = ImapAccount("imap.example", "support@example.com", password="wrong")
    with pytest.raises(ImapLoginError, match="refused the login"), connect(wrong, FakeIMAPClient):
        pass
    assert FakeIMAPClient.last.calls[-1] == ("logout",)
    missing = ImapAccount("imap.example", "u", password="pw", folder="Missing")
    with pytest.raises(ImapError, match="folder not found"), connect(missing, FakeIMAPClient):
        pass

    def unreachable(host: str, **kwargs: Any) -> Any:
        raise ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(ImapError, match="cannot reach"), connect(wrong, unreachable):
        pass


def test_mail_poll_cli_reads_the_password_from_stdin(
    cli: Runner, engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPDESK_DATABASE_URL", db_url)
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret\n"))
    monkeypatch.setattr(
        "sopdesk.cli.mail.connect",
        lambda account: connect(account, FakeIMAPClient),
    )
    run = cli("mail", "poll", "--host", "imap.example", "--user", "me", "--password-stdin",
              "--once")  # fmt: skip
    assert run.code == 0, run.err
    assert "stored 2, failed 0" in run.err
    assert FakeIMAPClient.last.calls[0] == ("login", "me", "s3cret")
    run = cli("mail", "poll", "--host", "h", "--user", "me", "--once")
    assert run.code == 1
    assert "exactly one of --password-stdin and --oauth2-token-cmd" in run.err
