"""One-off rankings of files (jobs.ranking.one_off) and the normalised texts they keep
(jobs.ranking.text_cache)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperboy import recommender
from paperboy.jobs.cli import cli
from paperboy.jobs.ranking.embedding_cache import cached_embeddings
from paperboy.jobs.ranking.one_off import rank_one_off
from paperboy.jobs.ranking.text_cache import VERIFY, cached_texts, normaliser_version
from paperboy.recommender import Paper, Profile
from paperboy.recommender.text import paper_text
from tests.recommender.corpus import ALL, BANDIT, NLP

# LaTeX as arXiv abstracts carry it: the texts the cache is for.
MARKUP = (
    " We bound the regret by $O(\\sqrt{T \\log T})$ with \\emph{high} probability.",
    " The $\\alpha$-divergence gives a \\textbf{tighter} bound at $\\epsilon = 0.1$.",
    " A 5% gain over \\citet{prior} on Q&A, with $k \\in \\{1, 2\\}$ heads.",
)


def _with_latex(papers: Sequence[Paper]) -> list[Paper]:
    """Every other paper with a sentence of LaTeX added to its abstract."""
    return [
        replace(p, abstract=p.abstract + MARKUP[i % len(MARKUP)]) if i % 2 == 0 else p
        for i, p in enumerate(papers)
    ]


PAPERS = _with_latex(ALL)
LATEX = [p for i, p in enumerate(PAPERS) if i % 2 == 0]


def _kept(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT hash, text FROM texts"))


def test_texts_with_latex_are_normalised_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    first = cached_texts(PAPERS, path=path)
    assert set(first) == {p.id for p in LATEX}  # plain texts cost nothing: not kept
    assert first == {p.id: paper_text(p) for p in LATEX}
    assert "α-divergence" in " ".join(first.values())  # rendered, not raw LaTeX
    kept = _kept(path)
    assert sorted(kept.values()) == sorted(first.values())
    # The next call reads them: a kept text is what it returns (made recognisable here
    # in the row of the last paper in id order, which the spot check does not read).
    last = max(LATEX, key=lambda p: p.id)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE texts SET text = 'kept text' WHERE text = ?", (first[last.id],))
    again = cached_texts(PAPERS, path=path)
    assert again[last.id] == "kept text"
    assert {k: v for k, v in again.items() if k != last.id} == {
        k: v for k, v in first.items() if k != last.id
    }


def test_a_kept_text_that_normalises_differently_now_is_not_trusted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A change to the normalisation without a new TEXT_VERSION: the spot check of the
    # first kept texts finds it, and every text is normalised afresh.
    path = tmp_path / "cache.sqlite"
    expected = cached_texts(PAPERS, path=path)
    first = min(LATEX, key=lambda p: p.id)
    assert VERIFY >= 1
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE texts SET text = 'stale'")
    with caplog.at_level(logging.WARNING):
        assert cached_texts(PAPERS, path=path) == expected
    assert "differs from its normalisation now" in caplog.text
    assert expected[first.id] != "stale"


def test_texts_of_another_normaliser_version_are_not_read(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    expected = cached_texts(PAPERS, path=path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE texts SET version = 'older', text = 'stale'")
    assert cached_texts(PAPERS, path=path) == expected
    versions = {v for (v,) in sqlite3.connect(path).execute("SELECT version FROM texts")}
    assert versions == {"older", normaliser_version()}


def test_an_unusable_text_cache_is_a_warning_not_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.WARNING):
        texts = cached_texts(PAPERS, path=blocker / "cache.sqlite")
    assert texts == {p.id: paper_text(p) for p in LATEX}
    assert "unusable" in caplog.text and "not written" in caplog.text


def test_a_one_off_ranking_is_the_ranking_without_an_index(tmp_path: Path) -> None:
    # The caches spare work, never change a result: the same order, scores and reasons
    # as recommender.rank building its own index, on the first call and the next.
    path = tmp_path / "cache.sqlite"
    profile = Profile(saved=tuple(p for p in PAPERS if p.id.startswith("bandit"))[:3])
    candidates = [p for p in PAPERS if p not in profile.saved][::2]
    background = [p for p in PAPERS if p not in profile.saved][1::2]
    vectors = cached_embeddings([*profile.saved, *candidates, *background], path=path)
    expected = recommender.rank(profile, candidates, background, embeddings=vectors)
    for _ in range(2):
        got = rank_one_off(profile, candidates, background, cache=path)
        assert got == expected
    assert _kept(path)  # the texts were kept
    assert rank_one_off(profile, [], background, cache=path) == []


def test_a_one_off_ranking_takes_the_first_text_of_an_id_as_rank_does(tmp_path: Path) -> None:
    # The same id in two files with different texts: the index reads the first one, as
    # recommender.rank does when it builds its own.
    path = tmp_path / "cache.sqlite"
    profile = Profile(saved=tuple(BANDIT[:3]))
    twin = replace(NLP[0], abstract=NLP[0].abstract + MARKUP[0])
    background = [twin, *NLP[1:], *ALL[-6:]]
    candidates = [NLP[0], *BANDIT[3:], *NLP[4:8]]
    vectors = cached_embeddings([*profile.saved, *candidates, *background], path=path)
    expected = recommender.rank(profile, candidates, background, embeddings=vectors)
    assert rank_one_off(profile, candidates, background, cache=path) == expected


def _jsonl(path: Path, papers: Sequence[Paper]) -> Path:
    path.write_text(
        "".join(
            json.dumps({"id": p.id, "title": p.title, "abstract": p.abstract}) + "\n"
            for p in papers
        )
    )
    return path


def test_paperboy_rank_of_files_keeps_texts_and_ranks_the_same_again(tmp_path: Path) -> None:
    saved = _jsonl(tmp_path / "saved.jsonl", [p for p in PAPERS if p.id.startswith("nlp")][:3])
    cands = _jsonl(tmp_path / "cands.jsonl", [p for p in PAPERS if not p.id.startswith("nlp")])
    args = ["rank", "--saved", str(saved), "--candidates", str(cands), "--format", "jsonl"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    cache = Path(os.environ["PAPERBOY_CACHE"])
    assert _kept(cache)
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and again.stdout == first.stdout
