"""config.toml: the sample file is valid, and every kind of mistake is named with its line."""

from __future__ import annotations

import json
from datetime import time
from importlib import resources
from pathlib import Path

import pytest

from paperboy.jobs.config.load import load_config, parse_config
from paperboy.jobs.core.errors import ConfigError

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
    bundled = (resources.files("paperboy.jobs") / "data" / "config.toml").read_text(
        encoding="utf-8"
    )
    assert (ROOT / "config.toml").read_text(encoding="utf-8") == bundled
    config = load_config(ROOT / "config.toml")
    [ada] = config.users
    assert ada.name == "ada" and ada.email == ("ada@example.org",)
    assert "2604.12627" in ada.saved and "2605.18500" in ada.saved  # "arXiv:" and URL forms
    assert config.email.transport == "outbox"


def test_sample_users_saved_papers_are_bundled() -> None:
    """The demo works offline only if every saved paper's metadata ships with Paperboy."""
    config = load_config(ROOT / "config.toml")
    sample = resources.files("paperboy.jobs") / "data" / "sample" / "saved.jsonl"
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


# --- issue #6: disliked papers, per-user overrides, and the starter explains every key --------


def test_every_setting_is_explained_in_the_starter() -> None:
    """Each key the validator knows is in the starter file, with a comment on its line or
    above it in the same paragraph."""
    from paperboy.jobs.config import load as schema
    from paperboy.jobs.config import services as schema_services
    from paperboy.jobs.config import sources as schema_sources
    from paperboy.jobs.config import users as schema_users

    starter = (ROOT / "config.toml").read_text(encoding="utf-8").splitlines()
    keys = {
        *schema._PAPERBOY,
        *schema_sources._ARXIV,
        *(k for k in schema_services._EMAIL if k != "smtp"),
        *schema_services._SMTP,
        *(k for k in schema_users._USER if k not in ("name", "email")),
    }
    for key in sorted(keys):
        at = [
            i
            for i, line in enumerate(starter)
            if line.lstrip("# ").startswith((f"{key} =", f"{key}="))
        ]
        assert at, f"{key} is not in the starter config"
        i = at[0]
        paragraph = []
        while i >= 0 and starter[i].strip() and not starter[i].startswith("["):
            paragraph.append(starter[i])
            i -= 1
        commented = "#" in paragraph[0].lstrip("# ") or any(
            line.lstrip().startswith("#") and not line.lstrip("# ").startswith(f"{key}")
            for line in paragraph[1:]
        )
        assert commented, f"{key} has no comment: {paragraph[0]!r}"


def test_disliked_papers_are_canonical_ids(tmp_path: Path) -> None:
    text = MINIMAL + 'disliked = ["https://arxiv.org/abs/2401.01234v2", "arXiv:2401.01234"]\n'
    [ada] = parse_config(text, tmp_path / "config.toml").users
    assert ada.disliked == ("2401.01234",)


def test_unparseable_ids_point_at_their_own_line(tmp_path: Path) -> None:
    text = MINIMAL + 'disliked = [\n  "2401.01234",\n  "not-an-id",   # oops\n]\n'
    message = problems(text, tmp_path)
    assert "config.toml:13: [[users]] 'ada'.disliked: not an arXiv id: 'not-an-id'" in message
    text = MINIMAL.replace('saved = ["arX', 'saved = [\n  "2401.01234",\n  "2401.1234",\n  "arX')
    message = problems(text, tmp_path)
    assert "config.toml:12: [[users]] 'ada'.saved: not an arXiv id: '2401.1234'" in message


def test_a_paper_cannot_be_saved_and_disliked(tmp_path: Path) -> None:
    message = problems(MINIMAL + 'disliked = ["1706.03762v2"]\n', tmp_path)
    assert "config.toml:11: [[users]] 'ada': 1706.03762 is both saved and disliked" in message


def test_unknown_user_key_suggests_disliked(tmp_path: Path) -> None:
    message = problems(MINIMAL + 'dislike = ["2401.01234"]\n', tmp_path)
    assert "unknown key 'dislike' in [[users]] 'ada'; did you mean 'disliked'?" in message


