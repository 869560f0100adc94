"""Sync a folder in, export it back byte for byte, and load the built-in library."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from sopdesk import library
from sopdesk.actions import sops
from sopdesk.actions.sop_files import (
    Outcome,
    do_load_library,
    do_sync_directory,
    export_directory,
)
from sopdesk.errors import InvalidInput, NotFound
from tests.conftest import sop_text

# Line endings, a byte-order mark, no final newline and non-ASCII text must survive.
AWKWARD = {
    "crlf.md": sop_text("crlf").replace("\n", "\r\n").encode(),
    "bom.md": ("\ufeff" + sop_text("bom", title="Café returns – naïve")).encode(),
    "no-newline.md": sop_text("no-newline").rstrip("\n").encode(),
}


def _write(folder: Path, files: dict[str, bytes | str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return folder


def _outcomes(report) -> dict[str, tuple[str, int | None]]:
    return {Path(i.path).name: (i.outcome.value, i.version) for i in report.items}


def test_sync_then_export_is_byte_identical(
    session: Session, now: datetime, tmp_path: Path
) -> None:
    source = _write(tmp_path / "in", {**AWKWARD, "refunds.md": sop_text()})
    report = do_sync_directory(session, source, "ann", now=now)
    assert report.ok and report.count(Outcome.ADDED) == 4
    out = tmp_path / "out"
    written = export_directory(session, out, status="all")
    assert len(written) == 4
    for path in source.iterdir():
        assert (out / path.name).read_bytes() == path.read_bytes(), path.name


def test_published_round_trip_and_status_filter(
    session: Session, now: datetime, tmp_path: Path
) -> None:
    source = _write(tmp_path / "in", AWKWARD)
    do_sync_directory(session, source, "ann", publish=True, approver="bob", now=now)
    sops.do_create_draft(session, sop_text("draft-only"), "ann", now=now)
    sops.do_create_draft(session, sop_text("crlf", title="Newer draft"), "ann", now=now)
    out = export_directory(session, tmp_path / "published")
    assert sorted(r.sop_id for r in out) == ["bom", "crlf", "no-newline"]
    for name, data in AWKWARD.items():
        assert (tmp_path / "published" / name).read_bytes() == data
    everything = {
        r.sop_id: r.version for r in export_directory(session, tmp_path / "all", status="all")
    }
    assert everything == {"bom": 1, "crlf": 2, "draft-only": 1, "no-newline": 1}
    assert "Newer draft" in (tmp_path / "all" / "crlf.md").read_text()


def test_sync_adds_updates_and_leaves_unchanged_files_alone(
    session: Session, now: datetime, tmp_path: Path
) -> None:
    folder = _write(tmp_path, {"a.md": sop_text("a"), "b.md": sop_text("b")})
    first = do_sync_directory(session, folder, "ann", publish=True, now=now)
    assert _outcomes(first) == {"a.md": ("added", 1), "b.md": ("added", 1)}
    assert all(i.status == "published" for i in first.items)
    _write(folder, {"b.md": sop_text("b", within="12 business hours"), "c.md": sop_text("c")})
    second = do_sync_directory(session, folder, "cy", now=now)
    assert _outcomes(second) == {
        "a.md": ("unchanged", 1),
        "b.md": ("updated", 2),
        "c.md": ("added", 1),
    }
    assert (second.changed, second.ok) == (2, True)
    b2 = sops.get_version(session, "b", 2)
    assert (b2.status, b2.author, b2.note) == ("draft", "cy", f"synced from {folder.name}")
    third = do_sync_directory(session, folder, "cy", now=now)
    assert third.changed == 0
    assert [v.version for v in sops.list_versions(session, "b")] == [1, 2]


def test_a_changed_file_replaces_the_open_draft(
    session: Session, now: datetime, tmp_path: Path
) -> None:
    folder = _write(tmp_path, {"a.md": sop_text("a")})
    do_sync_directory(session, folder, "ann", now=now)
    _write(folder, {"a.md": sop_text("a", title="Second thoughts")})
    report = do_sync_directory(session, folder, "ann", now=now)
    assert _outcomes(report) == {"a.md": ("updated", 1)}
    assert sops.get_version(session, "a", 1).title == "Second thoughts"


def test_sync_publish_publishes_an_unchanged_open_draft(
    session: Session, now: datetime, tmp_path: Path
) -> None:
    folder = _write(tmp_path, {"a.md": sop_text("a")})
    do_sync_directory(session, folder, "ann", now=now)
    report = do_sync_directory(session, folder, "ann", publish=True, approver="bob", now=now)
    assert _outcomes(report) == {"a.md": ("published", 1)}
    assert sops.get_version(session, "a", 1).approved_by == "bob"


def test_invalid_files_are_reported_and_never_half_loaded(
    session: Session, now: datetime, tmp_path: Path
) -> None:
    folder = _write(
        tmp_path,
        {
            "good.md": sop_text("good"),
            "bad-yaml.md": "---\nid: [unclosed\n---\n",
            "missing.md": "---\nid: missing\n---\n",
            "binary.md": b"\x00\x01\x02PK",
            "dup-1.md": sop_text("dup", title="Same id"),
            "dup-2.md": sop_text("dup", title="Same id, other file"),
            "notes.txt": "not an SOP file and not read",
        },
    )
    report = do_sync_directory(session, folder, "ann", now=now)
    outcomes = _outcomes(report)
    assert outcomes.pop("good.md") == ("added", 1)
    assert {name: value[0] for name, value in outcomes.items()} == dict.fromkeys(
        ["bad-yaml.md", "binary.md", "dup-1.md", "dup-2.md", "missing.md"], "invalid"
    )
    assert not report.ok
    codes = {Path(i.path).name: {f.code for f in i.findings} for i in report.items}
    assert codes["bad-yaml.md"] == {"SOP002"}
    assert codes["binary.md"] == {"SOP008"}
    assert codes["missing.md"] == {"SOP005"}
    assert codes["dup-1.md"] == codes["dup-2.md"] == {"SOP007"}
    assert [s.id for s in sops.list_sops(session)] == ["good"]
    assert sops.get_version(session, "good", 1).title == "Handling refunds"


def test_sync_and_export_refuse_bad_arguments(session: Session, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="is not a folder"):
        do_sync_directory(session, tmp_path / "missing", "ann")
    with pytest.raises(InvalidInput, match="unknown status 'drafts'"):
        export_directory(session, tmp_path, status="drafts")


def test_the_library_loads_published_and_only_once(session: Session, now: datetime) -> None:
    entries = library.templates()
    first = do_load_library(session, now=now)
    assert first.ok and first.count(Outcome.ADDED) == len(entries) > 0
    rows = sops.list_library(session)
    assert [r.id for r in rows] == sorted(e.id for e in entries)
    assert {(r.status, r.published_version) for r in rows} == {("published", 1)}
    for entry in entries:
        assert sops.get_version(session, entry.id).source.encode() == entry.path.read_bytes()
    second = do_load_library(session, now=now)
    assert second.changed == 0 and second.count(Outcome.UNCHANGED) == len(entries)


def test_the_library_never_overwrites_the_owners_changes(session: Session, now: datetime) -> None:
    do_load_library(session, now=now)
    sop_id = library.templates()[0].id
    sops.do_retire(session, sop_id, actor="owner", now=now)
    do_load_library(session, now=now)
    assert sops.get_sop(session, sop_id).status == "retired"
    assert len(sops.list_versions(session, sop_id)) == 1


def test_retire_missing_retires_sops_whose_file_is_gone(
    session: Session, now: datetime, tmp_path: Path
) -> None:
    folder = _write(tmp_path, {"a.md": sop_text("a"), "b.md": sop_text("b"), "c.md": sop_text("c")})
    do_sync_directory(session, folder, "ann", publish=True, now=now)
    (folder / "b.md").unlink()
    kept = do_sync_directory(session, folder, "ann", now=now)
    assert kept.count(Outcome.RETIRED) == 0 and sops.get_sop(session, "b").status == "published"
    report = do_sync_directory(session, folder, "ann", retire_missing=True, now=now)
    [gone] = [item for item in report.items if item.outcome is Outcome.RETIRED]
    assert (gone.sop_id, gone.version, gone.status, gone.path) == ("b", 1, "retired", "")
    assert [(s.id, s.status) for s in sops.list_sops(session)] == [
        ("a", "published"),
        ("b", "retired"),
        ("c", "published"),
    ]
    again = do_sync_directory(session, folder, "ann", retire_missing=True, now=now)
    assert again.count(Outcome.RETIRED) == 0


def test_retire_missing_is_skipped_when_a_files_id_is_unreadable(
    session: Session, now: datetime, tmp_path: Path
) -> None:
    folder = _write(tmp_path, {"a.md": sop_text("a"), "b.md": sop_text("b")})
    do_sync_directory(session, folder, "ann", publish=True, now=now)
    (folder / "b.md").write_bytes(b"\x00\x01 not an SOP any more")
    report = do_sync_directory(session, folder, "ann", retire_missing=True, now=now)
    assert not report.ok and report.count(Outcome.RETIRED) == 0
    assert sops.get_sop(session, "b").status == "published"
