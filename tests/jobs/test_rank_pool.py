"""Ranking many users over worker processes gives exactly what ranking them one by one
gives, and one user's failure stays that user's."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from paperboy import recommender
from paperboy.jobs.config.load import parse_config
from paperboy.jobs.core.errors import ConfigError
from paperboy.jobs.mailing.run import run_digests
from paperboy.jobs.ranking.corpus import load_corpus, refresh_index
from paperboy.jobs.ranking.pool import RankingError, RankJob, default_workers, rank_many
from paperboy.jobs.runners.scheduler import digest_job
from paperboy.jobs.storage import Storage
from tests.jobs.test_pipeline import NOW, SAVED, config_for, load_sample
from tests.recommender.corpus import ALL, ASTRO, BANDIT, NLP, PROT


def jobs() -> list[RankJob]:
    out = []
    for topic in (NLP, BANDIT, PROT, ASTRO, NLP[2:], BANDIT[1:]):
        saved = tuple(topic[:3])
        out.append(
            RankJob(
                profile=recommender.Profile(saved=saved),
                candidates=tuple(p for p in ALL if p not in saved),
                background=(),
                explain=4,
            )
        )
    return out


def as_rows(ranked: list[recommender.Ranked]) -> list[tuple[object, ...]]:
    return [(r.paper.id, r.score, r.why, r.closest, r.terms) for r in ranked]


def test_workers_give_the_same_rankings_as_one_process() -> None:
    index = recommender.Index.build(ALL)
    alone = rank_many(jobs(), index, workers=1)
    pooled = rank_many(jobs(), index, workers=2)
    assert all(isinstance(r, list) for r in alone)
    assert [as_rows(r) for r in pooled] == [as_rows(r) for r in alone]  # type: ignore[arg-type]
    # The rebuilt results carry the caller's own Paper objects.
    first = pooled[0]
    assert isinstance(first, list) and first[0].paper in jobs()[0].candidates


@pytest.mark.parametrize("workers", [1, 2])
def test_one_failing_ranking_fails_alone(workers: int) -> None:
    batch = jobs()
    batch[2] = replace(batch[2], explain=-1)  # rank() refuses it
    results = rank_many(batch, None, workers=workers)
    assert isinstance(results[2], ValueError | RankingError)
    assert "explain" in str(results[2])
    assert all(isinstance(r, list) and r for i, r in enumerate(results) if i != 2)


def test_default_workers_is_the_usable_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert default_workers() == 3  # the cores this process may run on, not all of them
    monkeypatch.delattr("os.sched_getaffinity", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert default_workers() == 1


def test_a_digest_run_ranks_its_users_in_workers(tmp_path: Path) -> None:
    others = "".join(
        f'\n[[users]]\nname = "u{i}"\nemail = "u{i}@example.org"\nsaved = ["{r.id}"]\n'
        for i, r in enumerate(SAVED[:5])
    )
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'paperboy.db'}", 25, others)
    config = replace(config, email=replace(config.email, transport="outbox"))
    with Storage.open(config.database) as storage:
        load_sample(storage)
        refresh_index(config, storage)
        alone = run_digests(config, storage, now=NOW, force=True, dry_run=True, workers=1)
        pooled = run_digests(config, storage, now=NOW, force=True, dry_run=True, workers=2)
        assert [r.user for r in pooled] == ["ada", "u0", "u1", "u2", "u3", "u4"]
        assert [[p.paper.id for p in r.picked] for r in pooled] == [
            [p.paper.id for p in r.picked] for r in alone
        ]
        assert [[p.why for p in r.picked] for r in pooled] == [
            [p.why for p in r.picked] for r in alone
        ]
        # The daemon's job for one schedule sends the digests of that schedule's users.
        digest_job(config, storage, [user.name for user in config.users])
        sent = {d.user_name for d in storage.deliveries(status="sent")}
    assert sent == {"ada", "u0", "u1", "u2", "u3", "u4"}


@pytest.mark.parametrize("value", ["-1", '"two"', "true"])
def test_workers_setting_is_checked(tmp_path: Path, value: str) -> None:
    text = f'[paperboy]\ndatabase = "sqlite:///x.db"\nworkers = {value}\n'
    with pytest.raises(ConfigError, match="workers"):
        parse_config(text, tmp_path / "config.toml")
    assert parse_config("[paperboy]\nworkers = 2\n", tmp_path / "c.toml").workers == 2


def test_a_users_diversity_setting_reaches_the_digest(tmp_path: Path) -> None:
    """diversity = 0.8 swaps near-duplicates out of the digest for other good papers."""
    db = f"sqlite:///{tmp_path / 'paperboy.db'}"
    plain = config_for(tmp_path, db, 25)
    plain = replace(plain, email=replace(plain.email, transport="outbox"))
    diverse = replace(plain, users=(replace(plain.users[0], diversity=0.8),))
    with Storage.open(plain.database) as storage:
        load_sample(storage)
        refresh_index(plain, storage)
        [a] = run_digests(plain, storage, now=NOW, force=True, dry_run=True, workers=1)
        [b] = run_digests(diverse, storage, now=NOW, force=True, dry_run=True, workers=2)
        index = load_corpus(plain, storage).index
    assert index is not None
    assert a.picked[0].paper.id == b.picked[0].paper.id
    assert [p.paper.id for p in a.picked] != [p.paper.id for p in b.picked]

    def redundancy(picked: tuple[recommender.Ranked, ...]) -> float:
        X = index.features([r.paper for r in picked])
        sims = (X @ X.T).toarray()
        n = len(picked)
        return float(sims.sum() - sims.trace()) / (n * (n - 1))

    assert redundancy(b.picked) < redundancy(a.picked)


@pytest.mark.parametrize("value", ["1.5", "-0.1", '"some"'])
def test_diversity_setting_is_checked(tmp_path: Path, value: str) -> None:
    text = f'[[users]]\nname = "ada"\nemail = "ada@example.org"\ndiversity = {value}\n'
    with pytest.raises(ConfigError, match="diversity"):
        parse_config(text, tmp_path / "config.toml")


def test_workers_die_with_a_killed_digest_run(tmp_path: Path) -> None:
    """kill -9 of the process that ranks leaves no worker behind, even one that is stuck
    (a parent killed inside Pool.terminate() leaves the task queue's lock taken, and its
    workers wait on it forever, holding memory and the daemon's stderr)."""
    script = textwrap.dedent(
        """
        import multiprocessing, threading, time
        from paperboy.jobs.ranking.pool import _worker_init

        def stuck_worker(parent):
            _worker_init(parent)
            threading.Event().wait()  # like a worker waiting on a lock nobody will free

        child = multiprocessing.get_context("fork").Process(
            target=stuck_worker, args=(multiprocessing.current_process().pid,)
        )
        child.start()
        print(child.pid, flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip().isdigit(), proc.stderr.read() if proc.stderr else ""
    workers = [int(line)]
    proc.kill()
    proc.wait(timeout=30)

    def alive(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return state != "Z"

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in workers):
        time.sleep(0.1)
    assert not any(alive(p) for p in workers)
    proc.communicate(timeout=10)  # and no worker holds the pipes open
