"""A setting that does not parse names its environment variable and how to write it,
never its value (it may be a password), and the command exits 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sopdesk.settings import Settings, normalise_origin
from tests.conftest import Runner


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("https://shop.example.com", "https://shop.example.com"),
        (" HTTPS://Shop.Example.COM/ ", "https://shop.example.com"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("https://*.example.com", "https://*.example.com"),
    ],
)
def test_an_embedding_origin_is_kept_as_a_csp_source(written: str, kept: str) -> None:
    assert normalise_origin(written) == kept


@pytest.mark.parametrize(
    "bad",
    [
        "shop.example.com",  # no scheme
        "https://shop.example.com/contact",  # a path
        "ftp://shop.example.com",
        "*",
        "https://*",
        "https://shop.example.com:0",
        "https://shop.example.com:70000",
        "https://shop.example.com; script-src *",  # a CSP injection
        "https://exa mple.com",
        "javascript:alert(1)",
    ],
)
def test_anything_but_an_origin_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"origin|port"):
        normalise_origin(bad)
    with pytest.raises(ValidationError):
        Settings(support_embed_origins=[bad])


def test_a_bad_setting_names_its_variable_and_not_its_value(
    cli: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SOPDESK_LOG_LEVEL", "chatty")
    monkeypatch.setenv("SOPDESK_SUPPORT_EMBED_ORIGINS", '["https://shop.example.com/secret-path"]')
    run = cli("db", "current")
    assert run.code == 1
    assert "SOPDESK_LOG_LEVEL: Input should be 'DEBUG'" in run.err
    assert "SOPDESK_SUPPORT_EMBED_ORIGINS:" in run.err and "https://shop.example.com" in run.err
    assert "unexpected" not in run.err and "Traceback" not in run.err


def test_a_list_that_is_not_json_says_how_to_write_it(
    cli: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SOPDESK_SUPPORT_ADDRESSES", "help@shop.example, sales@shop.example")
    run = cli("db", "current")
    assert run.code == 1
    assert "SOPDESK_SUPPORT_ADDRESSES: is not JSON" in run.err and '["a", "b"]' in run.err
    assert "sales@shop.example" not in run.err and "unexpected" not in run.err


def test_a_secret_in_a_bad_setting_is_not_printed(
    cli: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SOPDESK_LINK_TTL_DAYS", "hunter2-password")
    run = cli("db", "current")
    assert run.code == 1 and "SOPDESK_LINK_TTL_DAYS" in run.err
    assert "hunter2" not in run.err
