"""IMAP polling (`sopdesk mail poll`): fetch unseen mail, store it, only then flag it.

The order is the guarantee: a message is marked `\\Seen` (or moved to `move_to`) only
after `store` returned. A crash or a storage failure before that leaves it unseen, and
the next poll fetches it again (at-least-once; intake recognises a repeat by its
Message-ID). Bodies are fetched with `BODY.PEEK[]`, which does not set `\\Seen` itself.

`poll_once` is the logic, written against the small `ImapFolder` protocol; the
imapclient adapter (`ImapClientFolder`) and `connect` (password or XOAUTH2 login,
errors mapped onto `ImapError`) are the thin shell around a real server.
"""

from __future__ import annotations

import logging
import shlex
import ssl
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from sopdesk.errors import SopdeskError

log = logging.getLogger("sopdesk.mail.imap")

SEEN = b"\\Seen"
FETCH_CHUNK = 20
TOKEN_COMMAND_TIMEOUT = 60


class ImapError(SopdeskError):
    """The IMAP server could not be reached or refused us; polling retries later."""

    code = "imap_error"
    status = 502


class ImapLoginError(ImapError):
    """Login (password or XOAUTH2 token) was refused: fix the credentials."""

    code = "imap_login"


class ImapFolder(Protocol):
    """What `poll_once` needs from a mailbox folder."""

    def unseen(self) -> list[int]: ...

    def fetch(self, uids: Sequence[int]) -> dict[int, bytes]: ...

    def mark_stored(self, uid: int) -> None: ...


StoreRaw = Callable[[bytes], str]


@dataclass
class PollResult:
    stored: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def poll_once(folder: ImapFolder, store: StoreRaw, *, chunk: int = FETCH_CHUNK) -> PollResult:
    """Store every unseen message of `folder`, flagging each one after it is stored.

    A message whose storing raises stays unseen (retried next poll); the others go on.
    """
    result = PollResult()
    uids = sorted(folder.unseen())
    for start in range(0, len(uids), chunk):
        fetched = folder.fetch(uids[start : start + chunk])
        for uid in uids[start : start + chunk]:
            raw = fetched.get(uid)
            if raw is None:  # expunged since the search
                continue
            try:
                store(raw)
            except Exception:
                log.exception("could not store IMAP message %s; it stays unseen", uid)
                result.failed.append(uid)
                continue
            folder.mark_stored(uid)
            result.stored.append(uid)
    return result


class ImapClientFolder:
    """`ImapFolder` over a logged-in `IMAPClient` with the folder selected."""

    def __init__(self, client: IMAPClient, move_to: str | None = None) -> None:
        self.client = client
        self.move_to = move_to

    def unseen(self) -> list[int]:
        return [int(uid) for uid in self.client.search(["UNSEEN"])]

    def fetch(self, uids: Sequence[int]) -> dict[int, bytes]:
        if not uids:
            return {}
        data = self.client.fetch(list(uids), ["BODY.PEEK[]"])
        return {int(uid): item[b"BODY[]"] for uid, item in data.items() if b"BODY[]" in item}

    def mark_stored(self, uid: int) -> None:
        self.client.add_flags([uid], [SEEN])
        if self.move_to:
            self.client.move([uid], self.move_to)


@dataclass(frozen=True)
class ImapAccount:
    """Where to poll. Exactly one of `password` and `oauth2_token` is given; the token
    callable is asked again at every connection (access tokens expire in about an hour)."""

    host: str
    user: str
    port: int = 993
    ssl: bool = True
    folder: str = "INBOX"
    move_to: str | None = None
    password: str | None = field(default=None, repr=False)
    oauth2_token: Callable[[], str] | None = field(default=None, repr=False)
    timeout: float = 60.0


def token_from_command(command: str) -> Callable[[], str]:
    """An XOAUTH2 access token source: run `command`, its standard output is the token."""
    argv = shlex.split(command)
    if not argv:
        raise ImapLoginError("--oauth2-token-cmd is empty")

    def token() -> str:
        try:
            done = subprocess.run(  # noqa: S603 - the admin's own command line
                argv, capture_output=True, text=True, timeout=TOKEN_COMMAND_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ImapLoginError(f"the OAuth2 token command failed: {exc}") from None
        value = done.stdout.strip()
        if done.returncode != 0 or not value:
            why = (done.stderr.strip().splitlines() or ["no token printed"])[0]
            raise ImapLoginError(f"the OAuth2 token command failed ({done.returncode}): {why}")
        return value

    return token


@contextmanager
def connect(
    account: ImapAccount, client_factory: Callable[..., IMAPClient] = IMAPClient
) -> Iterator[ImapClientFolder]:
    """Log in, select the folder, yield it; always log out. Errors become `ImapError`."""
    try:
        client = client_factory(
            account.host, port=account.port, ssl=account.ssl, timeout=account.timeout
        )
    except (OSError, ssl.SSLError, IMAPClientError) as exc:
        raise ImapError(f"cannot reach the IMAP server {account.host}: {exc}") from None
    try:
        _login(client, account)
        client.select_folder(account.folder)
        yield ImapClientFolder(client, account.move_to)
    except LoginError as exc:
        raise ImapLoginError(
            f"the IMAP server refused the login of {account.user}: {exc}"
        ) from None
    except (TimeoutError, IMAPClientError, OSError) as exc:
        raise ImapError(f"IMAP error on {account.host}: {exc}") from None
    finally:
        try:
            client.logout()
        except (IMAPClientError, OSError):
            log.debug("IMAP logout failed", exc_info=True)


def _login(client: IMAPClient, account: ImapAccount) -> None:
    if account.oauth2_token is not None:
        client.oauth2_login(account.user, account.oauth2_token())
    elif account.password is not None:
        client.login(account.user, account.password)
    else:
        raise ImapLoginError("give a password or an OAuth2 token command")
