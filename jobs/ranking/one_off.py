"""One-off rankings of papers that are not (all) stored: `paperboy rank --saved F --candidates C`.

A digest ranks against the stored index, fitted once per fetch. A one-off ranking has no
index: it fits its features on the papers it is given, every call. Pipeline::

    papers  = saved + background + candidates      (first text per id wins, as rank() does)
    vectors = cached_embeddings(papers)   the one-off cache: encodes only texts never seen
    texts   = cached_texts(papers)        the same file: renders only LaTeX never seen
    index   = Index.build(papers, texts)  vocabulary and idf of these papers, one pass
    ranked  = recommender.rank(profile, candidates, background, index, vectors)

The result is what ``recommender.rank`` without an index gives (it would build the very
same index over the same papers); the caches only spare the repeated work: on a replay
week (5,000 background papers, a week's listing) most of the time went to rendering the
same LaTeX again on every call (benchmarks/RESULTS.md, "the one-off path").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from paperboy import recommender
from paperboy.jobs.ranking.embedding_cache import cached_embeddings
from paperboy.jobs.ranking.text_cache import cached_texts

__all__ = ["rank_one_off"]


def rank_one_off(
    profile: recommender.Profile,
    candidates: Sequence[recommender.Paper],
    background: Sequence[recommender.Paper],
    *,
    cache: Path | None = None,
) -> list[recommender.Ranked]:
    """Rank ``candidates`` for ``profile`` against ``background`` (the candidates when
    empty), with vectors and normalised texts from the one-off cache file ``cache``
    (default: jobs.ranking.embedding_cache.cache_path())."""
    if not candidates:
        return []
    # The papers in the order rank() builds its own index over them (saved papers,
    # negatives, disliked papers, candidates): only the first text of an id counts.
    papers = [*profile.saved, *(background or candidates), *profile.disliked, *candidates]
    # (The vectors' lookup keeps the last text of an id: the order it always had.)
    vectors = cached_embeddings([*profile.saved, *candidates, *background], path=cache)
    index = recommender.Index.build(papers, texts=cached_texts(papers, path=cache))
    return recommender.rank(profile, candidates, background, index=index, embeddings=vectors)
