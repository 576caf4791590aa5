"""Progress of long work (issue 12): a bar on a terminal, one log line per step elsewhere."""

from __future__ import annotations

import logging
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperboy.jobs.cli import cli
from paperboy.jobs.core.progress import progress

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "jobs" / "data" / "sample"


def test_without_a_terminal_each_step_is_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="paperboy.progress")
    with progress("arXiv backfill", "days", tty=False) as advance:
        advance(2, 7)
        advance(7, 7)
    assert [r.getMessage() for r in caplog.records] == [
        "arXiv backfill: 2/7 days",
        "arXiv backfill: 7/7 days",
    ]


def _fetched(tmp_path: Path) -> Path:
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(tmp_path)]).exit_code == 0
    config = tmp_path / "config.toml"
    day = sorted(SAMPLE.glob("arxiv-*"))[0]
    done = runner.invoke(cli, ["--config", str(config), "fetch", "--from-file", str(day)])
    assert done.exit_code == 0, done.output
    return config


def test_index_logs_its_steps_when_not_on_a_terminal(tmp_path: Path) -> None:
    config = _fetched(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "paperboy.jobs.cli", "--config", str(config), "-v", "index"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for step in (1, 2, 3):
        assert f"Indexing: {step}/3 steps" in done.stderr


def test_index_shows_a_bar_on_a_terminal(tmp_path: Path) -> None:
    config = _fetched(tmp_path)
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "paperboy.jobs.cli", "--config", str(config), "index"],
        env={**os.environ, "COLUMNS": "100"},
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    process.wait(timeout=60)
    os.close(master)
    text = out.decode("utf-8", "replace")
    assert process.returncode == 0, text
    assert "Indexing" in text and "3/3" in text


def test_a_digest_run_over_users_logs_each_user(tmp_path: Path) -> None:
    config = _fetched(tmp_path)
    config.write_text(
        config.read_text()
        + '\n[[users]]\nname = "bob"\nemail = "bob@localhost"\nkeywords = ["diffusion"]\n'
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "paperboy.jobs.cli",
            "--config",
            str(config),
            "-v",
            "digest",
            "--dry-run",
        ],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Digests: 1/2 users" in done.stderr and "Digests: 2/2 users" in done.stderr
