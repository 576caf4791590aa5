"""Unsubscribe and pause in the database (migration 0003_web), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paperboy.jobs.storage import Storage

T0 = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


def test_unsubscribe_pause_and_subscribe_again(storage: Storage) -> None:
    assert storage.user_state("ada").receiving(T0)
    assert storage.set_unsubscribed("ada", True, at=T0) is True
    assert storage.set_unsubscribed("ada", True, at=T0 + timedelta(hours=1)) is False
    state = storage.user_state("ada")
    assert state.unsubscribed_at == T0 and not state.receiving(T0)
    assert storage.user_state("bob").receiving(T0)

    assert storage.set_unsubscribed("ada", False) is True
    assert storage.set_unsubscribed("ada", False) is False
    assert storage.user_state("ada").receiving(T0)

    storage.set_paused_until("ada", T0 + timedelta(days=7))
    state = storage.user_state("ada")
    assert state.paused(T0) and not state.receiving(T0 + timedelta(days=6))
    assert state.receiving(T0 + timedelta(days=7))
    assert storage.set_unsubscribed("ada", False) is True  # re-subscribing ends a pause
    assert storage.user_state("ada").paused_until is None


def test_the_digest_window_survives_a_pause(storage: Storage) -> None:
    storage.record_empty_digest("ada", T0, at=T0)
    storage.set_paused_until("ada", T0 + timedelta(days=7))
    storage.set_unsubscribed("ada", True, at=T0)
    state = storage.user_state("ada")
    assert (state.listed_through, state.last_digest_at) == (T0, T0)
