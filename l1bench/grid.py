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
``valid`` marks the real points. Each penalty computes its own path (:meth:`Penalty.path`):
λ_max through its gauge, rates for dropout, one point at λ = 0 for no penalty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeVar

import numpy as np

from l1bench.penalties import L1, Penalty, Strengths

T = TypeVar("T")

__all__ = [
    "Grid",
    "Strengths",
    "gauge_groups",
    "lambda_max",
    "make_grid",
    "per_gauge",
    "repeat_problems",
    "subgrid",
]


class Grid(NamedTuple):
    """A rectangular batch of fits.

    Attributes:
      penalties: the ``P`` penalties.
      lam: (S, P, L) strength λ of every fit; each ``lam[s, i]`` is non-increasing (λ = p/(1-p)
        for marginalized dropout, 0 for stochastic dropout, whose strength is the rate).
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


def lambda_max(
    X: np.ndarray,
    y: np.ndarray,
    l1_ratio: float,
    fit_intercept: bool,
    task: str = "regression",
    n_classes: int | None = None,
) -> float:
    """Smallest λ with ``w = 0`` optimal for the family at ``l1_ratio`` (floored at 1e-3).

    Regression: ``max_j |x_jᵀ(y - ȳ)| / (n·α)`` (uncentred without an intercept).
    Classification: ``‖Xᵀ(p̂ - Y)‖_∞ / (n·α)`` with ``Y`` the labels (one-hot for K > 2) and ``p̂``
    the intercept-only fit: the class frequencies with an intercept, else 1/2 or 1/K.

    Args:
      X: (n, p) design. y: (n,) targets, or integer labels for classification.
      l1_ratio: α of the family.
      fit_intercept: whether an unpenalized intercept is fitted.
      task: ``regression`` | ``binary`` | ``multiclass``. n_classes: K for ``multiclass``.
    """
    pen = Penalty("lambda_max", "elastic_net", l1_ratio=float(l1_ratio), gauge=L1)
    return pen.lam_max(X, y, fit_intercept, task, n_classes)


def subgrid(grid: Grid, index: Sequence[int]) -> Grid:
    """The grid restricted to the penalties at ``index`` (same problems and path length)."""
    idx = np.asarray(index, dtype=int)
    return Grid(
        tuple(grid.penalties[i] for i in idx),
        grid.lam[:, idx],
        grid.valid[idx],
        grid.dropout[idx],
        grid.lam_max[:, idx],
        grid.seeds,
    )


def repeat_problems(grid: Grid, k: int) -> Grid:
    """Each problem repeated ``k`` times in place (the folds of a seed share its strengths)."""
    return grid._replace(
        lam=np.repeat(grid.lam, k, axis=0),
        lam_max=np.repeat(grid.lam_max, k, axis=0),
        seeds=np.repeat(grid.seeds, k),
    )


def make_grid(
    penalties: Sequence[Penalty],
    strengths: Sequence[Strengths],
    X: np.ndarray,
    y: np.ndarray,
    seeds: Sequence[int],
    *,
    fit_intercept: bool = True,
    task: str = "regression",
    n_classes: int | None = None,
) -> Grid:
    """Expand penalties × strengths × problems into a :class:`Grid`.

    Args:
      penalties: the P penalties.
      strengths: one :class:`Strengths` per penalty.
      X: (S, n, p) training designs, one per problem. y: (S, n) targets.
      seeds: (S,) seeds of the problems.
      fit_intercept: whether lam_max is computed on centred data.
      task, n_classes: which loss lam_max is computed for (see :func:`lambda_max`); for MLPs
        the path is anchored at the linear/logistic model's lam_max, a scale rather than an exact
        all-zero point.

    Returns:
      The grid; explicit strength lists are sorted from strongest to weakest.
    """
    if len(penalties) != len(strengths):
        raise ValueError("one Strengths per penalty is needed")
    kw = dict(fit_intercept=fit_intercept, task=task, n_classes=n_classes)
    parts = [pen.path(st, X, y, **kw) for pen, st in zip(penalties, strengths, strict=True)]
    paths = [part.lam for part in parts]
    rates = [part.rates for part in parts]
    maxima = [part.lam_max for part in parts]
    S = X.shape[0]
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


def gauge_groups(grid) -> list[np.ndarray]:
    """The indices of ``grid``'s penalties by gauge, in order of first appearance."""
    gauges = [pen.gauge for pen in grid.penalties]
    firsts = list(dict.fromkeys(gauges))
    return [np.flatnonzero([g == first for g in gauges]) for first in firsts]


def per_gauge(grid: Grid, solve: Callable[[Grid], T]) -> T:
    """``solve(grid)`` when every penalty shares one gauge; else ``solve`` of each gauge's
    subgrid (one compiled call each), the results (NamedTuples of arrays whose axis 1 is the
    penalty) put back in the grid's penalty order."""
    groups = gauge_groups(grid)
    if len(groups) == 1:
        return solve(grid)
    parts = [solve(subgrid(grid, idx)) for idx in groups]
    order = np.argsort(np.concatenate(groups))
    joined = (np.concatenate(a, axis=1)[:, order] for a in zip(*parts, strict=True))
    return type(parts[0])(*joined)
