"""`paperboy status`: what was fetched, indexed and sent, and what is failing."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from paperboy.jobs.cli.common import FORMATS, emit_one, say
from paperboy.jobs.cli.common import load as _config
from paperboy.jobs.cli.common import open_storage as _storage
from paperboy.jobs.core.errors import PaperboyError

if TYPE_CHECKING:
    from paperboy.jobs.storage import ChannelSummary, Storage
from paperboy.jobs.cli.common import when
from paperboy.jobs.cli.root import cli

# --- status ------------------------------------------------------------------------------


@cli.command()
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.pass_context
def status(ctx: click.Context, fmt: str) -> None:
    """Show the last fetch per source, the last and next digest per user, pending mail.

    Exit status 1 when something needs attention (a failing source, a failed or pending
    delivery), so monitoring can run it.

    \b
    Example:
      paperboy status --format json
    """
    from paperboy.jobs.config.schedule import fetch_trigger, is_due, wants_fetch
    from paperboy.jobs.ranking.corpus import read_info
    from paperboy.jobs.ranking.encoding import background_vectors
    from paperboy.jobs.storage import DeliverySummary, UserState
    from paperboy.recommender.encoder import MIN_MEANING_NEGATIVES, MODEL_ID

    config = _config(ctx)
    now = datetime.now(UTC)
    index_row: dict[str, Any] = {"path": str(config.index)}
    try:
        index_row.update(read_info(config.index).as_dict())
    except PaperboyError as e:
        index_row["error"] = str(e)
    with _storage(config) as storage:
        newest = storage.newest_index_generation()
        if newest is not None:
            index_row["newest_generation"] = {
                "generation": newest.generation,
                "built_at": newest.built_at,
                "papers": newest.papers,
                "in_database": newest.stored,
                "builder": newest.builder,
            }
            index_row["current"] = index_row.get("build_id") == newest.build_id
        source_rows = [
            {
                "source": s.name,
                "url": s.url,
                "last_attempt": s.last_attempt_at,
                "last_success": s.last_success_at,
                "last_count": s.last_count,
                "last_new": s.last_new,
                "error": s.last_error,
            }
            for s in storage.all_sources()
        ]
        configured = [
            *(["arxiv"] if config.arxiv else []),
            *(["huggingface"] if config.huggingface and config.huggingface.enabled else []),
            *(f.name for f in config.feeds),
            *(v.name for v in config.openreview),
        ]
        seen = {row["source"] for row in source_rows}
        source_rows += [
            {
                "source": name,
                "url": None,
                "last_attempt": None,
                "last_success": None,
                "last_count": None,
                "last_new": None,
                "error": None,
            }
            for name in configured
            if name not in seen
        ]
        user_rows = []
        summaries = storage.delivery_summaries()  # counts only: no message is read
        states = storage.user_states()  # one query, not one per user
        # each channel's latest delivery (never its text); no query without channels
        channels = storage.channel_summaries() if any(u.channels() for u in config.users) else {}
        for user in config.users:
            state = states.get(user.name, UserState(user.name, None, None))
            summary = summaries.get(user.name, DeliverySummary(user.name))
            user_rows.append(
                {
                    "user": user.name,
                    "last_digest": state.last_digest_at,
                    "last_sent": summary.last_sent_at,
                    "next_digest": user.trigger().get_next_fire_time(None, now),
                    "due_now": is_due(user, state.last_digest_at, now),
                    "pending": summary.pending,
                    "failed": summary.failed,
                    "last_failure": summary.last_failure,
                    "unsubscribed_at": state.unsubscribed_at,
                    "paused_until": state.paused_until if state.paused(now) else None,
                    **_zotero_row(storage, user),
                    "channels": _channel_rows(user, channels.get(user.name, [])),
                }
            )
        papers = storage.count_papers()
        embedding_row: dict[str, Any] = {
            "model": MODEL_ID,
            "encoded": storage.count_embeddings(MODEL_ID),
        }
        if papers:
            bg_encoded, bg_papers = background_vectors(storage, now=now)
            embedding_row["background"] = {
                "papers": bg_papers,
                "encoded": bg_encoded,
                "needed": MIN_MEANING_NEGATIVES,
                "meaning_view": bg_encoded >= MIN_MEANING_NEGATIVES,
            }
    next_fetch = None
    if wants_fetch(config):
        next_fetch = fetch_trigger(config).get_next_fire_time(None, now)
    row = {
        "papers": papers,
        "next_fetch": next_fetch,
        "index": index_row,
        "embeddings": embedding_row,
        "sources": source_rows,
        "users": user_rows,
    }

    def text() -> None:
        say(f"Database: {papers} papers; next fetch {when(next_fetch)}")
        if "error" in index_row:
            say(f"Index: none usable ({index_row['error']}); `paperboy index` builds it")
        else:
            say(
                f"Index: {index_row['papers']} papers, built {index_row['built_at']} "
                f"in {index_row['seconds']} s ({index_row['path']})"
            )
        newest_row = index_row.get("newest_generation")
        if newest_row is not None:
            where = ", also in the database" if newest_row["in_database"] else ""
            state = "this file" if index_row.get("current") else "NOT this file"
            say(
                f"  newest generation {newest_row['generation']} ({newest_row['papers']} "
                f"papers, built {when(newest_row['built_at'])} by {newest_row['builder']}"
                f"{where}): {state}"
            )
        say(f"Embeddings: {embedding_row['encoded']} of {papers} papers encoded ({MODEL_ID})")
        bg = embedding_row.get("background")
        if bg is not None and not bg["meaning_view"]:
            say(
                f"  meaning view: waiting for vectors ({bg['encoded']:,} of "
                f"{bg['papers']:,} background papers encoded, {bg['needed']:,} needed); "
                "ranking on words only, `paperboy index` encodes them now"
            )
        if not source_rows:
            say("Sources: never fetched")
        for s in source_rows:
            if s["error"]:
                state = f"FAILING: {s['error']}"
            elif s["last_attempt"] is None:
                state = "not fetched yet"
            else:
                state = f"ok, {s['last_count']} items"
                if str(s["source"]).startswith("file:") and s["url"]:
                    state += f" from {s['url']}"
            label = "ingested" if str(s["source"]).startswith("file:") else "last attempt"
            say(f"  {s['source']}: {label} {when(s['last_attempt'])}, {state}")
        for u in user_rows:
            say(
                f"  {u['user']}: last digest {when(u['last_digest'])}, next "
                f"{when(u['next_digest'])}"
                + (f", {u['pending']} pending" if u["pending"] else "")
                + (f", {u['failed']} FAILED (last: {u['last_failure']})" if u["failed"] else "")
                + (
                    f", UNSUBSCRIBED since {when(u['unsubscribed_at'])}"
                    if u["unsubscribed_at"]
                    else ""
                )
                + (f", paused until {when(u['paused_until'])}" if u["paused_until"] else "")
            )
            for c in u["channels"]:
                last = (
                    "never sent"
                    if c["status"] is None
                    else f"last {c['status']} {when(c['at'])}"
                    + (f" ({c['last_error']})" if c["last_error"] else "")
                )
                say(f"    channel {c['channel']}: {last}, {c['sent']} sent")
            z = u.get("zotero")
            if z:
                state = f"FAILING: {z['error']}" if z["error"] else f"{z['items']} papers"
                say(
                    f"    zotero {z['library']}: last sync {when(z['last_sync'])} "
                    f"(version {z['version'] if z['version'] is not None else '-'}), {state}"
                )

    emit_one(fmt, row, text)  # one object: {"papers", "next_fetch", "index", "sources", "users"}
    if any(s["error"] for s in source_rows) or any(u["pending"] or u["failed"] for u in user_rows):
        sys.exit(1)
    if any(c["status"] in ("pending", "failed") for u in user_rows for c in u["channels"]):
        sys.exit(1)
    if any(u.get("zotero") and u["zotero"]["error"] for u in user_rows):
        sys.exit(1)


def _channel_rows(user: Any, summaries: list[ChannelSummary]) -> list[dict[str, Any]]:
    """Each of the user's notify channels (by name, never by URL: it may hold a token)
    with its latest delivery's result; a channel no longer configured is left out."""
    latest = {s.channel: s for s in summaries}
    rows = []
    for name in user.channels():  # a collection's: "COLLECTION/NAME" (issue #23)
        s = latest.get(name)
        rows.append(
            {
                "channel": name,
                "status": s.status if s else None,
                "at": s.at if s else None,
                "last_error": s.last_error if s else None,
                "sent": s.sent if s else 0,
            }
        )
    return rows


def _zotero_row(storage: Storage, user: Any) -> dict[str, Any]:
    """A user's Zotero sync for `paperboy status`: {} when they follow no library."""
    if user.zotero is None:
        return {}
    state = storage.zotero_state(user.name)
    return {
        "zotero": {
            "library": user.zotero.library,
            "last_sync": state.last_success_at if state else None,
            "last_attempt": state.last_attempt_at if state else None,
            "version": state.version if state else None,
            "items": len(storage.zotero_paper_ids(user.name)),
            "error": state.last_error if state else None,
            "retry_after": state.retry_after if state else None,
        }
    }
