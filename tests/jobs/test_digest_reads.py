"""A digest run reads a batch of users at once (issue #22): the rows are the per-user
reads' rows, the ranking jobs built from them are the same jobs (so the ranking is the
same), and the batch's claims still give each digest to exactly one runner, on SQLite
and on PostgreSQL, with real processes racing for them."""

from __future__ import annotations

import multiprocessing
import random
from dataclasses import replace
from datetime import timedelta
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from paperboy.jobs.ranking.candidates import (
    ListedPapers,
    PaperMemo,
    candidates_for,
    rank_job,
)
from paperboy.jobs.ranking.corpus import Corpus
from paperboy.jobs.ranking.pool import rank_many
from paperboy.jobs.storage import Storage, UserReads
from tests.jobs.test_pipeline import NOW, config_for, load_sample

LEASE = timedelta(minutes=15)


def _history(storage: Storage, name: str, ids: list[str]) -> None:
    """A sent digest of ids[:3] and a failed one of ids[3:6] (its papers returned), a
    library of ids[6:8] and a Zotero library of ids[8:10]."""
    for n, (papers, failed) in enumerate(((ids[:3], False), (ids[3:6], True))):
        delivery = storage.create_delivery(
            user_name=name,
            message_id=f"<{name}.{n}@test>",
            digest_day=NOW.date(),
            message=b"Subject: test\r\n\r\nbody",
            paper_ids=papers,
            listed_through=None,
            at=NOW + timedelta(minutes=n),
        )
        if failed:
            storage.mark_attempt_failed(delivery, "550 no such user", permanent=True)
    storage.add_to_library(name, ids[6:8])
    storage.apply_zotero_sync(
        name,
        library="users/1",
        version=3,
        scope="all",
        papers=[],
        items={f"K{name}{i}": (pid, 1, ()) for i, pid in enumerate(ids[8:10])},
        removed=[],
        full=True,
    )


def test_a_batch_read_is_the_per_user_reads(tmp_path: Path, database_url: str) -> None:
    config = config_for(tmp_path, database_url, 25)
    ada = config.users[0]
    users = [
        ada,
        replace(ada, name="bob", saved=ada.saved[:3], disliked=ada.saved[3:4]),
        replace(ada, name="new", saved=("2999.99999", *ada.saved[:2])),  # no rows at all
    ]
    with Storage.open(config.database, now=lambda: NOW) as storage:
        load_sample(storage, days=2)
        listed = ListedPapers(storage)
        pool = [p.id for p in candidates_for(storage, ada, listed)]
        _history(storage, "ada", pool[:10])
        _history(storage, "bob", pool[5:15])
        storage.set_paused_until("bob", NOW + timedelta(days=2))
        saved = [pid for u in users for pid in (*u.saved, *u.disliked)]
        reads = storage.digest_reads([u.name for u in users], saved)
        states, pending = storage.digest_states([u.name for u in users])
        corpus = Corpus(index=None, background=())
        for user in users:
            got = reads[user.name]
            assert got.state == storage.user_state(user.name) == states[user.name]
            assert got.mailed == storage.mailed_ids(user.name)
            assert list(got.returned) == storage.returned_papers(user.name)
            assert list(got.library_ids) == storage.library_ids(user.name)
            assert got.library_papers() == storage.library_papers(user.name, collection="")
            assert list(got.zotero_ids) == storage.zotero_paper_ids(user.name)
            batch = candidates_for(storage, user, listed, reads=got)
            assert batch == candidates_for(storage, user, listed)
            job = rank_job(storage, user, batch, corpus, reads=got, as_paper=PaperMemo())
            assert job == rank_job(storage, user, batch, corpus)
        assert reads["ada"].returned and reads["ada"].library_ids and reads["ada"].zotero_ids
        assert reads["new"] == UserReads(states["new"], papers=reads["new"].papers)
        assert pending == {"ada", "bob"}  # their failed digests' deliveries are not pending


