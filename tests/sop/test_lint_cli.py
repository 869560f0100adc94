"""`sopdesk sop lint` and `sopdesk sop score`: exit codes, JSON shape, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sopdesk.cli import main
from tests.sop.test_lint import VALID_SOP, edit

FINDING_KEYS = {"code", "severity", "path", "line", "column", "message", "hint"}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def sops(tmp_path: Path) -> dict[str, Path]:
    files = {
        "clean": VALID_SOP,
        "warning": edit("title: Answer with the order status", "title: Answer ASAP"),
        "error": edit("    send: ack\n", "    send: akc\n"),
        "broken": "---\ntitle: [unclosed\n---\n",
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / f"{name}.md"
        paths[name].write_text(text, encoding="utf-8")
    return paths


def test_clean_file_exits_0(capsys, sops):
    code, out, _ = run(capsys, "sop", "lint", str(sops["clean"]))
    assert code == 0
    assert "no problems found" in out


def test_warnings_alone_exit_0(capsys, sops):
    code, out, _ = run(capsys, "sop", "lint", str(sops["warning"]))
    assert code == 0
    assert "warning SOP106" in out


def test_errors_exit_1_and_print_like_a_compiler(capsys, sops):
    code, out, _ = run(capsys, "sop", "lint", str(sops["error"]), str(sops["clean"]))
    assert code == 1
    line = VALID_SOP[: VALID_SOP.index("send: ack")].count("\n") + 1
    assert f"{sops['error']}:{line}:11: error SOP109" in out
    assert "hint: did you mean 'ack'?" in out


def test_json_output_shape(capsys, sops):
    code, out, _ = run(capsys, "sop", "lint", str(sops["error"]), "--format", "json")
    assert code == 1
    findings = json.loads(out)
    assert isinstance(findings, list) and findings
    for finding in findings:
        assert set(finding) == FINDING_KEYS
        assert finding["severity"] in {"error", "warning"}
        assert isinstance(finding["line"], int) and isinstance(finding["column"], int)
    assert {"SOP109", "SOP108"} <= {f["code"] for f in findings}


def test_json_for_a_clean_file_is_an_empty_list(capsys, sops):
    code, out, _ = run(capsys, "sop", "lint", "--format", "json", str(sops["clean"]))
    assert (code, json.loads(out)) == (0, [])


def test_directories_are_walked(capsys, sops):
    code, out, _ = run(capsys, "sop", "lint", str(sops["clean"].parent), "--format", "json")
    assert code == 1
    paths = {Path(f["path"]).name for f in json.loads(out)}
    assert paths == {"warning.md", "error.md", "broken.md"}


def test_a_missing_path_is_a_finding_not_a_traceback(capsys, tmp_path):
    code, out, err = run(capsys, "sop", "lint", str(tmp_path / "nope.md"), "--format", "json")
    assert code == 1
    (finding,) = json.loads(out)
    assert finding["code"] == "SOP008"
    assert "Traceback" not in out + err


def test_an_empty_directory_is_a_clean_error(capsys, tmp_path):
    code, _, err = run(capsys, "sop", "lint", str(tmp_path))
    assert code == 1
    assert err.startswith("Error: no SOP files")


def test_score_json(capsys, sops):
    code, out, _ = run(capsys, "sop", "score", str(sops["clean"]), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"score", "reasons"}
    assert data["score"] == 100 and all(isinstance(r, str) for r in data["reasons"])


def test_score_of_an_sop_with_errors_is_below_50(capsys, sops):
    for name in ("error", "broken"):
        _, out, _ = run(capsys, "sop", "score", str(sops[name]), "--format", "json")
        assert json.loads(out)["score"] < 50


def test_score_text(capsys, sops):
    code, out, _ = run(capsys, "sop", "score", str(sops["warning"]))
    assert code == 0
    assert out.splitlines()[0].endswith(": 98/100")
    assert any("SOP106" in line for line in out.splitlines()[1:])


def test_score_of_a_directory_is_a_clean_error(capsys, tmp_path):
    code, _, err = run(capsys, "sop", "score", str(tmp_path))
    assert code == 1
    assert "directory" in err


def test_the_installed_command_never_prints_a_traceback(tmp_path):
    garbage = tmp_path / "garbage.md"
    garbage.write_bytes(bytes(range(256)) * 8)
    process = subprocess.run(
        [
            sys.executable,
            "-c",
            "from sopdesk.cli import main; main()",
            "sop",
            "lint",
            str(garbage),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 1
    assert json.loads(process.stdout)[0]["code"] == "SOP008"
    assert "Traceback" not in process.stderr
