"""Read an SOP file into a `SopDocument`, or into positioned findings explaining why not.

The parser never raises on bad input: everything a user can get wrong becomes a
`Finding` with file, line, column and a hint. Structural checks only; the linter
(`sop.lint`) judges meaning.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt
from pydantic import BaseModel, ValidationError

from sopdesk.sop.findings import Finding, Severity
from sopdesk.sop.model import (
    SECTION_SYNONYMS,
    AppliesTo,
    EscalationLevel,
    Followup,
    FrontMatter,
    Role,
    Section,
    SopDocument,
    Step,
    Template,
)

MAX_BYTES = 1_000_000
MAX_YAML_NODES = 50_000

Position = tuple[int, int]
YamlPath = tuple[str | int, ...]


@dataclass
class ParseResult:
    document: SopDocument | None
    findings: list[Finding]
    positions: dict[YamlPath, Position] = field(default_factory=dict)
    key_positions: dict[YamlPath, Position] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.document is not None

    def position(self, path: YamlPath, *, key: bool = False) -> Position:
        """The best known position for `path`, walking up to a parent if needed."""
        table = self.key_positions if key else self.positions
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.positions:
                return self.positions[probe]
            probe = probe[:-1]
        return self.positions.get((), (1, 1))


class _TooManyNodes(Exception):
    pass


def _error(path: str, pos: Position, code: str, message: str, hint: str) -> Finding:
    return Finding(code, Severity.ERROR, path, pos[0], pos[1], message, hint)


def parse_sop(source: str | bytes, path: str | Path = "<string>") -> ParseResult:
    """Parse SOP text (or raw bytes from a file) into a document or findings."""
    name = str(path)
    if isinstance(source, bytes):
        decoded = _decode(source, name)
        if isinstance(decoded, Finding):
            return ParseResult(None, [decoded])
        text = decoded
    else:
        text = source
        if len(text) > MAX_BYTES:
            return ParseResult(None, [_too_large(name, len(text.encode()))])
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        return ParseResult(
            None,
            [
                _error(
                    name,
                    (line, 1),
                    "SOP008",
                    "the file contains NUL bytes: it is binary, not an SOP",
                    "save the SOP as plain UTF-8 Markdown; import Word files with "
                    "'sopdesk sop import'",
                )
            ],
        )
    return _parse_text(text.removeprefix("\ufeff"), name)


def load_sop(path: str | Path) -> ParseResult:
    """Read and parse a file; unreadable files become a finding, not an exception."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_BYTES:
            return ParseResult(None, [_too_large(str(file), size)])
        raw = file.read_bytes()
    except OSError as exc:
        return ParseResult(
            None,
            [
                _error(
                    str(file),
                    (1, 1),
                    "SOP008",
                    f"cannot read the file: {exc.strerror or exc}",
                    "check the path and permissions",
                )
            ],
        )
    return parse_sop(raw, file)


def _too_large(name: str, size: int) -> Finding:
    return _error(
        name,
        (1, 1),
        "SOP009",
        f"the file is {size:,} bytes; an SOP may be at most {MAX_BYTES:,}",
        "split it into several SOPs, or move attachments out of the document",
    )


