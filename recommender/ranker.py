"""The one seam the rest of Paperboy calls: :func:`rank`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

from recommender.hints import TermMatcher, followed_authors, muted_hits
from recommender.index import Index
from recommender.model import (
    LinearScores,
    centroid_scores,
    combine,
    dense_logistic_scores,
    discriminant_scores,
    logistic_scores,
    query_scores,
    squash,
)
from recommender.reasons import Evidence, closest_saved, format_reason, shorten, top_terms
from recommender.text import normalise, paper_text
from recommender.types import Paper, Profile, Ranked

__all__ = ["MODELS", "mmr_order", "rank"]

# "lr+lsa-lr" (default): LR over every term + LR in LSA space, averaged as z-scores.
# "lrpos+fisher" (the previous default): LR over the saved papers' terms only + Fisher's
# discriminant in LSA space; faster, worse on both benchmarks (benchmarks/RESULTS.md).
MODELS = ("lr+lsa-lr", "lrpos+fisher")

NO_PROFILE = "no saved papers or keywords yet"
NO_EVIDENCE = "little in common with your saved papers"
NO_KEYWORD = "no keyword match"
NOT_EXPLAINED = "ranked below the papers explained"


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
    index: Index | None = None,
    C: float = 10.0,
    keyword_boost: float = 0.5,
    muted_factor: float = 0.1,
    followed_score: float = 0.99,
    recency_half_life_days: float | None = None,
    diversity: float = 0.0,
    diversity_top: int = 10,
    model: str = "lr+lsa-lr",
    explain: int | None = None,
) -> list[Ranked]:
    """Rank ``candidates`` for one user, best first, each with a score in [0, 1] and a reason.

    Every candidate comes back exactly once (duplicates included), except those whose id
    is one of the user's saved papers: a digest never recommends a paper the user has.

    Pipeline::

        X, D      = TF-IDF rows and LSA rows of every paper, from ``index`` when given
                    (built once per corpus, see recommender.index), else from an index
                    built here over saved + background + candidates
        negatives = background minus saved, else the candidates (arxiv-sanity style)
        base      = saved papers?    logit = logistic regression saved-vs-negatives on
                                     TF-IDF (+ disliked papers as explicit negatives);
                                     with LSA, averaged (as z-scores) with a second
                                     logistic regression on the LSA rows;
                                     score = sigmoid(logit)
                                     (``model="lrpos+fisher"``: the TF-IDF model on the
                                     saved papers' terms only, and Fisher's discriminant
                                     in LSA space instead of the second regression)
                    keywords only?   cosine to the keyword query
                    neither?         0 for everyone ("no saved papers or keywords yet")
        keyword   score += keyword_boost * (1 - score), per keyword found (whole words)
        author    score = max(score, followed_score) if by a followed author
        muted     score *= muted_factor if a muted term or category applies (applied last:
                  an explicit "not this" outranks every other hint)
        order     by score, then the model's raw decision value, then id
        diversity optional (``diversity`` > 0): the first ``diversity_top`` are re-ordered
                  by maximal marginal relevance, so near-duplicates do not fill a digest;
                  off by default (then the order is by score, as above)

    ``explain`` limits the reasons read off the model (its top terms and the closest saved
    paper) to the first ``explain`` papers (None: all); the others' reasons give the
    hints only (keyword, author, muted), else say they were not explained. A digest shows
    a dozen papers: explaining a thousand costs a tenth of a ranking with a stored index.

    ``background`` is a sample of other recent papers; it only serves as negatives and to
    fit the vocabulary, and is never returned. ``recency_half_life_days`` (off by default:
    it did not help on the benchmarks) weighs each saved paper by its age relative to the
    newest candidate.
    """
    for name, value in (
        ("keyword_boost", keyword_boost),
        ("muted_factor", muted_factor),
        ("followed_score", followed_score),
        ("diversity", diversity),
    ):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    if explain is not None and explain < 0:
        raise ValueError(f"explain must be None or >= 0, got {explain!r}")
    if not C > 0:  # also rejects NaN
        raise ValueError(f"C must be positive, got {C!r}")
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    if recency_half_life_days is not None and not recency_half_life_days > 0:
        raise ValueError(f"recency_half_life_days must be positive, got {recency_half_life_days!r}")

    saved = _unique(profile.saved, set())
    saved_ids = {p.id for p in saved}
    cands = [c for c in candidates if c.id not in saved_ids]
    if not cands:
        return []
    negatives = _unique(background, saved_ids) or _unique(cands, set())
    disliked = _unique(profile.disliked, saved_ids)

    if index is None:
        # One feature space for everything, fitted once over distinct papers. One id is
        # one paper (design.md: canonical ids), so the first text seen for an id is used.
        index = Index.build(_unique([*saved, *negatives, *disliked, *cands], set()))
    X_saved, D_saved = index.features(saved)
    X_neg, D_neg = index.features(negatives)
    X_cand, D_cand = index.features(cands)
    # The rendered text only serves keyword and muted-term matching; rendering LaTeX is
    # most of a ranking's cost when the candidates are not yet in normalise()'s cache.
    matching = bool(profile.keywords or profile.muted)
    cand_texts = [paper_text(c) if matching else "" for c in cands]
    featurizer = index.featurizer

    keywords = TermMatcher(profile.keywords)
    n = len(cands)
    fallback = NO_EVIDENCE
    scores: LinearScores | None
    raw_model: np.ndarray | None = None
    if saved and X_saved.nnz > 0 and X_neg.shape[0] > 0:
        weights = _recency_weights(saved, cands, recency_half_life_days)
        # One BLAS thread: the fits are chains of small vector operations, where OpenBLAS's
        # threads only add synchronisation (5-10x slower on a busy 2-core machine;
        # benchmarks/RESULTS.md). A daily run parallelises over users, not inside one.
        with _blas().limit(limits=1, user_api="blas"):
            X_bad, D_bad = index.features(disliked) if disliked else (None, None)
            lrpos = model == "lrpos+fisher"
            scores = logistic_scores(
                X_saved,
                X_neg,
                X_cand,
                C=C,
                positive_weights=weights,
                disliked=X_bad,
                saved_terms_only=lrpos,
            )
            if D_cand.shape[1] > 0 and n > 1:
                if lrpos:
                    dense = discriminant_scores(
                        D_saved, D_neg, D_cand, index.precision, positive_weights=weights
                    )
                else:
                    dense = dense_logistic_scores(
                        D_saved, D_neg, D_cand, positive_weights=weights, disliked=D_bad
                    )
                raw_model = combine(scores.raw, [dense])
                scores = LinearScores(
                    raw=raw_model, score=squash(raw_model), weights=scores.weights
                )
    elif saved and X_saved.shape[1] > 0:
        scores = centroid_scores(X_saved, X_cand)
    elif keywords and X_cand.shape[1] > 0:
        query = [normalise(k) for k in profile.keywords if normalise(k)]
        scores = query_scores(featurizer.transform(query), X_cand)
        fallback = NO_KEYWORD
    else:
        scores = None
        fallback = NO_KEYWORD if keywords else (NO_EVIDENCE if saved else NO_PROFILE)

    if scores is None:
        raw = np.zeros(n, dtype=np.float64)
        score = np.zeros(n, dtype=np.float64)
    else:
        raw, score = scores.raw, scores.score.copy()

    muted = TermMatcher(profile.muted)
    saved_titles = [shorten(p.title) for p in saved]
    hints: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = []
    final = np.empty(n, dtype=np.float64)
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
        final[i] = min(max(s, 0.0), 1.0)
        hints.append((found, followed, mutes))
    order = sorted(range(n), key=lambda i: (-final[i], -float(raw[i]), cands[i].id))
    if diversity > 0 and n > 1:
        order = mmr_order(order, [float(final[i]) for i in order], X_cand, diversity, diversity_top)
    # The terms behind a score are read off the model for the papers a person will see.
    explained = order if explain is None else order[:explain]
    terms: dict[int, tuple[str, ...]] = {}
    closest = np.full(n, -1, dtype=np.int64)
    if scores is not None and explained:
        rows = np.asarray(explained, dtype=np.int64)
        X_shown = X_cand[rows]
        for i, t in zip(
            explained, top_terms(X_shown, scores.weights, featurizer.vocabulary), strict=True
        ):
            terms[i] = t
        if saved:
            closest[rows] = closest_saved(X_shown, X_saved)[0]
    shown = set(explained)
    ranked: list[Ranked] = []
    for i in order:
        found, followed, mutes = hints[i]
        c = int(closest[i])
        evidence = Evidence(
            closest_title=saved_titles[c] if c >= 0 else None,
            terms=terms.get(i, ()),
            followed=followed,
            keywords=found,
            muted=mutes,
            fallback=fallback if i in shown or scores is None else NOT_EXPLAINED,
        )
        ranked.append(
            Ranked(
                paper=cands[i],
                score=float(final[i]),
                why=format_reason(evidence),
                closest=(saved[c].id,) if c >= 0 else (),
                terms=terms.get(i, ()),
            )
        )
    return ranked


_controller: list[ThreadpoolController] = []


def _blas() -> ThreadpoolController:
    """One controller for the process: finding the BLAS libraries costs ~2.5 ms a call."""
    if not _controller:
        _controller.append(ThreadpoolController())
    return _controller[0]


def _recency_weights(
    saved: Sequence[Paper], cands: Sequence[Paper], half_life_days: float | None
) -> np.ndarray | None:
    """Per saved paper ``0.5 ** (age / half_life)``, rescaled to mean 1 (None when off).

    Age is counted from the newest candidate's announcement; undated papers count as new.
    """
    if half_life_days is None:
        return None
    dates = [c.announced for c in cands if c.announced is not None]
    if not dates:
        return None
    now = max(dates)
    ages = np.array(
        [max((now - p.announced).days, 0) if p.announced else 0 for p in saved], dtype=np.float64
    )
    w = np.power(0.5, ages / half_life_days)
    return np.asarray(w * (len(w) / w.sum()), dtype=np.float64)


MMR_POOL = 3  # MMR picks the top N out of the best 3N: room to replace near-duplicates


def mmr_order(
    order: list[int],
    scores: Sequence[float],
    X: sp.csr_matrix,
    diversity: float,
    top: int,
) -> list[int]:
    """Maximal marginal relevance: the first ``top`` picked from the best ``MMR_POOL * top``.

    Picks, one at a time, the paper maximising ``(1 - diversity) * score - diversity *
    max cosine to the papers already picked``; the papers of the pool left out follow, then
    the rest, each in their order. ``scores`` are aligned with ``order`` (positions into
    X). Why: a digest of ten near-identical papers is worth less than ten different good
    ones, so a near-duplicate gives its place to the next best different paper.
    """
    k = max(top, 0)
    head = order[: k * MMR_POOL]
    score_of = dict(zip(order, scores, strict=True))
    sims = np.asarray((X[head] @ X[head].T).toarray(), dtype=np.float64) if head else None
    picked: list[int] = []
    left = list(range(len(head)))
    while left and sims is not None and len(picked) < k:
        best = max(
            left,
            key=lambda j: (
                (1 - diversity) * score_of[head[j]]
                - diversity * max((sims[j, i] for i in picked), default=0.0)
            ),
        )
        picked.append(best)
        left.remove(best)
    return [head[j] for j in picked] + [head[j] for j in left] + order[len(head) :]
