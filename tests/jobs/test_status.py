"""`paperboy status` reads counts, never the stored messages (issue #13)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import event
from sqlalchemy.engine import Engine

from paperboy.jobs.cli import cli
from paperboy.jobs.storage import DeliverySummary, Storage

BIG = 4 * 1024 * 1024  # a digest with everything inlined, and then some


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine runs while the test does."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def reads_messages(statement: str) -> bool:
    """A SELECT that fetches the deliveries.message column (message_id is fine)."""
    return statement.lstrip().upper().startswith("SELECT") and bool(
        re.search(r"\bmessage\b", statement.split("FROM", 1)[0])
    )


def fill(storage: Storage) -> None:
    """ada: two sent digests and one pending; bo: one failed; cy: none. All messages big."""
    for n, (user, fate) in enumerate(
        [("ada", "sent"), ("ada", "sent"), ("ada", "pending"), ("bo", "failed")]
    ):
        delivery = storage.create_delivery(
            user_name=user,
            message_id=f"<{n}@paperboy.test>",
            digest_day=date(2025, 6, 2 + n),
            message=bytes([n]) * BIG,
            paper_ids=[f"2401.0000{n + 1}"],
            listed_through=None,
        )
        if fate == "sent":
            storage.mark_sent(delivery, "outbox/x.eml")
        elif fate == "failed":
            storage.mark_attempt_failed(delivery, "550 no such user", permanent=True)


def test_delivery_summaries_count_without_messages(
    database_url: str, statements: list[str]
) -> None:
    with Storage.open(database_url) as storage:
        fill(storage)
        sent = storage.deliveries(user_name="ada", status="sent")
        assert any(reads_messages(s) for s in statements)  # the check can see a read
        statements.clear()
        summaries = storage.delivery_summaries()
    assert not any(reads_messages(s) for s in statements), statements
    assert summaries == {
        "ada": DeliverySummary("ada", pending=1, sent=2, last_sent_at=sent[-1].sent_at),
        "bo": DeliverySummary("bo", failed=1, last_failure="550 no such user"),
    }


def test_status_never_loads_a_message(
    tmp_path: Path, database_url: str, statements: list[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[paperboy]\ndatabase = "{database_url}"\n'
        + "".join(
            f'[[users]]\nname = "{name}"\nemail = "{name}@example.org"\n'
            for name in ("ada", "bo", "cy")
        ),
        encoding="utf-8",
    )
    with Storage.open(database_url) as storage:
        fill(storage)
        last_sent = storage.deliveries(user_name="ada", status="sent")[-1].sent_at
        storage.record_empty_digest("cy", listed_through=None, at=last_sent)
    statements.clear()
    result = CliRunner().invoke(cli, ["--config", str(config), "status", "--format", "jsonl"])
    assert result.exit_code == 1, result.output  # a pending and a failed delivery
    assert statements and not any(reads_messages(s) for s in statements), statements
    [row] = [json.loads(line) for line in result.stdout.splitlines()]
    users = {u["user"]: (u["pending"], u["failed"], u["last_sent"]) for u in row["users"]}
    assert users == {"ada": (1, 0, str(last_sent)), "bo": (0, 1, None), "cy": (0, 0, None)}
    last_digest = {u["user"]: u["last_digest"] for u in row["users"]}
    assert last_digest["cy"] == str(last_sent) and last_digest["ada"] is not None
    # Three queries for the users however many there are (the counts, the latest
    # failures' errors, the states): none per user.
    per_user = [s for s in statements if "deliveries" in s or "user_state" in s]
    assert len(per_user) == 3, per_user
    assert not any("user_name =" in s for s in per_user), per_user
