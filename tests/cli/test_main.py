"""The `semsearch` script and `python -m app.cli`: the commands and their help."""

import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from tests.helpers import ROOT

COMMANDS = ("serve", "eval", "ingest", "search", "restore")


def test_help_of_the_installed_console_script(capsys: pytest.CaptureFixture[str]) -> None:
    script = Path(sys.executable).parent / "semsearch"
    top = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert top.returncode == 0
    assert all(name in top.stdout for name in COMMANDS)
    for command in ("ingest", "search"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        help_text = capsys.readouterr().out
        assert f"examples:\n  semsearch {command} " in help_text
        assert command == "search" or "must NOT be running" in help_text


def test_python_dash_m_runs_the_same_commands() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "app.cli", "restore", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode == 0
    assert "SNAPSHOT_PATH" in run.stdout and "examples:" in run.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "app.cli"], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert missing.returncode == 2
    assert all(name in missing.stderr for name in COMMANDS)
