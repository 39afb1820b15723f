"""The grid: penalties × strengths × seeds as one rectangular batch of fits.

A grid has three axes, all of which the solver batches in one compiled call:

* ``S`` problems (one per seed; folds join this axis),
* ``P`` penalties (the labels of the config's ``penalty`` group),
* ``L`` strengths along each path, ordered from strongest to weakest so that each fit is
  warm-started from the previous one.

Strength paths given relative to the data follow glmnet and scikit-learn: ``lam_max`` is the
smallest λ at which ``w = 0`` solves the problem, ``max_j |x_jᵀ (y - ȳ)| / (n · α)`` (with
centred ``x_j`` when an intercept is fitted, and α floored at 1e-3 for ridge), and the path is
``n_lambdas`` values spaced geometrically from ``lam_max`` to ``lam_max · lambda_min_ratio``.
Penalties with fewer strengths than the longest are padded by repeating their last strength;
``valid`` marks the real points. This module does not import jax.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from l1bench.penalties import RIDGE_PATH_L1_RATIO, Penalty, dropout_to_lam


class Strengths(NamedTuple):
    """How one penalty's strengths are given (one of ``lam`` or ``dropout``, or a path)."""

    lam: Sequence[float] | None = None
    n_lambdas: int = 20
    lambda_min_ratio: float = 1e-3
    dropout: Sequence[float] | None = None


class Grid(NamedTuple):
    """A rectangular batch of fits.

    Attributes:
      penalties: the ``P`` penalties.
      lam: (S, P, L) strength λ of every fit; each ``lam[s, i]`` is non-increasing.
      valid: (P, L) False where a path is padded.
      dropout: (P, L) dropout rate of each fit (NaN for other penalties).
      lam_max: (S, P) the path's lam_max (NaN where strengths were given explicitly).
      seeds: (S,) the seed of each problem.
    """

    penalties: tuple[Penalty, ...]
    lam: np.ndarray
    valid: np.ndarray
    dropout: np.ndarray
    lam_max: np.ndarray
    seeds: np.ndarray


def lambda_max(X: np.ndarray, y: np.ndarray, l1_ratio: float, fit_intercept: bool) -> float:
    """Smallest λ with ``w = 0`` optimal for the family at ``l1_ratio`` (floored at 1e-3).

    Args:
      X: (n, p) design. y: (n,) targets.
      l1_ratio: α of the family.
      fit_intercept: centre X and y first (the intercept is not penalized).
    """
    if fit_intercept:
        X = X - X.mean(axis=0)
        y = y - y.mean()
    n = X.shape[0]
    return float(np.max(np.abs(y @ X)) / (n * max(l1_ratio, RIDGE_PATH_L1_RATIO)))


def _path(lam_max: float, n_lambdas: int, ratio: float) -> np.ndarray:
    if n_lambdas == 1:
        return np.array([lam_max])
    return lam_max * np.geomspace(1.0, ratio, n_lambdas)


def make_grid(
    penalties: Sequence[Penalty],
    strengths: Sequence[Strengths],
    X: np.ndarray,
    y: np.ndarray,
    seeds: Sequence[int],
    *,
    fit_intercept: bool = True,
) -> Grid:
    """Expand penalties × strengths × problems into a :class:`Grid`.

    Args:
      penalties: the P penalties.
      strengths: one :class:`Strengths` per penalty.
      X: (S, n, p) training designs, one per problem. y: (S, n) targets.
      seeds: (S,) seeds of the problems.
      fit_intercept: whether lam_max is computed on centred data.

    Returns:
      The grid; explicit strength lists are sorted from strongest to weakest.
    """
    if len(penalties) != len(strengths):
        raise ValueError("one Strengths per penalty is needed")
    S = X.shape[0]
    paths, rates, maxima = [], [], []
    for pen, st in zip(penalties, strengths, strict=True):
        if pen.kind == "none":
            paths.append(np.zeros((S, 1)))
            rates.append(np.full(1, np.nan))
            maxima.append(np.full(S, np.nan))
        elif pen.kind == "dropout":
            r = np.sort(np.asarray(st.dropout, dtype=float))[::-1]
            paths.append(np.broadcast_to(dropout_to_lam(r), (S, r.size)))
            rates.append(r)
            maxima.append(np.full(S, np.nan))
        elif st.lam is not None:
            lam = np.sort(np.asarray(st.lam, dtype=float))[::-1]
            paths.append(np.broadcast_to(lam, (S, lam.size)))
            rates.append(np.full(lam.size, np.nan))
            maxima.append(np.full(S, np.nan))
        else:
            lmax = np.array([lambda_max(X[s], y[s], pen.l1_ratio, fit_intercept) for s in range(S)])
            paths.append(np.stack([_path(m, st.n_lambdas, st.lambda_min_ratio) for m in lmax]))
            rates.append(np.full(st.n_lambdas, np.nan))
            maxima.append(lmax)
    L = max(p.shape[1] for p in paths)
    P = len(penalties)
    lam = np.empty((S, P, L))
    valid = np.zeros((P, L), dtype=bool)
    dropout = np.full((P, L), np.nan)
    for i, (path, rate) in enumerate(zip(paths, rates, strict=True)):
        k = path.shape[1]
        lam[:, i, :k] = path
        lam[:, i, k:] = path[:, -1:]
        valid[i, :k] = True
        dropout[i, :k] = rate
    return Grid(
        tuple(penalties),
        lam,
        valid,
        dropout,
        np.stack(maxima, axis=1),
        np.asarray(seeds, dtype=np.int64),
    )
