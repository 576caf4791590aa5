"""The digest job: for each user whose digest is due, rank, render, record, send.

    retry this user's pending deliveries (same bytes, same Message-ID), each leased first
    if the user's schedule has fired since their last digest (or forced):
        claim (user, slot) in the database, or leave it to the runner that has it
        candidates = papers listed since the user's window, not yet mailed to them,
                     not in their saved papers, in their categories
                     + papers of a digest of theirs that failed for good
        ranked     = recommender.rank(profile, candidates, background)
        picked     = the top max_papers with score >= min_score and >= WEAK_SCORE or a
                     quarter of the best (best < WEAK_SCORE: at most WEAK_SHOWN, "weak")
        message    = emails.build_message(digest)
        storage.create_delivery(pending, message, picked)   # ledger + window, atomically,
                                   # only if the claim is still ours and the user's state
                                   # is still the one the digest was built on
        transport.send(message) -> mark sent | retry later (4xx) | failed (5xx)

Any number of runners (cron, the daemon, queue workers on other machines) may run this
at once: the claim makes exactly one of them build a digest, the delivery's lease makes
exactly one of them send it. A runner that dies holding a claim or a lease leaves it to
the next runner once the lease (CLAIM_LEASE) has expired. A crash between "recorded" and
"sent" leaves a pending delivery that a later run sends, unchanged: a paper is never put
into two digests for the same user.
"""

from __future__ import annotations

import email
import email.policy
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from zoneinfo import ZoneInfo

from paperboy import recommender
from paperboy.emails.delivery import (
    ConsoleTransport,
    DeliveryError,
    OutboxTransport,
    PermanentDeliveryError,
    SmtpTransport,
    Transport,
)
from paperboy.emails.digest import Digest, DigestItem, TrendingItem
from paperboy.emails.render import build_message, render_html
from paperboy.jobs.config.model import Config, UserConfig
from paperboy.jobs.config.schedule import next_digest_firing
from paperboy.jobs.core.errors import ConfigError
from paperboy.jobs.core.ids import abs_url, is_arxiv_id, pdf_url
from paperboy.jobs.fetch.bibtex import read_bibtex_papers
from paperboy.jobs.ranking.corpus import Corpus, background_for, load_corpus, to_paper
from paperboy.jobs.ranking.pool import RankJob, default_workers, rank_many
from paperboy.jobs.storage import Claim, ClaimLost, Storage, StoredPaper, UserState, utcnow
from paperboy.jobs.web.links import add_feedback_links

log = logging.getLogger(__name__)

TRENDING_MAX_AGE_DAYS = 3  # an older "trending today" is not today's
MATCH_SCORE = 0.5  # a trending paper "also matches you" from this score on
RETRY_FIRST = timedelta(minutes=5)  # a temporary SMTP failure is retried after this,
RETRY_MAX_DELAY = timedelta(hours=6)  # doubling up to this,
RETRY_GIVE_UP = timedelta(days=3)  # and given up (papers to the next digest) after this
# How long a claim on a digest, or the lease on a pending delivery, keeps other runners
# away: longer than building and sending one batch of digests takes. A runner that dies
# holds them up to this long. PAPERBOY_LEASE_SECONDS overrides it.
CLAIM_LEASE = timedelta(minutes=15)
# Test hook: PAPERBOY_TEST_PAUSE_AT=claimed|recorded makes a run stop there (after
# writing a line to PAPERBOY_TEST_PAUSE_FILE) until it is killed.
PAUSE_AT_ENV = "PAPERBOY_TEST_PAUSE_AT"
PAUSE_FILE_ENV = "PAPERBOY_TEST_PAUSE_FILE"


@dataclass(frozen=True, slots=True)
class DigestResult:
    """What happened for one user in one run."""

    user: str
    # sent | empty | not-due | elsewhere | failed | retry-later | dry-run | unsubscribed | paused
    status: str
    considered: int = 0
    picked: tuple[recommender.Ranked, ...] = ()
    receipt: str | None = None
    error: str | None = None
    resent: int = 0  # pending deliveries from earlier runs sent now
    # the message of a dry run (what would be sent); a sent one is in Storage.deliveries
    message: EmailMessage | None = field(default=None, compare=False)
    note: str = ""  # how it was ranked, when the reader must know (digest.basis_note)


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


