"""Write a draft SOP: YAML front matter, then the body sections as Markdown.

Imported prose is escaped so that nothing the author typed turns into Markdown
structure by accident (a line starting with `#`, `1.`, `---`, `[x]:`). Pure.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from sopdesk.sop.importers.outline import Block, Kind

_BLOCK_START = re.compile(r"^(#{1,6}(?=\s|$)|>|[-+*](?=\s|$)|[=\-_*]{2,}\s*$|```|~~~|\||\[)")
_ORDERED_START = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line text (template bodies); never aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value:
        text = "\n".join(line.rstrip() for line in value.split("\n"))
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def front_matter(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=88, indent=2)


def escape_line(line: str) -> str:
    """Make one line of imported prose render as the same text, not as structure."""
    line = line.replace("<", "\\<")
    ordered = _ORDERED_START.match(line)
    if ordered:
        return f"{ordered[1]}\\{line[len(ordered[1]) :]}"
    if _BLOCK_START.match(line):
        return "\\" + line
    return line


def _paragraph(text: str) -> str:
    return "\n".join(escape_line(line) for line in text.split("\n") if line.strip())


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|").replace("<", "\\<") or " "


def table_markdown(rows: tuple[tuple[str, ...], ...]) -> str:
    width = max(len(row) for row in rows)
    padded = [list(row) + [""] * (width - len(row)) for row in rows]
    lines = ["| " + " | ".join(_cell(c) for c in padded[0]) + " |"]
    lines.append("|" + "---|" * width)
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in padded[1:])
    return "\n".join(lines)


def _list(items: list[Block]) -> str:
    top = min(block.level for block in items)
    counters: dict[int, int] = {}
    lines: list[str] = []
    for block in items:
        depth = block.level - top
        counters = {d: n for d, n in counters.items() if d <= depth}
        counters[depth] = counters.get(depth, 0) + 1
        marker = f"{counters[depth]}." if block.ordered else "-"
        text_lines = [escape_line(line) for line in block.text.split("\n") if line.strip()]
        indent = "    " * depth
        lines.append(f"{indent}{marker} {text_lines[0] if text_lines else ''}")
        lines.extend(f"{indent}    {line}" for line in text_lines[1:])
    return "\n".join(lines)


def body_markdown(blocks: list[Block], script_labels: dict[str, str]) -> str:
    """The blocks of one section as Markdown; list runs stay together."""
    parts: list[str] = []
    run: list[Block] = []
    for block in [*blocks, None]:
        if block is not None and block.kind is Kind.ITEM:
            run.append(block)
            continue
        if run:
            parts.append(_list(run))
            run = []
        if block is None:
            break
        if block.kind is Kind.PARAGRAPH:
            parts.append(_paragraph(block.text))
        elif block.kind is Kind.HEADING:
            parts.append("### " + escape_line(" ".join(block.text.split())))
        elif block.kind is Kind.TABLE and block.rows:
            parts.append(table_markdown(block.rows))
        elif block.kind is Kind.SCRIPT:
            label = script_labels.get(block.text, block.text)
            parts.append(
                f"> The email script “{_cell(label)}” is the template `{block.text}` "
                "in the front matter."
            )
    return "\n\n".join(part for part in parts if part)


def document(front: dict[str, Any], sections: list[tuple[str, str]]) -> str:
    """The whole draft: front matter between `---` lines, then `# Title` sections."""
    body = "\n\n".join(f"# {title}\n\n{text}".rstrip() for title, text in sections)
    return f"---\n{front_matter(front)}---\n{body}\n"