def test_per_user_overrides(tmp_path: Path) -> None:
    text = MINIMAL + (
        'transport = "console"\ncategories = ["stat.ML"]\nmax_papers = 3\nschedule = "weekly"\n'
        'timezone = "Asia/Tokyo"\n'
    )
    [ada] = parse_config(text, tmp_path / "config.toml").users
    assert ada.transport == "console" and ada.categories == ("stat.ML",)
    assert ada.max_papers == 3 and ada.schedule == "weekly" and ada.timezone == "Asia/Tokyo"
    [default] = parse_config(MINIMAL, tmp_path / "config.toml").users
    assert default.transport is None  # the [email] transport


def test_per_user_transport_is_checked(tmp_path: Path) -> None:
    message = problems(MINIMAL + 'transport = "pigeon"\n', tmp_path)
    assert (
        "config.toml:11: [[users]] 'ada'.transport must be one of outbox, smtp, console, "
        "not 'pigeon'" in message
    )
    message = problems(MINIMAL + 'transport = "smtp"\n', tmp_path)
    assert "config.toml:11: [[users]] 'ada'.transport is \"smtp\" but there is no [email.smtp]" in (
        message
    )
    with_smtp = MINIMAL + 'transport = "smtp"\n\n[email.smtp]\nhost = "smtp.example.org"\n'
    assert parse_config(with_smtp, tmp_path / "config.toml").users[0].transport == "smtp"


def test_library_must_be_a_path(tmp_path: Path) -> None:
    message = problems(MINIMAL + "library = true\n", tmp_path)
    assert "library must be the path of a BibTeX file, not True" in message
    [ada] = parse_config(MINIMAL + 'library = "lib/zotero.bib"\n', tmp_path / "c.toml").users
    assert ada.library == tmp_path.resolve() / "lib" / "zotero.bib"


# --- sources: Hugging Face, feeds, backfill (issue #3) -----------------------------------

SOURCES = """\
[paperboy]
database = "sqlite:///paperboy.db"

[sources.arxiv]
categories = ["cs.LG"]
backfill_days = 14

[sources.huggingface]
enabled = true

[[sources.feeds]]
name = "bioRxiv neuroscience"
url = "https://connect.biorxiv.org/biorxiv_xml/neuroscience"

[[sources.feeds]]
name = "JMLR"
url = "https://jmlr.org/jmlr.xml"
"""


def test_sources_huggingface_feeds_and_backfill(tmp_path: Path) -> None:
    config = parse_config(SOURCES, tmp_path / "config.toml")
    assert config.arxiv is not None and config.arxiv.backfill_days == 14
    assert config.huggingface is not None and config.huggingface.enabled
    assert config.huggingface.url == "https://huggingface.co/api/daily_papers"
    assert [(f.name, f.url) for f in config.feeds] == [
        ("bioRxiv neuroscience", "https://connect.biorxiv.org/biorxiv_xml/neuroscience"),
        ("JMLR", "https://jmlr.org/jmlr.xml"),
    ]


def test_sources_defaults(tmp_path: Path) -> None:
    config = parse_config(MINIMAL, tmp_path / "config.toml")
    assert config.arxiv is not None and config.arxiv.backfill_days == 7
    assert config.huggingface is None and config.feeds == ()
    off = parse_config(MINIMAL + "[sources.huggingface]\nenabled = false\n", tmp_path / "c.toml")
    assert off.huggingface is not None and not off.huggingface.enabled
    own = parse_config(
        MINIMAL + '[sources.huggingface]\nurl = "https://hf.example/api/daily_papers"\n',
        tmp_path / "c.toml",
    )
    assert own.huggingface is not None and own.huggingface.enabled
    assert own.huggingface.url == "https://hf.example/api/daily_papers"


def test_source_mistakes_are_named_with_their_lines(tmp_path: Path) -> None:
    text = """\
[sources.arxiv]
categories = ["cs.LG"]
backfill_days = -1

[sources.huggingface]
enabled = "yes"
ur = "https://huggingface.co/api/daily_papers"

[[sources.feeds]]
name = "huggingface"
url = "https://example.org/feed"

[[sources.feeds]]
name = "Blog"
url = "feed.example.org/rss"

[[sources.feeds]]
url = "https://example.org/atom"

[[sources.feeds]]
name = "Blog"
url = "https://example.org/other"

[sources.rss]
url = "https://example.org"
"""
    message = problems(text, tmp_path)
    assert "config.toml:3: sources.arxiv.backfill_days must be from 0 to 365, not -1" in message
    assert "config.toml:6: sources.huggingface.enabled must be true or false, not 'yes'" in message
    assert "config.toml:7: unknown key 'ur' in [sources.huggingface]; did you mean 'url'?" in (
        message
    )
    assert "config.toml:10: [[sources.feeds]] 'huggingface': the name 'huggingface' is taken" in (
        message
    )
    assert (
        "config.toml:15: [[sources.feeds]] 'Blog'.url must be an http(s) URL, "
        "not 'feed.example.org/rss'" in message
    )
    assert "config.toml:17: [[sources.feeds]] #3: name is required" in message
    assert "config.toml:21: duplicate feed name 'Blog'" not in message  # the first was invalid
    assert "unknown key 'rss' in [sources]" in message


