"""`sopdesk sop list|show|versions|history|diff|submit|publish|retire|reviewed|due|sync|export`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from sopdesk.actions.base import utcnow
from tests.conftest import Runner, sop_text


@pytest.fixture
def workspace(cli: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An initialised SQLite database without the library, and a folder with two SOPs."""
    monkeypatch.delenv("SOPDESK_DATABASE_URL", raising=False)
    monkeypatch.setenv("SOPDESK_DATA_DIR", str(tmp_path / "data"))
    assert cli("init", "--no-library").code == 0
    folder = tmp_path / "sops"
    folder.mkdir()
    (folder / "refunds.md").write_text(sop_text())
    (folder / "apples.md").write_text(sop_text("apples", title="Apples and pears"))
    return folder


def _synced(cli: Runner, folder: Path) -> None:
    result = cli("sop", "sync", str(folder), "--publish", "--author", "ann", "--approver", "bob")
    assert result.code == 0, result.err


def test_sync_prints_each_file_and_a_count(cli: Runner, workspace: Path) -> None:
    result = cli("sop", "sync", str(workspace), "--author", "ann")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].startswith("added      apples v1 (draft)  ")
    assert lines[1].startswith("added      refunds v1 (draft)  ")
    assert lines[-1] == "2 added"
    again = cli("sop", "sync", str(workspace), "--author", "ann", "--format", "json")
    assert [item["outcome"] for item in json.loads(again.out)] == ["unchanged", "unchanged"]


def test_sync_reports_invalid_files_and_exits_1(cli: Runner, workspace: Path) -> None:
    (workspace / "broken.md").write_text("---\nid: broken\ntitle: Broken\n---\n")
    result = cli("sop", "sync", str(workspace), "--author", "ann")
    assert result.code == 1
    assert "invalid    " in result.err and "broken.md:2:1: error SOP005" in result.err
    assert result.out.splitlines()[-1] == "2 added, 1 invalid"
    assert "broken" not in cli("sop", "list").out


def test_list_show_and_versions(cli: Runner, workspace: Path) -> None:
    _synced(cli, workspace)
    listing = cli("sop", "list").out.splitlines()
    assert listing[0].split() == ["ID", "STATUS", "VERSION", "REVIEW", "DUE", "OWNER", "TITLE"]
    assert listing[2].split()[:3] == ["refunds", "published", "1"]
    rows = json.loads(cli("sop", "list", "--format", "json").out)
    assert [(r["id"], r["published_version"]) for r in rows] == [("apples", 1), ("refunds", 1)]
    shown = cli("sop", "show", "refunds")
    assert shown.out.startswith("refunds version 1 (published) - Handling refunds\n")
    assert "published " in shown.out and " by bob (material change)" in shown.out
    assert shown.out.endswith(sop_text())
    assert cli("sop", "show", "refunds", "--raw").out == sop_text()
    versions = cli("sop", "versions", "refunds").out.splitlines()
    assert versions[0].split()[:3] == ["VERSION", "STATUS", "CREATED"]
    assert versions[1].split()[:2] == ["1", "published"]


def test_the_full_workflow_from_a_changed_file(cli: Runner, workspace: Path) -> None:
    _synced(cli, workspace)
    (workspace / "refunds.md").write_text(sop_text(within="12 business hours"))
    assert cli("sop", "sync", str(workspace), "--author", "cy").code == 0
    submitted = cli("sop", "submit", "refunds", "--by", "cy", "--note", "please check")
    assert submitted.out == "refunds version 2 is now in review.\n"
    published = cli("sop", "publish", "refunds", "--approver", "bob", "--editorial")
    assert published.code == 0
    assert published.out.startswith(
        "Published refunds version 2 (editorial change), approved by bob"
    )
    assert published.out.endswith("Version 1 is retired.\n")
    history = cli("sop", "history", "refunds").out
    assert [line.split()[3] for line in history.splitlines()] == [
        "created", "published", "created", "submitted", "superseded", "published",
    ]  # fmt: skip
    retired = cli("sop", "retire", "refunds", "--by", "bob", "--note", "gone")
    assert retired.out == "Retired refunds version 2.\n"
    assert "refunds" in cli("sop", "list").out and "retired" in cli("sop", "list").out


