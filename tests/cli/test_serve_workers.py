"""`sopdesk serve --workers N`: refused on SQLite and with --with-worker; on PostgreSQL,
N real Uvicorn processes whose request counters /metrics adds up."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sopdesk.actions import users
from sopdesk.cli.serve import METRICS_DIR_ENV, metrics_dir
from sopdesk.store import create_engine_for, session_factory, upgrade
from tests.conftest import Runner


def test_sqlite_refuses_more_than_one_worker(
    cli: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPDESK_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SOPDESK_DATABASE_URL", raising=False)
    run = cli("serve", "--workers", "2")
    assert run.code == 1
    assert "--workers 2 needs PostgreSQL" in run.err and "SQLite" in run.err
    assert "one process" in run.err  # the hint: drop --workers, or move to PostgreSQL
    assert "SOPDESK_DATABASE_URL" in run.err


def test_workers_serve_the_web_only(cli: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPDESK_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    run = cli("serve", "--workers", "3", "--with-worker")
    assert run.code == 1
    assert "serves the web only" in run.err and "sopdesk worker" in run.err


def test_metrics_dir_is_made_for_workers_and_an_operators_one_is_emptied(
    tmp_path: Path,
) -> None:
    environ: dict[str, str] = {}
    with metrics_dir(environ, 1) as path:
        assert path is None and environ == {}
    with metrics_dir(environ, 2) as made:
        assert made is not None and environ[METRICS_DIR_ENV] == made
        assert Path(made).is_dir()
    assert environ == {} and not Path(made).exists()
    given = tmp_path / "prom"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"old run")
    (given / "README").write_text("kept")
    with metrics_dir({METRICS_DIR_ENV: str(given)}, 1) as path:
        assert path == str(given)
        assert sorted(p.name for p in given.iterdir()) == ["README"]
    assert given.is_dir()


# --- the real thing, on PostgreSQL ----------------------------------------------------


class Server(NamedTuple):
    url: str
    counters: Path
    log: Path
    process: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"sopdesk serve exited with {process.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"sopdesk serve did not answer /healthz in {seconds} s")


@pytest.fixture
def token(pg_url: str) -> str:
    """A migrated scratch schema and a reports:read token for the scrape."""
    engine = create_engine_for(pg_url)
    upgrade(engine)
    with session_factory(engine)() as session:
        users.do_create_user(session, "prom@example.com", role="manager", password=None)
        created = users.do_create_token(session, "prom@example.com", scopes=("reports:read",))
    engine.dispose()
    return created.token


@pytest.fixture
def server(pg_url: str, token: str, tmp_path: Path) -> Iterator[Server]:
    """`sopdesk serve --workers 2` in its own process group (killed if the test did not
    stop it)."""
    counters = tmp_path / "prometheus"
    port = _free_port()
    env = {
        **os.environ,
        "SOPDESK_DATABASE_URL": pg_url,
        "SOPDESK_DATA_DIR": str(tmp_path),
        "SOPDESK_LOG_FORMAT": "json",
        METRICS_DIR_ENV: str(counters),  # ours, so the test can see one file per process
    }
    command = [sys.executable, "-c", "from sopdesk.cli import main; main()"]
    command += ["serve", "--workers", "2", "--port", str(port)]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, process)
            yield Server(url, counters, log, process)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # only the group this test started
                process.wait()


def _requests_total(text: str, route: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "sopdesk_http_requests_total" and sample.labels["route"] == route
    )


def _pids_with_counters(counters: Path) -> set[str]:
    return {path.stem.rsplit("_", 1)[1] for path in counters.glob("counter_*.db")}


@pytest.mark.postgres
def test_two_processes_serve_and_metrics_adds_them_up(server: Server, token: str) -> None:
    url, counters, log, process = server
    auth = {"Authorization": f"Bearer {token}"}
    before = _requests_total(httpx.get(url + "/metrics", headers=auth).text, "/healthz")
    sent = 0

    def probe(_: int) -> int:
        return httpx.get(url + "/healthz", timeout=10).status_code  # a new connection each

    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(60):  # until both processes have answered some
            statuses = list(pool.map(probe, range(16)))
            assert statuses == [200] * 16
            sent += 16
            if len(_pids_with_counters(counters)) >= 2:
                break
    assert len(_pids_with_counters(counters)) == 2, "one process answered every request"
    scrape = httpx.get(url + "/metrics", headers=auth)
    assert scrape.status_code == 200, scrape.text
    assert _requests_total(scrape.text, "/healthz") - before == sent  # by two processes
    assert "sopdesk_database_up 1.0" in scrape.text
    assert httpx.get(url + "/metrics").status_code == 401
    process.send_signal(signal.SIGTERM)  # stops both processes, exits 0
    assert process.wait(timeout=60) == 0
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            assert {"timestamp", "level", "logger", "message"} <= set(json.loads(line))
