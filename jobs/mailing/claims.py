"""Who a runner is, and how long its claims and leases hold.

Any number of runners (cron, the daemon, queue workers on other machines) digest at once.
Each digest is claimed in the database under (user, slot) (jobs.mailing.due.digest_slot
names the slot), and each pending delivery is leased before it is sent, both in the name
of this runner (runner_id: machine, process, random part) for claim_lease(). A runner
that dies holding one leaves it to the next runner once the lease has run out, or at once
when the owner was a process of this machine that no longer exists (owner_gone).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from paperboy.jobs.core.errors import ConfigError

log = logging.getLogger(__name__)

# How long a claim on a digest, or the lease on a pending delivery, keeps other runners
# away: longer than building and sending one batch of digests takes. A runner that dies
# holds them up to this long. PAPERBOY_LEASE_SECONDS overrides it.
CLAIM_LEASE = timedelta(minutes=15)
RUNNER_HOST_ENV = "PAPERBOY_RUNNER_HOST"


def claim_lease() -> timedelta:
    """CLAIM_LEASE, or PAPERBOY_LEASE_SECONDS from the environment."""
    value = os.environ.get("PAPERBOY_LEASE_SECONDS")
    if value:
        try:
            return timedelta(seconds=max(1.0, float(value)))
        except ValueError:
            raise ConfigError(
                f"PAPERBOY_LEASE_SECONDS={value!r}: expected a number of seconds"
            ) from None
    return CLAIM_LEASE


def this_machine() -> str:
    """The machine part of a runner's id: $PAPERBOY_RUNNER_HOST, else the host name and
    the process-id namespace (two containers with one host name are two machines)."""
    named = os.environ.get(RUNNER_HOST_ENV)
    if named:
        return named
    try:
        namespace = f"/{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:  # not Linux
        namespace = ""
    return f"{socket.gethostname()}{namespace}"


def runner_id() -> str:
    """Who this runner is, in claims and leases: machine, process, and a random part."""
    return f"{this_machine()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_gone(owner: str) -> bool:
    """Whether the runner named `owner` (runner_id) is a process of this machine that no
    longer exists: killed (kill -9, a crash) while holding a claim or a lease. Its claim
    is then taken over at once instead of when the lease runs out; a runner on another
    machine, or one that may be alive, is left to its lease."""
    parts = owner.rsplit(":", 2)  # machine:pid:random
    if len(parts) != 3 or parts[0] != this_machine() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it exists, as another user
        return False
    return False


@dataclass(frozen=True, slots=True)
class Runner:
    """Who this run is in claims and leases, and for how long they hold."""

    owner: str
    lease: timedelta

    @classmethod
    def here(cls) -> Runner:
        """This process, with a fresh random part, holding for claim_lease()."""
        return cls(runner_id(), claim_lease())


def quietly(fn: Callable[..., object], *args: object) -> None:
    """Release a claim or lease after a failure without hiding the failure (the lease
    expires anyway)."""
    try:
        fn(*args)
    except Exception as e:
        log.warning("could not release a claim or lease (it expires by itself): %s", e)
