"""At least once at the SMTP boundary, recorded once (issue #20 item 13).

A real `paperboy digest` process is killed (SIGKILL) after a real SMTP server on
127.0.0.1 accepted its digest and before the delivery was marked sent. The next run
sends the delivery again: the server holds two messages with the same Message-ID and
the same bytes (so a client or an MTA can drop the repeat), and the database holds the
digest once, sent, with each of its papers in the ledger once. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import email
import email.policy
import signal
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from paperboy.jobs.config.load import load_config
from paperboy.jobs.storage import Storage
from paperboy.jobs.storage.schema import ledger
from tests.jobs.test_claims import (
    new_papers,
    paper_ids,
    sample_papers,
    start_digest,
    store_saved,
    wait_for,
    write_config,
)
from tests.smtp_server import LocalSMTPServer


@pytest.mark.slow
def test_a_runner_killed_between_the_servers_ok_and_marking_sent_sends_the_same_message_again(
    tmp_path: Path, database_url: str
) -> None:
    with LocalSMTPServer() as smtp:
        config_path = write_config(tmp_path, database_url, smtp.port, users=1)
        config = load_config(config_path)
        with Storage.open(config.database) as storage:
            store_saved(storage)
            storage.upsert_papers(new_papers(0, sample_papers()), source="arxiv", listed=True)
        marker = tmp_path / "paused"
        victim = start_digest(config_path, {}, pause=("sent", marker))
        assert wait_for(marker, victim).split()[1:] == ["sent", "u0"]
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
        assert len(smtp.envelopes) == 1  # the server accepted it before the kill
        with Storage.open(config.database) as storage:
            [d] = storage.deliveries(user_name="u0")
            assert (d.status, d.attempts) == ("pending", 0)  # not marked sent
        # The next run (this machine: the dead runner's lease is taken over at once).
        survivor = start_digest(config_path, {})
        out, err = survivor.communicate(timeout=300)
        assert survivor.returncode == 0, out + err
        deadline = time.monotonic() + 10
        while len(smtp.envelopes) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        envelopes = list(smtp.envelopes)
    # Delivered twice at the SMTP boundary: the same message, byte for byte.
    assert len(envelopes) == 2, out + err
    first, second = (email.message_from_bytes(e.data, policy=email.policy.SMTP) for e in envelopes)
    assert first["Message-ID"] == second["Message-ID"]
    assert envelopes[0].data == envelopes[1].data
    assert envelopes[0].rcpt_tos == envelopes[1].rcpt_tos == ("u0@example.org",)
    # Recorded once.
    with Storage.open(config.database) as storage:
        [d] = storage.deliveries(user_name="u0")
        [claim] = storage.claims("u0")
        with storage.engine.connect() as conn:
            rows = conn.execute(
                select(ledger.c.paper_id, ledger.c.delivery_id, ledger.c.released_at).where(
                    ledger.c.user_name == "u0"
                )
            ).all()
    assert (d.status, d.attempts, d.message_id) == ("sent", 1, first["Message-ID"])
    assert claim["state"] == "done" and claim["delivery_id"] == d.id
    assert isinstance(first, EmailMessage)
    ids = paper_ids(first)
    assert ids and sorted(r.paper_id for r in rows) == sorted(ids)
    assert {r.delivery_id for r in rows} == {d.id} and all(r.released_at is None for r in rows)