def digest_slot(
    user: UserConfig, last_digest_at: datetime | None, now: datetime, *, force: bool = False
) -> str | None:
    """Which digest is due now, as the key of its claim; None when none is.

    The slot is derived from the user's last digest only, so every runner that read the
    same state names the same slot: the schedule's first firing after the last digest
    (UTC, "2026-07-01T05:30:00Z"), "first" for a user's first digest, and
    "forced:<last digest time>" for a forced run (a second forced run after that digest
    is recorded builds on a new state, so it is a new slot).
    """
    if force:
        return "forced:" + (_iso(last_digest_at) if last_digest_at is not None else "first")
    if last_digest_at is None:
        return "first"
    following = next_digest_firing(user, last_digest_at)
    if following is None or following > now:
        return None
    return _iso(following)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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


RUNNER_HOST_ENV = "PAPERBOY_RUNNER_HOST"


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


def _pause_for_tests(point: str, user_name: str) -> None:
    """The test hook (PAUSE_AT_ENV): stop here until killed, after saying so."""
    if os.environ.get(PAUSE_AT_ENV) != point:
        return
    marker = os.environ.get(PAUSE_FILE_ENV)
    if marker:
        with open(marker, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {point} {user_name}\n")
    while True:
        time.sleep(3600)


def in_categories(paper: StoredPaper, categories: Sequence[str]) -> bool:
    """A paper passes a user's category filter when any of its categories is listed.

    Papers without categories (from a feed the user configured) always pass.
    """
    return not categories or not paper.categories or any(c in categories for c in paper.categories)


class ListedPapers:
    """Listed papers by the start of a user's window, read once and shared by the users a
    process serves: most users' windows start at the same moment (the last fetch before
    their previous digest), so reading every candidate's row once per user, as a
    per-user query did, cost more than ranking them (issue 13). A copy is reused only
    while the database's listing stamp for that window is unchanged (a fetch, or an
    updated paper, makes it read again). A few windows are kept, and none of more than
    MAX_PAPERS papers, so memory does not grow with the number of users."""

    KEEP = 8
    MAX_PAPERS = 20_000

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._by_start: dict[datetime | None, tuple[object, list[StoredPaper]]] = {}
        self._lock = threading.Lock()

    def after(self, start: datetime | None) -> list[StoredPaper]:
        """Papers listed after `start` (all listed papers for None)."""
        stamp = self.storage.listing_stamp(after=start)
        with self._lock:
            cached = self._by_start.get(start)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        found = self.storage.listed_papers(after=start)
        if len(found) <= self.MAX_PAPERS:
            with self._lock:
                if len(self._by_start) >= self.KEEP:
                    self._by_start.clear()
                self._by_start[start] = (stamp, found)
        return found


# One per database a process reads: the daemon and queue workers digest one user per job.
_listed: dict[str, ListedPapers] = {}
_listed_lock = threading.Lock()


def listed_papers_of(storage: Storage) -> ListedPapers:
    """This process's shared listing cache for `storage`'s database."""
    key = str(storage.engine.url)
    with _listed_lock:
        found = _listed.get(key)
        if found is None or found.storage is not storage:
            found = _listed[key] = ListedPapers(storage)
        return found


def candidates_for(
    storage: Storage, user: UserConfig, listed: ListedPapers | None = None
) -> list[StoredPaper]:
    """Papers this user has not seen: listed since their window, or returned by a failure.

    `listed` shares the listing between the users of a batch; the user's own ledger (what
    was mailed to them) is read each time, after their digest is claimed."""
    state = storage.user_state(user.name)
    mailed = storage.mailed_ids(user.name)
    pool = (listed or listed_papers_of(storage)).after(state.listed_through)
    fresh = [p for p in pool if p.id not in mailed]
    returned = storage.returned_papers(user.name)
    saved = set(user.saved) | set(user.disliked) | set(storage.library_ids(user.name))
    saved |= set(storage.zotero_paper_ids(user.name))
    seen: set[str] = set()
    out: list[StoredPaper] = []
    for paper in [*fresh, *returned]:
        if paper.id in seen or paper.id in saved or not in_categories(paper, user.categories):
            continue
        seen.add(paper.id)
        out.append(paper)
    return out


def profile_for(storage: Storage, user: UserConfig) -> recommender.Profile:
    """The user's profile: saved papers' stored text (missing ones are logged), their
    imported library (stored, and the `library` BibTeX file), their synced Zotero library
    (jobs.zotero), and disliked papers."""
    stored = storage.get_papers([*user.saved, *user.disliked])
    missing = [pid for pid in user.saved if pid not in stored]
    if missing:
        log.warning(
            "%s: %d saved paper(s) have no metadata yet (%s); `paperboy fetch` looks them up",
            user.name,
            len(missing),
            ", ".join(missing[:5]) + ("…" if len(missing) > 5 else ""),
        )
    saved = [to_paper(stored[pid]) for pid in user.saved if pid in stored]
    saved += [to_paper(p) for p in storage.library_papers(user.name)]
    zotero = [pid for pid in storage.zotero_paper_ids(user.name) if pid not in user.disliked]
    synced = storage.get_papers(zotero)
    saved += [to_paper(synced[pid]) for pid in zotero if pid in synced]
    if user.library is not None:
        saved += read_bibtex_papers(user.library)
    unique = list({p.id: p for p in saved}.values())
    return recommender.Profile(
        saved=tuple(unique),
        keywords=user.keywords,
        authors=user.authors,
        muted=user.muted,
        disliked=tuple(to_paper(stored[pid]) for pid in user.disliked if pid in stored),
    )


def rank_job(
    storage: Storage,
    user: UserConfig,
    candidates: Sequence[StoredPaper],
    corpus: Corpus,
    *,
    explain: int | None = None,
) -> RankJob:
    """What ranking this user takes: their profile, candidates and the run's background.

    ``corpus`` (jobs.features.load_corpus) is loaded once per run and shared by every
    user. ``explain``: how many of the best get the model's terms in their reason (None:
    all).
    """
    profile = profile_for(storage, user)
    exclude = (
        {p.id for p in candidates}
        | {p.id for p in profile.saved}
        | {p.id for p in profile.disliked}
    )
    return RankJob(
        profile=profile,
        candidates=tuple(to_paper(p) for p in candidates),
        background=tuple(background_for(corpus, exclude)),
        explain=explain,
        diversity=user.diversity,
    )


def rank_for(
    config: Config,
    storage: Storage,
    user: UserConfig,
    candidates: Sequence[StoredPaper],
    *,
    explain: int | None = None,
) -> list[recommender.Ranked]:
    """Rank candidates for one user against the shared background, with the stored index."""
    corpus = load_corpus(config, storage)
    job = rank_job(storage, user, candidates, corpus, explain=explain)
    [result] = rank_many([job], corpus.index, embeddings=run_vectors(storage, [job]))
    if isinstance(result, Exception):
        raise result
    return result


def run_vectors(storage: Storage, jobs: Sequence[RankJob]) -> recommender.Embeddings:
    """The sentence embeddings every ranking of a run needs, read once (jobs.embeddings)."""
    from paperboy.jobs.ranking.encoding import vectors_for

    papers = {p.id: p for job in jobs for p in (*job.background, *job.candidates)}
    profiles = {p.id: p for job in jobs for p in (*job.profile.saved, *job.profile.disliked)}
    return vectors_for(storage, papers.values(), profiles=profiles.values())


# A score estimates how likely the user is to want the paper. A digest holds the few papers
# worth a morning, so it never pads up to max_papers (issue 12: 3-7% papers after two good
# ones). A paper scoring WEAK_SCORE or more is in; under it, only when it scores at least
# RELATIVE_FLOOR of the day's best (a thin day in a narrow field), never next to clearly
# better papers. When even the best is under WEAK_SCORE (by the model's own estimate nine
# times in ten not for this user) the digest shows at most WEAK_SHOWN papers and says
# they are weak matches.
WEAK_SCORE = 0.10
WEAK_SHOWN = 3
RELATIVE_FLOOR = 0.25


def pick(ranked: Sequence[recommender.Ranked], user: UserConfig) -> list[recommender.Ranked]:
    """The top max_papers at or above the user's threshold and either WEAK_SCORE or a
    quarter of the best score; when the best is under WEAK_SCORE, at most WEAK_SHOWN."""
    above = [r for r in ranked if r.score >= user.min_score]
    if not above:
        return []
    best = max(r.score for r in above)
    if best < WEAK_SCORE:
        return above[: min(user.max_papers, WEAK_SHOWN)]
    floor = min(WEAK_SCORE, best * RELATIVE_FLOOR)
    return [r for r in above if r.score >= floor][: user.max_papers]


def basis_note(profile: recommender.Profile | None, picked: Sequence[recommender.Ranked]) -> str:
    """What a digest must say about how it was ranked: on keywords alone (no saved paper
    has its text stored), or weak matches only. Empty when neither."""
    notes = []
    if profile is not None and not profile.saved and not (profile.keywords or profile.authors):
        notes.append(
            "Nothing to rank against yet: none of your saved papers has its text stored "
            "and you follow no keywords or authors (`paperboy profile add`)."
        )
    elif profile is not None and not profile.saved:
        notes.append(
            "Ranked on your keywords and authors only: none of your saved papers has its "
            "text stored yet (`paperboy fetch` looks them up; `paperboy fetch --from-file "
            "saved.jsonl` adds them offline)."
        )
    if picked and all(r.score < WEAK_SCORE for r in picked):
        notes.append(
            f"Weak matches only: no paper scored {WEAK_SCORE:.0%} or more, so this digest "
            f"shows just the best {len(picked)}."
        )
    return " ".join(notes)


def _links(pid: str, stored: StoredPaper | None) -> tuple[str, str | None]:
    """Abstract page and PDF for an arXiv paper; the source's own link for the others."""
    if is_arxiv_id(pid):
        return abs_url(pid), pdf_url(pid)
    return (stored.link if stored and stored.link else ""), None


def trending_items(
    config: Config,
    storage: Storage,
    scores: dict[str, float],
    user: UserConfig,
    now: datetime,
    known: Mapping[str, StoredPaper] | None = None,
) -> tuple[TrendingItem, ...]:
    """The most upvoted papers of the latest trending day (if it is recent), each marked
    when the user's model rates it at or above their threshold too. ``known``: papers the
    caller already holds (the user's candidates), not read again."""
    if config.email.trending <= 0:
        return ()
    entries = storage.trending(limit=config.email.trending)
    if not entries or (now.date() - entries[0].day).days > TRENDING_MAX_AGE_DAYS:
        return ()
    papers = _papers(storage, [e.paper_id for e in entries], known)
    items = []
    for e in entries:
        paper = papers.get(e.paper_id)
        if paper is None:
            continue
        link, _pdf = _links(e.paper_id, paper)
        score = scores.get(e.paper_id)
        items.append(
            TrendingItem(
                paper_id=e.paper_id,
                title=paper.title,
                abs_url=link,
                upvotes=e.upvotes,
                matched=score is not None and score >= max(user.min_score, MATCH_SCORE),
                hf_url=hf_url(e.paper_id) if is_arxiv_id(e.paper_id) else None,
            )
        )
    return tuple(items)


def _papers(
    storage: Storage, ids: Sequence[str], known: Mapping[str, StoredPaper] | None
) -> dict[str, StoredPaper]:
    """The stored papers `ids`, taking those the caller holds from `known`."""
    held = {i: known[i] for i in ids if known is not None and i in known}
    missing = [i for i in ids if i not in held]
    return {**held, **storage.get_papers(missing)} if missing else held


def hf_url(pid: str) -> str:
    return f"https://huggingface.co/papers/{pid}"


def build_digest(
    config: Config,
    storage: Storage,
    user: UserConfig,
    picked: Sequence[recommender.Ranked],
    considered: int,
    now: datetime,
    trending: tuple[TrendingItem, ...] = (),
    known: Mapping[str, StoredPaper] | None = None,
) -> Digest:
    """The digest the e-mail shows, from the picks and what storage knows of them
    (``known``: papers the caller already holds, not read again)."""
    local_day = now.astimezone(ZoneInfo(user.timezone)).date()
    ids = [r.paper.id for r in picked]
    stored = _papers(storage, ids, known)
    upvotes = {e.paper_id: e.upvotes for e in storage.trending(since=local_day - timedelta(days=7))}
    items = []
    for r in picked:
        link, pdf = _links(r.paper.id, stored.get(r.paper.id))
        items.append(
            DigestItem(
                paper_id=r.paper.id,
                title=r.paper.title,
                abstract=r.paper.abstract,
                authors=r.paper.authors,
                categories=r.paper.categories,
                score=r.score,
                why=r.why,
                abs_url=link,
                pdf_url=pdf,
                announced=r.paper.announced,
                hf_url=hf_url(r.paper.id) if r.paper.id in upvotes else None,
                upvotes=upvotes.get(r.paper.id),
                tldr=_tldr(stored.get(r.paper.id)),
                tldr_source=_tldr_source(stored.get(r.paper.id)),
            )
        )
    digest = Digest(
        user_name=user.name,
        to=user.email,
        sender=config.email.sender,
        day=local_day,
        items=tuple(items),
        considered=considered,
        created_at=now,
        reply_to=config.email.reply_to,
        trending=trending,
        period="week" if user.schedule == "weekly" else "day",
        unsubscribe=config.email.unsubscribe or None,
    )
    return add_feedback_links(digest, config, now)  # none without [web] base_url


def _tldr(paper: StoredPaper | None) -> str | None:
    return paper.tldr if paper is not None and paper.tldr else None


def _tldr_source(paper: StoredPaper | None) -> str | None:
    return paper.tldr_source if paper is not None and paper.tldr else None


def _domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "paperboy.invalid"


def _send(
    storage: Storage,
    transport: Transport,
    delivery_id: int,
    message: EmailMessage,
    now: datetime | None = None,
    *,
    owner: str,
    lease: timedelta,
) -> tuple[str, str | None, str | None]:
    """Send one recorded delivery if this runner holds (or gets) its lease; returns
    (status, receipt, error). The lease is renewed first, so nobody can take it over
    while the message is on its way."""
    if not storage.take_delivery(delivery_id, owner, lease, gone=owner_gone):
        return "elsewhere", None, "another runner is sending it"
    try:
        receipt = transport.send(message)
    except PermanentDeliveryError as e:
        storage.mark_attempt_failed(delivery_id, str(e), permanent=True, at=now)
        log.error("delivery %d failed for good: %s", delivery_id, e)
        return "failed", None, str(e)
    except DeliveryError as e:
        storage.mark_attempt_failed(delivery_id, str(e), permanent=False, at=now)
        log.warning("delivery %d failed, will be retried: %s", delivery_id, e)
        return "retry-later", None, str(e)
    except BaseException:
        # Not sent by us (a bug, Ctrl-C): the next run need not wait for the lease.
        _quietly(storage.release_delivery, delivery_id, owner)
        raise
    storage.mark_sent(delivery_id, receipt)
    return "sent", receipt, None


def _quietly(fn: Callable[..., object], *args: object) -> None:
    """Tidy up after a failure without hiding it (the lease expires anyway)."""
    try:
        fn(*args)
    except Exception as e:
        log.warning("could not release a claim or lease (it expires by itself): %s", e)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after `attempts` failed sends: 5 min, doubling, at most 6 h."""
    delay: timedelta = RETRY_FIRST * 2 ** min(max(attempts - 1, 0), 16)
    return min(delay, RETRY_MAX_DELAY)


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
        if state.unsubscribed_at is not None:  # "Unsubscribe" means no more mail, even
            # one built before the click and left waiting for a retry
            if storage.take_delivery(delivery.id, owner, lease, gone=owner_gone):
                storage.mark_attempt_failed(
                    delivery.id, "the user unsubscribed", permanent=True, at=now
                )
                log.info("delivery %d for %s: not sent, they unsubscribed", delivery.id, user_name)
            continue
        if state.paused(now):
            continue  # sent (or given up) after the pause
        give_up = False
        if delivery.attempts and delivery.last_attempt_at is not None:
            give_up = now - delivery.created_at > RETRY_GIVE_UP
            if not give_up and now < delivery.last_attempt_at + retry_delay(delivery.attempts):
                continue
        if not storage.take_delivery(delivery.id, owner, lease, gone=owner_gone):
            continue  # another runner holds it
        if give_up:
            storage.mark_attempt_failed(
                delivery.id,
                f"gave up after {delivery.attempts} attempts over "
                f"{RETRY_GIVE_UP.days} days; last error: {delivery.last_error}",
                permanent=True,
                at=now,
            )
            log.error("delivery %d for %s: gave up retrying", delivery.id, user_name)
            continue
        message = email.message_from_bytes(delivery.message, policy=email.policy.SMTP)
        assert isinstance(message, EmailMessage)
        status, _receipt, _error = _send(
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


@dataclass(slots=True)
class _Due:
    """A user whose digest is due and claimed, with everything gathered before ranking."""

    user: UserConfig
    transport: Transport
    state: UserState  # what the digest is built on (checked again when it is recorded)
    candidates: list[StoredPaper]
    job: RankJob | None  # None: no candidates
    resent: int
    claim: Claim | None  # None: a dry run


@dataclass(frozen=True, slots=True)
class _Runner:
    """Who this run is in claims and leases, and for how long they hold."""

    owner: str
    lease: timedelta


def _prepare(
    config: Config,
    storage: Storage,
    user: UserConfig,
    transport: Transport,
    *,
    now: datetime,
    force: bool,
    dry_run: bool,
    corpus: Callable[[], Corpus],
    runner: _Runner,
    listed: ListedPapers | None = None,
) -> _Due | DigestResult:
    """Re-send pending mail; if the digest is due, claim it and gather what ranking the
    user takes.

    ``corpus`` is called only for a user with candidates: a run where nobody is due
    loads no index.
    """
    owner, lease = runner.owner, runner.lease
    resent = (
        0
        if dry_run
        else resend_pending(storage, transport, user.name, now, owner=owner, lease=lease)
    )
    state = storage.user_state(user.name)
    if not state.receiving(now):  # "Unsubscribe" / "Pause for a week" (issue #14)
        stopped = "unsubscribed" if state.unsubscribed_at else "paused"
        return DigestResult(user.name, stopped, resent=resent)
    slot = digest_slot(user, state.last_digest_at, now, force=force)
    if slot is None:
        return DigestResult(user.name, "not-due", resent=resent)
    claim = None
    if not dry_run:
        claim = storage.claim_digest(user.name, slot, owner, lease, gone=owner_gone)
        if claim is None:
            return DigestResult(user.name, "elsewhere", resent=resent)
    try:
        if claim is not None:
            _pause_for_tests("claimed", user.name)
            # What the digest is built on, read under the claim; recorded only if unchanged.
            state = storage.user_state(user.name)
            if digest_slot(user, state.last_digest_at, now, force=force) != slot:
                storage.finish_claim(claim, "superseded")  # another digest served it
                return DigestResult(user.name, "not-due", resent=resent)
        candidates = candidates_for(storage, user, listed)
        job = (
            rank_job(storage, user, candidates, corpus(), explain=user.max_papers)
            if candidates
            else None
        )
    except BaseException:
        if claim is not None:
            _quietly(storage.release_claim, claim)
        raise
    return _Due(user, transport, state, candidates, job, resent, claim)


def _finish(
    config: Config,
    storage: Storage,
    due: _Due,
    ranked: Sequence[recommender.Ranked],
    *,
    now: datetime,
    dry_run: bool,
    preview: Path | None,
    runner: _Runner,
) -> DigestResult:
    """Pick, render, record and send one user's ranked digest."""
    user, state, candidates, resent = due.user, due.state, due.candidates, due.resent
    picked = pick(ranked, user)
    profile = due.job.profile if due.job is not None else None
    note = basis_note(profile, picked)
    listed = [p.listed_at for p in candidates if p.listed_at is not None]
    listed_through = max(listed) if listed else None
    if state.listed_through and listed_through and listed_through < state.listed_through:
        listed_through = state.listed_through
    if not picked and not user.send_empty:
        if not dry_run:
            try:
                storage.record_empty_digest(
                    user.name, listed_through, at=now, claim=due.claim, built_on=state
                )
            except ClaimLost as e:
                return _lost(storage, due, e, len(candidates))
        return DigestResult(user.name, "empty", considered=len(candidates), resent=resent)
    scores = {r.paper.id: r.score for r in ranked}
    known = {p.id: p for p in candidates}  # the picks and most trending papers: held already
    trending = trending_items(config, storage, scores, user, now, known)
    digest = build_digest(config, storage, user, picked, len(candidates), now, trending, known)
    digest = replace(digest, note=note, keywords_only=profile is not None and not profile.saved)
    message = build_message(digest, domain=_domain(config.email.sender))
    if preview is not None:
        preview.parent.mkdir(parents=True, exist_ok=True)
        preview.write_text(render_html(digest), encoding="utf-8")
    if dry_run:
        return DigestResult(
            user.name,
            "dry-run",
            len(candidates),
            tuple(picked),
            message=message,
            resent=resent,
            note=note,
        )
    try:
        delivery_id = storage.create_delivery(
            user_name=user.name,
            message_id=str(message["Message-ID"]),
            digest_day=digest.day,
            message=message.as_bytes(),
            paper_ids=[r.paper.id for r in picked],
            listed_through=listed_through,
            at=now,
            claim=due.claim,
            built_on=state,
            lease=runner.lease,
        )
    except ClaimLost as e:
        return _lost(storage, due, e, len(candidates))
    _pause_for_tests("recorded", user.name)
    status, receipt, error = _send(
        storage, due.transport, delivery_id, message, now, owner=runner.owner, lease=runner.lease
    )
    # Not the message: it is stored with the delivery, and a run over 10,000 users that
    # kept each one (~90 KB) grew by 850 MB per worker (benchmarks/scale.py, issue 13).
    return DigestResult(
        user.name,
        status,
        len(candidates),
        tuple(picked),
        receipt=receipt,
        error=error,
        resent=resent,
        note=note,
    )


def _lost(storage: Storage, due: _Due, e: ClaimLost, considered: int) -> DigestResult:
    """Another runner served this digest while it was being built: nothing recorded."""
    log.info("digest for %s left to another runner: %s", due.user.name, e)
    if due.claim is not None:
        _quietly(storage.finish_claim, due.claim)
    return DigestResult(due.user.name, "elsewhere", considered=considered, resent=due.resent)


# Users are claimed, ranked and sent in batches of this many: claims are not held for
# the whole run, and memory does not grow with the number of users.
BATCH_USERS = 64


def run_digests(
    config: Config,
    storage: Storage,
    *,
    users: Sequence[str] | None = None,
    transport: Transport | None = None,
    now: datetime | None = None,
    force: bool = False,
    dry_run: bool = False,
    preview: Path | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[DigestResult]:
    """Digest every configured user (or the named ones); one failing user never stops the rest.

    Batch by batch (BATCH_USERS), in three steps: every user's pending mail is re-sent
    and, if their digest is due and this run claims it, their ranking is gathered; the
    claimed users are ranked together, over ``workers`` processes (None: ``[paperboy]
    workers``; jobs.rank_pool); then each user's digest is recorded and sent, one after
    the other. Results come back in the users' order. A digest another runner has
    claimed is left to it (status "elsewhere"). ``progress(users done, users)`` is called
    as each user's digest is settled.
    """
    now = now or utcnow()
    chosen = [config.user(name) for name in users] if users else list(config.users)
    transports: dict[str, Transport] = {}
    results: dict[str, DigestResult] = {}
    loaded: list[Corpus] = []
    runner = _Runner(runner_id(), claim_lease())
    n_workers = (config.workers or default_workers()) if workers is None else workers

    def corpus() -> Corpus:  # loaded once per run, and only if someone is due
        if not loaded:
            loaded.append(load_corpus(config, storage))
        return loaded[0]

    def done(result: DigestResult) -> None:
        results[result.user] = result
        if progress is not None:  # (users done, users): a run over many users shows it
            progress(len(results), len(chosen))

    def failed(user: UserConfig, e: Exception) -> DigestResult:
        if isinstance(e, ConfigError):  # e.g. the SMTP password variable is not set
            log.error("digest for %s: %s", user.name, e)
            return DigestResult(user.name, "failed", error=str(e))
        log.error("digest for %s failed", user.name, exc_info=(type(e), e, e.__traceback__))
        return DigestResult(user.name, "failed", error=f"{type(e).__name__}: {e}")

    def batch(users: Sequence[UserConfig]) -> None:
        due: list[_Due] = []
        listed = listed_papers_of(storage)
        for user in users:
            kind = user.transport or config.email.transport
            try:
                if transport is None and kind not in transports:
                    transports[kind] = make_transport(config, kind)
                prepared = _prepare(
                    config,
                    storage,
                    user,
                    transport or transports[kind],
                    now=now,
                    force=force,
                    dry_run=dry_run,
                    corpus=corpus,
                    runner=runner,
                    listed=listed,
                )
            except Exception as e:  # one user's bug must not cost the others their digest
                done(failed(user, e))
                continue
            if isinstance(prepared, DigestResult):
                done(prepared)
            else:
                due.append(prepared)
        _rank_and_send(
            config, storage, due, corpus, n_workers, runner, done, failed, now, dry_run, preview
        )

    try:
        for start in range(0, len(chosen), BATCH_USERS):
            batch(chosen[start : start + BATCH_USERS])
    finally:
        close_transports(transports.values())
    return [results[user.name] for user in chosen]


def close_transports(transports: Iterable[Transport]) -> None:
    """End the connections a run kept open (an SMTP connection serves a whole run)."""
    for t in transports:
        close = getattr(t, "close", None)
        if close is not None:
            try:
                close()
            except Exception as e:  # the messages are sent; a failed QUIT loses nothing
                log.warning("closing %r: %s", t, e)


def _rank_and_send(
    config: Config,
    storage: Storage,
    due: list[_Due],
    corpus: Callable[[], Corpus],
    n_workers: int,
    runner: _Runner,
    done: Callable[[DigestResult], None],
    failed: Callable[[UserConfig, Exception], DigestResult],
    now: datetime,
    dry_run: bool,
    preview: Path | None,
) -> None:
    """Rank one batch of claimed users over the pool, then record and send each."""
    jobs = [d.job for d in due if d.job is not None]
    index = corpus().index if jobs else None
    try:
        vectors = run_vectors(storage, jobs) if jobs else None
        rankings = iter(rank_many(jobs, index, workers=n_workers, embeddings=vectors))
    except BaseException:
        for d in due:
            if d.claim is not None:
                _quietly(storage.release_claim, d.claim)
        raise
    for d in due:
        try:
            ranked = next(rankings) if d.job is not None else []
            if isinstance(ranked, Exception):
                raise ranked
            result = _finish(
                config, storage, d, ranked, now=now, dry_run=dry_run, preview=preview, runner=runner
            )
        except Exception as e:  # one user's bug must not cost the others their digest
            if d.claim is not None:  # the next run tries again (no-op once recorded)
                _quietly(storage.release_claim, d.claim)
            result = failed(d.user, e)
        done(result)
