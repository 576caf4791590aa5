"""The logistic fit both views use is scikit-learn's estimator, without its per-fit checks."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from paperboy.recommender.solver import fit_logistic


def _unit(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def _problem(
    seed: int, n_pos: int = 30, n_neg: int = 2000, dim: int = 64
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Saved-like rows around one direction against random background rows, weighted the
    way the ranker balances them, a few background rows sitting out (weight 0)."""
    rng = np.random.default_rng(seed)
    topic = rng.normal(size=(1, dim))
    X = np.vstack(
        [_unit(rng.normal(size=(n_pos, dim)) * 0.7 + topic), _unit(rng.normal(size=(n_neg, dim)))]
    )
    y = np.r_[np.ones(n_pos), np.zeros(n_neg)].astype(np.int64)
    n = n_pos + n_neg
    w = np.r_[np.full(n_pos, n / (2 * n_pos)), np.full(n_neg, n / (2 * n_neg))]
    w[n_pos + 5 : n_pos + 25] = 0.0
    return X, y, w


def _estimator(X: object, y: object, w: object, C: float) -> LogisticRegression:
    return LogisticRegression(C=C, solver="lbfgs", max_iter=1000).fit(X, y, sample_weight=w)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("C", [0.1, 1.0, 10.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_fit_is_the_estimators_fit(seed: int, C: float, dtype: type) -> None:
    X, y, w = _problem(seed)
    X = X.astype(dtype)
    candidates = _unit(np.random.default_rng(seed + 100).normal(size=(300, X.shape[1])))
    ours = fit_logistic(X, y, w, C=C)
    theirs = _estimator(X, y, w, C)
    assert ours.n_iter == int(theirs.n_iter_[0])
    assert np.allclose(ours.coef, theirs.coef_[0], atol=1e-4)
    assert ours.intercept == pytest.approx(float(theirs.intercept_[0]), abs=1e-4)
    logits = theirs.decision_function(candidates)
    assert np.abs(ours.decision(candidates) - logits).max() < 1e-4
    assert np.allclose(ours.probability(X[:30]), theirs.predict_proba(X[:30])[:, 1], atol=1e-5)
    # The model is not trivial: saved-like rows score above the background.
    assert ours.decision(X[:30]).mean() > ours.decision(X[30:]).mean() + 1.0


def test_sparse_fit_is_the_estimators_fit() -> None:
    rng = np.random.default_rng(7)
    n_pos, n_neg, terms = 25, 1500, 3000
    rows = sp.random(n_pos + n_neg, terms, density=0.01, format="csr", random_state=3)
    topic = sp.csr_matrix(
        (np.ones(n_pos * 8), (np.repeat(np.arange(n_pos), 8), rng.integers(0, 40, n_pos * 8))),
        shape=(n_pos + n_neg, terms),
    )
    X = sp.csr_matrix(rows + topic, dtype=np.float32)
    y = np.r_[np.ones(n_pos), np.zeros(n_neg)].astype(np.int64)
    w = np.r_[np.full(n_pos, 30.0), np.ones(n_neg)]
    for tol in (1e-4, 1e-3):
        ours = fit_logistic(X, y, w, C=10.0, tol=tol)
        theirs = LogisticRegression(C=10.0, solver="lbfgs", max_iter=1000, tol=tol).fit(
            X, y, sample_weight=w
        )
        assert ours.n_iter == int(theirs.n_iter_[0])
        assert np.abs(ours.decision(X) - theirs.decision_function(X)).max() < 1e-4


@pytest.mark.parametrize("cut", [[30], [10, 30, 1500]])
def test_row_blocks_fit_as_their_stack(cut: list[int]) -> None:
    X, y, w = _problem(4)
    stacked = fit_logistic(X, y, w, C=1.0)
    blocks = tuple(np.split(X, cut))
    by_blocks = fit_logistic(blocks, y, w, C=1.0)
    assert by_blocks.n_iter == stacked.n_iter
    assert np.abs(by_blocks.coef - stacked.coef).max() < 1e-5
    sparse = tuple(sp.csr_matrix(b) for b in blocks)
    assert np.abs(fit_logistic(sparse, y, w, C=1.0).coef - stacked.coef).max() < 1e-5


def test_rows_without_weight_take_no_part() -> None:
    X, y, w = _problem(3)
    keep = w > 0
    with_zeros = fit_logistic(X, y, w, C=1.0)
    without = fit_logistic(X[keep], y[keep], w[keep], C=1.0)
    assert np.abs(with_zeros.coef - without.coef).max() < 1e-4


def test_bad_arguments_are_refused() -> None:
    X, y, w = _problem(0, n_neg=50)
    with pytest.raises(ValueError, match="labels"):
        fit_logistic(X, y[:-1], w, C=1.0)
    with pytest.raises(ValueError, match="C must be positive"):
        fit_logistic(X, y, w, C=0.0)
    with pytest.raises(ValueError, match="positive weight"):
        fit_logistic(X, y, np.zeros_like(w), C=1.0)
    with pytest.raises(ValueError, match="widths or dtypes"):
        fit_logistic((X, X[:, :10]), np.r_[y, y], np.r_[w, w], C=1.0)
    with pytest.raises(ValueError, match="widths or dtypes"):
        fit_logistic((X, X.astype(np.float64)), np.r_[y, y], np.r_[w, w], C=1.0)
    with pytest.raises(ValueError, match="no rows"):
        fit_logistic((), y, w, C=1.0)