def test_errors_are_one_line_with_a_hint(cli: Runner, workspace: Path) -> None:
    _synced(cli, workspace)
    again = cli("sop", "publish", "refunds", "--version", "1", "--approver", "bob")
    assert again.code == 1
    assert again.err == (
        "Error: refunds version 1 is published; it cannot become published\n"
        "  hint: it is already the version in force\n"
    )
    missing = cli("sop", "show", "nope")
    assert (missing.code, missing.err.splitlines()[0]) == (1, "Error: no SOP with id 'nope'")
    no_approver = cli("sop", "publish", "refunds")
    assert no_approver.code == 2  # a usage error
    assert "Traceback" not in no_approver.err
    bad_day = cli("sop", "due", "--today", "tomorrow")
    assert (bad_day.code, bad_day.err.splitlines()[0]) == (1, "Error: 'tomorrow' is not a date")


def test_diff_between_versions_and_between_files(cli: Runner, workspace: Path) -> None:
    _synced(cli, workspace)
    changed = workspace / "refunds.md"
    changed.write_text(sop_text(within="12 business hours"))
    cli("sop", "sync", str(workspace), "--author", "cy")
    result = cli("sop", "diff", "refunds", "1", "v2")
    assert result.code == 0
    assert result.out.startswith("--- refunds v1 (published)\n+++ refunds v2 (draft)\n")
    assert 'step "acknowledge": time limit: 24 business hours → 12 business hours' in result.out
    assert "-    within: 24 business hours\n+    within: 12 business hours\n" in result.out
    files = cli("sop", "diff", str(workspace / "apples.md"), str(changed))
    assert files.code == 0 and "title: Apples and pears → Handling refunds" in files.out
    wrong = cli("sop", "diff", "refunds", "one", "2")
    assert (wrong.code, wrong.err.splitlines()[0]) == (1, "Error: 'one' is not a version number")
    not_files = cli("sop", "diff", "refunds", "2")
    assert not_files.err.startswith("Error: refunds is not a file")


def test_due_lists_overdue_reviews(cli: Runner, workspace: Path) -> None:
    _synced(cli, workspace)
    assert cli("sop", "due", "--today", "2000-01-01").out == (
        "No reviews due on or before 2000-01-01.\n"
    )
    day = (utcnow().date() + timedelta(days=200)).isoformat()
    result = cli("sop", "due", "--today", day)
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split() == ["ID", "VERSION", "REVIEW", "DUE", "OVERDUE", "OWNER", "TITLE"]
    assert [line.split()[0] for line in lines[1:]] == ["apples", "refunds"]
    rows = json.loads(cli("sop", "due", "--today", day, "--format", "json").out)
    assert {r["id"] for r in rows} == {"apples", "refunds"}
    assert all(r["days_overdue"] > 0 for r in rows)
    reviewed = cli("sop", "reviewed", "apples", "--by", "bob")
    assert reviewed.out.startswith("apples version 1 reviewed; next review due ")


def test_export_writes_files_back_exactly(cli: Runner, workspace: Path, tmp_path: Path) -> None:
    (workspace / "crlf.md").write_bytes(sop_text("crlf").replace("\n", "\r\n").encode())
    _synced(cli, workspace)
    out = tmp_path / "exported"
    result = cli("sop", "export", str(out))
    assert result.code == 0
    assert result.out.splitlines()[-1] == f"Wrote 3 SOP files to {out}."
    for path in workspace.iterdir():
        assert (out / path.name).read_bytes() == path.read_bytes()
    (workspace / "draft.md").write_text(sop_text("draft"))
    cli("sop", "sync", str(workspace), "--author", "ann")
    only_published = cli("sop", "export", str(tmp_path / "p"), "--status", "published")
    assert "draft.md" not in only_published.out
    everything = cli("sop", "export", str(tmp_path / "a"), "--status", "all")
    assert "draft.md  v1 (draft)" in everything.out
