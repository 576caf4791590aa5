"""The one seam the rest of Paperboy calls: :func:`rank`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

from paperboy.recommender.embeddings import MIN_MEANING_NEGATIVES, Embeddings
from paperboy.recommender.hints import TermMatcher, followed_authors, muted_hits
from paperboy.recommender.index import Index
from paperboy.recommender.meaning import Feedback, MeaningOptions, Pull, meaning_view
from paperboy.recommender.model import (
    MIN_TRAINING_DF,
    LinearScores,
    centroid_scores,
    fuse,
    logistic_scores,
    query_scores,
    squash,
)
from paperboy.recommender.negatives import prepared
from paperboy.recommender.reasons import (
    Evidence,
    closest_saved,
    format_reason,
    interest_terms,
    shorten,
    top_terms,
)
from paperboy.recommender.recency import ranking_day, recency_weights
from paperboy.recommender.solver import TOL
from paperboy.recommender.text import normalise, paper_text
from paperboy.recommender.types import Paper, Profile, Ranked

__all__ = ["MIN_MEANING_NEGATIVES", "mmr_order", "rank"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# The per-user model's constants (issue #21, benchmarks/RESULTS.md: each chosen on one half
# of the dev lists and checked on the other).
MEANING_C = 1.0  # the meaning view's regularisation
MEANING_SHARE = 0.5  # the meaning view's share of the fused logit; the words view has the rest
HALF_LIFE_DAYS: float | None = None  # saved papers' recency half-life (None: all alike)
INTEREST_SHARE = 0.25  # the best-fitting interest's share of the meaning view's logit
MIN_SILHOUETTE = 0.03  # how clear a split of the saved papers must be to be interests
# The words view keeps a term outside the saved papers when it is in at least this share
# of the negatives (and in MIN_TRAINING_DF of them): 5 of a digest's 5,000. Rarer terms
# only explain a few negatives away; leaving them out keeps the replay where it was
# (+0.001, every list within 0.003) and cuts the fit by about 40% (benchmarks/RESULTS.md).
WORDS_MIN_DF_SHARE = 0.001
WORDS_TOL = TOL  # the words view's solver tolerance
WORDS_NEGATIVES: int | None = None  # negatives the words view fits on (None: all)
MEANING_NEGATIVES: int | None = None  # negatives the meaning view fits on (None: all)
# The user's own feedback (Profile.clicked, Profile.ignored): each such paper's weight
# relative to a saved paper's, 0 for "not used". Chosen on the replay as a feedback loop
# (benchmarks/feedback_sim.py, RESULTS.md): with a library that does not grow by itself,
# clicks lift held-out lists by +0.019 nDCG@10 (95% CI +0.005..+0.034; every second week,
# the folds chose 0.5 and 1), click 0.5 every week +0.035 (+0.023..+0.047; 1 is +0.001
# more, the same: the smaller is kept, real clicks being noisier than simulated ones).
# Shown-and-ignored papers lowered it at every weight tried (0.05, 0.2): off.
CLICK_WEIGHT = 0.5
IGNORED_WEIGHT = 0.0

NO_PROFILE = "no saved papers or keywords yet"
NO_EVIDENCE = "little in common with your saved papers"
NO_KEYWORD = "no keyword match"
NOT_EXPLAINED = "ranked below the papers explained"


def _unique(papers: Sequence[Paper], skip: set[str]) -> list[Paper]:
    """Papers with distinct ids, in order, leaving out ids in ``skip``."""
    ids = [p.id for p in papers]
    if len(set(ids)) == len(ids) and skip.isdisjoint(ids):
        return list(papers)  # the usual case, a background or a day's listing: a copy
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
    embeddings: Embeddings | None = None,
    C: float = 10.0,
    keyword_boost: float = 0.5,
    muted_factor: float = 0.1,
    followed_score: float = 0.99,
    diversity: float = 0.0,
    diversity_top: int = 10,
    explain: int | None = None,
    min_negatives: int = MIN_MEANING_NEGATIVES,
    meaning_C: float = MEANING_C,
    meaning_share: float = MEANING_SHARE,
    half_life_days: float | None = HALF_LIFE_DAYS,
    interest_share: float = INTEREST_SHARE,
    min_silhouette: float = MIN_SILHOUETTE,
    words_min_df: int | None = None,
    words_tol: float = WORDS_TOL,
    words_negatives: int | None = WORDS_NEGATIVES,
    meaning_negatives: int | None = MEANING_NEGATIVES,
    click_weight: float = CLICK_WEIGHT,
    ignored_weight: float = IGNORED_WEIGHT,
    candidate_negatives: bool = False,
) -> list[Ranked]:
    """Rank ``candidates`` for one user, best first, each with a score in [0, 1] and a reason.

    Every candidate comes back exactly once (duplicates included), except those whose id
    is one of the user's saved papers or of the papers they opened from a digest
    (``profile.clicked``): a digest never recommends a paper the user has, or has read.

    Pipeline::

        X         = TF-IDF rows of every paper, from ``index`` when given (built once per
                    corpus, see recommender.index), else from an index built here over
                    saved + background + candidates
        E         = sentence embeddings from ``embeddings`` (papers without one: no row)
        negatives = background minus saved and disliked, else the candidates (arxiv-sanity style);
                    ``candidate_negatives``: the candidates too, as arxiv-sanity-lite trains
                    (off: lower on the dev replay, benchmarks/RESULTS.md)
        base      = saved papers?    words   = logistic regression saved-vs-negatives on
                                               X (+ disliked papers as explicit negatives),
                                               on the saved papers' terms and those in at
                                               least ``words_min_df`` training papers
                                               (None: 0.1% of the negatives, at least 2)
                                     meaning = the same on E (C=``meaning_C``), for the
                                               papers that have an embedding; sits out
                                               (words only, no meaning reasons) while
                                               fewer than ``min_negatives`` negatives
                                               have one
                                     interests = the saved papers' vectors clustered
                                               (recommender.interests; one cluster
                                               unless the split is clear), one model
                                               each; meaning = (1 - interest_share) *
                                               meaning + interest_share * the best
                                               interest's logit
                                     logit   = weighted mean of the views' logits that
                                               scored the paper (meaning_share for the
                                               meaning view); score = sigmoid(logit)
                                     (``half_life_days``: saved papers weighted by
                                     recency in both views; off by default)
                                     feedback: in both global models, clicked papers
                                     are positives weighing ``click_weight`` of a
                                     saved paper, ignored ones negatives weighing
                                     ``ignored_weight`` of one (0: left out, exactly
                                     the ranking without them); the interests are
                                     the saved papers' only
                    keywords only?   cosine to the keyword query
                    neither?         0 for everyone ("no saved papers or keywords yet")
        keyword   score += keyword_boost * (1 - score), per keyword found (whole words)
        author    score = max(score, followed_score) if by a followed author
        muted     score *= muted_factor if a muted term or category applies (applied last:
                  an explicit "not this" outranks every other hint)
        order     by score, then the fused logit, then id
        diversity optional (``diversity`` > 0): the first ``diversity_top`` are re-ordered
                  by maximal marginal relevance, so near-duplicates do not fill a digest;
                  off by default (then the order is by score, as above)

    Reasons are read off both views: the saved paper that pulled the paper up most in
    the meaning view ("close to your saved ..."; by TF-IDF cosine where the meaning view
    did not score the paper), and the terms with the largest positive weight in the words
    view ("matches: ..."). "Close to your saved X" is a claim of closeness, so it is
    shown only when the view it comes from *voted for* the paper: that view's own
    decision value (its logit, before fusing, hints and the squash) is > 0, i.e. under
    the balanced class weights it called the paper saved-like rather than
    background-like. The TF-IDF "close to" needs the words logit > 0, the meaning view's
    the meaning logit > 0 and a saved paper whose own term in that logit is positive
    (:meth:`Pull.strongest`). A paper picked for one interest (its best interest's own
    model voted for it too) says "for your interest in <its words>: close to your saved
    X", X a saved paper of that interest (:meth:`Pull.for_interest`). "matches: ..."
    claims less, the words that raised the score, and is true whatever the verdict. The
    centroid and keyword fallbacks have no negatives and so no vote: their score is the
    very similarity the reason names. Reasons name saved papers only: a clicked paper
    raises a score but is never "your saved" one (a saved paper is named only when its
    own term in the logit is positive, whatever the clicks added).
    ``explain`` limits them to the first ``explain`` papers (None: all); the others'
    reasons give the hints only (keyword, author, muted), else say they were not
    explained. A digest shows a dozen papers: explaining a thousand costs more than the
    ranking.

    ``background`` is a sample of other recent papers; it only serves as negatives and to
    fit the vocabulary, and is never returned.
    """
    for name, value in (
        ("keyword_boost", keyword_boost),
        ("muted_factor", muted_factor),
        ("followed_score", followed_score),
        ("diversity", diversity),
        ("interest_share", interest_share),
        ("click_weight", click_weight),
        ("ignored_weight", ignored_weight),
    ):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    if explain is not None and explain < 0:
        raise ValueError(f"explain must be None or >= 0, got {explain!r}")
    for name, value in (("C", C), ("meaning_C", meaning_C)):
        if not value > 0:  # also rejects NaN
            raise ValueError(f"{name} must be positive, got {value!r}")
    if not 0.0 < meaning_share < 1.0:
        raise ValueError(f"meaning_share must be between 0 and 1, got {meaning_share!r}")
    if half_life_days is not None and not half_life_days > 0:
        raise ValueError(f"half_life_days must be None or positive, got {half_life_days!r}")

    if words_min_df is not None and words_min_df < 1:
        raise ValueError(f"words_min_df must be at least 1, got {words_min_df!r}")
    if not words_tol > 0:
        raise ValueError(f"words_tol must be positive, got {words_tol!r}")
    for name, count in (
        ("words_negatives", words_negatives),
        ("meaning_negatives", meaning_negatives),
    ):
        if count is not None and count < 1:
            raise ValueError(f"{name} must be None or at least 1, got {count!r}")

    saved = _unique(profile.saved, set())
    saved_ids = {p.id for p in saved}
    disliked = _unique(profile.disliked, saved_ids)
    # Saved and disliked are the user's explicit word: they win over a click or an ignore.
    explicit = saved_ids | {p.id for p in disliked}
    opened = _unique(profile.clicked, explicit)
    had = saved_ids | {p.id for p in opened}  # not recommended again
    cands = [c for c in candidates if c.id not in had]
    if not cands:
        return []
    clicked = opened if click_weight > 0 else []
    ignored = _unique(profile.ignored, explicit | had) if ignored_weight > 0 else []
    feedback = Feedback(clicked, ignored, click_weight, ignored_weight, n_disliked=len(disliked))
    # The negatives: the background, the same for every user of a run (so its rows and
    # prepared forms are computed once), less the user's own papers (saved, disliked,
    # clicked or ignored: each counts once, as what it is), which sit out of the fits
    # (skip) instead of making another copy of it.
    own = explicit | {p.id for p in (*clicked, *ignored)}
    if candidate_negatives:  # the week's own papers too, as arxiv-sanity-lite trains
        own = own | had
        negatives = _unique([*background, *candidates], set())
    else:
        negatives = _unique(background, set())
    skip = np.asarray([p.id in own for p in negatives], dtype=bool)
    if skip.all():  # nothing but the user's papers (or nothing): contrast with candidates
        negatives = _unique(cands, set())
        skip = np.zeros(len(negatives), dtype=bool)

    if index is None:
        # One feature space for everything, fitted once over distinct papers. One id is
        # one paper (design.md: canonical ids), so the first text seen for an id is used.
        index = Index.build(
            _unique([*saved, *negatives, *disliked, *clicked, *ignored, *cands], set())
        )
    X_saved = index.features(saved)
    # Each view may fit on the first N of them (None: all).
    words_neg, words_skip = _first(negatives, skip, words_negatives)
    meaning_neg, meaning_skip = _first(negatives, skip, meaning_negatives)
    X_neg = index.features(words_neg)
    X_cand = index.features(cands)
    # The rendered text only serves keyword and muted-term matching; rendering LaTeX is
    # most of a ranking's cost when the candidates are not yet in normalise()'s cache.
    matching = bool(profile.keywords or profile.muted)
    cand_texts = [paper_text(c) if matching else "" for c in cands]
    featurizer = index.featurizer

    keywords = TermMatcher(profile.keywords)
    n = len(cands)
    fallback = NO_EVIDENCE
    scores: LinearScores | None
    pull: Pull | None = None  # the meaning view, for the reasons
    # Per candidate, whether the view whose evidence a reason would cite voted for it
    # (see the docstring): None where the view makes no decision (centroid, keywords).
    words_for: npt.NDArray[np.bool_] | None = None
    if saved and X_saved.nnz > 0 and X_neg.shape[0] > 0:
        # One BLAS thread: the fits are chains of small vector operations, where OpenBLAS's
        # threads only add synchronisation (5-10x slower on a busy 2-core machine;
        # benchmarks/RESULTS.md). A daily run parallelises over users, not inside one.
        with _blas().limit(limits=1, user_api="blas"):
            bad = [*disliked, *ignored]
            X_bad = index.features(bad) if bad else None
            X_pos = sp.vstack([X_saved, index.features(clicked)]) if clicked else X_saved
            day = ranking_day(cands) if half_life_days is not None else None
            recent = (
                recency_weights(saved, day, half_life_days)
                if day is not None and half_life_days is not None
                else None
            )
            scores = logistic_scores(
                sp.csr_matrix(X_pos),
                prepared(X_neg, words_min_df or _min_df(X_neg.shape[0])),
                X_cand,
                C=C,
                disliked=X_bad,
                saved_weights=recent,
                skip=words_skip if words_skip.any() else None,
                tol=words_tol,
                clicked_weights=feedback.clicked_weights(len(clicked)),
                bad_weights=feedback.bad_weights(len(ignored)),
            )
            words_for = scores.raw > 0
            meaning = meaning_view(
                saved,
                meaning_neg,
                meaning_skip,
                disliked,
                cands,
                embeddings,
                max(min_negatives, 2),
                MeaningOptions(meaning_C, recent, interest_share, min_silhouette),
                feedback,
            )
            if meaning is not None:
                pull = meaning
                raw_fused = fuse(
                    [(scores.raw, np.ones(n, dtype=bool)), (pull.raw, pull.has)],
                    (1.0 - meaning_share, meaning_share),
                )
                scores = LinearScores(
                    raw=raw_fused, score=squash(raw_fused), weights=scores.weights
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
    if not (profile.keywords or profile.authors or profile.muted):
        # No hint can apply (most users of a large run): the scores as they are.
        final[:] = np.clip(score, 0.0, 1.0)
        hints = [((), (), ())] * n
    else:
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
    # By score, then the fused logit, then id (a stable sort: duplicates keep their order).
    order: list[int] = np.lexsort((np.asarray([c.id for c in cands]), -raw, -final)).tolist()
    if diversity > 0 and n > 1:
        order = mmr_order(order, [float(final[i]) for i in order], X_cand, diversity, diversity_top)
    # The evidence behind a score is read off the models for the papers a person will see.
    explained = order if explain is None else order[:explain]
    terms: dict[int, tuple[str, ...]] = {}
    closest = np.full(n, -1, dtype=np.int64)
    interest_of = np.full(n, -1, dtype=np.int64)  # the interest a paper was picked for
    if scores is not None and explained:
        rows = np.asarray(explained, dtype=np.int64)
        X_shown = X_cand[rows]
        for i, t in zip(
            explained,
            top_terms(X_shown, scores.weights, featurizer.vocabulary, doc_freq=index.doc_freq),
            strict=True,
        ):
            terms[i] = t
        if saved:
            closest[rows] = closest_saved(X_shown, X_saved)[0]
            if words_for is not None:
                closest[rows[~words_for[rows]]] = -1
        if pull is not None:
            # Where the meaning view scored the paper, it names the saved paper: the one
            # that pulled it up most, and none when the view voted against it.
            scored = pull.has[rows]
            closest[rows[scored]] = pull.strongest(rows[scored])
            picked, by = pull.for_interest(rows[scored])
            named = picked >= 0
            interest_of[rows[scored][named]] = picked[named]
            closest[rows[scored][named]] = by[named]
    interest_names: dict[int, tuple[str, ...]] = {}
    if pull is not None and pull.members is not None:
        for j in sorted({int(j) for j in interest_of if j >= 0}):
            interest_names[j] = interest_terms(
                X_saved,
                pull.members[j],
                featurizer.vocabulary,
                doc_freq=index.doc_freq,
            )
    shown = set(explained)
    # A paper below the explained ones with no hint has nothing to name: one line for all
    # (what format_reason gives such evidence), not a thousand Evidence objects a digest.
    unexplained = fallback if scores is None else NOT_EXPLAINED
    ranked: list[Ranked] = []
    for i in order:
        found, followed, mutes = hints[i]
        if i not in shown and not (found or followed or mutes):
            ranked.append(Ranked(paper=cands[i], score=float(final[i]), why=unexplained))
            continue
        c = int(closest[i])
        evidence = Evidence(
            closest_title=saved_titles[c] if c >= 0 else None,
            interest=interest_names.get(int(interest_of[i])) if interest_of[i] >= 0 else None,
            terms=terms.get(i, ()),
            followed=followed,
            keywords=found,
            muted=mutes,
            fallback=fallback if i in shown else unexplained,
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


def _first(
    negatives: list[Paper], skip: npt.NDArray[np.bool_], n: int | None
) -> tuple[list[Paper], npt.NDArray[np.bool_]]:
    """The first ``n`` negatives and their skip marks (None, or only the user's own
    papers among them: all)."""
    if n is None or skip[:n].all():
        return negatives, skip
    return negatives[:n], skip[:n]


def _min_df(n_negatives: int) -> int:
    """The words view's minimum training count for ``n_negatives`` negatives."""
    return max(MIN_TRAINING_DF, math.ceil(WORDS_MIN_DF_SHARE * n_negatives - 1e-9))


def _blas() -> ThreadpoolController:
    """One controller for the process: finding the BLAS libraries costs ~2.5 ms a call."""
    if not _controller:
        _controller.append(ThreadpoolController())
    return _controller[0]


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
