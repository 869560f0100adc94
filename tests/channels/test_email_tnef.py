"""Outlook's winmail.dat (TNEF): the files inside become attachments, the original stays."""

from __future__ import annotations

import base64
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from sopdesk.channels.email_in import ParsedEmail

from .mail import crlf, parse, parsed

SIGNATURE = 0x223E9F78
ATTACHMENT_LEVEL = 2
RENDERING, TITLE, DATA = 0x9002, 0x8010, 0x800F  # attAttachRendData, -Title, -Data


def tnef_object(name: int, kind: int, data: bytes) -> bytes:
    header = struct.pack("<BHHI", ATTACHMENT_LEVEL, name, kind, len(data))
    return header + data + struct.pack("<H", sum(data) & 0xFFFF)


def winmail(files: list[tuple[str, bytes]]) -> bytes:
    """A minimal TNEF stream holding `files`, as Outlook lays attachments out."""
    out = struct.pack("<IH", SIGNATURE, 0x0102)
    for name, content in files:
        out += tnef_object(RENDERING, 0x0006, b"\x01\x00" + b"\xff" * 12)
        out += tnef_object(TITLE, 0x0001, name.encode() + b"\x00")
        out += tnef_object(DATA, 0x0006, content)
    return out


def mail_with(tnef: bytes) -> bytes:
    encoded = base64.encodebytes(tnef).decode()
    return crlf(
        "From: Nora <nora@legacy.example>\nTo: support@shop.example\n"
        "Subject: Attached form\nMessage-ID: <tnef-2@legacy.example>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="t"\n\n'
        "--t\nContent-Type: text/plain\n\nForm and photo attached.\n"
        '--t\nContent-Type: application/ms-tnef; name="winmail.dat"\n'
        'Content-Disposition: attachment; filename="winmail.dat"\n'
        f"Content-Transfer-Encoding: base64\n\n{encoded}--t--\n"
    )


def test_the_files_inside_winmail_dat_are_attachments_of_their_own() -> None:
    pdf, photo = b"%PDF-1.4 return form", b"\x89PNG\r\n\x1a\n" + bytes(64)
    tnef = winmail([("return-form.pdf", pdf), ("../../parcel.png", photo)])
    email = parsed(mail_with(tnef))
    original, *inside = email.attachments
    assert (original.filename, original.data) == ("winmail.dat", tnef)
    assert [(a.filename, a.content_type, a.data) for a in inside] == [
        ("return-form.pdf", "application/pdf", pdf),
        ("parcel.png", "image/png", photo),  # no directories from inside the file either
    ]
    assert email.text.strip() == "Form and photo attached."


def test_a_winmail_dat_that_does_not_decode_stays_one_attachment() -> None:
    broken = struct.pack("<IH", SIGNATURE, 1) + tnef_object(DATA, 0x0006, b"no rendering first")
    email = parsed(mail_with(broken))
    assert [a.filename for a in email.attachments] == ["winmail.dat"]
    assert "winmail.dat could not be unpacked" in email.defects


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_winmail_dat_bytes_parse_without_error(noise: bytes) -> None:
    for tnef in (noise, struct.pack("<IH", SIGNATURE, 1) + noise):
        result = parse(mail_with(tnef))
        assert isinstance(result, ParsedEmail)
        assert result.attachments[0].data == tnef
