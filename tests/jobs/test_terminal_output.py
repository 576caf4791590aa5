"""Terminal control characters from feeds, the web page or a config never reach the
terminal raw (issue #20, item 23): the CLI prints through one function that strips them,
JSON escapes them, and the config refuses them in user names."""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperboy.jobs.cli import cli
from paperboy.jobs.config.load import load_config
from paperboy.jobs.core.logs import JsonFormatter, TextFormatter
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.core.text_safety import for_terminal, name_problem
from paperboy.jobs.storage import Storage

OSC = "\x1b]0;OWNED\x07"  # retitles the terminal window
RLO = "\u202e"  # right-to-left override
CLI_DIR = Path(__file__).resolve().parents[2] / "jobs" / "cli"
RAW = ("\x1b", "\x07", "\r", RLO, "\x9b")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def assert_clean(text: str) -> None:
    for char in RAW:
        assert char not in text, f"raw U+{ord(char):04X} in output: {text!r}"


# --- the functions ------------------------------------------------------------------------


def test_for_terminal_strips_escapes_cr_c1_and_bidi_but_keeps_lines() -> None:
    assert for_terminal(f"a{OSC}b") == "a]0;OWNEDb"
    assert for_terminal("x\r\ny\tz") == "x\ny\tz"
    assert for_terminal(f"{RLO}fdp.exe\u2066\u2069\x9b31m\x85") == "fdp.exe31m"
    assert for_terminal("line\nnext\u2028", single_line=True) == "line next "
    assert for_terminal("Ünïcödé — “fine” α-β 日本") == "Ünïcödé — “fine” α-β 日本"


@pytest.mark.parametrize("name", ["a\r\nb", "a\nb", f"ada{RLO}", "ad\x1ba", "a\tb", "a\x85b"])
def test_name_problem_refuses_control_and_bidi_characters(name: str) -> None:
    problem = name_problem(name)
    assert problem is not None and "U+" in problem


@pytest.mark.parametrize("name", ["ada", "Ada Lovelace", "ümit", "李", "o'brien"])
def test_name_problem_accepts_printable_names(name: str) -> None:
    assert name_problem(name) is None


def test_log_lines_carry_no_raw_controls() -> None:
    record = logging.makeLogRecord(
        {"name": "x", "levelno": logging.WARNING, "levelname": "WARNING", "msg": f"t {OSC}{RLO}"}
    )
    assert_clean(TextFormatter("%(message)s").format(record))
    line = JsonFormatter().format(record)
    assert_clean(line) and json.loads(line)["message"] == f"t {OSC}{RLO}"


def test_command_modules_print_only_through_common() -> None:
    """`say` is the one place text output goes through: no command module echoes itself."""
    for module in CLI_DIR.glob("*.py"):
        if module.name == "common.py":
            continue
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("echo", "secho"):
                pytest.fail(f"{module.name}:{node.lineno} prints with click.{node.attr}")
            if isinstance(node, ast.Name) and node.id == "print":
                pytest.fail(f"{module.name}:{node.lineno} prints with print()")


# --- through the commands -----------------------------------------------------------------


@pytest.fixture
def hostile(tmp_path: Path) -> str:
    """A config whose database holds papers with an OSC sequence, a CR and a bidi override
    in their titles, the user saved one of them and has a keyword posted with an OSC."""
    assert run("init", str(tmp_path))[0] == 0
    config = tmp_path / "config.toml"
    papers = [
        SourcePaper(
            id=f"2606.{i:05d}",
            title=f"{OSC}Reinforcement learning for LLM reasoning{RLO} part\r\n{i}",
            abstract=f"We train language models to reason with RL and GRPO {OSC} ({i}).",
            authors=(f"Mallory{OSC}",),
            categories=("cs.LG",),
            link=f"https://arxiv.org/abs/2606.{i:05d}",
        )
        for i in range(1, 8)
    ]
    storage = Storage.open(load_config(config).database)
    try:
        storage.upsert_papers(papers[:1], source="file:hostile", listed=False)
        storage.upsert_papers(papers[1:], source="arxiv", listed=True)
    finally:
        storage.close()
    code, _, err = run("--config", str(config), "profile", "add", "2606.00001", "--user", "ada")
    assert code == 0, err
    code, _, err = run("--config", str(config), "profile", "add", "--keyword", f"rl{OSC}")
    assert code == 0, err
    return str(config)


def test_digest_dry_run_prints_no_terminal_controls(hostile: str) -> None:
    code, out, err = run("--config", hostile, "digest", "--dry-run")
    assert code == 0, err
    assert "]0;OWNED" in out  # the hostile titles were printed, defanged
    assert_clean(out + err)


def test_rank_prints_no_terminal_controls(hostile: str) -> None:
    code, out, err = run("--config", hostile, "rank", "--user", "ada")
    assert code == 0, err
    assert "]0;OWNED" in out
    assert_clean(out + err)
    code, out, _ = run("--config", hostile, "rank", "--user", "ada", "--format", "jsonl")
    assert code == 0 and out.strip()
    assert_clean(out)  # JSON escapes them (ensure_ascii)


def test_profile_list_prints_no_terminal_controls(hostile: str) -> None:
    code, out, err = run("--config", hostile, "profile", "list", "--user", "ada")
    assert code == 0, err
    assert "]0;OWNED" in out and "rl]0;OWNED" in out  # the saved title, the keyword
    assert_clean(out + err)
    code, out, _ = run("--config", hostile, "profile", "list", "--format", "json")
    assert code == 0
    assert_clean(out)
    assert json.loads(out)[0]["keywords"][-1] == f"rl{OSC}"  # kept as given, escaped


@pytest.mark.parametrize("name", ["a\\r\\nb", "a\\u202eb", "a\\u001b]0;x\\u0007"])
def test_config_refuses_a_user_name_with_controls(tmp_path: Path, name: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[paperboy]\ndatabase = "sqlite:///x.db"\n\n[[users]]\n'
        f'name = "{name}"\nemail = "ada@example.org"\n',
        encoding="utf-8",
    )
    code, out, err = run("--config", str(config), "status")
    assert code == 2 and out == ""
    assert f"{config}:5" in err and "control or bidi character" in err
    assert_clean(err)


def test_config_refuses_a_users_dir_file_named_with_controls(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.mkdir()
    (users / "ada.toml").write_text(
        'email = "ada@example.org"\nname = "ada\\r\\nroot: sent 12 papers"\n', encoding="utf-8"
    )
    config = tmp_path / "config.toml"
    config.write_text('[paperboy]\ndatabase = "sqlite:///x.db"\nusers_dir = "users"\n')
    code, _, err = run("--config", str(config), "status")
    assert code == 2 and f"{users / 'ada.toml'}:2" in err
    assert_clean(err)
