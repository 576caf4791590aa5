"""Transports and sending: the send step of a recorded delivery, and the retries of the
deliveries left pending (a temporary SMTP failure, a crash between recording and
sending).

    resend_pending(user):
        for each pending delivery of the user:
            action = pending_action(delivery, state, now)      # pure
            wait                     -> leave it (paused user, backoff not over)
            otherwise                -> lease it, or leave it to the runner that has it
            cancel / give-up         -> mark it failed for good (its papers go back)
            send                     -> send_delivery: same bytes, same Message-ID
    send_delivery: renew the lease, transport.send -> sent | retry later (4xx) | failed (5xx),
                   each written only if the delivery is still pending and still ours
                   (a send that outlived its lease leaves the row to its new holder)

A runner killed while sending leaves the lease to run out (or to be taken over at once
on this machine, jobs.mailing.claims.owner_gone); the delivery stays pending and is sent
again, unchanged, by the next runner.
"""

from __future__ import annotations

import email
import email.policy
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from paperboy.emails.delivery import (
    ConsoleTransport,
    DeliveryError,
    OutboxTransport,
    PermanentDeliveryError,
    SmtpTransport,
    Transport,
)
from paperboy.jobs.config.model import Config
from paperboy.jobs.core.errors import ConfigError
from paperboy.jobs.mailing.channels import resend_pending_channels
from paperboy.jobs.mailing.claims import claim_lease, owner_gone, quietly, runner_id
from paperboy.jobs.mailing.retries import (
    FAILURE_FIRST,
    FAILURE_MAX,
    FAILURE_TRIES,
    RETRY_FIRST,
    RETRY_GIVE_UP,
    RETRY_MAX_DELAY,
    Action,
    Attempted,
    doubling,
    failure_delay,
    pending_action,
    retry_delay,
)
from paperboy.jobs.storage import Storage, utcnow

log = logging.getLogger(__name__)

__all__ = [
    "FAILURE_FIRST",
    "FAILURE_MAX",
    "FAILURE_TRIES",
    "RETRY_FIRST",
    "RETRY_GIVE_UP",
    "RETRY_MAX_DELAY",
    "Action",
    "Attempted",
    "close_transports",
    "doubling",
    "failure_delay",
    "make_transport",
    "pending_action",
    "resend_pending",
    "retry_all_pending",
    "retry_delay",
    "send_delivery",
    "transient_error",
]


def make_transport(config: Config, kind: str | None = None) -> Transport:
    """The transport named `kind` (default: [email] transport); the SMTP password is read
    now, from the environment."""
    settings = config.email
    kind = kind or settings.transport
    if kind == "smtp" and settings.smtp is not None:
        smtp = settings.smtp
        return SmtpTransport(
            host=smtp.host,
            port=smtp.port,
            security=smtp.security,
            username=smtp.username,
            password=smtp.password(),
            timeout=smtp.timeout,
        )
    if kind == "console":
        return ConsoleTransport()
    return OutboxTransport(settings.outbox)


def send_delivery(
    storage: Storage,
    transport: Transport,
    delivery_id: int,
    message: EmailMessage,
    now: datetime | None = None,
    *,
    owner: str,
    lease: timedelta,
    sent: Callable[[], None] | None = None,
    renew: bool = True,
) -> tuple[str, str | None, str | None]:
    """Send one recorded delivery if this runner holds (or gets) its lease; returns
    (status, receipt, error). The lease is renewed first, so nobody can take it over
    while the message is on its way. The outcome is written only if the delivery is
    still pending and still ours (Storage.mark_sent / mark_attempt_failed): a send that
    outlived its lease leaves the row to the runner that took it over ("elsewhere").
    ``sent()`` is called once the server accepted the message, before it is recorded
    (a test hook: a crash there sends the same message again, at least once).
    ``renew=False``: this runner recorded the delivery with its lease moments ago
    (Storage.create_delivery), so it holds it for most of the lease still: not renewed.
    The outcome is written only if it is still ours, as always."""
    if renew and not storage.take_delivery(delivery_id, owner, lease, gone=owner_gone):
        return "elsewhere", None, "another runner is sending it"
    try:
        receipt = transport.send(message)
    except PermanentDeliveryError as e:
        if not storage.mark_attempt_failed(
            delivery_id, str(e), permanent=True, at=now, owner=owner
        ):
            return _stale(delivery_id, f"failed for good ({e})")
        log.error("delivery %d failed for good: %s", delivery_id, e)
        return "failed", None, str(e)
    except DeliveryError as e:
        if not storage.mark_attempt_failed(
            delivery_id, str(e), permanent=False, at=now, owner=owner
        ):
            return _stale(delivery_id, f"failed ({e})")
        log.warning("delivery %d failed, will be retried: %s", delivery_id, e)
        return "retry-later", None, str(e)
    except BaseException:
        # Not sent by us (a bug, Ctrl-C): the next run need not wait for the lease.
        quietly(storage.release_delivery, delivery_id, owner)
        raise
    if sent is not None:
        sent()
    if not storage.mark_sent(delivery_id, receipt, owner=owner):
        return _stale(delivery_id, f"was accepted ({receipt})")
    return "sent", receipt, None