def _decode(raw: bytes, name: str) -> str | Finding:
    if len(raw) > MAX_BYTES:
        return _too_large(name, len(raw))
    if b"\x00" in raw[:8192] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _error(
            name,
            (1, 1),
            "SOP008",
            "the file is binary, not an SOP",
            "save the SOP as plain UTF-8 Markdown; import Word files with 'sopdesk sop import'",
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _error(
            name,
            (1, 1),
            "SOP008",
            "the file is UTF-16; SOP files are UTF-8",
            "re-save the file as UTF-8 (in most editors: Save As, Encoding: UTF-8)",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        return _error(
            name,
            (line, column),
            "SOP008",
            f"byte 0x{raw[exc.start]:02x} is not UTF-8 (the file looks like Latin-1 or "
            "Windows-1252)",
            "re-save the file as UTF-8 (in most editors: Save As, Encoding: UTF-8)",
        )


def _split_front_matter(text: str) -> tuple[str, str, int] | None:
    """Return (yaml text, body, body's first line) or None when there is no front matter."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n").strip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n").strip() in {"---", "..."}:
            return "".join(lines[1:index]), "".join(lines[index + 1 :]), index + 2
    return None


def _parse_text(text: str, name: str) -> ParseResult:
    split = _split_front_matter(text)
    if split is None:
        return ParseResult(
            None,
            [
                _error(
                    name,
                    (1, 1),
                    "SOP001",
                    "no front matter: an SOP starts with '---', the YAML settings, and '---'",
                    "start the file with a block like:\n---\nid: my-sop\ntitle: My SOP\n"
                    "owner: support-lead\nreview: quarterly\n---  (see docs/sop-format.md)",
                )
            ],
        )
    yaml_text, body, body_line = split
    result = ParseResult(None, [])
    data = _load_yaml(yaml_text, name, result)
    if data is None:
        return result
    if not isinstance(data, dict):
        result.findings.append(
            _error(
                name,
                (2, 1),
                "SOP003",
                "the front matter must be a mapping of keys to values",
                "write 'key: value' lines, e.g. 'id: returns-and-refunds'",
            )
        )
        return result
    _check_duplicate_ids(data, name, result)
    try:
        meta = FrontMatter.model_validate(data)
    except ValidationError as exc:
        result.findings.extend(_validation_findings(exc, name, result))
        return result
    if any(f.severity is Severity.ERROR for f in result.findings):
        return result
    result.document = SopDocument(
        meta=meta,
        sections=list(parse_sections(body, body_line)),
        body=body,
        source=text,
        path=name,
        body_line=body_line,
    )
    return result


class _PositionLoader(yaml.SafeLoader):
    """SafeLoader; YAML's own timestamp and integer sugar stay strings we validate."""


def _load_yaml(yaml_text: str, name: str, result: ParseResult) -> Any:
    try:
        node = yaml.compose(yaml_text, Loader=_PositionLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + 2) if mark else 2
        column = (mark.column + 1) if mark else 1
        problem = exc.problem or "invalid YAML"
        result.findings.append(
            _error(
                name,
                (line, column),
                "SOP002",
                f"YAML syntax: {problem}" + (f" ({exc.context})" if exc.context else ""),
                _yaml_hint(problem),
            )
        )
        return None
    except yaml.YAMLError as exc:
        result.findings.append(
            _error(name, (2, 1), "SOP002", f"YAML syntax: {exc}", "check the front matter")
        )
        return None
    except RecursionError:
        result.findings.append(_too_deep(name))
        return None
    if node is None:
        result.findings.append(
            _error(
                name,
                (2, 1),
                "SOP005",
                "the front matter is empty",
                "add at least id, title, owner and review",
            )
        )
        return None
    counter = [0]
    try:
        return _to_python(node, (), result, name, counter)
    except _TooManyNodes:
        result.findings.append(
            _error(
                name,
                (2, 1),
                "SOP009",
                f"the front matter expands to more than {MAX_YAML_NODES:,} values",
                "remove repeated YAML aliases (*name); write each value once",
            )
        )
        return None
    except RecursionError:
        result.findings.append(_too_deep(name))
        return None


def _too_deep(name: str) -> Finding:
    return _error(name, (2, 1), "SOP002", "YAML nesting is too deep", "flatten the structure")


def _yaml_hint(problem: str) -> str:
    if "mapping values are not allowed" in problem:
        return "a value containing ': ' must be quoted, e.g. subject: \"Re: your order\""
    if "found character '\\t'" in problem or "tab" in problem:
        return "indent with spaces, not tabs"
    if "could not find expected ':'" in problem:
        return "each line needs 'key: value'; check indentation of the line above"
    if "found undefined alias" in problem:
        return "define the anchor (&name) before using it (*name)"
    return "check indentation and quoting around this position"


def _pos(node: yaml.Node) -> Position:
    return node.start_mark.line + 2, node.start_mark.column + 1


def _to_python(
    node: yaml.Node, path: YamlPath, result: ParseResult, name: str, counter: list[int]
) -> Any:
    counter[0] += 1
    if counter[0] > MAX_YAML_NODES:
        raise _TooManyNodes
    result.positions.setdefault(path, _pos(node))
    if isinstance(node, yaml.MappingNode):
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar_key(key_node)
            if key in mapping:
                result.findings.append(
                    _error(
                        name,
                        _pos(key_node),
                        "SOP007",
                        f"duplicate key {key!r}",
                        "each key may appear once; merge the two entries",
                    )
                )
                continue
            child = (*path, key)
            result.key_positions[child] = _pos(key_node)
            mapping[key] = _to_python(value_node, child, result, name, counter)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_python(item, (*path, index), result, name, counter)
            for index, item in enumerate(node.value)
        ]
    try:
        return _scalar_value(node)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError):
        result.findings.append(
            _error(
                name,
                _pos(node),
                "SOP003",
                f"the value {node.value!r} has the YAML tag "
                f"{node.tag.replace('tag:yaml.org,2002:', '!!')!r}, which cannot be read here",
                "remove the '!' tag in front of the value, or put the value in quotes",
            )
        )
        return node.value