def test_duplicate_feed_names_and_wrong_shapes(tmp_path: Path) -> None:
    text = MINIMAL + (
        '\n[[sources.feeds]]\nname = "Blog"\nurl = "https://a.example/feed"\n'
        '\n[[sources.feeds]]\nname = "Blog"\nurl = "https://b.example/feed"\nurll = "x"\n'
    )
    message = problems(text, tmp_path)
    assert "config.toml:17: duplicate feed name 'Blog'" in message
    unknown = "config.toml:19: unknown key 'urll' in [[sources.feeds]] 'Blog'; did you mean 'url'?"
    assert unknown in message
    fractional = MINIMAL.replace("[sources.arxiv]\n", "[sources.arxiv]\nbackfill_days = 1.5\n")
    message = problems(fractional, tmp_path)
    assert "sources.arxiv.backfill_days must be a whole number of days" in message
    assert "sources.arxiv.backfill_days must be from 0 to 365" in problems(
        MINIMAL.replace("[sources.arxiv]\n", "[sources.arxiv]\nbackfill_days = 400\n"), tmp_path
    )


# --- values that pass a type check and then fail every digest (issue #20 item 22) -------


@pytest.mark.parametrize(
    ("sender", "why"),
    [
        ('"Evil <a@b.org>\\r\\nBcc: x@y.org"', "has a control character"),
        ('"Paperboy"', "has no valid e-mail address (no @domain)"),
        ('"a@b.org, c@d.org"', "must hold exactly one e-mail address"),
    ],
)
def test_a_from_that_cannot_be_sent_is_refused(tmp_path: Path, sender: str, why: str) -> None:
    message = problems(MINIMAL + f"\n[email]\nfrom = {sender}\n", tmp_path)
    assert "config.toml:13: email.from:" in message, message
    assert "email.from:" in message and why in message


def test_a_from_with_a_display_name_is_fine(tmp_path: Path) -> None:
    text = MINIMAL + '\n[email]\nfrom = "\\"Doe, Jane\\" <jane@example.org>"\n'
    assert parse_config(text, tmp_path / "c.toml").email.sender == '"Doe, Jane" <jane@example.org>'


def test_token_days_that_overflow_the_expiry_date_are_refused(tmp_path: Path) -> None:
    message = problems(MINIMAL + "\n[web]\ntoken_days = 1000000000\n", tmp_path)
    assert "config.toml:13: web.token_days must be from 1 to 3650" in message
    ten_years = parse_config(MINIMAL + "\n[web]\ntoken_days = 3650\n", tmp_path / "c.toml")
    assert ten_years.web.token_days == 3650


def test_a_cron_that_never_fires_is_refused(tmp_path: Path) -> None:
    message = problems(MINIMAL + 'schedule = "0 0 30 2 *"\n', tmp_path)
    assert "config.toml:11:" in message and "'0 0 30 2 *' never fires" in message
    fetch = MINIMAL.replace("[paperboy]\n", '[paperboy]\nfetch_schedule = "0 0 31 4 *"\n')
    message = problems(fetch, tmp_path)
    assert "config.toml:2:" in message and "fetch_schedule '0 0 31 4 *' never fires" in message
    leap = parse_config(MINIMAL + 'schedule = "0 0 29 2 *"\n', tmp_path / "c.toml")
    assert leap.users[0].schedule == "0 0 29 2 *"  # every fourth year is rare, not never


def test_a_config_that_cannot_send_stops_the_command_with_exit_2(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from paperboy.jobs.cli import cli

    path = tmp_path / "config.toml"
    path.write_text(MINIMAL + '\n[email]\nfrom = "Evil <a@b.org>\\r\\nBcc: x@y.org"\n')
    result = CliRunner().invoke(cli, ["--config", str(path), "status"])
    assert result.exit_code == 2, result.output
    assert f"{path}:13: email.from" in result.stderr and "email.from" in result.stderr