def _stale(delivery_id: int, what: str) -> tuple[str, str | None, str | None]:
    """A send settled after its lease passed to another runner, or after the delivery
    was settled otherwise (sent by that runner, cancelled by an unsubscribe): the row is
    not ours to write, and is left as it is."""
    log.warning(
        "delivery %d %s, but it is no longer ours (our lease ran out and another runner "
        "took it over, or it was settled meanwhile): left as recorded",
        delivery_id,
        what,
    )
    return "elsewhere", None, f"delivery {delivery_id} {what} after our lease ended"


def transient_error(e: BaseException) -> bool:
    """Whether a failure may pass by itself, so that trying again later is worth it: the
    database or a server unreachable, a connection dropped, a timeout, an SMTP 4xx
    (anywhere in the chain of causes). A bad config, a 5xx, a bug: not."""
    seen: set[int] = set()
    cause: BaseException | None = e
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, PermanentDeliveryError | ConfigError):
            return False
        if isinstance(
            cause,
            DeliveryError | OperationalError | PoolTimeout | ConnectionError | TimeoutError,
        ):
            return True
        if isinstance(cause, DBAPIError) and cause.connection_invalidated:
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def resend_pending(
    storage: Storage,
    transport: Transport,
    user_name: str,
    now: datetime | None = None,
    *,
    owner: str | None = None,
    lease: timedelta | None = None,
) -> int:
    """Send this user's deliveries left pending by a crash or a temporary failure.

    Nothing goes to a user who unsubscribed since (the delivery is marked failed, its
    papers released) or who paused their digest (it waits for the pause to end). A
    delivery never tried (the process died before sending) goes at once; one that
    failed waits `retry_delay(attempts)`; after RETRY_GIVE_UP it is marked failed, so its
    papers go into the user's next digest instead of waiting forever. Each is leased
    first (Storage.take_delivery): a delivery another runner is sending is left alone.
    """
    now = now or utcnow()
    owner = owner or runner_id()
    lease = lease or claim_lease()
    state = storage.user_state(user_name)
    sent = 0
    for delivery in storage.deliveries(user_name=user_name, status="pending"):
        action = pending_action(delivery, state, now)
        if action == "wait":
            continue
        if not storage.take_delivery(delivery.id, owner, lease, gone=owner_gone):
            continue  # another runner holds it
        if action == "cancel":
            if not storage.mark_attempt_failed(
                delivery.id, "the user unsubscribed", permanent=True, at=now, owner=owner
            ):
                continue  # settled meanwhile by the runner it was leased to before
            log.info("delivery %d for %s: not sent, they unsubscribed", delivery.id, user_name)
            continue
        if action == "give-up":
            if not storage.mark_attempt_failed(
                delivery.id,
                f"gave up after {delivery.attempts} attempts over "
                f"{RETRY_GIVE_UP.days} days; last error: {delivery.last_error}",
                permanent=True,
                at=now,
                owner=owner,
            ):
                continue  # settled meanwhile by the runner it was leased to before
            log.error("delivery %d for %s: gave up retrying", delivery.id, user_name)
            continue
        message = email.message_from_bytes(delivery.message, policy=email.policy.SMTP)
        assert isinstance(message, EmailMessage)
        status, _receipt, _error = send_delivery(
            storage, transport, delivery.id, message, now, owner=owner, lease=lease
        )
        sent += status == "sent"
    return sent


def retry_all_pending(config: Config, storage: Storage, *, now: datetime | None = None) -> int:
    """Retry every user's pending deliveries whose backoff has passed (the daemon's job)."""
    transports: dict[str, Transport] = {}
    owner, lease = runner_id(), claim_lease()
    sent = 0
    for user in config.users:
        if user.channels():  # chat and push channels: each on its own, before the e-mail
            sent += resend_pending_channels(storage, user, now, owner=owner, lease=lease)
        if not storage.deliveries(user_name=user.name, status="pending"):
            continue
        kind = user.transport or config.email.transport
        try:
            if kind not in transports:
                transports[kind] = make_transport(config, kind)
            sent += resend_pending(
                storage, transports[kind], user.name, now, owner=owner, lease=lease
            )
        except ConfigError as e:
            log.error("retrying deliveries for %s: %s", user.name, e)
    close_transports(transports.values())
    return sent


def close_transports(transports: Iterable[Transport]) -> None:
    """End the connections a run kept open (an SMTP connection serves a whole run)."""
    for t in transports:
        close = getattr(t, "close", None)
        if close is not None:
            try:
                close()
            except Exception as e:  # the messages are sent; a failed QUIT loses nothing
                log.warning("closing %r: %s", t, e)
