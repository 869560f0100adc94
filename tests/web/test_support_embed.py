"""The support form in a frame on the business's website (/support/embed and the
/support/embed.js loader), on SQLite and PostgreSQL: only the listed websites may frame
it, it works without any cookie, its token is bound to its own key and expires, and the
form on its own page keeps refusing every frame."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sopdesk.actions import support_form
from sopdesk.actions.base import utcnow
from sopdesk.web import support_form as support_pages
from sopdesk.web.app import create_app
from tests.web.test_support_form import REQUEST, Site, _hidden, _site

SHOP = "https://shop.example.com"
BLOG = "https://*.blog.example"


@pytest.fixture
def site(db_url: str, tmp_path: Path) -> Iterator[Site]:
    yield from _site(db_url, tmp_path, support_embed_origins=[SHOP, BLOG])


def _embedded_form(client: TestClient, query: str = "") -> tuple[Any, dict[str, str]]:
    page = client.get(f"/support/embed{query}")
    assert page.status_code == 200, page.text
    return page, {"csrf_token": _hidden(page.text, "csrf_token"), "key": _hidden(page.text, "key")}


def _send_embedded(client: TestClient, hidden: dict[str, str], fields: dict[str, str]) -> Any:
    return client.post("/support/embed", data={**hidden, **fields})


def _frame_policy(answer: Any) -> str:
    policy = answer.headers["content-security-policy"]
    return next(part.strip() for part in policy.split(";") if "frame-ancestors" in part)


def test_only_the_listed_websites_may_frame_the_embedded_form(site: Site) -> None:
    page, _ = _embedded_form(site.client)
    assert _frame_policy(page) == f"frame-ancestors 'self' {SHOP} {BLOG}"
    assert "x-frame-options" not in page.headers  # it cannot list sites; the policy decides
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert "set-cookie" not in page.headers  # a frame on another site keeps no cookie
    assert '<script src="/static/support-frame.js" defer></script>' in page.text
    assert 'action="/support/embed"' in page.text
    assert '<header class="brand">' not in page.text  # the website around it is the frame


def test_the_form_on_its_own_page_still_refuses_every_frame(site: Site) -> None:
    page = site.client.get("/support")
    assert _frame_policy(page) == "frame-ancestors 'none'"
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script" not in page.text and 'action="/support"' in page.text


def test_with_no_website_listed_only_sopdesk_itself_may_frame_it(
    db_url: str, tmp_path: Path
) -> None:
    for site in _site(db_url, tmp_path):
        page, _ = _embedded_form(site.client)
        assert _frame_policy(page) == "frame-ancestors 'self'"


def test_an_embedded_request_opens_its_case_without_any_cookie(site: Site) -> None:
    page, hidden = _embedded_form(site.client, "?type=return")
    assert '<option value="return" selected>' in page.text
    site.client.cookies.clear()
    answer = _send_embedded(site.client, hidden, REQUEST)
    assert answer.status_code == 200, answer.text
    [case] = site.cases()
    assert f"Your request is {case.reference}" in answer.text
    assert case.channel == "web" and case.sop_id == "returns-and-refunds"
    assert case.external_source == "support-form"
    assert _frame_policy(answer) == f"frame-ancestors 'self' {SHOP} {BLOG}"
    assert '<a href="/support/embed">Send another request</a>' in answer.text
    again = _send_embedded(site.client, hidden, REQUEST)  # sent twice: one case
    assert again.status_code == 200 and case.reference in again.text
    assert len(site.cases()) == 1


@pytest.mark.parametrize("change", ["forged", "other key", "no token", "page token"])
def test_a_token_that_is_not_this_forms_keeps_the_text_and_opens_nothing(
    site: Site, change: str
) -> None:
    _, hidden = _embedded_form(site.client)
    _, other = _embedded_form(site.client)
    if change == "forged":
        hidden["csrf_token"] = hidden["csrf_token"][:-4] + "0000"
    elif change == "other key":
        hidden["csrf_token"] = other["csrf_token"]
    elif change == "no token":
        del hidden["csrf_token"]
    else:  # the cookie-bound token of /support is no token here
        hidden["csrf_token"] = site.form()["csrf_token"]
    answer = _send_embedded(site.client, hidden, REQUEST)
    assert answer.status_code == 403
    assert "This form has expired" in answer.text and "The jacket is too small" in answer.text
    assert _frame_policy(answer).startswith("frame-ancestors 'self' https://shop")
    assert site.cases() == []
    resent = {"csrf_token": _hidden(answer.text, "csrf_token"), "key": hidden["key"]}
    assert _send_embedded(site.client, resent, REQUEST).status_code == 200
    assert len(site.cases()) == 1


def test_the_embedded_token_is_no_token_for_the_form_on_its_own_page(site: Site) -> None:
    _, hidden = _embedded_form(site.client)
    answer = site.send(REQUEST, hidden=hidden)
    assert answer.status_code == 403
    assert site.cases() == []


def test_an_embedded_form_left_open_a_day_must_be_sent_again(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = utcnow()
    monkeypatch.setattr(support_pages, "utcnow", lambda: shown)
    _, hidden = _embedded_form(site.client)
    later = shown + timedelta(seconds=support_pages.EMBED_TOKEN_SECONDS + 1)
    monkeypatch.setattr(support_pages, "utcnow", lambda: later)
    answer = _send_embedded(site.client, hidden, REQUEST)
    assert answer.status_code == 403 and "The jacket is too small" in answer.text
    assert site.cases() == []


def test_bad_input_in_the_frame_is_answered_in_the_frame(site: Site) -> None:
    _, hidden = _embedded_form(site.client)
    answer = _send_embedded(site.client, hidden, {**REQUEST, "email": "rosa-at-example"})
    assert answer.status_code == 422
    assert "Please check this and send the form again" in answer.text
    assert 'action="/support/embed"' in answer.text
    assert "x-frame-options" not in answer.headers
    too_large = site.client.post(
        "/support/embed",
        content=b"x",
        headers={
            "content-type": "multipart/form-data; boundary=b",
            "content-length": str(support_form.MAX_TOTAL_BYTES + 2 * 1024 * 1024),
        },
    )
    assert too_large.status_code == 413
    assert '<a href="/support/embed">Back to the form</a>' in too_large.text
    assert _frame_policy(too_large).startswith("frame-ancestors 'self' https://shop")


def test_a_bot_in_the_frame_sees_thanks_and_nothing_is_stored(site: Site) -> None:
    _, hidden = _embedded_form(site.client)
    answer = _send_embedded(site.client, hidden, {**REQUEST, "website": "http://spam.example"})
    assert answer.status_code == 200 and "We have your request" in answer.text
    assert site.cases() == []


def test_the_loader_script_adds_the_frame_from_the_address_it_was_loaded_from(
    site: Site,
) -> None:
    script = site.client.get("/support/embed.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["cache-control"] == "public, max-age=3600"
    assert 'new URL("/support/embed", origin)' in script.text
    assert "event.origin !== origin" in script.text  # only the form's own frame is heard
    frame = site.client.get("/static/support-frame.js")
    assert frame.status_code == 200 and "postMessage" in frame.text


def test_switched_off_the_form_is_not_embedded_either(db_url: str, tmp_path: Path) -> None:
    for site in _site(db_url, tmp_path, support_form=False, support_embed_origins=[SHOP]):
        for path in ("/support/embed", "/support/embed.js"):
            assert site.client.get(path).status_code == 404, path
        assert site.client.post("/support/embed", data={}).status_code == 404


def test_an_app_with_origins_from_the_environment_lists_them(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPDESK_SUPPORT_EMBED_ORIGINS", '["HTTPS://Help.Example.org/"]')
    from sopdesk.settings import Settings

    settings = Settings(database_url=site.settings.database_url, secret_key="s" * 40)
    with TestClient(create_app(settings)) as client:
        page = client.get("/support/embed")
    assert _frame_policy(page) == "frame-ancestors 'self' https://help.example.org"