def test_the_ranking_of_a_batch_is_the_ranking_of_each_user_alone(
    tmp_path: Path, database_url: str
) -> None:
    config = config_for(tmp_path, database_url, 25)
    ada = config.users[0]
    users = [ada, replace(ada, name="bob", saved=ada.saved[::2], keywords=("graph",))]
    with Storage.open(config.database, now=lambda: NOW) as storage:
        load_sample(storage, days=1)
        listed = ListedPapers(storage)
        _history(storage, "ada", [p.id for p in candidates_for(storage, ada, listed)][:10])
        background = tuple(
            rank_job(
                storage, ada, candidates_for(storage, ada, listed), Corpus(None, ())
            ).candidates
        )[-40:]
        corpus = Corpus(index=None, background=background)
        reads = storage.digest_reads([u.name for u in users], [p for u in users for p in u.saved])
        memo = PaperMemo()  # shared by the users, as in a run
        batch = [
            rank_job(
                storage,
                u,
                candidates_for(storage, u, listed, reads=reads[u.name]),
                corpus,
                explain=5,
                reads=reads[u.name],
                as_paper=memo,
            )
            for u in users
        ]
        alone = [
            rank_job(storage, u, candidates_for(storage, u, listed), corpus, explain=5)
            for u in users
        ]
    together = rank_many(batch, None)
    one_by_one = [rank_many([job], None)[0] for job in alone]
    assert together == one_by_one
    assert all(isinstance(r, list) and r for r in together)


def test_paper_memo_converts_each_stored_paper_once() -> None:
    from paperboy.jobs.storage import StoredPaper

    stored = StoredPaper(
        id="2401.00001",
        title="T",
        abstract="A",
        authors=("X",),
        categories=("cs.LG",),
        version=1,
        link=None,
        comment=None,
        announced=None,
        listed_at=None,
    )
    memo = PaperMemo()
    first = memo(stored)
    assert memo(stored) is first
    changed = replace(stored, title="Another title")  # another row: converted on its own
    assert memo(changed).title == "Another title"
    assert memo(stored) is first


def test_claiming_a_batch_takes_over_only_stale_claims(database_url: str) -> None:
    clock = [NOW]
    with Storage.open(database_url, now=lambda: clock[0]) as storage:
        slots = [(f"u{i}", "2026-07-01") for i in range(4)]
        first = storage.claim_digests(slots[:3], "runner-a", LEASE)
        assert all(first[u] is not None for u, _ in slots[:3])
        clock[0] = NOW + LEASE / 2
        second = storage.claim_digests(slots, "runner-b", LEASE)
        assert [u for u, c in second.items() if c is not None] == ["u3"]  # the others live
        claim = first["u0"]
        assert claim is not None
        storage.finish_claim(claim, "recorded")  # done: never taken over
        clock[0] = NOW + LEASE + timedelta(seconds=1)  # runner-a's leases ran out
        got = storage.claim_digests(slots, "runner-c", LEASE, gone=lambda owner: False)
        assert got["u0"] is None
        assert got["u1"] is not None and got["u1"].taken_over
        assert got["u2"] is not None and got["u2"].taken_over
        assert got["u3"] is None  # runner-b's, still live
        dead = storage.claim_digests(
            [("u3", "2026-07-01")], "runner-d", LEASE, gone=lambda owner: owner == "runner-b"
        )
        assert dead["u3"] is not None and dead["u3"].taken_over


def _claimer(url: str, slots: list[tuple[str, str]], barrier: Barrier, conn: Connection) -> None:
    owner = f"runner-{multiprocessing.current_process().name}"
    with Storage.open(url) as storage:
        barrier.wait(timeout=60)
        got = storage.claim_digests(slots, owner, LEASE)
    conn.send({user: claim.owner for user, claim in got.items() if claim is not None})


