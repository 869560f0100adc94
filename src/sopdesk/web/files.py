"""Files on messages: reading the ones a browser uploads, and serving a file a customer
sent (an attachment) without letting it act on our site.

Uploads (`attachment_from_upload`) keep their bytes as sent; the name is made safe as
e-mail intake makes an attachment's (`email_in.mime.safe_filename`), and a content type
that is not a bare `type/subtype` is guessed from the name.

Customer files are untrusted: an HTML or SVG file served from our origin could run
script with the agent's session. So every file is sent with its stored type but
`nosniff`, a CSP `sandbox` that gives a rendered document no script and no origin,
and as a download (`Content-Disposition: attachment`) — except the raster image types
browsers only ever draw, which open in the tab. The name is sent in RFC 6266 form
(ASCII fallback plus UTF-8), never as raw header text.
"""

from __future__ import annotations

import mimetypes
import re
from urllib.parse import quote

from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from sopdesk.channels.email_in.mime import safe_filename
from sopdesk.channels.email_in.model import Attachment
from sopdesk.store.tables import AttachmentRow

_UNKNOWN = "application/octet-stream"
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")
SHOWN_INLINE = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_UNSAFE = frozenset('"\\;')


def is_media_type(text: str) -> bool:
    """Whether `text` is a bare `type/subtype` (lower case, no parameters)."""
    return _MEDIA_TYPE.fullmatch(text) is not None


def _plain(char: str) -> bool:
    return char.isascii() and char.isprintable() and char not in _UNSAFE


def attachment_response(row: AttachmentRow) -> Response:
    kind = row.content_type if is_media_type(row.content_type or "") else _UNKNOWN
    disposition = "inline" if kind in SHOWN_INLINE else "attachment"
    name = row.filename or f"attachment-{row.id}"
    fallback = "".join(c if _plain(c) else "_" for c in name)
    headers = {
        "Content-Disposition": (
            f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
        ),
        "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self' data:",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }
    return Response(row.content, media_type=kind, headers=headers)


def chosen_files(form: FormData, field: str = "files") -> list[UploadFile]:
    """The files chosen in `field` (a file input left empty sends a part without a name)."""
    items = form.getlist(field)
    return [item for item in items if isinstance(item, UploadFile) and item.filename]


async def attachment_from_upload(upload: UploadFile) -> Attachment:
    return _attachment(upload, await upload.read())


def read_uploads(uploads: list[UploadFile] | None) -> tuple[Attachment, ...]:
    """`attachment_from_upload` for a route that is not async (FastAPI spooled the files)."""
    chosen = [upload for upload in uploads or [] if upload.filename]
    return tuple(_attachment(upload, upload.file.read()) for upload in chosen)


def upload_names(uploads: list[UploadFile] | None) -> list[str]:
    """The names of the files chosen, for a page sent back that must ask for them again
    (a file input cannot be filled in by the server)."""
    return [upload.filename for upload in uploads or [] if upload.filename]


def _attachment(upload: UploadFile, data: bytes) -> Attachment:
    name = safe_filename(upload.filename) or "attachment"  # as e-mail intake names files
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    guessed = mimetypes.guess_type(name)[0]
    kind = declared if is_media_type(declared) else (guessed or _UNKNOWN)
    return Attachment.of(name, kind, data)
