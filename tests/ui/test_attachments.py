"""Files customers send reach the agent: the case page links them, the UI and the API
serve their bytes as received, and nothing in them can act on our site."""

from __future__ import annotations

import base64
import hashlib

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sopdesk.actions import users
from sopdesk.actions.case_reads import case_attachment, case_timeline, preload_attachments
from sopdesk.actions.cases import CaseRequest, open_case
from sopdesk.actions.messages import NewMessage
from sopdesk.channels.email_in.model import Attachment
from sopdesk.errors import NotFound
from sopdesk.store.tables import AttachmentRow, MessageRow
from sopdesk.web.api.models import MAX_REPLY_BASE64
from tests.ui.conftest import ClientFor, World

PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
PAGE = b"<html><script>alert(document.cookie)</script></html>"


def _file(name: str, kind: str, data: bytes) -> Attachment:
    digest = hashlib.sha256(data).hexdigest()
    return Attachment(filename=name, content_type=kind, size=len(data), sha256=digest, data=data)


@pytest.fixture
def with_files(world: World) -> tuple[str, dict[str, int]]:
    """A case whose first message brought a photo, an HTML page and a file with an odd name."""
    files = (
        _file("damage.png", "image/png", PHOTO),
        _file("invoice.html", "text/html", PAGE),
        _file('Quittung "März"; 1.pdf', "application/pdf", b"%PDF-1.4"),
    )
    message = NewMessage(text="See the photo.", attachments=files)
    request = CaseRequest(
        customer_email="lena@example.com", subject="Broken lamp", message=message, sop_id="refunds"
    )
    case = open_case(world.session, request, world.now, world.settings)
    world.session.commit()
    rows = world.session.scalars(
        select(AttachmentRow)
        .join(MessageRow)
        .where(MessageRow.case_id == case.id)
        .order_by(AttachmentRow.id)
    )
    return str(case.reference), {row.filename: row.id for row in rows}


def test_the_case_page_links_every_file(
    world: World, client_for: ClientFor, with_files: tuple[str, dict[str, int]]
) -> None:
    ref, ids = with_files
    page = client_for("agent").get(f"/cases/{ref}")
    assert page.status_code == 200
    for attachment_id in ids.values():
        assert f'href="/cases/{ref}/attachments/{attachment_id}"' in page.text
    assert "damage.png</a> (2 KB)" in page.text
    assert "Quittung &#34;März&#34;; 1.pdf" in page.text


def test_an_image_opens_in_the_tab_and_other_files_download(
    world: World, client_for: ClientFor, with_files: tuple[str, dict[str, int]]
) -> None:
    ref, ids = with_files
    agent = client_for("agent")
    photo = agent.get(f"/cases/{ref}/attachments/{ids['damage.png']}")
    assert photo.status_code == 200
    assert photo.content == PHOTO
    assert photo.headers["content-type"] == "image/png"
    assert photo.headers["content-disposition"].startswith("inline;")
    page = agent.get(f"/cases/{ref}/attachments/{ids['invoice.html']}")
    assert page.content == PAGE
    assert page.headers["content-disposition"].startswith("attachment;")
    for response in (photo, page):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"].startswith("sandbox;")
        assert "no-store" in response.headers["cache-control"]


def test_a_file_name_cannot_break_out_of_its_header(
    world: World, client_for: ClientFor, with_files: tuple[str, dict[str, int]]
) -> None:
    ref, ids = with_files
    name = 'Quittung "März"; 1.pdf'
    response = client_for("agent").get(f"/cases/{ref}/attachments/{ids[name]}")
    disposition = response.headers["content-disposition"]
    assert disposition == (
        'attachment; filename="Quittung _M_rz__ 1.pdf"; '
        "filename*=UTF-8''Quittung%20%22M%C3%A4rz%22%3B%201.pdf"
    )


def test_a_file_is_only_found_through_its_own_case(
    world: World, client_for: ClientFor, with_files: tuple[str, dict[str, int]]
) -> None:
    _, ids = with_files
    other = world.case_ref  # a case without these files
    response = client_for("agent").get(f"/cases/{other}/attachments/{ids['damage.png']}")
    assert response.status_code == 404
    with pytest.raises(NotFound):
        case_attachment(world.session, other, ids["damage.png"])


def test_listing_files_does_not_read_their_bytes(
    world: World, with_files: tuple[str, dict[str, int]]
) -> None:
    ref, _ = with_files
    world.session.expire_all()
    messages = case_timeline(world.session, ref).messages
    preload_attachments(world.session, messages)
    [first] = [m for m in messages if m.attachments]
    assert all("content" not in row.__dict__ for row in first.attachments)


