"""Chat and push channels (issue #23): real Apprise over real HTTP to a webhook receiver
on 127.0.0.1 (json://, form://, and ntfy:// and gotify:// pointed at it), beside real
e-mail.

What is checked: the message (title, linked titles, scores, reasons, feedback links), a
long digest split under the channel's limit with each paper whole in one part, a 5xx
retried later and not counted sent, a 4xx failed for good, e-mail sent whatever the
channels do, a user with channels only, secrets kept out of the logs and of `paperboy
status`, and a runner killed between a service's OK and the record (kill -9): that part
is sent once more, and the ledger holds the digest once.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from paperboy.emails.chat import render_chat
from paperboy.jobs.cli import cli
from paperboy.jobs.config.load import load_config
from paperboy.jobs.core.errors import ConfigError
from paperboy.jobs.core.ids import is_arxiv_id
from paperboy.jobs.mailing.run import run_digests
from paperboy.jobs.mailing.send import retry_all_pending
from paperboy.jobs.storage import Storage
from paperboy.jobs.storage.schema import ledger
from tests.hook_server import HookServer
from tests.jobs.test_claims import (
    new_papers,
    sample_papers,
    start_digest,
    store_saved,
    wait_for,
)

NOW = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
SECRET = "s3cr3tTokenXq9Zp7Lw"


def write_config(
    tmp_path: Path,
    database_url: str,
    notify: str,
    *,
    email: bool = True,
    max_papers: int = 4,
    web: bool = True,
) -> Path:
    from paperboy.jobs.fetch.paperfiles import read_jsonl
    from paperboy.jobs.runners.demo import sample_dir

    saved = [r.id for r in read_jsonl(Path(str(sample_dir() / "saved.jsonl")))]
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[paperboy]
database = "{database_url}"
workers = 1

[sources.arxiv]
categories = ["cs.CL", "cs.LG", "cs.AI", "cs.CV"]

[email]
from = "Paperboy <paperboy@example.org>"
transport = "outbox"
outbox = "{tmp_path / "outbox"}"
{"[web]" + chr(10) + 'base_url = "https://paperboy.example.org"' if web else ""}

[[users]]
name = "ada"
{'email = "ada@example.org"' if email else ""}
timezone = "Europe/Berlin"
max_papers = {max_papers}
saved = [{", ".join(f'"{pid}"' for pid in saved)}]
notify = {notify}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(autouse=True)
def _web_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOY_WEB_SECRET", "k" * 40)


def fill(storage: Storage, rounds: int = 1) -> None:
    store_saved(storage)
    pool = sample_papers()
    for r in range(rounds):
        storage.upsert_papers(new_papers(r, pool), source="arxiv", listed=True)


def picked_titles(storage: Storage) -> dict[str, str]:
    with storage.engine.connect() as conn:
        ids = [r.paper_id for r in conn.execute(select(ledger.c.paper_id))]
    return {pid: p.title for pid, p in storage.get_papers(ids).items()}


# --- the message ------------------------------------------------------------------------


def test_json_form_and_ntfy_channels_get_the_digest_beside_the_email(
    tmp_path: Path, database_url: str
) -> None:
    with HookServer() as hooks:
        notify = (
            f'["json://{hooks.host}/json", "form://{hooks.host}/form", '
            f'{{ url = "ntfy://{hooks.host}/papers", name = "phone" }}]'
        )
        config = load_config(write_config(tmp_path, database_url, notify))
        assert [c.name for c in config.users[0].notify] == ["json-1", "form-2", "phone"]
        with Storage.open(config.database) as storage:
            fill(storage)
            [result] = run_digests(config, storage, now=NOW, workers=1)
            titles = picked_titles(storage)
            [mail] = storage.deliveries(user_name="ada")
            rows = storage.channel_deliveries(user_name="ada")
        [as_json] = hooks.at("/json")
        [as_form] = hooks.at("/form")
        [as_ntfy] = hooks.at("/")
    assert result.status == "sent" and mail.status == "sent"
    assert dict(result.channels) == {"json-1": "sent", "form-2": "sent", "phone": "sent"}
    assert {r.channel: (r.status, r.parts_sent, r.attempts) for r in rows} == {
        "json-1": ("sent", 1, 1),
        "form-2": ("sent", 1, 1),
        "phone": ("sent", 1, 1),
    }
    assert all(r.delivery_id == mail.id for r in rows)
    payload = as_json.json()
    form = as_form.form()
    ntfy = as_ntfy.json()
    assert ntfy["topic"] == "papers"
    assert payload["message"] == form["message"] == ntfy["message"]
    assert payload["title"] == form["title"] == ntfy["title"]
    assert payload["title"].startswith("Paperboy — ")
    body = payload["message"]
    assert titles and len(titles) == len(result.picked)
    for pid in titles:  # each paper's title linked to its abstract, once
        assert body.count(f"(https://arxiv.org/abs/{pid})") == 1, body
    for n, r in enumerate(result.picked, 1):
        assert f"**{n}. [" in body
        assert f"score {round(r.score * 100)}%" in body
    assert body.count("_Why:_ ") == len(titles)
    more = re.findall(r"\[More like this\]\((https://paperboy\.example\.org/[^)]+)\)", body)
    less = re.findall(r"\[Less like this\]\((https://paperboy\.example\.org/[^)]+)\)", body)
    arxiv = [pid for pid in titles if is_arxiv_id(pid)]  # 2608.00000 is not one: no links
    assert arxiv and len(more) == len(less) == len(arxiv), body
    assert "[Unsubscribe](https://paperboy.example.org/" in body


def test_a_long_digest_is_split_with_each_paper_whole_in_one_part(
    tmp_path: Path, database_url: str
) -> None:
    with HookServer() as hooks:
        notify = f'[{{ url = "json://{hooks.host}/hook", name = "hook", max_length = 700 }}]'
        config = load_config(write_config(tmp_path, database_url, notify, max_papers=12))
        with Storage.open(config.database) as storage:
            fill(storage, rounds=3)
            [result] = run_digests(config, storage, now=NOW, workers=1)
            titles = picked_titles(storage)
            [row] = storage.channel_deliveries(user_name="ada")
        hits = hooks.at("/hook")
    assert result.status == "sent" and len(titles) >= 8
    parts = [h.json()["message"] for h in hits]
    assert len(parts) > 1 and (row.status, row.parts_sent) == ("sent", len(parts))
    assert list(row.parts) == parts  # what was recorded is what went out, in order
    assert all(len(p) <= 700 for p in parts)
    assert [p.split("\n", 1)[0] for p in parts] == [
        f"({k}/{len(parts)})" for k in range(1, len(parts) + 1)
    ]
    for pid in titles:  # every paper in exactly one part, its block not cut across two
        holding = [p for p in parts if f"(https://arxiv.org/abs/{pid})" in p]
        assert len(holding) == 1
        block = holding[0].split(f"(https://arxiv.org/abs/{pid})")[1].split("\n\n")[0]
        assert "_Why:_" in block
        assert ("[More like this]" in block) == is_arxiv_id(pid)


def test_render_chat_never_exceeds_the_limit_and_keeps_papers_whole() -> None:
    from paperboy.emails.digest import Digest, DigestItem

    items = tuple(
        DigestItem(
            paper_id=f"2607.{i:05d}",
            title=f"Paper {i} " + "long title " * (40 if i == 3 else 2),
            abstract="An abstract sentence. " * 40,
            authors=("A",),
            categories=("cs.LG",),
            score=0.5,
            why="matches your saved papers",
            abs_url=f"https://arxiv.org/abs/2607.{i:05d}",
        )
        for i in range(10)
    )
    digest = Digest("ada", ("a@example.org",), "p@example.org", NOW.date(), items, 50, NOW)
    for limit in (300, 450, 1000, 5000):
        _title, parts = render_chat(digest, limit)
        assert all(len(p) <= limit for p in parts), limit
        for item in items:
            assert sum(f"({item.abs_url})" in p for p in parts) == 1


# --- failures ---------------------------------------------------------------------------


def test_a_5xx_is_retried_later_and_never_blocks_the_email_or_the_other_channels(
    tmp_path: Path, database_url: str
) -> None:
    with HookServer() as hooks:
        hooks.script("/down", 503, 200)
        hooks.script("/gone", 404)
        notify = (
            f'["json://{hooks.host}/down", "json://{hooks.host}/gone", "json://{hooks.host}/up"]'
        )
        config = load_config(write_config(tmp_path, database_url, notify))
        with Storage.open(config.database) as storage:
            fill(storage)
            [result] = run_digests(config, storage, now=NOW, workers=1)
            [mail] = storage.deliveries(user_name="ada")
            first = {r.channel: r for r in storage.channel_deliveries(user_name="ada")}
            # Too early for the retry: the backoff (5 minutes after one failure) holds.
            assert retry_all_pending(config, storage, now=NOW + timedelta(minutes=1)) == 0
            assert len(hooks.at("/down")) == 1
            # After it: the daemon's retry sends the same text, once.
            assert retry_all_pending(config, storage, now=NOW + timedelta(minutes=6)) == 1
            after = {r.channel: r for r in storage.channel_deliveries(user_name="ada")}
            assert retry_all_pending(config, storage, now=NOW + timedelta(hours=1)) == 0
    assert mail.status == "sent"  # the e-mail went, whatever the channels did
    assert result.status == "sent"
    assert dict(result.channels) == {
        "json-1": "retry-later",
        "json-2": "failed",
        "json-3": "sent",
    }
    assert (first["json-1"].status, first["json-1"].attempts) == ("pending", 1)
    assert "HTTP 503" in (first["json-1"].last_error or "")
    assert (first["json-2"].status, first["json-2"].last_error or "")[0] == "failed"
    assert "HTTP 404" in (first["json-2"].last_error or "")
    assert after["json-1"].status == "sent" and after["json-1"].attempts == 2
    down = hooks.at("/down")
    assert len(down) == 2 and down[0].body == down[1].body
    assert len(hooks.at("/gone")) == 1  # a 4xx is not tried again
    assert len(hooks.at("/up")) == 1


def test_a_user_with_channels_only(tmp_path: Path, database_url: str) -> None:
    with HookServer() as hooks:
        notify = f'["form://{hooks.host}/f"]'
        config = load_config(write_config(tmp_path, database_url, notify, email=False))
        assert config.users[0].email == ()
        with Storage.open(config.database) as storage:
            fill(storage)
            [result] = run_digests(config, storage, now=NOW, workers=1)
            [digest] = storage.deliveries(user_name="ada")
            [row] = storage.channel_deliveries(user_name="ada")
            titles = picked_titles(storage)
            [in_feed] = storage.sent_digests("ada", limit=5)  # the feed shows it
            # The next run: nothing new, nothing sent again.
            run_digests(config, storage, now=NOW + timedelta(minutes=30), workers=1)
        hits = hooks.at("/f")
    assert (result.status, result.receipt) == ("sent", "channels: form-1")
    assert (digest.status, digest.message) == ("no-mail", b"")
    assert digest.paper_count == len(titles) > 0
    assert row.status == "sent" and len(hits) == 1
    assert not (tmp_path / "outbox").exists() or not any((tmp_path / "outbox").iterdir())
    body = hits[0].form()["message"]
    assert all(f"(https://arxiv.org/abs/{pid})" in body for pid in titles)
    assert in_feed.delivery_id == digest.id and digest.sent_at is not None
    assert sorted(p.paper_id for p in in_feed.papers) == sorted(titles)


def test_a_channels_only_digest_whose_channels_fail_for_good_gives_its_papers_back(
    tmp_path: Path, database_url: str
) -> None:
    with HookServer() as hooks:
        hooks.script("/f", 400)
        config = load_config(
            write_config(tmp_path, database_url, f'["form://{hooks.host}/f"]', email=False)
        )
        with Storage.open(config.database) as storage:
            fill(storage)
            [result] = run_digests(config, storage, now=NOW, workers=1)
            with storage.engine.connect() as conn:
                released = [r.released_at for r in conn.execute(select(ledger))]
            mailed = storage.mailed_ids("ada")
    assert result.status == "failed" and "form-1: failed" in (result.error or "")
    assert released and all(r is not None for r in released) and not mailed


# --- config -----------------------------------------------------------------------------


def test_config_refuses_a_bad_channel_with_its_file_and_line(
    tmp_path: Path, database_url: str
) -> None:
    path = write_config(tmp_path, database_url, '["nosuchscheme://x/y"]')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    line = next(
        n for n, text in enumerate(path.read_text().split("\n"), 1) if text.startswith("notify")
    )
    assert f"{path}:{line}" in str(e.value) and "nosuchscheme" in str(e.value)
    assert "x/y" not in str(e.value)  # the URL itself is not repeated (it may hold a token)
    no_way = write_config(tmp_path, database_url, "[]", email=False)
    with pytest.raises(ConfigError, match="give an email or a notify channel"):
        load_config(no_way)


# --- secrets ----------------------------------------------------------------------------


def test_secrets_from_the_environment_stay_out_of_logs_and_status(
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with HookServer() as hooks:
        hooks.script("/private", 500)
        monkeypatch.setenv("HOOK_URL", f"json://bot:{SECRET}@{hooks.host}/private")
        notify = '[{ url_env = "HOOK_URL", name = "team" }]'
        path = write_config(tmp_path, database_url, notify)
        config = load_config(path)
        with Storage.open(config.database) as storage:
            fill(storage)
            [result] = run_digests(config, storage, now=NOW, workers=1)
            [row] = storage.channel_deliveries(user_name="ada")
        [hit] = hooks.at("/private")
        status = CliRunner().invoke(cli, ["--config", str(path), "status"])
        as_json = CliRunner().invoke(cli, ["--config", str(path), "status", "--format", "jsonl"])
    assert hit.headers["authorization"].startswith("Basic ")  # it was used, not lost
    assert dict(result.channels) == {"team": "retry-later"}
    assert "apprise" in caplog.text.lower() or "team" in caplog.text  # something was logged
    assert SECRET not in caplog.text
    assert SECRET not in (row.last_error or "") and "HTTP 500" in (row.last_error or "")
    assert status.exit_code == 1  # a channel is pending
    assert "channel team: last pending" in status.output and SECRET not in status.output
    [line] = [json.loads(x) for x in as_json.stdout.splitlines()]
    [channel] = line["users"][0]["channels"]
    assert channel["channel"] == "team" and channel["status"] == "pending"
    assert SECRET not in as_json.stdout


def test_apprise_debug_logs_of_a_token_in_the_path_are_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from paperboy.jobs.mailing.channels import notify

    caplog.set_level(logging.DEBUG)
    with HookServer() as hooks:
        hooks.script(f"/hook/{SECRET}", 502)
        outcome = notify(f"json://{hooks.host}/hook/{SECRET}", "t", "b")
        assert len(hooks.at(f"/hook/{SECRET}")) == 1
    assert not outcome.ok and not outcome.permanent and "HTTP 502" in outcome.error
    assert "127.0.0.1" in caplog.text  # Apprise's and urllib3's debug lines were kept...
    assert SECRET not in caplog.text  # ...without the token


# --- a runner killed between the service's OK and the record ------------------------------


@pytest.mark.slow
def test_killed_between_the_services_ok_and_the_record_repeats_that_part_once(
    tmp_path: Path, database_url: str
) -> None:
    with HookServer() as hooks:
        notify = f'["json://{hooks.host}/hook"]'
        path = write_config(tmp_path, database_url, notify, email=False, web=False)
        config = load_config(path)
        with Storage.open(config.database) as storage:
            fill(storage)
        marker = tmp_path / "paused"
        victim = start_digest(path, {}, pause=("channel-sent", marker))
        assert wait_for(marker, victim).split()[1:] == ["channel-sent", "ada"]
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
        assert len(hooks.at("/hook")) == 1  # the service took it before the kill
        with Storage.open(config.database) as storage:
            [row] = storage.channel_deliveries(user_name="ada")
            assert (row.status, row.parts_sent, row.attempts) == ("pending", 0, 0)
        survivor = start_digest(path, {})
        out, err = survivor.communicate(timeout=300)
        assert survivor.returncode == 0, out + err
        again = start_digest(path, {})  # and a third run sends nothing
        out2, err2 = again.communicate(timeout=300)
        assert again.returncode == 0, out2 + err2
        time.sleep(0.1)
        hits = hooks.at("/hook")
    assert len(hits) == 2, out + err  # at least once: one repeat, no more
    assert hits[0].body == hits[1].body
    with Storage.open(config.database) as storage:
        [digest] = storage.deliveries(user_name="ada")
        [row] = storage.channel_deliveries(user_name="ada")
        with storage.engine.connect() as conn:
            rows = conn.execute(select(ledger.c.paper_id, ledger.c.delivery_id)).all()
    assert (row.status, row.parts_sent, row.attempts) == ("sent", 1, 1)
    assert rows and {r.delivery_id for r in rows} == {digest.id}
    assert len({r.paper_id for r in rows}) == len(rows)  # each paper recorded once
    assert all(f"(https://arxiv.org/abs/{r.paper_id})" in hits[0].json()["message"] for r in rows)


def test_gotify_pointed_at_the_loopback_gets_the_digest_and_its_token_stays_out_of_logs(
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "AbCdEfGhIjKlMnO"  # Gotify's app tokens: 15 letters, no digit
    with HookServer() as hooks:
        monkeypatch.setenv("GOTIFY_URL", f"gotify://{hooks.host}/{token}")
        notify = '[{ url_env = "GOTIFY_URL" }]'
        config = load_config(write_config(tmp_path, database_url, notify))
        assert [c.name for c in config.users[0].notify] == ["gotify_url"]
        with Storage.open(config.database) as storage:
            fill(storage)
            [result] = run_digests(config, storage, now=NOW, workers=1)
            titles = picked_titles(storage)
        [hit] = hooks.at("/message")
    assert dict(result.channels) == {"gotify_url": "sent"}
    assert hit.headers["x-gotify-key"] == token  # the token went where Gotify wants it
    body = hit.json()["message"]
    assert all(f"(https://arxiv.org/abs/{pid})" in body for pid in titles)
    assert "Gotify" in caplog.text and token not in caplog.text
