"""The ranker's meaning view: a logistic model on the papers' sentence embeddings.

Trained saved-vs-background like the words view, on the vectors of
:mod:`recommender.embeddings`; with several interests among the saved papers
(:mod:`recommender.interests`) its logit is mixed with the best-fitting interest's.
:class:`Pull` is its verdict and what the reasons read from it ("close to your saved X",
"for your interest in ...").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from paperboy.recommender.embeddings import Embeddings
from paperboy.recommender.interests import find_interests, interest_scores
from paperboy.recommender.model import embedding_scores
from paperboy.recommender.types import Paper

__all__ = ["Feedback", "MeaningOptions", "Pull", "meaning_view"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Pull:
    """The meaning view's verdict on the candidates, and what its reasons are read from.

    ``raw`` is its logit per candidate (valid where ``has``), ``weights`` each saved
    paper's coefficient (model.DenseScores.saved_pull), ``sims`` the saved x candidate
    cosines and ``positions`` the saved papers' positions in the ranked profile.

    With several interests (recommender.interests) ``raw`` is ``(1 - a) * global + a *
    best interest's logit``: ``weights`` are then the global model's coefficients times
    ``1 - a``, ``interest[row]`` the candidate's best interest, ``interest_raw[row]``
    that interest's own logit, ``interest_weights[j]`` its members' coefficients times
    ``a`` (0 for the other saved papers) and ``members[j]`` their positions in the
    profile. Saved paper i then adds ``(weights[i] + interest_weights[j, i]) * sims[i,
    row]`` to the logit of a candidate whose best interest is j.
    """

    raw: FloatArray
    has: npt.NDArray[np.bool_]
    weights: FloatArray
    sims: npt.NDArray[np.float32]
    positions: npt.NDArray[np.int64]
    interest: IntArray | None = None
    interest_raw: FloatArray | None = None
    interest_weights: FloatArray | None = None
    members: tuple[IntArray, ...] | None = None

    def _contributions(self, rows: IntArray) -> FloatArray:
        """Saved x rows: what each saved paper adds to each candidate's logit."""
        w = np.repeat(self.weights[:, None], len(rows), axis=1)
        if self.interest is not None and self.interest_weights is not None:
            w = w + self.interest_weights[self.interest[rows]].T
        return np.asarray(w * self.sims[:, rows], dtype=np.float64)

    def strongest(self, rows: IntArray) -> IntArray:
        """Per candidate row, the saved paper adding most to its logit, else -1.

        Saved paper i adds ``weights[i] * sims[i, row]`` (plus its interest's share, see
        the class). A candidate the view scored below "on the fence" (logit <= 0) was not
        pulled up by anything: no saved paper is named for it, whatever the cosines.
        """
        if len(rows) == 0:
            return np.zeros(0, dtype=np.int64)
        contrib = self._contributions(rows)
        best = contrib.argmax(axis=0)
        out: IntArray = self.positions[best].copy()
        out[(contrib[best, np.arange(len(rows))] <= 0) | (self.raw[rows] <= 0)] = -1
        return out

    def for_interest(self, rows: IntArray) -> tuple[IntArray, IntArray]:
        """Per candidate row, the interest it was picked for and the saved paper of that
        interest pulling it up most; (-1, -1) where there is none.

        A paper is picked for interest j when j is its best interest, that interest's own
        model voted for it (logit > 0), the meaning view as a whole did too, and one of
        j's saved papers adds to its logit. Nothing with a single interest.
        """
        none = np.full(len(rows), -1, dtype=np.int64)
        if self.interest is None or self.interest_raw is None or self.members is None:
            return none, none.copy()
        contrib = self._contributions(rows)
        interest = self.interest[rows]
        picked, by = none.copy(), none.copy()
        for j, members in enumerate(self.members):
            cols = np.flatnonzero(interest == j)
            if not len(cols):
                continue
            in_interest = np.isin(self.positions, members)
            masked = np.where(in_interest[:, None], contrib[:, cols], -np.inf)
            best = masked.argmax(axis=0)
            ok = (
                (masked[best, np.arange(len(cols))] > 0)
                & (self.interest_raw[rows[cols]] > 0)
                & (self.raw[rows[cols]] > 0)
            )
            picked[cols[ok]] = j
            by[cols[ok]] = self.positions[best[ok]]
        return picked, by


