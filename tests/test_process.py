"""`tune_gc`: the collector's pace in sopdesk's long-running processes."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from sopdesk.process import GC_THRESHOLDS, tune_gc
from sopdesk.web.app import app_from_env


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*before)


@pytest.mark.usefixtures("restore_gc")
def test_tune_gc_sets_the_thresholds_and_leaves_the_collector_on() -> None:
    gc.set_threshold(700, 10, 10)
    tune_gc()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.isenabled()
    assert GC_THRESHOLDS[0] > 700  # collects the young generation less often than CPython


@pytest.mark.usefixtures("restore_gc")
def test_the_web_app_factory_tunes_its_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`serve --workers N` hands Uvicorn `app_from_env`, run once in each process."""
    monkeypatch.setenv("SOPDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    gc.set_threshold(700, 10, 10)
    app_from_env()
    assert gc.get_threshold() == GC_THRESHOLDS
