"""The `paperboy` command through its real entry point (click's runner and a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperboy.jobs.cli import cli
from tests.commands import PAPERBOY

COMMANDS = ["init", "demo", "fetch", "rank", "digest", "run", "status"]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0
    example = out.split("Example", 1)[1]
    assert "paperboy" in example and command in example


def test_demo_writes_the_outbox_and_says_where(tmp_path: Path) -> None:
    code, out, _ = run("demo", "--dir", str(tmp_path / "demo"))
    assert code == 0, out
    assert "Fetched 504 announcements from 4 bundled arXiv days; kept 480" in out
    assert "Digest for ada: 10 papers picked from 510 considered (sent)" in out
    eml = next((tmp_path / "demo" / "outbox").glob("*.eml"))
    html = eml.with_suffix(".html")
    assert str(eml) in out and str(html) in out and html.exists()
    # Running it again starts fresh and gives the same digest.
    code, again, _ = run("demo", "--dir", str(tmp_path / "demo"), "--format", "json")
    assert code == 0
    [row] = json.loads(again)
    assert row["digests"][0]["picked"] == 10 and row["skipped"] == {
        "replace": 22,
        "replace-cross": 2,
    }


def test_invalid_config_exits_2_with_the_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[paperboy]\ndatabase = "sqlite:///x.db"\n[[users]]\nname = "ada\n')
    code, _, err = run("--config", str(config), "status")
    assert code == 2
    assert f"{config}:4" in err and "invalid TOML" in err
    config.write_text('[[users]]\nname = "ada"\nemail = "ada@example.org"\nkeyword = ["x"]\n')
    code, _, err = run("--config", str(config), "digest")
    assert code == 2 and f"{config}:4" in err and "did you mean 'keywords'?" in err


def test_config_from_environment_and_missing_config(tmp_path: Path) -> None:
    code, _, err = run("status", env={"PAPERBOY_CONFIG": str(tmp_path / "missing.toml")})
    assert code == 2 and "missing.toml" in err and "paperboy init" in err


def test_usage_errors_exit_2() -> None:
    assert run("rank")[0] == 2
    assert run("frobnicate")[0] == 2


def test_init_writes_starter_and_refuses_to_overwrite(tmp_path: Path) -> None:
    code, _, _ = run("init", str(tmp_path))
    assert code == 0 and (tmp_path / "config.toml").exists()
    code, _, err = run("init", str(tmp_path))
    assert code == 1 and "already exists" in err
    assert run("init", str(tmp_path), "--force")[0] == 0


def test_fetch_from_file_rank_digest_status(tmp_path: Path) -> None:
    assert run("init", str(tmp_path))[0] == 0
    config = str(tmp_path / "config.toml")
    feed = FIXTURES / "arxiv-rss"
    files = sorted(
        p for p in feed.glob("*.xml") if "holiday" not in p.name and "empty" not in p.name
    )
    assert files
    code, out, _ = run("--config", config, "fetch", "--from-file", str(files[0]))
    assert code == 0 and "received" in out
    code, out, _ = run(
        "--config", config, "rank", "--user", "ada", "--limit", "3", "--format", "jsonl"
    )
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 3 and set(rows[0]) == {"id", "score", "why"}
    assert rows[0]["score"] >= rows[1]["score"] >= rows[2]["score"]
    code, out, _ = run("--config", config, "digest", "--dry-run")
    assert code == 0 and "ada: would send" in out
    code, out, _ = run("--config", config, "digest")
    assert code == 0 and "ada: sent" in out
    code, out, _ = run("--config", config, "digest")
    assert code == 0 and "ada: not due yet" in out
    code, out, _ = run("--config", config, "status", "--format", "json")
    status = json.loads(out)
    assert status["users"][0]["pending"] == 0 and status["papers"] > 0


def test_fetch_from_a_broken_file_fails_cleanly(tmp_path: Path) -> None:
    assert run("init", str(tmp_path))[0] == 0
    broken = tmp_path / "broken.xml"
    broken.write_text("<html><body>503 Service Unavailable</body></html>")
    code, _, err = run(
        "--config", str(tmp_path / "config.toml"), "fetch", "--from-file", str(broken)
    )
    assert code == 2 and "broken.xml" in err  # a bad file argument: a usage error


def test_one_off_rank_of_files_needs_no_config(tmp_path: Path) -> None:
    saved = tmp_path / "saved.jsonl"
    candidates = tmp_path / "candidates.jsonl"
    saved.write_text(
        json.dumps(
            {
                "id": "1",
                "title": "Reinforcement learning for LLM reasoning",
                "abstract": "We train language models to reason with RL and GRPO.",
            }
        )
        + "\n"
    )
    candidates.write_text(
        "\n".join(
            json.dumps(row)
            for row in [
                {"id": "a", "title": "Cooking pasta", "abstract": "Boil water, add salt."},
                {
                    "id": "b",
                    "title": "GRPO for math reasoning in language models",
                    "abstract": "Reinforcement learning improves LLM reasoning.",
                },
                {"id": "c", "title": "Bird migration", "abstract": "Birds fly south."},
            ]
        )
        + "\n"
    )
    code, out, err = run(
        "--config",
        str(tmp_path / "none.toml"),
        "rank",
        "--saved",
        str(saved),
        "--candidates",
        str(candidates),
        "--format",
        "jsonl",
    )
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0]["id"] == "b" and len(rows) == 3
    candidates.write_text('{"id": "x", "title": "ok"}\n{not json}\n')
    code, _, err = run("rank", "--saved", str(saved), "--candidates", str(candidates))
    assert code == 2 and f"{candidates}:2" in err  # a bad file argument: a usage error


def test_console_script_runs(tmp_path: Path) -> None:
    """The installed entry point itself (python -m would hide a broken console script)."""
    exe = Path(sys.executable).with_name("paperboy")
    command = [str(exe)] if exe.exists() else PAPERBOY
    env = {**os.environ, "PAPERBOY_CONFIG": str(tmp_path / "missing.toml")}
    done = subprocess.run(
        [*command, "status"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 2 and "missing.toml" in done.stderr and done.stdout == ""


def test_one_off_rank_takes_a_bibtex_library(tmp_path: Path) -> None:
    saved = tmp_path / "mine.bib"
    saved.write_text(
        "@article{rl,\n  title = {Reinforcement Learning for {LLM} Reasoning},\n"
        "  abstract = {We train language models to reason with RL and GRPO.},\n"
        "  eprint = {2501.00001}, archivePrefix = {arXiv}\n}\n",
        encoding="utf-8",
    )
    candidates = tmp_path / "candidates.jsonl"
    candidates.write_text(
        json.dumps({"id": "a", "title": "Cooking pasta", "abstract": "Boil water."})
        + "\n"
        + json.dumps(
            {"id": "b", "title": "GRPO for math reasoning", "abstract": "RL improves LLMs."}
        )
        + "\n"
    )
    code, out, err = run(
        "rank", "--saved", str(saved), "--candidates", str(candidates), "--format", "jsonl"
    )
    assert code == 0, err
    assert json.loads(out.splitlines()[0])["id"] == "b"


def test_version_names_the_release_and_the_user_agent_carries_it() -> None:
    """`paperboy --version` and the User-Agent read one version, paperboy.__version__,
    which is also the distribution's (paperboy-digest) version in its metadata."""
    from importlib.metadata import version

    from paperboy import __version__
    from paperboy.jobs.fetch.http import user_agent

    code, out, _err = run("--version")
    assert code == 0 and out.strip() == f"paperboy, version {__version__}"
    assert version("paperboy-digest") == __version__
    assert user_agent("me@example.org").startswith(f"Paperboy/{__version__} (")


def test_profile_commands_leave_the_schedules_to_the_commands_that_use_them(
    tmp_path: Path,
) -> None:
    """A cron line is checked by the commands that use the schedules (`status` here), not
    by `profile` (which would import APScheduler for it): a broken fetch_schedule does
    not stop a profile edit, and `status` still names it."""
    assert run("init", str(tmp_path))[0] == 0
    config = tmp_path / "config.toml"
    text = config.read_text(encoding="utf-8")
    cron = 'fetch_schedule = "30 20 * * sun,mon-thu"'
    assert cron in text
    config.write_text(text.replace(cron, 'fetch_schedule = "61 25 * * *"'), encoding="utf-8")
    env = {"PAPERBOY_CONFIG": str(config)}
    code, out, _ = run("profile", "add", "--keyword", "bandits", env=env)
    assert code == 0 and "bandits: added to ada's keywords" in out
    assert run("profile", "list", env=env)[0] == 0
    code, _, err = run("status", env=env)
    assert code == 2 and "fetch_schedule" in err and "61 25 * * *" in err
