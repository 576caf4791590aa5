"""L2-regularised logistic regression by L-BFGS: the fit behind both views' models.

This is scikit-learn's ``LogisticRegression(solver="lbfgs")`` for two classes, the same
objective, scaling and stopping rule, called directly on rows the ranker has already
checked and converted::

    minimise  sum_i s_i * log(1 + exp(-t_i (x_i . w + b))) / S  +  |w|^2 / (2 C S)

with ``s_i`` the sample weights, ``S`` their sum, ``t_i = +-1`` the label, the intercept
``b`` unpenalised; scipy's L-BFGS-B from ``w = 0``, projected-gradient tolerance ``tol``,
``ftol = 64 eps``, at most 50 line-search steps (scikit-learn's settings). The products
run in the rows' own dtype (float32 for the ranker: half the memory traffic); the
per-row loss and its derivative in float64.

Why not the estimator: a digest fits three or four small models per user (the words
view, the meaning view, one per interest), and ``LogisticRegression.fit`` spends about
as long again as the solver itself checking its input (finite values, labels, weights,
dtypes) and building the result (benchmarks/RESULTS.md, issue #22). The fitted models
agree with the estimator's to the solver's tolerance (tests/recommender/test_solver.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy import optimize
from scipy.special import expit

__all__ = ["MAX_ITER", "TOL", "Logistic", "fit_logistic"]

FloatArray = npt.NDArray[np.float64]
Matrix: TypeAlias = npt.NDArray[np.float32] | npt.NDArray[np.float64] | sp.csr_matrix

TOL = 1e-4  # scikit-learn's default tolerance
MAX_ITER = 1000


@dataclass(frozen=True, slots=True)
class Logistic:
    """A fitted model: ``decision(X) = X @ coef + intercept``; ``n_iter`` solver steps."""

    coef: FloatArray
    intercept: float
    n_iter: int

    def decision(self, X: Matrix) -> FloatArray:
        """The logit per row of ``X`` (float64)."""
        return np.asarray(X @ self.coef, dtype=np.float64).ravel() + self.intercept

    def probability(self, X: Matrix) -> FloatArray:
        """P(label 1) per row of ``X``."""
        return np.asarray(expit(self.decision(X)), dtype=np.float64)


def fit_logistic(
    X: Matrix | tuple[Matrix, ...],
    y: npt.ArrayLike,
    sample_weight: npt.ArrayLike,
    *,
    C: float,
    tol: float = TOL,
    max_iter: int = MAX_ITER,
) -> Logistic:
    """Fit ``y`` (0/1 per row of ``X``) with ``sample_weight``; see the module docstring.

    ``X`` may come as a tuple of row blocks of one width and dtype, the rows of their
    vertical stack: a user's few rows and the run's shared negatives fit without copying
    the negatives into one matrix for every fit. Raises ValueError when the shapes
    disagree, C is not positive, or no row has weight.
    """
    blocks = X if isinstance(X, tuple) else (X,)
    if not blocks:
        raise ValueError("no rows")
    d = int(blocks[0].shape[1])
    dtype = np.float32 if blocks[0].dtype == np.float32 else np.float64
    if any(b.shape[1] != d or b.dtype != blocks[0].dtype for b in blocks):
        raise ValueError("row blocks of different widths or dtypes")
    ends = np.cumsum([b.shape[0] for b in blocks])
    n = int(ends[-1])
    labels = np.asarray(y, dtype=np.float64)
    weights = np.asarray(sample_weight, dtype=np.float64)
    if labels.shape != (n,) or weights.shape != (n,):
        raise ValueError(f"{n} rows, {labels.shape} labels and {weights.shape} weights")
    if not C > 0:
        raise ValueError(f"C must be positive, got {C!r}")
    total = float(weights.sum())
    if not total > 0:
        raise ValueError("no row has a positive weight")
    l2 = 1.0 / (C * total)
    spans = list(zip([0, *ends[:-1]], ends, strict=True))

    def products(w: FloatArray) -> FloatArray:  # X @ w
        w_ = w.astype(dtype)
        parts = [np.asarray(b @ w_, dtype=np.float64).ravel() for b in blocks]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def back(v: FloatArray) -> FloatArray:  # X.T @ v, block by block (.T is a view)
        v_ = v.astype(dtype)
        out = np.zeros(d, dtype=np.float64)
        for b, (lo, hi) in zip(blocks, spans, strict=True):
            out += np.asarray(b.T @ v_[lo:hi], dtype=np.float64).ravel()
        return out

    def loss_gradient(coef: FloatArray) -> tuple[float, FloatArray]:
        w = coef[:d]
        z = products(w) + float(coef[d])
        # log(1 + exp(z)) - y z, the binomial loss per row, and its derivative p - y, from
        # one exp (both stable: e <= 1); 2.5x faster than logaddexp and expit apart.
        e = np.exp(-np.abs(z))
        loss = float(weights @ (np.log1p(e) + np.maximum(z, 0.0) - labels * z)) / total
        r = 1.0 / (1.0 + e)
        p = np.where(z >= 0, r, e * r)
        pointwise = weights * (p - labels) / total
        grad = np.empty(d + 1, dtype=np.float64)
        grad[:d] = back(pointwise) + l2 * w
        grad[d] = float(pointwise.sum())
        return loss + 0.5 * l2 * float(w @ w), grad

    result = optimize.minimize(
        loss_gradient,
        np.zeros(d + 1, dtype=np.float64),
        method="L-BFGS-B",
        jac=True,
        options={"maxiter": max_iter, "maxls": 50, "gtol": tol, "ftol": 64 * np.finfo(float).eps},
    )
    coef = np.asarray(result.x, dtype=np.float64)
    return Logistic(coef=coef[:d].copy(), intercept=float(coef[d]), n_iter=int(result.nit))
