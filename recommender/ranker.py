"""The one seam the rest of Paperboy calls: :func:`rank`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recommender.features import Featurizer
from recommender.hints import TermMatcher, followed_authors, muted_hits
from recommender.model import LinearScores, centroid_scores, logistic_scores, query_scores
from recommender.reasons import Evidence, closest_saved, format_reason, shorten, top_terms
from recommender.text import normalise, paper_text
from recommender.types import Paper, Profile, Ranked

__all__ = ["rank"]

NO_PROFILE = "no saved papers or keywords yet"
NO_EVIDENCE = "little in common with your saved papers"
NO_KEYWORD = "no keyword match"


def _unique(papers: Sequence[Paper], skip: set[str]) -> list[Paper]:
    """Papers with distinct ids, in order, leaving out ids in ``skip``."""
    seen = set(skip)
    out: list[Paper] = []
    for p in papers:
        if p.id not in seen:
            seen.add(p.id)
            out.append(p)
    return out


def rank(
    profile: Profile,
    candidates: Sequence[Paper],
    background: Sequence[Paper],
    *,
    C: float = 10.0,
    keyword_boost: float = 0.5,
    muted_factor: float = 0.1,
    followed_score: float = 0.99,
) -> list[Ranked]:
    """Rank ``candidates`` for one user, best first, each with a score in [0, 1] and a reason.

    Every candidate comes back exactly once (duplicates included), except those whose id
    is one of the user's saved papers: a digest never recommends a paper the user has.

    Pipeline::

        text      = paper_text(p) for saved, background and candidates
        X         = TF-IDF (word 1-2 grams) fitted on all of that text
        base      = saved papers?    sigmoid(logistic regression saved-vs-negatives)
                                     negatives = background minus saved,
                                     else the candidates (arxiv-sanity style),
                                     else cosine to the saved papers' centroid
                    keywords only?   cosine to the keyword query
                    neither?         0 for everyone ("no saved papers or keywords yet")
        keyword   score += keyword_boost * (1 - score), per keyword found (whole words)
        author    score = max(score, followed_score) if by a followed author
        muted     score *= muted_factor if a muted term or category applies (applied last:
                  an explicit "not this" outranks every other hint)
        order     by score, then the model's raw decision value, then id

    ``background`` is a sample of other recent papers; it only serves as negatives and to
    fit the vocabulary, and is never returned.
    """
    for name, value in (
        ("keyword_boost", keyword_boost),
        ("muted_factor", muted_factor),
        ("followed_score", followed_score),
    ):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    if not C > 0:  # also rejects NaN
        raise ValueError(f"C must be positive, got {C!r}")

    saved = _unique(profile.saved, set())
    saved_ids = {p.id for p in saved}
    cands = [c for c in candidates if c.id not in saved_ids]
    if not cands:
        return []
    negatives = _unique(background, saved_ids) or _unique(cands, set())

    # One TF-IDF space for everything, fitted once over distinct papers. One id is one
    # paper (design.md: canonical ids), so the first text seen for an id is used.
    corpus = _unique([*saved, *negatives, *cands], set())
    text_of = {p.id: paper_text(p) for p in corpus}
    row_of = {p.id: i for i, p in enumerate(corpus)}
    featurizer = Featurizer().fit([text_of[p.id] for p in corpus])
    X = featurizer.transform([text_of[p.id] for p in corpus])
    X_saved = X[[row_of[p.id] for p in saved]]
    X_neg = X[[row_of[p.id] for p in negatives]]
    X_cand = X[[row_of[c.id] for c in cands]]
    cand_texts = [text_of[c.id] for c in cands]

    keywords = TermMatcher(profile.keywords)
    n = len(cands)
    closest = np.full(n, -1, dtype=np.int64)
    fallback = NO_EVIDENCE
    scores: LinearScores | None
    if saved and X.shape[1] > 0 and X_neg.shape[0] > 0:
        scores = logistic_scores(X_saved, X_neg, X_cand, C=C)
        closest, _ = closest_saved(X_cand, X_saved)
    elif saved:
        scores = centroid_scores(X_saved, X_cand)
        closest, _ = closest_saved(X_cand, X_saved)
    elif keywords:
        query = [normalise(k) for k in profile.keywords if normalise(k)]
        scores = query_scores(featurizer.transform(query), X_cand)
        fallback = NO_KEYWORD
    else:
        scores = None
        fallback = NO_PROFILE

    if scores is None:
        raw = np.zeros(n, dtype=np.float64)
        score = np.zeros(n, dtype=np.float64)
        terms: list[tuple[str, ...]] = [() for _ in range(n)]
    else:
        raw, score = scores.raw, scores.score.copy()
        terms = top_terms(X_cand, scores.weights, featurizer.vocabulary)

    muted = TermMatcher(profile.muted)
    saved_titles = [shorten(p.title) for p in saved]
    results: list[tuple[float, float, str, Ranked]] = []
    for i, paper in enumerate(cands):
        s = float(score[i])
        found = keywords.find(cand_texts[i])
        for _ in found:
            s += keyword_boost * (1.0 - s)
        followed = followed_authors(paper, profile.authors)
        if followed:
            s = max(s, followed_score)
        mutes = muted_hits(paper, cand_texts[i], profile.muted, muted)
        if mutes:
            s *= muted_factor
        s = min(max(s, 0.0), 1.0)
        c = int(closest[i])
        evidence = Evidence(
            closest_title=saved_titles[c] if c >= 0 else None,
            terms=terms[i],
            followed=followed,
            keywords=found,
            muted=mutes,
            fallback=fallback,
        )
        ranked = Ranked(
            paper=paper,
            score=s,
            why=format_reason(evidence),
            closest=(saved[c].id,) if c >= 0 else (),
            terms=terms[i],
        )
        results.append((s, float(raw[i]), paper.id, ranked))
    results.sort(key=lambda r: (-r[0], -r[1], r[2]))
    return [r[3] for r in results]