def _scalar_key(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return node.value
    return f"<{node.tag}>"


def _scalar_value(node: yaml.Node) -> Any:
    """Resolve a scalar with the safe constructor, but keep dates and times as strings."""
    assert isinstance(node, yaml.ScalarNode)
    if node.tag == "tag:yaml.org,2002:timestamp":
        return node.value
    if node.tag == "tag:yaml.org,2002:int" and ":" in node.value:
        return node.value  # YAML 1.1 sexagesimal: "09:00" must stay a time of day
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _check_duplicate_ids(data: dict[str, Any], name: str, result: ParseResult) -> None:
    for list_key in ("steps", "followups"):
        items = data.get(list_key)
        if not isinstance(items, list):
            continue
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                continue
            item_id = item["id"]
            if item_id in seen:
                result.findings.append(
                    _error(
                        name,
                        result.position((list_key, index, "id")),
                        "SOP007",
                        f"duplicate {list_key[:-1]} id {item_id!r} "
                        f"(first used by {list_key}[{seen[item_id]}])",
                        "give every step a unique id; anchors and the checklist refer to it",
                    )
                )
            else:
                seen[item_id] = index


_MODEL_AT: dict[str, type[BaseModel]] = {
    "applies_to": AppliesTo,
    "steps": Step,
    "escalation": EscalationLevel,
    "followups": Followup,
    "roles": Role,
    "templates": Template,
}


def _model_for(loc: tuple[str | int, ...]) -> type[BaseModel]:
    """The model whose fields are valid at the parent of `loc`."""
    parent = loc[:-1]
    if not parent:
        return FrontMatter
    return _MODEL_AT.get(str(parent[0]), FrontMatter)


def _validation_findings(exc: ValidationError, name: str, result: ParseResult) -> Iterator[Finding]:
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            model = _model_for(loc)
            choices = list(model.model_fields)
            close = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else f"allowed keys here: {', '.join(choices)}"
            )
            yield _error(
                name,
                result.position(loc, key=True),
                "SOP004",
                f"unknown key {key!r} in {_describe(loc[:-1])}",
                hint,
            )
        elif kind == "missing":
            field_name = str(loc[-1])
            yield _error(
                name,
                result.position(loc[:-1]),
                "SOP005",
                f"{_describe(loc[:-1])} is missing required key {field_name!r}",
                _missing_hint(field_name),
            )
        elif kind == "value_error":
            message = str(error.get("ctx", {}).get("error", error["msg"]))
            yield _error(
                name,
                result.position(loc),
                "SOP006",
                f"{_describe(loc)}: {message.split('; ')[0]}",
                "; ".join(message.split("; ")[1:]) or "see docs/sop-format.md#time-phrases",
            )
        elif kind == "string_pattern_mismatch":
            yield _error(
                name,
                result.position(loc),
                "SOP003",
                f"{_describe(loc)}: {error['input']!r} is not a valid value here",
                _pattern_hint(loc),
            )
        else:
            yield _error(
                name,
                result.position(loc),
                "SOP003",
                f"{_describe(loc)}: {error['msg'].lower()}",
                _type_hint(error),
            )


def _describe(loc: tuple[str | int, ...]) -> str:
    if not loc:
        return "the front matter"
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
        else:
            parts.append(str(item))
    return ".".join(parts)


def _missing_hint(field_name: str) -> str:
    examples = {
        "id": "id: returns-and-refunds  (lowercase words joined by '-')",
        "title": "title: Handling returns and refunds",
        "owner": "owner: support-lead  (the role accountable for this SOP)",
        "review": "review: quarterly",
        "body": "body: |\n  Dear {{ customer.first_name }}, ...",
        "send": "send: review-request  (a template id)",
        "after": "after: 7 days after resolved",
        "at": "at: 75%  or  at: breach",
    }
    return f"add {examples.get(field_name, field_name + ': ...')}"


def _pattern_hint(loc: tuple[str | int, ...]) -> str:
    if loc and loc[-1] == "priority":
        return "use one of: low, normal, high, urgent"
    return "ids are lowercase letters, digits and '-' or '_', starting with a letter"


def _type_hint(error: Any) -> str:
    kind = error["type"]
    if kind == "list_type":
        return "write a YAML list: one '- item' per line"
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return "write a mapping: 'key: value' lines indented under this key"
    if kind == "string_type":
        return "write a text value (quote it if it starts with a special character)"
    if kind == "bool_parsing":
        return "write true or false"
    if kind in {"int_parsing", "int_type"}:
        return "write a whole number"
    if kind == "enum":
        expected = error.get("ctx", {}).get("expected", "")
        return f"use one of: {expected}"
    return "see docs/sop-format.md"


_md = MarkdownIt("commonmark")


def parse_sections(body: str, first_line: int = 1) -> Iterator[Section]:
    """Split the Markdown body at level-1 and level-2 headings into sections."""
    tokens = _md.parse(body)
    lines = body.splitlines(keepends=True)
    heads: list[tuple[int, str]] = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag in {"h1", "h2"} and token.map:
            heads.append((token.map[0], tokens[index + 1].content.strip()))
    for position, (start, title) in enumerate(heads):
        end = heads[position + 1][0] if position + 1 < len(heads) else len(lines)
        content = "".join(lines[start + 1 : end]).strip("\n")
        key = SECTION_SYNONYMS.get(" ".join(title.lower().rstrip(":").split()))
        yield Section(key=key, title=title, markdown=content, line=first_line + start)
