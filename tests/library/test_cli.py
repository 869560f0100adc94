"""`sopdesk sop templates` and `sopdesk sop new`: output shapes, files written, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sopdesk import library
from sopdesk.cli import main
from sopdesk.cli.app import app
from sopdesk.cli.sop_library import rewrite_header, slugify
from sopdesk.errors import InvalidInput
from sopdesk.sop.lint import lint
from sopdesk.sop.parser import load_sop

runner = CliRunner()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the real entry point (with its error handling) and capture its output."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_templates_json_lists_id_title_and_summary() -> None:
    result = runner.invoke(app, ["sop", "templates", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    assert [item["id"] for item in data] == [e.id for e in library.templates()]
    assert len(data) >= 12
    for item in data:
        assert {"id", "title", "summary"} <= set(item)
        assert isinstance(item["title"], str) and item["title"]


def test_templates_text_shows_every_id_and_title() -> None:
    result = runner.invoke(app, ["sop", "templates"])
    assert result.exit_code == 0, result.output
    for entry in library.templates():
        line = next(li for li in result.stdout.splitlines() if li.startswith(entry.id + " "))
        assert entry.title in line


def test_templates_rejects_an_unknown_format() -> None:
    result = runner.invoke(app, ["sop", "templates", "--format", "xml"])
    assert result.exit_code == 2
    assert "xml" in result.output


def test_new_writes_a_file_that_parses_and_lints_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "Our Refunds_2026.md"
    code, out, _ = run(capsys, "sop", "new", str(target), "--from", "returns-and-refunds")
    assert code == 0
    assert "our-refunds-2026" in out
    result = load_sop(target)
    assert result.document is not None
    assert result.document.id == "our-refunds-2026"
    assert result.document.title == "Handling returns and refunds"
    assert lint(result) == []
    original = library.template_text("returns-and-refunds")
    assert target.read_text(encoding="utf-8").splitlines()[2:] == original.splitlines()[2:]


def test_new_takes_id_and_title_and_adds_md(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "sops" / "complaints"
    code, _, _ = run(
        capsys,
        "sop",
        "new",
        str(target),
        "--from",
        "complaint-resolution",
        "--id",
        "complaints-v2",
        "--title",
        'Complaints: the "Acme" way',
    )
    assert code == 0
    written = target.with_suffix(".md")
    document = load_sop(written).document
    assert document is not None
    assert document.id == "complaints-v2"
    assert document.title == 'Complaints: the "Acme" way'


def test_new_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "mine.md"
    target.write_text("keep me", encoding="utf-8")
    code, _, err = run(capsys, "sop", "new", str(target), "--from", "faq-upkeep")
    assert code == 1
    assert "already exists" in err and "--force" in err
    assert target.read_text(encoding="utf-8") == "keep me"
    code, _, _ = run(capsys, "sop", "new", str(target), "--from", "faq-upkeep", "--force")
    assert code == 0
    assert load_sop(target).document is not None


def test_new_with_an_unknown_template_suggests_close_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "x.md"
    code, _, err = run(capsys, "sop", "new", str(target), "--from", "onboarding")
    assert code == 1
    assert "customer-onboarding" in err
    assert "Traceback" not in err
    assert not target.exists()


@pytest.mark.parametrize("bad_id", ["Bad Id", "1st", "-x", ""])
def test_new_rejects_an_invalid_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad_id: str
) -> None:
    target = tmp_path / "x.md"
    code, _, err = run(capsys, "sop", "new", str(target), "--from", "faq-upkeep", "--id", bad_id)
    assert code == 1
    assert "not a valid SOP id" in err
    assert not target.exists()


def test_new_rejects_a_too_short_title(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "x.md"
    code, _, err = run(capsys, "sop", "new", str(target), "--from", "faq-upkeep", "--title", "x")
    assert code == 1
    assert "title" in err
    assert not target.exists()


@pytest.mark.parametrize(
    ("stem", "slug"),
    [
        ("My Returns", "my-returns"),
        ("returns_v2", "returns-v2"),
        ("2026 complaints", "sop-2026-complaints"),
        ("!!!", "my-sop"),
        ("Ünïcode  SOP", "unicode-sop"),
    ],
)
def test_slugify(stem: str, slug: str) -> None:
    assert slugify(stem) == slug


def test_rewrite_header_changes_only_the_top_level_id_and_title() -> None:
    text = (
        "---\nid: a\ntitle: Old\nsteps:\n  - id: keep\n    title: Keep\n---\n# Purpose\n\nid: x\n"
    )
    new = rewrite_header(text, new_id="b", new_title="New: one")
    assert new == (
        '---\nid: b\ntitle: "New: one"\nsteps:\n  - id: keep\n    title: Keep\n---\n'
        "# Purpose\n\nid: x\n"
    )
    with pytest.raises(InvalidInput):
        rewrite_header("# no front matter", new_id="b", new_title=None)