def test_the_api_lists_and_serves_the_files(
    world: World, client_for: ClientFor, with_files: tuple[str, dict[str, int]]
) -> None:
    ref, ids = with_files
    token = users.do_create_token(world.session, "agent@example.com", scopes={"cases:read"}).token
    app = client_for("agent").app
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as api:
        detail = api.get(f"/api/v1/cases/{ref}")
        assert detail.status_code == 200
        [inbound] = [m for m in detail.json()["messages"] if m["attachments"]]
        listed = {a["filename"]: a for a in inbound["attachments"]}
        assert listed["damage.png"] == {
            "id": ids["damage.png"],
            "filename": "damage.png",
            "content_type": "image/png",
            "size": len(PHOTO),
            "sha256": hashlib.sha256(PHOTO).hexdigest(),
        }
        body = api.get(f"/api/v1/cases/{ref}/attachments/{ids['damage.png']}")
        assert body.status_code == 200
        assert body.content == PHOTO
        missing = api.get(f"/api/v1/cases/{ref}/attachments/999999")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"


def test_an_agent_attaches_files_to_a_reply(
    world: World, client_for: ClientFor, with_files: tuple[str, dict[str, int]]
) -> None:
    ref, _ = with_files
    agent = client_for("agent")
    page = agent.get(f"/cases/{ref}")
    assert 'enctype="multipart/form-data"' in page.text and 'name="files"' in page.text
    label = b"%PDF-1.4 label"
    sent = agent.post(
        f"/cases/{ref}/reply",
        data={"csrf_token": agent.csrf, "text": "Here is your return label."},
        files=[("files", ("label.pdf", label, "application/pdf"))],
    )
    assert sent.status_code == 303, sent.text
    world.session.expire_all()
    outbound = [m for m in case_timeline(world.session, ref).messages if m.kind == "outbound"]
    reply = outbound[-1]
    [row] = world.session.scalars(select(AttachmentRow).where(AttachmentRow.message_id == reply.id))
    assert (row.filename, row.content_type) == ("label.pdf", "application/pdf")
    assert row.size == len(label)
    shown = agent.get(f"/cases/{ref}").text
    assert f'href="/cases/{ref}/attachments/{row.id}">label.pdf</a>' in shown
    too_many = [("files", (f"f{i}.txt", b"x", "text/plain")) for i in range(11)]
    refused = agent.post(
        f"/cases/{ref}/reply",
        data={"csrf_token": agent.csrf, "text": "Eleven files"},
        files=too_many,
    )
    assert refused.status_code == 422
    assert "a reply carries at most 10 files" in refused.text
    assert "Eleven files" in refused.text  # the text is kept
    # the files cannot be: the page names them to be chosen again
    assert (
        "Not sent: f0.txt, f1.txt, f2.txt" in refused.text and "Choose them again" in refused.text
    )
    assert 'aria-describedby="files-again"' in refused.text
    one = [("files", ("label.pdf", label, "application/pdf"))]
    form = {"csrf_token": agent.csrf, "text": "Label attached"}
    previewed = agent.post(f"/cases/{ref}/preview", data=form, files=one)
    assert previewed.status_code == 200 and "Not sent: label.pdf. Choose it again" in previewed.text
    htmx = {"HX-Request": "true"}
    fragment = agent.post(f"/cases/{ref}/preview", headers=htmx, data=form, files=one)
    assert "Not sent" not in fragment.text  # htmx swaps the preview only; the form keeps them
    assert "Not sent" not in agent.get(f"/cases/{ref}").text


def test_the_api_sends_files_with_a_reply(
    world: World, client_for: ClientFor, with_files: tuple[str, dict[str, int]]
) -> None:
    ref, _ = with_files
    token = users.do_create_token(world.session, "agent@example.com", scopes={"cases"}).token
    app = client_for("agent").app
    label = base64.b64encode(b"%PDF-1.4 label").decode()
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as api:
        body = {
            "text": "Your label.",
            "attachments": [
                {"filename": "label.pdf", "content_type": "application/pdf"}
                | {"content_base64": label}
            ],
        }
        made = api.post(f"/api/v1/cases/{ref}/replies", json=body)
        assert made.status_code == 201, made.text
        [listed] = made.json()["attachments"]
        assert (listed["filename"], listed["size"]) == ("label.pdf", 14)
        assert api.get(f"/api/v1/cases/{ref}/attachments/{listed['id']}").content == (
            b"%PDF-1.4 label"
        )
        for bad, says in [
            ({"filename": "label.pdf", "content_base64": "not base64!"}, "is not base64"),
            ({"filename": "../label.pdf", "content_base64": label}, "not a plain file name"),
            ({"filename": "l.pdf", "content_type": "pdf", "content_base64": label}, "content type"),
        ]:
            refused = api.post(f"/api/v1/cases/{ref}/replies", json={**body, "attachments": [bad]})
            assert refused.status_code == 422, bad
            assert says in refused.json()["detail"]
        chunk = "A" * (MAX_REPLY_BASE64 // 2 + 4)  # two of these are more than 15 MB
        files = [{"filename": f"part{i}.bin", "content_base64": chunk} for i in (1, 2)]
        too_big = api.post(f"/api/v1/cases/{ref}/replies", json={**body, "attachments": files})
        assert too_big.status_code == 422
        assert "more than 15 MB" in too_big.text
