"""The links a digest carries (and does not carry without [web] base_url), the [web]
config keys, the key file, and the digest job's handling of them."""

from __future__ import annotations

import email
import email.policy
import os
import re
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperboy.emails.digest import Digest
from paperboy.emails.render import build_message, render_html, render_text
from paperboy.jobs.cli import cli
from paperboy.jobs.config.load import load_config, parse_config
from paperboy.jobs.config.model import WEB_SECRET_ENV
from paperboy.jobs.core.errors import ConfigError
from paperboy.jobs.mailing.run import run_digests
from paperboy.jobs.storage import Storage
from paperboy.jobs.web.links import add_feedback_links, write_key_file
from paperboy.jobs.web.server import make_server
from paperboy.jobs.web.tokens import BadToken, Signer
from tests.emails.conftest import sample_items
from tests.web.conftest import CONFIG, KEY

T0 = datetime(2026, 7, 1, 5, 30, tzinfo=UTC)
LINK = re.compile(r"https?://[^\s\"<>]+/(like|dislike|u|pause|p)/([A-Za-z0-9_.\-]+)")


def digest() -> Digest:
    return Digest(
        user_name="ada",
        to=("ada@example.org",),
        sender="Paperboy <paperboy@example.org>",
        day=T0.date(),
        items=sample_items(),
        considered=100,
        created_at=T0,
    )


def configured(tmp_path: Path, web: str) -> Path:
    text = CONFIG.replace('[web]\nbase_url = "https://paperboy.example.org"\n', web)
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "web.key").write_text(KEY, encoding="utf-8")
    return path


def parts(message: EmailMessage) -> tuple[str, str]:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.SMTP)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_with_base_url_every_paper_and_the_footer_get_signed_links(tmp_path: Path) -> None:
    config = load_config(configured(tmp_path, '[web]\nbase_url = "https://pb.example.org/x/"\n'))
    d = add_feedback_links(digest(), config, T0)
    signer = Signer(KEY, now=lambda: T0)
    for item in d.items:
        assert item.more_url and item.less_url
        for url, action in ((item.more_url, "like"), (item.less_url, "dislike")):
            assert url.startswith(f"https://pb.example.org/x/{action}/")
            claim = signer.read(url.rsplit("/", 1)[1], action)
            assert (claim.user, claim.paper) == ("ada", item.paper_id)
            assert claim.expires == T0 + timedelta(days=60)
    for url, action in (
        (d.unsubscribe_url, "unsubscribe"),
        (d.pause_url, "pause"),
        (d.profile_url, "profile"),
    ):
        assert url is not None
        assert signer.read(url.rsplit("/", 1)[1], action).user == "ada"

    message = build_message(d)
    assert message["List-Unsubscribe"] == f"<{d.unsubscribe_url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = parts(message)
    for label in ("More like this", "Less like this"):
        assert html.count(f">{label}</a>") == len(d.items)
        assert text.count(f"{label}: ") == len(d.items)
    for label in ("Unsubscribe", "Pause for a week", "Your profile"):
        assert html.count(f">{label}</a>") == 1, label
        assert text.count(f"{label}: ") == 1, label
    # The text part carries the same links as the HTML part.
    assert sorted(LINK.findall(text)) == sorted(LINK.findall(html))
    assert len(LINK.findall(text)) == 2 * len(d.items) + 3


def test_the_links_expire_after_token_days(tmp_path: Path) -> None:
    config = load_config(
        configured(tmp_path, '[web]\nbase_url = "https://pb.example.org"\ntoken_days = 3\n')
    )
    d = add_feedback_links(digest(), config, T0)
    assert d.items[0].more_url is not None
    token = d.items[0].more_url.rsplit("/", 1)[1]
    Signer(KEY, now=lambda: T0 + timedelta(days=3) - timedelta(seconds=1)).read(token, "like")
    with pytest.raises(BadToken, match="expired"):
        Signer(KEY, now=lambda: T0 + timedelta(days=3)).read(token, "like")


def test_without_base_url_a_digest_is_as_before(tmp_path: Path) -> None:
    config = load_config(configured(tmp_path, ""))
    plain = digest()
    assert add_feedback_links(plain, config, T0) is plain
    assert render_html(plain) == render_html(replace(plain))
    message = build_message(plain)
    assert message["List-Unsubscribe"] is None
    text, html = parts(message)
    for label in ("More like this", "Less like this", "Pause for a week", "Your profile"):
        assert label not in text and label not in html


def test_an_http_base_url_gets_links_but_no_one_click_header(tmp_path: Path) -> None:
    """RFC 8058 one-click needs https: a local (demo) server gets the links only; an
    [email] unsubscribe address still makes the header."""
    path = configured(tmp_path, '[web]\nbase_url = "http://127.0.0.1:8080"\n')
    path.write_text(
        path.read_text().replace(
            'outbox = "outbox/"', 'outbox = "outbox/"\nunsubscribe = ["mailto:pb@example.org"]'
        )
    )
    config = load_config(path)
    d = add_feedback_links(replace(digest(), unsubscribe=config.email.unsubscribe), config, T0)
    assert d.unsubscribe_url and d.unsubscribe_url.startswith("http://127.0.0.1:8080/u/")
    message = build_message(d)
    assert message["List-Unsubscribe"] == "<mailto:pb@example.org>"
    assert message["List-Unsubscribe-Post"] is None
    assert "http://127.0.0.1:8080/like/" in render_text(d)
    # One "Unsubscribe" in the footer: the page's, not also the mailto.
    assert render_html(d).count(">Unsubscribe</a>") == 1


