"""Email scripts in a document become message templates.

A script starts at a `Subject:` line or a greeting with a placeholder (`Dear [Customer
Name],`) and ends after the sign-off and signature (`Best,` / `[Your Team/Company
Name]`), or at the next heading. Placeholders written the way people write them in Word
(`[Customer Name]`, `«First Name»`, `{Order Number}`) become template placeholders
(`{{ customer.name }}`); unknown ones become `{{ case.fields.<name> }}`. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sopdesk.sop.importers.heuristics import fold, heading_key, slug
from sopdesk.sop.importers.outline import Block, Kind, Loc
from sopdesk.sop.templating import unknown_name

KNOWN_PLACEHOLDERS: dict[str, str] = {
    "customer name": "customer.name",
    "customer's name": "customer.name",
    "customer full name": "customer.name",
    "client name": "customer.name",
    "full name": "customer.name",
    "name": "customer.name",
    "first name": "customer.first_name",
    "customer first name": "customer.first_name",
    "customer's first name": "customer.first_name",
    "client first name": "customer.first_name",
    "last name": "customer.last_name",
    "surname": "customer.last_name",
    "customer email": "customer.email",
    "email address": "customer.email",
    "customer phone": "customer.phone",
    "issue summary": "case.subject",
    "brief summary of the issue": "case.subject",
    "summary of the issue": "case.subject",
    "brief description of the issue": "case.subject",
    "issue description": "case.subject",
    "issue": "case.subject",
    "subject": "case.subject",
    "topic": "case.subject",
    "ticket subject": "case.subject",
    "case subject": "case.subject",
    "ticket number": "case.reference",
    "ticket #": "case.reference",
    "ticket id": "case.reference",
    "case number": "case.reference",
    "case id": "case.reference",
    "reference": "case.reference",
    "reference number": "case.reference",
    "your name": "agent.name",
    "agent name": "agent.name",
    "agent's name": "agent.name",
    "representative name": "agent.name",
    "rep name": "agent.name",
    "your first name": "agent.first_name",
    "your signature": "agent.signature",
    "signature": "agent.signature",
    "your team/company name": "company.name",
    "your company/team name": "company.name",
    "team/company name": "company.name",
    "company name": "company.name",
    "your company name": "company.name",
    "your company": "company.name",
    "company": "company.name",
    "business name": "company.name",
    "your business name": "company.name",
    "your business": "company.name",
    "team name": "company.name",
    "your team name": "company.name",
    "your team": "company.name",
    "support email": "company.email",
    "company email": "company.email",
    "support phone": "company.phone",
    "phone number": "company.phone",
    "company phone": "company.phone",
    "website": "company.website",
    "opening hours": "company.hours",
    "survey link": "links.survey",
    "link to survey": "links.survey",
    "review link": "links.review",
    "link to review": "links.review",
    "case link": "links.case",
}
_PLACEHOLDER = re.compile(
    r"\{\{\s*(?P<jinja>[^{}\n]{1,60}?)\s*\}\}|\[(?P<square>[^\[\]\n]{1,60})\](?!\()"
    r"|«(?P<guillemet>[^«»\n]{1,60})»|<<(?P<angle>[^<>\n]{1,60})>>"
    r"|(?<!\{)\{(?P<brace>[^{}\n]{1,60})\}(?!\})"
)
_JINJA_OPEN = re.compile(r"\{[{%#]")
_SENTINEL = re.compile(r"\x00(\d+)\x00")
_CONTEXT_PATH = re.compile(r"^[a-z_]+(?:\.[a-z_][a-z0-9_]*)+$")
_FILLER = re.compile(r"^(?:insert|enter|add|type)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Placeholder:
    written: str
    target: str
    known: bool


def placeholder_target(words: str) -> tuple[str, bool]:
    """`"Customer Name"` -> ("customer.name", True); `"time frame"` ->
    ("case.fields.time_frame", False)."""
    key = _FILLER.sub("", fold(words)).strip(" .:")
    key = re.sub(r"\s*/\s*", "/", key)
    if key in KNOWN_PLACEHOLDERS:
        return KNOWN_PLACEHOLDERS[key], True
    return f"case.fields.{slug(key, sep='_', max_words=4, fallback='field')}", False


def convert_placeholders(text: str) -> tuple[str, list[Placeholder]]:
    """Replace Word-style placeholders with `{{ ... }}`; list what was replaced.

    Whatever else looks like Jinja syntax (`{{`, `{%`, `{#`) is escaped, so the template
    always compiles and shows those characters as written."""
    found: list[Placeholder] = []
    kept: list[str] = []

    def keep(value: str) -> str:
        kept.append(value)
        return f"\x00{len(kept) - 1}\x00"

    def replace(match: re.Match[str]) -> str:
        words = next(group for group in match.groups() if group is not None).strip()
        if match["jinja"] is not None and _CONTEXT_PATH.match(words) and not unknown_name(words):
            return keep(match.group(0))
        literal = match["brace"] is not None and words.startswith(("%", "#"))
        if literal or not re.search(r"[A-Za-z]", words) or words.lower() == "x":
            return match.group(0)
        target, known = placeholder_target(words)
        found.append(Placeholder(match.group(0), target, known))
        return keep("{{ " + target + " }}")

    marked = _PLACEHOLDER.sub(replace, text.replace("\x00", ""))
    escaped = _JINJA_OPEN.sub(lambda m: "{{ '" + m.group(0) + "' }}", marked)
    return _SENTINEL.sub(lambda m: kept[int(m.group(1))], escaped), found


@dataclass(frozen=True)
class Script:
    """An email script found in the document, already converted to a template."""

    id: str
    label: str
    subject: str | None
    body: str
    placeholders: tuple[Placeholder, ...]
    loc: Loc
    end: Loc


_SUBJECT = re.compile(r"^(?:subject(?: line)?|re)\s*:\s*(?P<subject>.+)$", re.IGNORECASE)
_GREETING = re.compile(
    r"^(?:dear|hi|hello|hey|good (?:morning|afternoon))\b.{0,60},?$", re.IGNORECASE
)
_SIGN_OFF = re.compile(
    r"(?:^|(?<=[.!?])\s+)(?P<sign>(?:(?:best|kind|warm|warmest|with)\s+)?(?:regards|wishes)|best"
    r"|sincerely|yours sincerely|yours truly|thanks|thank you|many thanks|cheers|all the best"
    r"|speak soon|talk soon)\s*,\s*$",
    re.IGNORECASE,
)
_LABEL_WORDS = re.compile(r"\b(?:script|template|email|e-mail|message|reply|letter)s?\b", re.I)
_DROP_WORDS = {"sample", "example", "email", "e", "mail", "script", "scripts", "template"}
_DROP_WORDS |= {"templates", "for", "the", "a", "an", "of", "message", "letter"}


def _is_start(line: str) -> bool:
    if _SUBJECT.match(line):
        return True
    return bool(_GREETING.match(line)) and bool(_PLACEHOLDER.search(line))


def _sign_off_split(line: str) -> tuple[str, str] | None:
    """`"... a resolution. Best,"` -> ("... a resolution.", "Best,")."""
    match = _SIGN_OFF.search(line)
    if not match:
        return None
    return line[: match.start("sign")].rstrip(), line[match.start("sign") :].strip()


def template_id(label: str, subject: str | None, taken: set[str]) -> str:
    words = [w for w in re.findall(r"[a-z0-9]+", heading_key(label)) if w not in _DROP_WORDS]
    base = "-".join(words[:4])
    if not base and subject:
        base = slug(subject, max_words=4)
    if not base or not base[0].isalpha():
        base = "message"
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}-{number}", number + 1
    return candidate


def _collect(blocks: list[Block], start: int) -> tuple[list[str], int]:
    """Lines of the script starting at `blocks[start]`, and the index after its end.

    The script ends after the signature that follows a sign-off (`Best,`), at the next
    heading, table or list, or after 40 lines. A signature is the rest of the sign-off's
    paragraph, or up to two short paragraphs after it."""
    lines: list[str] = []
    signed_at: int | None = None
    signature = 0
    index = start
    while index < len(blocks) and len(lines) < 40:
        block = blocks[index]
        if index > start and block.kind is not Kind.PARAGRAPH:
            break
        if signed_at is not None and not _signature_line(block.text, first=not signature):
            break
        for line in block.text.split("\n"):
            split = None if signed_at is not None or not lines else _sign_off_split(line)
            if split:
                lines.extend(part for part in split if part)
                signed_at = index
            else:
                signature += int(signed_at is not None and bool(line.strip()))
                lines.append(line)
        index += 1
        if signature >= 2 or (signature and signed_at == index - 1):
            break
    return lines, index


def _signature_line(text: str, *, first: bool) -> bool:
    words = text.split()
    if "\n" in text or not words or len(words) > (6 if first else 4):
        return False
    return first or not text.rstrip().endswith((".", "?", "!", ":"))


def _label_before(blocks: list[Block], start: int) -> str:
    """The heading (or `... script:` line) just before a script names it."""
    for block in reversed(blocks[max(0, start - 2) : start]):
        if block.kind is Kind.HEADING:
            return block.text.rstrip(" :")
        labelled = block.kind is Kind.PARAGRAPH and block.text.rstrip().endswith(":")
        if labelled and _LABEL_WORDS.search(block.text):
            return block.text.rstrip(" :")
    return ""


def _build(lines: list[str], label: str, loc: Loc, end: Loc, taken: set[str]) -> Script:
    subject = None
    first = _SUBJECT.match(lines[0])
    if first:
        subject = first["subject"].strip()
        lines = lines[1:]
    while lines and not lines[0].strip():
        lines = lines[1:]
    body_text = _join_body(lines)
    body, found_body = convert_placeholders(body_text)
    found_subject: list[Placeholder] = []
    bare_subject = _PLACEHOLDER.sub("", subject) if subject else None
    if subject is not None:
        subject, found_subject = convert_placeholders(subject)
    return Script(
        id=template_id(label, bare_subject, taken),
        label=label or (subject or "message"),
        subject=subject,
        body=body.strip() + "\n",
        placeholders=tuple(found_subject + found_body),
        loc=loc,
        end=end,
    )


def _join_body(lines: list[str]) -> str:
    """One paragraph per line, except the sign-off and signature, which stay together."""
    out: list[str] = []
    signing = False
    for line in (line for line in lines if line.strip()):
        if out and not signing:
            out.append("")
        out.append(line)
        signing = signing or bool(_sign_off_split(line))
    return "\n".join(out)


def extract_scripts(blocks: list[Block]) -> tuple[list[Block], list[Script]]:
    """Replace every email script in `blocks` with a `SCRIPT` pointer block."""
    out: list[Block] = []
    scripts: list[Script] = []
    taken: set[str] = set()
    index = 0
    while index < len(blocks):
        block = blocks[index]
        first_line = block.text.split("\n", 1)[0].strip() if block.kind is Kind.PARAGRAPH else ""
        if not first_line or not _is_start(first_line):
            out.append(block)
            index += 1
            continue
        lines, after = _collect(blocks, index)
        end = blocks[after - 1].loc if after > index else block.loc
        script = _build(lines, _label_before(blocks, index), block.loc, end, taken)
        if not script.body.strip():  # a subject line alone is not an email
            out.append(block)
            index += 1
            continue
        taken.add(script.id)
        scripts.append(script)
        out.append(Block(Kind.SCRIPT, script.id, block.loc))
        index = max(after, index + 1)
    return out, scripts
