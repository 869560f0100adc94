"""`sopdesk serve` refuses the development secret (or a short one) once others can reach it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopdesk.settings import DEV_SECRET, exposed_secret_problem
from tests.conftest import Runner

STRONG = "k" * 40


@pytest.mark.parametrize(
    ("secret", "host", "public", "refused"),
    [
        (DEV_SECRET, "127.0.0.1", "http://127.0.0.1:8000", False),  # the demo
        (DEV_SECRET, "localhost", "http://localhost:8000", False),
        (DEV_SECRET, "::1", "http://[::1]:8000", False),
        (DEV_SECRET, "0.0.0.0", "http://127.0.0.1:8000", True),
        (DEV_SECRET, "10.0.0.5", "http://10.0.0.5", True),
        (DEV_SECRET, "127.0.0.1", "https://help.shop.example", True),  # behind a proxy
        ("short-secret", "0.0.0.0", "https://help.shop.example", True),
        (STRONG, "0.0.0.0", "https://help.shop.example", False),
    ],
)
def test_exposed_secret_rule(secret: str, host: str, public: str, refused: bool) -> None:
    assert (exposed_secret_problem(secret, host, public) is not None) is refused


def test_serve_on_all_interfaces_refuses_the_default_secret(
    cli: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPDESK_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SOPDESK_DATABASE_URL", raising=False)
    monkeypatch.delenv("SOPDESK_SECRET_KEY", raising=False)
    run = cli("serve", "--host", "0.0.0.0")
    assert run.code == 1
    assert "development default" in run.err and "SOPDESK_SECRET_KEY" in run.err
    assert "token_urlsafe" in run.err  # how to make one
