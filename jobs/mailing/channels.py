"""Chat and push channels (issue #23): a digest sent to each of a user's `notify`
channels through Apprise, each channel its own delivery (jobs.storage.channels).

    channel_texts(user, digest)    each channel's title and Markdown parts, split under
                                   its size limit; recorded with the digest, before sending
                                   (a collection's channels: its section only, issue #23)
    send_channel(row):  lease it; for each part not yet accepted: Apprise notify ->
                        record the part (sent once the last is) | retry later (5xx,
                        408, 429, a timeout, no connection) | failed (another 4xx)
    resend_pending_channels(user): the pending ones whose backoff has passed (as e-mail:
                                   retries.pending_action), cancelled if they unsubscribed

At least once at the service's boundary, like the e-mail: the part is recorded after the
service accepted it, so a process killed between the two sends that part again. Apprise
sends no idempotency key, and most services take none: a repeat is possible there.

An Apprise URL may hold a token (Slack, Telegram, a password): it is never logged and
never stored. While Apprise sends, a filter on its logger (and urllib3's) replaces every
part of the URL that Apprise's own privacy form hides; errors are stored in our words
plus Apprise's warning, redacted the same way. The database and `paperboy status` name a
channel by its name in the config.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from paperboy.emails.chat import MIN_LIMIT, chat_title, render_chat
from paperboy.emails.digest import Digest
from paperboy.jobs.config.model import ChannelConfig, UserConfig
from paperboy.jobs.core.errors import ConfigError
from paperboy.jobs.mailing.claims import claim_lease, owner_gone, quietly, runner_id
from paperboy.jobs.mailing.retries import pending_action
from paperboy.jobs.storage import ChannelDelivery, ChannelText, Storage, utcnow

if TYPE_CHECKING:
    from apprise.plugins.base import NotifyBase

log = logging.getLogger(__name__)

# The size of a part when the channel's URL cannot be read now (its variable unset):
# what the strictest common services take (Discord: 2,000 characters).
FALLBACK_LIMIT = 2000
# HTTP statuses that may pass: the service is busy, down, or asks to wait.
_TEMPORARY = frozenset({408, 425, 429})
_STATUS = re.compile(r"error=(\d{3})\b")
_KEYLIKE = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"[0-9]")
_LOGGERS = ("apprise", "urllib3.connectionpool", "urllib3", "requests")
# Which channel a pause point is about: tests stop a run after a part was accepted.
ChannelSent = Callable[[], None]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One send of one part: accepted, or failed (for good or for now) with why."""

    ok: bool
    permanent: bool = False
    error: str = ""


def _plugin(url: str) -> NotifyBase | None:
    import apprise

    # Sent in this thread, without Apprise's pool (async_mode off, and no service
    # deadline, which waits on a pool thread): no thread is left behind, and our log
    # filter and pause hooks see the send where it happens. Each HTTP request keeps the
    # plugin's own connect and read timeouts.
    asset = apprise.AppriseAsset(async_mode=False, service_timeout=0)
    with _quiet_apprise():
        plugin: NotifyBase | None = apprise.Apprise.instantiate(url, asset=asset)
    return plugin


