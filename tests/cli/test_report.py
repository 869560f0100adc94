"""`sopdesk report kpis`: text and JSON output over cases opened from the CLI, and
refused periods and groupings."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from sopdesk.actions.base import utcnow
from tests.conftest import Runner


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Runner) -> Path:
    monkeypatch.setenv("SOPDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SOPDESK_DATABASE_URL", raising=False)
    assert cli("init", "--no-library").code == 0
    for email, channel in (("ann@example.org", "phone"), ("bo@example.org", "web")):
        opened = cli("case", "open", "--email", email, "--subject", "Help", "--channel", channel)
        assert opened.code == 0, opened.err
    return tmp_path


def test_json_by_channel(data_dir: Path, cli: Runner) -> None:
    result = cli("report", "kpis", "--by", "channel", "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["overall"]["cases"] == 2 and report["overall"]["resolved"] == 0
    assert report["overall"]["fcr"]["rate"] is None
    assert [(g["channel"], g["kpis"]["cases"]) for g in report["groups"]] == [
        ("phone", 1),
        ("web", 1),
    ]


def test_text_names_every_kpi_and_the_period(data_dir: Path, cli: Runner) -> None:
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    result = cli("report", "kpis", "--until", tomorrow)
    assert result.code == 0, result.err
    assert f"Cases opened from the start until {tomorrow} (not included)" in result.out
    assert "All cases — 2 cases, 0 resolved" in result.out
    for name in ("CSAT", "First contact resolution", "SLA attainment", "Repeat business"):
        assert name in result.out
    later = cli("report", "kpis", "--since", tomorrow, "--format", "json")
    assert json.loads(later.out)["overall"]["cases"] == 0


def test_refused_input(data_dir: Path, cli: Runner) -> None:
    backwards = cli("report", "kpis", "--since", "2026-03-02", "--until", "2026-03-01")
    assert backwards.code == 1 and "Error: the period ends" in backwards.err
    assert cli("report", "kpis", "--by", "weather").code == 2
    assert cli("report", "kpis", "--since", "March").code == 2