@pytest.mark.slow
def test_racing_processes_claim_each_slot_of_overlapping_batches_once(database_url: str) -> None:
    with Storage.open(database_url):
        pass  # the schema, before the racers open it
    slots = [(f"u{i:03d}", "2026-07-01") for i in range(120)]
    context = multiprocessing.get_context("spawn")
    runners = 3
    for round_ in range(3):
        day = f"2026-07-0{round_ + 2}"
        batches = []
        for r in range(runners):  # overlapping batches, each in its own order
            batch = [(u, day) for u, _ in slots[r * 20 : r * 20 + 80]]
            random.Random(round_ * 10 + r).shuffle(batch)
            batches.append(batch)
        barrier = context.Barrier(runners)
        pipes = [context.Pipe() for _ in range(runners)]
        procs = [
            context.Process(target=_claimer, args=(database_url, batch, barrier, child))
            for batch, (_parent, child) in zip(batches, pipes, strict=True)
        ]
        for p in procs:
            p.start()
        won = [parent.recv() for parent, _child in pipes]
        for p in procs:
            p.join(timeout=60)
        wanted = {u for batch in batches for u, _ in batch}
        claimed = [u for got in won for u in got]
        assert sorted(claimed) == sorted(wanted), "every slot claimed by exactly one runner"
        with Storage.open(database_url) as storage:
            owners = {c["user_name"]: c["owner"] for c in storage.claims() if c["slot"] == day}
        assert owners == {u: owner for got in won for u, owner in got.items()}


def test_the_backgrounds_vectors_are_kept_with_their_corpus_only() -> None:
    from paperboy.jobs.ranking.candidates import keep_background, vectors_memo
    from paperboy.recommender import Paper

    def corpus(*ids: str) -> Corpus:
        return Corpus(index=None, background=tuple(Paper(i, "T", "A") for i in ids))

    today, tomorrow = corpus("a", "b"), corpus("a", "c")
    assert vectors_memo(today) == {}
    run = {"a": 1, "b": 2, "candidate": 3}  # what a run read: a candidate is not kept
    keep_background(today, run)
    assert vectors_memo(today) == {"a": 1, "b": 2}
    assert vectors_memo(today) is not vectors_memo(today)  # each run its own copy
    assert vectors_memo(tomorrow) == {}  # another generation: another background
    keep_background(tomorrow, {"a": 9, "c": 4})
    assert vectors_memo(tomorrow) == {"a": 9, "c": 4}
    assert vectors_memo(today) == {}  # one corpus at a time


def test_every_user_of_a_run_gets_the_same_background_and_their_papers_sit_out(
    tmp_path: Path,
) -> None:
    """The background is one request for every user (its features and prepared rows are
    made once a run); a user's own saved papers in it are left out by the ranker, which
    ranks exactly as with a background without them."""
    from paperboy import recommender

    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", 25)
    ada = config.users[0]
    bob = replace(ada, name="bob", saved=ada.saved[::2])
    with Storage.open(config.database, now=lambda: NOW) as storage:
        load_sample(storage, days=2)
        listed = ListedPapers(storage)
        cands = candidates_for(storage, ada, listed)
        pool = rank_job(storage, ada, cands[:40], Corpus(None, ())).candidates
        own = rank_job(storage, ada, [], Corpus(None, ())).profile.saved
        assert own, "ada's saved papers are stored"
        corpus = Corpus(index=None, background=(*own[:2], *pool[:30]))
        jobs = [rank_job(storage, u, cands[40:], corpus) for u in (ada, bob)]
    assert [p.id for p in jobs[0].background] == [p.id for p in jobs[1].background]
    assert {p.id for p in own[:2]} <= {p.id for p in jobs[0].background}
    index = recommender.Index.build([*own, *pool, *jobs[0].candidates])
    with_own = recommender.rank(
        jobs[0].profile, jobs[0].candidates, jobs[0].background, index=index
    )
    without = recommender.rank(jobs[0].profile, jobs[0].candidates, pool[:30], index=index)
    assert [r.paper.id for r in with_own] == [r.paper.id for r in without]