@contextmanager
def _quiet_apprise() -> Iterator[None]:
    """Apprise's complaints while parsing a URL may quote it: not logged."""
    logger = logging.getLogger("apprise")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def secrets_of(url: str, private: str) -> list[str]:
    """What to hide of `url`, longest first: the URL itself, the parts Apprise's privacy
    form `private` hides (passwords, the tokens of Slack, Telegram, Discord...), and any
    part that looks like a key (16 characters or more, letters and digits: a webhook's
    token in a json:// path, which Apprise shows)."""
    parts = re.split(r"[/:@?&=#+]+", url)
    shown = set(re.split(r"[/:@?&=#+]+", private))
    hidden = {t for t in parts if len(t) >= 3 and t not in shown}
    hidden |= {t for t in parts if len(t) >= 16 and _KEYLIKE.search(t) and _DIGIT.search(t)}
    return sorted({url, *hidden}, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    for s in secrets:
        text = text.replace(s, "***")
    return text


class _Redact(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        return True


@contextmanager
def _redacting(secrets: list[str]) -> Iterator[None]:
    """While Apprise sends: whatever it (or urllib3 under it) logs has `secrets` hidden."""
    f = _Redact(secrets)
    loggers = [logging.getLogger(name) for name in _LOGGERS]
    for logger in loggers:
        logger.addFilter(f)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(f)


def _native_format(plugin: NotifyBase) -> str:
    fmt: Any = plugin.notify_format
    first = fmt[0] if isinstance(fmt, tuple | list) else fmt
    return str(getattr(first, "value", first))


def part_limit(channel: ChannelConfig, title: str) -> int:
    """How long a part may be for this channel: its `max_length`, else the body size
    Apprise says the service takes (less the title where the service puts the title
    into the body); FALLBACK_LIMIT when its URL cannot be read now."""
    if channel.max_length is not None:
        return channel.max_length
    try:
        plugin = _plugin(channel.resolve())
    except ConfigError:
        return FALLBACK_LIMIT
    if plugin is None:
        return FALLBACK_LIMIT
    limit = int(plugin.body_maxlen)
    if not plugin.title_maxlen:
        limit -= len(title) + 2
    return max(MIN_LIMIT, limit)


def channel_texts(user: UserConfig, digest: Digest) -> list[ChannelText]:
    """What each of the user's channels is sent of `digest`: recorded with it. The user's
    own channels get the whole digest; a collection's channels (issue #23) get that
    collection's section alone, under ``COLLECTION/NAME``, and nothing on a day the
    section is empty (or when the digest has no sections)."""
    texts = []
    title = chat_title(digest)
    for channel in user.notify:
        _title, parts = render_chat(digest, part_limit(channel, title))
        texts.append(ChannelText(channel.name, title, parts))
    for collection in user.collections if digest.sections else ():
        section = digest.section(collection.name)
        if not collection.notify or not section.items:
            continue
        own = f"{chat_title(section)} · {collection.name}"
        for channel in collection.notify:
            _title, parts = render_chat(section, part_limit(channel, own))
            texts.append(ChannelText(f"{collection.name}/{channel.name}", own, parts))
    return texts


def notify(url: str, title: str, body: str) -> Outcome:
    """Send one part through Apprise, and say how it went: a 5xx, 408, 425, 429, a
    timeout or no connection may pass (retry later); another 4xx will not."""
    import apprise

    plugin = _plugin(url)
    if plugin is None:
        return Outcome(False, True, "Apprise cannot use this URL (unknown scheme or malformed)")
    private: str = plugin.url(privacy=True)  # type: ignore[no-untyped-call]
    secrets = secrets_of(url, private)
    native = _native_format(plugin)
    body_format = "text" if native == "text" else "markdown"
    sender = apprise.Apprise(asset=plugin.asset)
    sender.add(plugin)
    with _redacting(secrets):
        result = sender.notify(body=body, title=title, body_format=body_format)
    if result:
        return Outcome(True)
    said = [redact(e.message, secrets) for e in result.logs() if e.level in ("WARNING", "ERROR")]
    detail = said[-1] if said else ""
    codes = [int(c) for m in said for c in _STATUS.findall(m)]
    if result.status == apprise.AppriseResultStatus.TIMEOUT:
        return Outcome(False, False, f"timed out: {detail}".strip(": "))
    if codes:
        code = codes[-1]
        permanent = 400 <= code < 500 and code not in _TEMPORARY
        return Outcome(False, permanent, f"HTTP {code}: {detail}")
    return Outcome(False, False, f"not sent: {detail or 'no answer'}")


def send_channel(
    storage: Storage,
    channel: ChannelConfig,
    row: ChannelDelivery,
    now: datetime | None = None,
    *,
    owner: str,
    lease: timedelta,
    sent: ChannelSent | None = None,
) -> tuple[str, str | None]:
    """Send a recorded channel delivery's parts not yet accepted, if this runner holds
    (or gets) its lease; returns (status, error): sent | retry-later | failed | elsewhere.
    ``sent()`` is called after each part the service accepted, before it is recorded (a
    test hook: a crash there sends that part again)."""
    if not storage.take_channel_delivery(row.id, owner, lease, gone=owner_gone):
        return "elsewhere", "another runner is sending it"
    try:
        url = channel.resolve()
    except ConfigError as e:  # its variable unset: the operator may set it, try later
        return _failed(storage, row, str(e), False, now, owner)
    try:
        for k in range(row.parts_sent, len(row.parts)):
            outcome = notify(url, row.title, row.parts[k])
            if not outcome.ok:
                return _failed(storage, row, outcome.error, outcome.permanent, now, owner)
            if sent is not None:
                sent()
            last = k + 1 == len(row.parts)
            if not storage.mark_channel_parts_sent(row.id, k + 1, done=last, owner=owner):
                log.warning(
                    "channel %s of delivery %d: part %d was accepted, but the delivery is "
                    "no longer ours: left as recorded",
                    row.channel,
                    row.delivery_id,
                    k + 1,
                )
                return "elsewhere", "settled by another runner"
    except BaseException:
        quietly(storage.release_channel_delivery, row.id, owner)
        raise
    log.info("digest %d sent to channel %s for %s", row.delivery_id, row.channel, row.user_name)
    return "sent", None


def _failed(
    storage: Storage,
    row: ChannelDelivery,
    error: str,
    permanent: bool,
    now: datetime | None,
    owner: str,
) -> tuple[str, str | None]:
    if not storage.mark_channel_failed(row.id, error, permanent=permanent, at=now, owner=owner):
        return "elsewhere", error
    if permanent:
        log.error("channel %s for %s failed for good: %s", row.channel, row.user_name, error)
        return "failed", error
    log.warning("channel %s for %s failed, will be retried: %s", row.channel, row.user_name, error)
    return "retry-later", error


def send_recorded_channels(
    storage: Storage,
    user: UserConfig,
    delivery_id: int,
    now: datetime | None = None,
    *,
    owner: str,
    lease: timedelta,
    sent: ChannelSent | None = None,
) -> tuple[tuple[str, str], ...]:
    """Send a just-recorded digest to each of its channels, one after the other; one
    failing (even with a bug) never stops the others. Returns (channel, status) pairs."""
    out = []
    by_name = user.channels()
    for row in storage.channel_deliveries(delivery_id=delivery_id):
        channel = by_name.get(row.channel)
        if channel is None:
            continue
        try:
            status, _error = send_channel(
                storage, channel, row, now, owner=owner, lease=lease, sent=sent
            )
        except Exception as e:  # a bug in one channel must not cost the others
            log.error("channel %s for %s: %s", row.channel, user.name, type(e).__name__)
            status = "retry-later"
        out.append((row.channel, status))
    return tuple(out)


def resend_pending_channels(
    storage: Storage,
    user: UserConfig,
    now: datetime | None = None,
    *,
    owner: str | None = None,
    lease: timedelta | None = None,
) -> int:
    """Send this user's channel deliveries left pending (a temporary failure, a crash),
    with the e-mail's rules (retries.pending_action): nothing to a user who unsubscribed,
    nothing while paused, backoff after a failure, given up after RETRY_GIVE_UP. A
    channel no longer in the user's config is marked failed. Returns how many were sent."""
    now = now or utcnow()
    owner = owner or runner_id()
    lease = lease or claim_lease()
    pending = storage.channel_deliveries(user_name=user.name, status="pending")
    if not pending:
        return 0
    state = storage.user_state(user.name)
    by_name = user.channels()
    sent = 0
    for row in pending:
        action = pending_action(row, state, now)
        if action == "wait":
            continue
        channel = by_name.get(row.channel)
        reason = {
            "cancel": "the user unsubscribed",
            "give-up": f"gave up retrying; last error: {row.last_error}",
        }.get(action)
        if channel is None:
            reason = f"channel {row.channel!r} is no longer in the user's notify list"
        if reason is not None:
            if storage.take_channel_delivery(row.id, owner, lease, gone=owner_gone):
                storage.mark_channel_failed(row.id, reason, permanent=True, at=now, owner=owner)
                log.info("channel %s for %s: not sent, %s", row.channel, user.name, reason)
            continue
        assert channel is not None
        try:
            status, _error = send_channel(storage, channel, row, now, owner=owner, lease=lease)
        except Exception as e:
            log.error("channel %s for %s: %s", row.channel, user.name, type(e).__name__)
            continue
        sent += status == "sent"
    return sent
