"""docs/sop-format.md stays in step with the code: codes, context, sections, example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sopdesk.sop.findings import CODES, severity_of
from sopdesk.sop.lint import MEASURABLE_METRICS, lint
from sopdesk.sop.model import SECTION_SYNONYMS, SECTION_TITLES, FrontMatter
from sopdesk.sop.parser import parse_sop
from sopdesk.sop.score import score
from sopdesk.sop.templating import TEMPLATE_CONTEXT
from sopdesk.sop.timephrase import BUILTIN_ANCHORS, VAGUE_WORDS

DOC = (Path(__file__).parents[2] / "docs" / "sop-format.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_is_in_the_codes_table_with_its_severity_and_meaning(code):
    row = f"| {code} | {severity_of(code).value} | {CODES[code]} |"
    assert row in DOC


def test_the_codes_table_lists_no_code_the_code_does_not_know():
    rows = set(re.findall(r"^\| (SOP\d{3}) \|", DOC, flags=re.MULTILINE))
    assert rows == set(CODES)


def test_every_context_name_is_documented():
    for root_name, root in TEMPLATE_CONTEXT.items():
        assert f"#### `{root_name}`" in DOC
        for attribute, meaning in root.attributes.items():
            assert f"| `{root_name}.{attribute}` | {meaning} |" in DOC


def test_every_section_synonym_is_documented():
    for key, title in SECTION_TITLES.items():
        synonyms = [s for s, k in SECTION_SYNONYMS.items() if k == key]
        assert f"| {title} | {', '.join(synonyms)} |" in DOC


def test_every_front_matter_key_is_documented():
    for key in FrontMatter.model_fields:
        assert f"| `{key}` |" in DOC


@pytest.mark.parametrize(
    "words",
    [*sorted(MEASURABLE_METRICS), *sorted(set(BUILTIN_ANCHORS) - {"first_response"})],
)
def test_metrics_and_anchor_words_are_documented(words):
    assert words in DOC


def test_every_vague_word_is_documented():
    lowered = DOC.lower()
    assert all(f'"{word}"' in lowered for word in VAGUE_WORDS)


def test_the_worked_example_lints_clean_and_scores_100():
    section = DOC[DOC.index("## A full worked example") :]
    example = re.search(r"```markdown\n(.*?)```", section, flags=re.DOTALL)
    assert example is not None
    result = parse_sop(example.group(1), "worked-example.md")
    assert [str(f) for f in lint(result)] == []
    assert score(result).score == 100