@dataclass(frozen=True, slots=True)
class Feedback:
    """The feedback papers rank() uses (already deduplicated, empty when their weight is
    0) and the per-row weights :func:`model.balanced_weights` takes for them."""

    clicked: Sequence[Paper]
    ignored: Sequence[Paper]
    click_weight: float
    ignored_weight: float
    n_disliked: int

    def clicked_weights(self, n: int) -> FloatArray | None:
        """Weights of the ``n`` clicked rows that made it into a model (None: none)."""
        return np.full(n, self.click_weight) if n else None

    def bad_weights(self, n_ignored: int, n_disliked: int | None = None) -> FloatArray | None:
        """Weights of the bad rows, disliked first then ``n_ignored`` ignored (None when
        no ignored paper made it: the disliked papers' weights as without feedback)."""
        if not n_ignored:
            return None
        k = self.n_disliked if n_disliked is None else n_disliked
        return np.concatenate([np.ones(k), np.full(n_ignored, self.ignored_weight)])


@dataclass(frozen=True, slots=True)
class MeaningOptions:
    """How the meaning view is fitted: its C, the saved papers' recency weights (per
    saved paper, or None), the interests' share and the silhouette a split needs."""

    C: float
    recent: FloatArray | None
    interest_share: float
    min_silhouette: float


def meaning_view(
    saved: Sequence[Paper],
    negatives: Sequence[Paper],
    skip: npt.NDArray[np.bool_],
    disliked: Sequence[Paper],
    cands: Sequence[Paper],
    embeddings: Embeddings | None,
    min_negatives: int,
    options: MeaningOptions,
    feedback: Feedback,
) -> Pull | None:
    """The embedding model's logits, which candidates it scored, and its reason data.

    Trained on the saved papers and negatives that have an embedding; None (the view
    sits out) when there are no embeddings, no saved paper or candidate has one, or fewer
    than ``min_negatives`` negatives do (:data:`MIN_MEANING_NEGATIVES`). With
    ``options.interest_share`` > 0 and a clear split of the saved papers into interests,
    the logit is mixed with the best-fitting interest's (recommender.interests).
    ``feedback``'s clicked and ignored papers (those with an embedding) join the global
    model's rows; the interests and the reasons' data are the saved papers' only.
    """
    if embeddings is None or not len(embeddings):
        return None
    E_saved, has_saved = embeddings.rows(saved)
    E_neg, has_vector = embeddings.rows(negatives)
    has_neg = has_vector & ~skip  # the user's own papers are not negatives
    E_cand, has_cand = embeddings.rows(cands)
    if not has_saved.any() or int(has_neg.sum()) < min_negatives or not has_cand.any():
        return None
    pos = E_saved[has_saved]
    bad = None
    n_bad = n_ignored = 0
    if disliked or feedback.ignored:
        E_bad, has_bad = embeddings.rows([*disliked, *feedback.ignored])
        bad = E_bad[has_bad]
        n_bad = int(has_bad[: len(disliked)].sum())
        n_ignored = int(has_bad[len(disliked) :].sum())
    train_pos = pos
    n_clicked = 0
    if feedback.clicked:
        E_click, has_click = embeddings.rows(feedback.clicked)
        n_clicked = int(has_click.sum())
        train_pos = np.vstack([pos, E_click[has_click]])
    # Negatives without a vector are left out (a copy); the user's own papers sit out by
    # weight, so the shared background's rows serve every user as they are.
    neg = E_neg if has_vector.all() else E_neg[has_vector]
    neg_skip = skip if has_vector.all() else skip[has_vector]
    sit_out = neg_skip if neg_skip.any() else None
    recent = None if options.recent is None else options.recent[has_saved]
    result = embedding_scores(
        train_pos,
        neg,
        E_cand,
        C=options.C,
        disliked=bad,
        saved_weights=recent,
        skip=sit_out,
        clicked_weights=feedback.clicked_weights(n_clicked),
        bad_weights=feedback.bad_weights(n_ignored, n_bad),
    )
    saved_pull = result.saved_pull[: len(pos)]  # reasons name saved papers only
    positions = np.flatnonzero(has_saved).astype(np.int64)
    a = options.interest_share
    labels = (
        find_interests(pos, min_silhouette=options.min_silhouette)
        if a > 0
        else np.zeros(len(pos), dtype=np.int64)
    )
    if labels.max() == 0:
        return Pull(
            raw=result.raw,
            has=has_cand,
            weights=saved_pull,
            sims=pos @ E_cand.T,
            positions=positions,
        )
    best = interest_scores(pos, labels, neg, E_cand, C=options.C, skip=sit_out)
    interest_weights = np.zeros((len(best.members), len(pos)), dtype=np.float64)
    for j, (rows, pull) in enumerate(zip(best.members, best.pulls, strict=True)):
        interest_weights[j, rows] = a * pull
    return Pull(
        raw=(1.0 - a) * result.raw + a * best.raw,
        has=has_cand,
        weights=(1.0 - a) * saved_pull,
        sims=pos @ E_cand.T,
        positions=positions,
        interest=best.interest,
        interest_raw=best.raw,
        interest_weights=interest_weights,
        members=tuple(positions[rows] for rows in best.members),
    )
