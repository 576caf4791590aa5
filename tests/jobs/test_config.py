"""config.toml: the sample file is valid, and every kind of mistake is named with its line."""

from __future__ import annotations

import json
from datetime import time
from importlib import resources
from pathlib import Path

import pytest

from jobs.config import load_config, parse_config
from jobs.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """\
[paperboy]
database = "sqlite:///data/paperboy.db"

[sources.arxiv]
categories = ["cs.LG"]

[[users]]
name = "ada"
email = "ada@example.org"
saved = ["arXiv:1706.03762v5", "https://arxiv.org/abs/2005.14165"]
"""


def problems(text: str, tmp_path: Path) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_repository_config_is_the_bundled_starter_and_valid() -> None:
    bundled = (resources.files("jobs") / "data" / "config.toml").read_text(encoding="utf-8")
    assert (ROOT / "config.toml").read_text(encoding="utf-8") == bundled
    config = load_config(ROOT / "config.toml")
    [ada] = config.users
    assert ada.name == "ada" and ada.email == ("ada@example.org",)
    assert "2604.12627" in ada.saved and "2605.18500" in ada.saved  # "arXiv:" and URL forms
    assert config.email.transport == "outbox"


def test_sample_users_saved_papers_are_bundled() -> None:
    """The demo works offline only if every saved paper's metadata ships with Paperboy."""
    config = load_config(ROOT / "config.toml")
    sample = resources.files("jobs") / "data" / "sample" / "saved.jsonl"
    bundled = {json.loads(line)["id"] for line in sample.read_text("utf-8").splitlines() if line}
    assert set(config.users[0].saved) <= bundled


def test_minimal_config_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    config = load_config(path)
    assert config.database == f"sqlite:///{tmp_path.resolve() / 'data/paperboy.db'}"
    assert config.email.outbox == tmp_path.resolve() / "outbox"
    assert config.arxiv is not None and config.arxiv.url == "https://rss.arxiv.org/rss/cs.LG"
    assert config.arxiv.announce_types == ("new", "cross")
    [ada] = config.users
    assert ada.saved == ("1706.03762", "2005.14165")
    assert ada.email == ("ada@example.org",) and ada.send_at == time(7, 30)
    assert ada.schedule == "daily"


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    message = problems(MINIMAL.replace('name = "ada"', 'name = "ada'), tmp_path)
    assert "config.toml:8" in message and "invalid TOML" in message


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    message = problems(MINIMAL + 'keyword = ["bandits"]\n', tmp_path)
    assert "config.toml:11" in message
    assert "unknown key 'keyword' in [[users]] 'ada'; did you mean 'keywords'?" in message


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    text = MINIMAL.replace('"ada@example.org"', '"not-an-address"') + (
        'timezone = "Mars/Olympus"\n'
        'schedule = "every full moon"\n'
        'send_at = "25:00"\n'
        "max_papers = 0\n"
        '\n[[users]]\nname = "ada"\nemail = "ada2@example.org"\nsaved = ["abc"]\n'
    )
    message = problems(text, tmp_path)
    for expected in (
        "'not-an-address' is not an e-mail address",
        "unknown time zone 'Mars/Olympus'",
        "must be 'daily', 'weekly' or a cron expression",
        "send_at must be a time like",
        "max_papers must be at least 1",
        "not an arXiv id: 'abc'",
        "duplicate user name 'ada'",
    ):
        assert expected in message, expected
    assert message.startswith("7 problems in")
    # Each problem leads with file:line, the way compilers do.
    assert "config.toml:9: [[users]] 'ada': 'not-an-address'" in message
    assert "config.toml:19:" in message  # the second user's saved = ["abc"]


def test_wrong_types(tmp_path: Path) -> None:
    text = MINIMAL.replace('categories = ["cs.LG"]', 'categories = "cs.LG, cs.CL"') + (
        'max_papers = "ten"\n'
    )
    message = problems(text, tmp_path)
    assert "max_papers must be a whole number, not 'ten'" in message
    assert "'cs.LG, cs.CL' are not arXiv categories" in message


def test_secrets_never_live_in_the_file(tmp_path: Path) -> None:
    text = MINIMAL + (
        '\n[email]\ntransport = "smtp"\n[email.smtp]\nhost = "smtp.example.org"\n'
        'password = "hunter2"\n'
    )
    message = problems(text, tmp_path)
    assert "secrets never live in config.toml" in message
    assert "hunter2" not in message


def test_plain_smtp_only_to_localhost(tmp_path: Path) -> None:
    text = MINIMAL + '\n[email.smtp]\nhost = "smtp.example.org"\nsecurity = "none"\n'
    assert "only allowed for localhost" in problems(text, tmp_path)


def test_smtp_transport_needs_smtp_table(tmp_path: Path) -> None:
    text = MINIMAL + '\n[email]\ntransport = "smtp"\n'
    assert 'email.transport is "smtp" but there is no [email.smtp] table' in problems(
        text, tmp_path
    )


def test_smtp_password_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = MINIMAL + (
        '\n[email]\ntransport = "smtp"\n[email.smtp]\nhost = "smtp.example.org"\n'
        'username = "ada"\npassword_env = "PB_TEST_SMTP_PASSWORD"\n'
    )
    config = parse_config(text, tmp_path / "config.toml")
    assert config.email.smtp is not None
    monkeypatch.delenv("PB_TEST_SMTP_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match=r"\$PB_TEST_SMTP_PASSWORD, which is not set"):
        config.email.smtp.password()
    monkeypatch.setenv("PB_TEST_SMTP_PASSWORD", "s3cret")
    assert config.email.smtp.password() == "s3cret"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="paperboy init"):
        load_config(tmp_path / "nope.toml")


def test_weekly_and_cron_schedules(tmp_path: Path) -> None:
    weekly = parse_config(MINIMAL + 'schedule = "weekly"\n', tmp_path / "c.toml").users[0]
    cron = parse_config(MINIMAL + 'schedule = "0 8 * * mon-fri"\n', tmp_path / "c.toml").users[0]
    assert "day_of_week='mon'" in str(weekly.trigger())
    assert "day_of_week='mon-fri'" in str(cron.trigger())
