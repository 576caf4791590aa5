"""The digest job: for each user whose digest is due, rank, render, record, send.

    for each batch of BATCH_USERS users:
        states, pending = their states, and who has pending mail: one read for the batch
        for each user:
            retry their pending deliveries (same bytes, same Message-ID), each leased first
                                                                    # mailing.send
            decision = decide(user, state, now, force)              # mailing.due, pure
            not due (unsubscribed, paused, schedule not fired)  -> their result
        claim every due (user, slot) in the database in one statement; a slot another
            runner holds is left to it ("elsewhere")                # storage.claims
        reads = the claimed users' states, ledgers, libraries, profile papers, read
            under the claims in one connection                      # storage.digest_reads
        for each claimed user:
            pause("claimed")                                        # test hook
            state moved on meanwhile (another digest, unsubscribed) -> close the claim
            candidates = papers listed since the user's window, not yet mailed to them,
                         not in their saved papers, in their categories
                         + papers of a digest of theirs that failed for good
                                                                    # ranking.candidates
        ranked (all claimed users at once) = recommender.rank(profile, candidates,
                                                               background)  # ranking.pool
                 (one ranking per collection of a user, issue #23)
        for each claimed user:
            picked  = the top max_papers with score >= min_score and >= WEAK_SCORE or a
                      quarter of the best (best < WEAK_SCORE: at most WEAK_SHOWN, "weak")
                      (collections: per section, each paper in the collection that
                      scores it highest)                            # ranking.pick, pure
            message = emails.build_message(digest)                  # mailing.compose
                      (each paper's block made once per run: emails.render)
            storage.create_delivery(pending, message, picked)   # ledger + window, atomically,
                                   # only if the claim is still ours and the user's state
                                   # is still the one the digest was built on
            pause("recorded")                                       # test hook
            transport.send(message); pause("sent")                  # test hook
                -> mark sent | retry later (4xx) | failed (5xx)     # mailing.send
            each notify channel (recorded with the digest): Apprise, part by part;
                pause("channel-sent") after each part      # mailing.channels, test hook

Any number of runners (cron, the daemon, queue workers on other machines) may run this
at once: the claim makes exactly one of them build a digest, the delivery's lease makes
exactly one of them send it (mailing.claims). A runner that dies holding a claim or a
lease leaves it to the next runner once the lease (CLAIM_LEASE) has expired. A crash
between "recorded" and "sent" leaves a pending delivery that a later run sends,
unchanged: a paper is never put into two digests for the same user. A crash after the
server accepted the message and before it is marked sent (pause point "sent") sends it
again: at least once at the SMTP boundary, the same bytes with the same Message-ID.
A stop (the daemon's Stop, set on SIGTERM) is honoured before each user of a batch: the
claims this run holds on digests not yet recorded are released and Stopped is raised; the
next run does those users.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from paperboy import recommender
from paperboy.emails.delivery import Transport
from paperboy.emails.render import render_html
from paperboy.jobs.config.model import Config, UserConfig
from paperboy.jobs.core.errors import ConfigError
from paperboy.jobs.core.stopping import Stop, Stopped
from paperboy.jobs.mailing.channels import (
    channel_texts,
    resend_pending_channels,
    send_recorded_channels,
)
from paperboy.jobs.mailing.claims import Runner, owner_gone, quietly
from paperboy.jobs.mailing.compose import TrendingMemo, compose
from paperboy.jobs.mailing.due import decide
from paperboy.jobs.mailing.send import (
    close_transports,
    make_transport,
    resend_pending,
    send_delivery,
    transient_error,
)
from paperboy.jobs.ranking.candidates import (
    Listing,
    PaperMemo,
    candidates_for,
    collection_jobs,
    keep_background,
    listed_papers_of,
    run_vectors,
    vectors_memo,
)
from paperboy.jobs.ranking.corpus import Corpus, load_corpus
from paperboy.jobs.ranking.pick import basis_note, best_scores, pick_sections
from paperboy.jobs.ranking.pool import RankJob, default_workers, rank_many
from paperboy.jobs.storage import (
    Claim,
    ClaimLost,
    Storage,
    StoredPaper,
    UserReads,
    UserState,
    utcnow,
)

log = logging.getLogger(__name__)

# Users are claimed, ranked and sent in batches of this many: claims are not held for
# the whole run, and memory does not grow with the number of users. A batch is claimed
# at once (Storage.claim_digests), so runners sharing the users split them batch by
# batch: small enough that the last batch of a run keeps one runner busy for seconds
# only (issue #22), large enough that a batch's reads are a few queries for many users.
BATCH_USERS = 16

# A hook called at a point of one user's digest: pause(point, user name), point
# "claimed" (the digest is claimed, nothing built), "recorded" (the delivery is
# recorded, not sent), "sent" (the SMTP server accepted it, not yet marked sent) or
# "channel-sent" (a chat or push service accepted a part of it, not yet recorded).
# Tests stop a run there and kill it (tests/pausing_digest.py).
Pause = Callable[[str, str], None]


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
    note: str = ""  # how it was ranked, when the reader must know (ranking.pick.basis_note)
    transient: bool = False  # failed, and trying again later may succeed (send.transient_error)
    # (channel name, sent | retry-later | failed | elsewhere) for each notify channel
    channels: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class _Due:
    """A user whose digest is due and claimed, with everything gathered before ranking."""

    user: UserConfig
    transport: Transport
    state: UserState  # what the digest is built on (checked again when it is recorded)
    candidates: list[StoredPaper]
    # (collection, its ranking job), default collection first; one ("", job) for a user
    # without collections (issue #23); empty: no candidates
    jobs: tuple[tuple[str, RankJob], ...]
    resent: int
    claim: Claim | None  # None: a dry run


def _decide(
    storage: Storage,
    user: UserConfig,
    transport: Transport,
    state: UserState,
    pending: bool,
    *,
    now: datetime,
    force: bool,
    dry_run: bool,
    runner: Runner,
) -> tuple[str, int] | DigestResult:
    """Re-send the user's pending mail; then their digest's slot if it is due (with how
    many pending deliveries were sent), else their result. `state` and `pending` (whether
    they have a pending delivery) were read for the whole batch (Storage.digest_states)."""
    owner, lease = runner.owner, runner.lease
    resent = 0
    if not dry_run:
        if user.email and pending:
            resent += resend_pending(storage, transport, user.name, now, owner=owner, lease=lease)
        if user.channels():
            resent += resend_pending_channels(storage, user, now, owner=owner, lease=lease)
    decision = decide(user, state, now, force=force)
    if decision.slot is None:  # unsubscribed, paused (issue #14), or not due by the schedule
        return DigestResult(user.name, decision.status, resent=resent)
    return decision.slot, resent


def _prepare(
    storage: Storage,
    user: UserConfig,
    transport: Transport,
    slot: str,
    resent: int,
    claim: Claim | None,
    reads: UserReads,
    *,
    now: datetime,
    force: bool,
    corpus: Callable[[], Corpus],
    listed: Listing,
    as_paper: PaperMemo,
    pause: Pause | None = None,
) -> _Due | DigestResult:
    """Gather what ranking a claimed (or dry-run) user takes, from the batch's reads.

    ``corpus`` is called only for a user with candidates: a run where nobody is due
    loads no index. The claim is released if anything fails.
    """
    try:
        # What the digest is built on, read under the claim; recorded only if unchanged.
        state = reads.state
        if claim is not None:
            if pause is not None:
                pause("claimed", user.name)
            again = decide(user, state, now, force=force)
            if again.slot != slot:  # another digest served it, or the user just stopped
                storage.finish_claim(claim, "superseded")
                stopped = again.status if again.status in ("unsubscribed", "paused") else None
                return DigestResult(user.name, stopped or "not-due", resent=resent)
        candidates = candidates_for(storage, user, listed, reads=reads)
        jobs = (
            collection_jobs(
                storage,
                user,
                candidates,
                corpus(),
                explain=user.max_papers,
                reads=reads,
                as_paper=as_paper,
            )
            if candidates
            else ()
        )
    except BaseException:
        if claim is not None:
            quietly(storage.release_claim, claim)
        raise
    return _Due(user, transport, state, candidates, jobs, resent, claim)


def _finish(
    config: Config,
    storage: Storage,
    due: _Due,
    rankings: Sequence[tuple[str, Sequence[recommender.Ranked]]],
    *,
    now: datetime,
    dry_run: bool,
    preview: Path | None,
    runner: Runner,
    pause: Pause | None = None,
    trending_of: TrendingMemo | None = None,
) -> DigestResult:
    """Pick, render, record and send one user's ranked digest (one ranking per
    collection: `rankings`, default collection first). ``trending_of``: the batch's
    trending days, read once for its users."""
    user, state, candidates, resent = due.user, due.state, due.candidates, due.resent
    limits = {c.name: c.max_papers or user.max_papers for c in user.collections}
    sections = pick_sections(
        rankings or [("", [])], min_score=user.min_score, max_papers={"": user.max_papers, **limits}
    )
    picked = [r for _name, rs in sections for r in rs]
    ranked = best_scores(rankings)
    profiles = [job.profile for _name, job in due.jobs]
    profile = profiles[0] if len(profiles) == 1 and not user.collections else None
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
    keywords_only = bool(profiles) and not any(p.saved for p in profiles)
    digest, message = compose(
        config,
        storage,
        user,
        picked,
        ranked,
        candidates,
        now,
        note=note,
        keywords_only=keywords_only,
        sections=sections,
        trending_of=trending_of,
    )
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
    texts = channel_texts(user, digest) if user.channels() else []
    recorded = time.monotonic()
    try:
        delivery_id = storage.create_delivery(
            user_name=user.name,
            message_id=(
                str(message["Message-ID"])
                if message is not None
                else f"<channels.{uuid.uuid4().hex}@paperboy.invalid>"
            ),
            digest_day=digest.day,
            message=message.as_bytes() if message is not None else b"",
            paper_ids=[r.paper.id for r in picked],
            listed_through=listed_through,
            at=now,
            claim=due.claim,
            built_on=state,
            lease=runner.lease,
            shown={item.paper_id: (item.score, item.why) for item in digest.items},
            channels=texts,
            mail=message is not None,
        )
    except ClaimLost as e:
        return _lost(storage, due, e, len(candidates))
    if pause is not None:
        pause("recorded", user.name)
    status, receipt, error = "sent", None, None
    if message is not None:
        status, receipt, error = send_delivery(
            storage,
            due.transport,
            delivery_id,
            message,
            now,
            owner=runner.owner,
            lease=runner.lease,
            sent=None if pause is None else lambda: pause("sent", user.name),
            # Recorded with our lease moments ago: renewing it is one more transaction a
            # digest, for nothing while most of the lease is left.
            renew=due.claim is None
            or time.monotonic() - recorded > runner.lease.total_seconds() / 2,
        )
    channels: tuple[tuple[str, str], ...] = ()
    if texts:  # recorded with channel parts: a digest without any reads none back
        channels = send_recorded_channels(
            storage,
            user,
            delivery_id,
            now,
            owner=runner.owner,
            lease=runner.lease,
            sent=None if pause is None else lambda: pause("channel-sent", user.name),
        )
    if message is None:  # channels only: the digest's status is theirs
        status, receipt, error = _channels_status(channels)
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
        channels=channels,
    )


def _channels_status(
    channels: tuple[tuple[str, str], ...],
) -> tuple[str, str | None, str | None]:
    """A channels-only digest's (status, receipt, error): sent when a channel took it
    (the others' outcomes in the error), else retry-later, elsewhere or failed, in that
    order: "failed" only when every channel failed for good."""
    sent = [name for name, status in channels if status == "sent"]
    others = "; ".join(f"{name}: {status}" for name, status in channels if status != "sent")
    if sent:
        return "sent", "channels: " + ", ".join(sent), others or None
    for status in ("retry-later", "elsewhere"):
        if any(s == status for _name, s in channels):
            return status, None, others
    return "failed", None, others


def _lost(storage: Storage, due: _Due, e: ClaimLost, considered: int) -> DigestResult:
    """Another runner served this digest while it was being built: nothing recorded."""
    log.info("digest for %s left to another runner: %s", due.user.name, e)
    if due.claim is not None:
        quietly(storage.finish_claim, due.claim)
    return DigestResult(due.user.name, "elsewhere", considered=considered, resent=due.resent)


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
    pause: Pause | None = None,
    stop: Stop | None = None,
) -> list[DigestResult]:
    """Digest every configured user (or the named ones); one failing user never stops the rest.

    Batch by batch (BATCH_USERS), in three steps: every user's pending mail is re-sent
    and, if their digest is due and this run claims it, their ranking is gathered; the
    claimed users are ranked together, over ``workers`` processes (None: ``[paperboy]
    workers``; jobs.ranking.pool); then each user's digest is recorded and sent, one after
    the other. Results come back in the users' order. A digest another runner has
    claimed is left to it (status "elsewhere"). ``progress(users done, users)`` is called
    as each user's digest is settled. ``pause(point, user name)`` is called when a digest
    is claimed ("claimed"), when it is recorded ("recorded") and when the server has
    accepted it ("sent"): tests stop there.
    ``stop``: asked before each user; once set, the claims not yet recorded are
    released and Stopped is raised (what was recorded and sent stays).
    """
    now = now or utcnow()
    chosen = [config.user(name) for name in users] if users else list(config.users)
    transports: dict[str, Transport] = {}
    results: dict[str, DigestResult] = {}
    loaded: list[Corpus] = []
    known_vectors: dict[str, Any] = {}  # the run's background and candidates' vectors
    runner = Runner.here()
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
        error = f"{type(e).__name__}: {e}"
        return DigestResult(user.name, "failed", error=error, transient=transient_error(e))

    def batch(users: Sequence[UserConfig]) -> None:
        due: list[_Due] = []
        listed = listed_papers_of(storage).pinned()
        _stop_here(storage, stop, due)
        try:
            states, pending = storage.digest_states([u.name for u in users])
        except Exception as e:  # the database is away: every user of the batch fails
            for user in users:
                done(failed(user, e))
            return
        wanted: list[tuple[UserConfig, Transport, str, int]] = []
        for user in users:
            _stop_here(storage, stop, due)
            kind = user.transport or config.email.transport
            try:
                if transport is None and kind not in transports:
                    transports[kind] = make_transport(config, kind)
                chosen_transport = transport or transports[kind]
                decided = _decide(
                    storage,
                    user,
                    chosen_transport,
                    states[user.name],
                    user.name in pending,
                    now=now,
                    force=force,
                    dry_run=dry_run,
                    runner=runner,
                )
            except Exception as e:  # one user's bug must not cost the others their digest
                done(failed(user, e))
                continue
            if isinstance(decided, DigestResult):
                done(decided)
            else:
                wanted.append((user, chosen_transport, *decided))
        if not wanted:
            return
        _stop_here(storage, stop, due)
        claims: dict[str, Claim | None] = {}
        try:
            if not dry_run:
                claims = storage.claim_digests(
                    [(user.name, slot) for user, _t, slot, _r in wanted],
                    runner.owner,
                    runner.lease,
                    gone=owner_gone,
                )
            mine = [w for w in wanted if dry_run or claims.get(w[0].name) is not None]
            saved = [pid for user, *_ in mine for pid in (*user.saved, *user.disliked)]
            reads = storage.digest_reads([user.name for user, *_ in mine], saved)
        except Exception as e:  # the database is away: the batch's claimed users fail
            _release(storage, claims.values())
            for user, *_ in wanted:
                done(failed(user, e))
            return
        as_paper = PaperMemo()
        for number, (user, chosen_transport, slot, resent) in enumerate(wanted):
            claim = claims.get(user.name)
            if not dry_run and claim is None:
                done(DigestResult(user.name, "elsewhere", resent=resent))
                continue
            if stop is not None and stop.is_set():
                _release(storage, [claims.get(w[0].name) for w in wanted[number:]])
                _stop_here(storage, stop, due)
            try:
                prepared = _prepare(
                    storage,
                    user,
                    chosen_transport,
                    slot,
                    resent,
                    claim,
                    reads[user.name],
                    now=now,
                    force=force,
                    corpus=corpus,
                    listed=listed,
                    as_paper=as_paper,
                    pause=pause,
                )
            except Exception as e:  # one user's bug must not cost the others their digest
                done(failed(user, e))
                continue
            if isinstance(prepared, DigestResult):
                done(prepared)
            else:
                due.append(prepared)
        _rank_and_send(
            config,
            storage,
            due,
            corpus,
            n_workers,
            runner,
            done,
            failed,
            now,
            dry_run,
            preview,
            pause,
            stop,
            known_vectors=known_vectors,
        )

    try:
        for start in range(0, len(chosen), BATCH_USERS):
            batch(chosen[start : start + BATCH_USERS])
    finally:
        close_transports(transports.values())
    return [results[user.name] for user in chosen]


def _rank_and_send(
    config: Config,
    storage: Storage,
    due: list[_Due],
    corpus: Callable[[], Corpus],
    n_workers: int,
    runner: Runner,
    done: Callable[[DigestResult], None],
    failed: Callable[[UserConfig, Exception], DigestResult],
    now: datetime,
    dry_run: bool,
    preview: Path | None,
    pause: Pause | None,
    stop: Stop | None = None,
    *,
    known_vectors: dict[str, Any] | None = None,
) -> None:
    """Rank one batch of claimed users over the pool, then record and send each.
    ``known_vectors``: what earlier batches of the run read (run_vectors)."""
    jobs = [job for d in due for _name, job in d.jobs]
    shared = corpus() if jobs else None
    index = shared.index if shared is not None else None
    try:
        vectors = None
        if shared is not None:
            if known_vectors is not None and not known_vectors:  # the run's first batch
                known_vectors.update(vectors_memo(shared))
            vectors = run_vectors(storage, jobs, known_vectors)
            if known_vectors is not None:
                keep_background(shared, known_vectors)
        rankings = iter(rank_many(jobs, index, workers=n_workers, embeddings=vectors))
    except BaseException:
        for d in due:
            if d.claim is not None:
                quietly(storage.release_claim, d.claim)
        raise
    trending_of = TrendingMemo(storage)
    for i, d in enumerate(due):
        _stop_here(storage, stop, due[i:])
        try:
            # all of this user's rankings are taken first, so the next user's stay aligned
            taken = [(name, next(rankings)) for name, _job in d.jobs]
            ranked: list[tuple[str, Sequence[recommender.Ranked]]] = []
            for name, one in taken:
                if isinstance(one, Exception):
                    raise one
                ranked.append((name, one))
            result = _finish(
                config,
                storage,
                d,
                ranked,
                now=now,
                dry_run=dry_run,
                preview=preview,
                runner=runner,
                pause=pause,
                trending_of=trending_of,
            )
        except Exception as e:  # one user's bug must not cost the others their digest
            if d.claim is not None:  # the next run tries again (no-op once recorded)
                quietly(storage.release_claim, d.claim)
            result = failed(d.user, e)
        done(result)


def _release(storage: Storage, claims: Iterable[Claim | None]) -> None:
    """Give up claims this run will not build (quietly: the lease ends them anyway)."""
    for claim in claims:
        if claim is not None:
            quietly(storage.release_claim, claim)


def _stop_here(storage: Storage, stop: Stop | None, unrecorded: Sequence[_Due]) -> None:
    """If a stop was asked for: release the claims of the digests not recorded, and stop."""
    if stop is None or not stop.is_set():
        return
    for d in unrecorded:
        if d.claim is not None:
            quietly(storage.release_claim, d.claim)
    log.info("stopping: %d claimed digests left to the next run", len(unrecorded))
    raise Stopped
