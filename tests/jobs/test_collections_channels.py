"""A user with collections and chat channels (issue #23): the user's own `notify`
channels get the whole digest, a collection's channels get its section alone, each its
own delivery in the ledger; and through a kill -9 of the runner the two-section digest
goes out by e-mail and to the chat channels once. Real Apprise over real HTTP to a
receiver on loopback, a real SMTP server, real processes."""

from __future__ import annotations

import json
import re
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from paperboy.jobs.cli import cli
from paperboy.jobs.config.load import load_config
from paperboy.jobs.mailing.run import run_digests
from paperboy.jobs.storage import Storage
from paperboy.jobs.storage.schema import ledger
from tests.hook_server import HookServer
from tests.jobs.test_claims import start_digest, wait_for
from tests.jobs.test_collections_digest import REASONING, VISION
from tests.jobs.test_pipeline import load_sample
from tests.smtp_server import LocalSMTPServer

NOW = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _web_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOY_WEB_SECRET", "k" * 40)


def ids(values: list[str]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def write_config(tmp_path: Path, database_url: str, hooks: str, smtp_port: int) -> Path:
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
transport = "smtp"
[email.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"

[web]
base_url = "https://paperboy.example.org"

[[users]]
name = "ada"
email = "ada@example.org"
timezone = "Europe/Berlin"
max_papers = 4
saved = [{ids(REASONING)}]
notify = [{{ url = "json://{hooks}/all", name = "team" }}]

[[users.collections]]
name = "vision"
saved = [{ids(VISION)}]
max_papers = 3
notify = [{{ url = "json://{hooks}/vision", name = "team" }}]
""",
        encoding="utf-8",
    )
    return path


def sections_of(body: str) -> list[str]:
    return re.findall(r"^__(.+?) · \d+ papers?__$", body, re.M)


def test_a_collections_channels_get_its_section_and_the_users_the_whole_digest(
    tmp_path: Path, database_url: str
) -> None:
    with HookServer() as hooks, LocalSMTPServer() as smtp:
        path = write_config(tmp_path, database_url, hooks.host, smtp.port)
        config = load_config(path)
        assert set(config.users[0].channels()) == {"team", "vision/team"}
        with Storage.open(config.database) as storage:
            load_sample(storage)
            [result] = run_digests(config, storage, now=NOW, workers=1)
            [mail] = storage.deliveries(user_name="ada")
            rows = storage.channel_deliveries(user_name="ada")
            again = run_digests(config, storage, now=NOW, workers=1)  # the same slot
        status = CliRunner().invoke(cli, ["--config", str(path), "status", "--format", "jsonl"])
        [whole] = hooks.at("/all")
        [section] = hooks.at("/vision")
        messages = list(smtp.messages)
    assert result.status == "sent", result.error
    assert dict(result.channels) == {"team": "sent", "vision/team": "sent"}
    assert {r.channel: (r.status, r.delivery_id) for r in rows} == {
        "team": ("sent", mail.id),
        "vision/team": ("sent", mail.id),
    }
    assert [r.status for r in again] == ["not-due"] and len(messages) == 1
    [line] = [json.loads(x) for x in status.stdout.splitlines()]
    shown = {c["channel"]: (c["status"], c["sent"]) for c in line["users"][0]["channels"]}
    assert shown == {"team": ("sent", 1), "vision/team": ("sent", 1)}  # `paperboy status`
    vision = [r for r in result.picked if r.why.startswith("for your collection vision")]
    general = [r for r in result.picked if r not in vision]
    assert vision and general
    body = whole.json()["message"]
    assert sections_of(body) == ["General", "vision"]
    for r in result.picked:  # the whole digest: every paper
        assert f"(https://arxiv.org/abs/{r.paper.id})" in body
    only = section.json()["message"]
    assert sections_of(only) == []  # one section alone needs no heading
    for r in vision:
        assert f"(https://arxiv.org/abs/{r.paper.id})" in only
    for r in general:
        assert f"(https://arxiv.org/abs/{r.paper.id})" not in only
    assert section.json()["title"].endswith(" · vision")
    assert f"{len(vision)} paper" in only


@pytest.mark.parametrize("point", ["recorded", "sent", "channel-sent"])
def test_two_sections_go_out_once_through_a_kill_9(
    tmp_path: Path, database_url: str, point: str
) -> None:
    """The runner is killed (kill -9) at `point`: after the digest is recorded, after the
    SMTP server accepted it, after a chat service accepted a part. The next runs send
    what was not sent: the ledger holds the digest once, each paper once; each channel
    and the e-mail are taken exactly once, except that what a service (or the SMTP
    server) had accepted just before the kill is sent once more (at least once at that
    boundary, the same bytes and Message-ID), never a third time."""
    with HookServer() as hooks, LocalSMTPServer() as smtp:
        path = write_config(tmp_path, database_url, hooks.host, smtp.port)
        config = load_config(path)
        with Storage.open(config.database) as storage:
            load_sample(storage)
        marker = tmp_path / "paused"
        victim = start_digest(path, {}, pause=(point, marker))
        assert wait_for(marker, victim, timeout=300).split()[1:] == [point, "ada"]
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
        before = (len(smtp.messages), len(hooks.at("/all")), len(hooks.at("/vision")))
        for _ in range(2):  # the next run sends what is left; the one after, nothing
            runner = start_digest(path, {})
            out, err = runner.communicate(timeout=600)
            assert runner.returncode == 0, out + err
        time.sleep(0.1)
        mails, whole, section = list(smtp.messages), hooks.at("/all"), hooks.at("/vision")
    # (e-mails, whole-digest chat messages, section messages): taken before the kill,
    # and in all; a message taken just before the kill is the one sent twice
    taken, total = {
        "recorded": ((0, 0, 0), (1, 1, 1)),
        "sent": ((1, 0, 0), (2, 1, 1)),  # the e-mail again, with the same Message-ID
        "channel-sent": ((1, 1, 0), (1, 2, 1)),  # the first channel's part again
    }[point]
    assert before == taken
    assert (len(mails), len(whole), len(section)) == total
    assert len({m["Message-ID"] for m in mails}) == 1
    assert len({h.body for h in whole}) == 1 and len({h.body for h in section}) == 1
    with Storage.open(config.database) as storage:
        [digest] = storage.deliveries(user_name="ada")
        rows = storage.channel_deliveries(user_name="ada")
        with storage.engine.connect() as conn:
            shown = conn.execute(select(ledger.c.paper_id, ledger.c.delivery_id)).all()
    assert digest.status == "sent"
    assert {(r.channel, r.status) for r in rows} == {("team", "sent"), ("vision/team", "sent")}
    assert shown and {r.delivery_id for r in shown} == {digest.id}
    assert len({r.paper_id for r in shown}) == len(shown)  # each paper recorded once
    text = mails[0].get_body(("plain",)).get_content()
    assert "General · " in text and "vision · " in text  # the two sections, by e-mail
    body = whole[0].json()["message"]
    assert sections_of(body) == ["General", "vision"]  # and in the chat channel
    for r in shown:
        assert f"https://arxiv.org/abs/{r.paper_id}" in text
        assert f"(https://arxiv.org/abs/{r.paper_id})" in body