def test_https_base_url_comes_first_before_a_configured_mailto(tmp_path: Path) -> None:
    config = load_config(configured(tmp_path, '[web]\nbase_url = "https://pb.example.org"\n'))
    d = add_feedback_links(replace(digest(), unsubscribe=("mailto:pb@example.org",)), config, T0)
    message = build_message(d)
    assert message["List-Unsubscribe"] == f"<{d.unsubscribe_url}>, <mailto:pb@example.org>"


def test_the_digest_job_puts_the_links_in_the_mail(paperboy_dir: Path) -> None:
    config = load_config(paperboy_dir / "config.toml")
    with Storage.open(config.database) as storage:
        results = run_digests(config, storage, users=["ada"], force=True, dry_run=True)
    [r] = results
    assert r.status == "dry-run" and r.message is not None
    text, html = parts(r.message)
    assert (
        "https://paperboy.example.org/like/" in text
        and "https://paperboy.example.org/like/" in html
    )
    assert r.message["List-Unsubscribe"].startswith("<https://paperboy.example.org/u/")


def test_a_missing_key_fails_the_digest_clearly(
    paperboy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(WEB_SECRET_ENV, raising=False)
    (paperboy_dir / "web.key").unlink()
    config = load_config(paperboy_dir / "config.toml")
    with Storage.open(config.database) as storage:
        [r] = run_digests(config, storage, users=["ada"], force=True, dry_run=True)
    assert r.status == "failed"
    assert r.error is not None and "no key to sign feedback links" in r.error
    assert KEY not in r.error


def test_the_key_comes_from_the_environment_first(
    paperboy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(paperboy_dir / "config.toml")
    assert config.web.secret() == KEY
    monkeypatch.setenv(WEB_SECRET_ENV, "e" * 40)
    assert config.web.secret() == "e" * 40
    monkeypatch.setenv(WEB_SECRET_ENV, "short")
    with pytest.raises(ConfigError, match="too short") as e:
        config.web.secret()
    assert "short" not in str(e.value).replace("too short", "")


# --- [web] in config.toml ---------------------------------------------------------------


def test_web_defaults_listen_on_loopback(tmp_path: Path) -> None:
    config = load_config(configured(tmp_path, ""))
    assert config.web.base_url is None
    assert (config.web.host, config.web.port) == ("127.0.0.1", 8080)
    assert config.web.serve is False and config.web.token_days == 60
    assert config.web.secret_file == tmp_path / "web.key"
    with Storage.open(config.database) as storage:
        server = make_server(config, storage)
    assert (server.config.host, server.config.port) == ("127.0.0.1", 8080)


@pytest.mark.parametrize(
    ("web", "message"),
    [
        ('base_url = "ftp://x.example"', "web.base_url must be an http(s) URL"),
        ('base_url = "https://x.example/?next=y"', "without a query"),
        ("base_url = 3", "web.base_url must be an http(s) URL, not 3"),
        ('listen = "8080"', 'web.listen: expected "HOST:PORT"'),
        ('listen = "localhost:99999"', "web.listen"),
        ("token_days = 0", "web.token_days must be from 1 to 3650, not 0"),
        ('serve = "yes"', "web.serve must be true or false"),
        ('secret = "hunter2"', "secrets never live in config.toml"),
        ('base_ur = "https://x.example"', "did you mean 'base_url'"),
    ],
)
def test_bad_web_settings_name_the_file_and_line(tmp_path: Path, web: str, message: str) -> None:
    text = CONFIG.replace('base_url = "https://paperboy.example.org"', web)
    line = text.splitlines().index(web) + 1
    with pytest.raises(ConfigError) as e:
        parse_config(text, tmp_path / "config.toml")
    assert f"{tmp_path / 'config.toml'}:{line}: " in str(e.value)
    assert message in str(e.value)


def test_listen_takes_ipv6_and_any_interface_when_asked(tmp_path: Path) -> None:
    text = CONFIG.replace('base_url = "https://paperboy.example.org"', 'listen = "[::1]:9000"')
    assert (parse_config(text, tmp_path / "c.toml").web.host, 9000) == ("::1", 9000)


def test_init_writes_a_private_key_once(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["init", str(tmp_path)])
    assert out.exit_code == 0, out.output
    key = tmp_path / "web.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    secret = key.read_text().strip()
    assert len(secret) >= 40 and secret not in out.output
    again = runner.invoke(cli, ["init", "--force", str(tmp_path)])
    assert again.exit_code == 0
    assert key.read_text().strip() == secret  # links already mailed keep working
    assert write_key_file(key) is False
    assert load_config(tmp_path / "config.toml").web.secret() == secret


def test_other_commands_never_write_the_key(paperboy_dir: Path) -> None:
    (paperboy_dir / "web.key").unlink()
    runner = CliRunner()
    for args in (["status"], ["profile", "list", "--user", "ada"], ["digest", "--dry-run"]):
        runner.invoke(cli, ["--config", str(paperboy_dir / "config.toml"), *args])
    assert not (paperboy_dir / "web.key").exists()
    assert os.listdir(paperboy_dir).count("web.key") == 0


def test_the_demo_links_to_a_local_paperboy_serve(tmp_path: Path) -> None:
    out = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path / "demo")])
    assert out.exit_code == 0, out.output
    assert f"paperboy --config {tmp_path / 'demo' / 'config.toml'} serve" in out.output
    [html] = (tmp_path / "demo" / "outbox").glob("*.html")
    assert "http://127.0.0.1:8080/like/" in html.read_text(encoding="utf-8")
    assert stat.S_IMODE((tmp_path / "demo" / "web.key").stat().st_mode) == 0o600
