"""``l1bench.fit``: the grid and the solver without Hydra, on arrays as given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from l1bench.config import DROPOUT_MODES, PENALTY_KINDS, PRECISIONS
from l1bench.fit import convex
from l1bench.grid import Strengths, make_grid
from l1bench.penalties import make_penalty


class FitResult(NamedTuple):
    """One fit per strength, strongest first.

    Attributes:
      coef: (L, p) coefficients; exact zeros where the L1 part zeroes a feature.
      intercept: (L,). lam: (L,) strengths λ. dropout: (L,) dropout rates (NaN unless dropout).
      objective: (L,) the objective at the solution. gap: (L,) its duality gap.
      rel_gap: (L,) gap / P(0), the quantity compared with ``tol``.
      n_iter: (L,) iterations. status: (L,) ``converged`` | ``max_iter`` | ``diverged``.
    """

    coef: np.ndarray
    intercept: np.ndarray
    lam: np.ndarray
    dropout: np.ndarray
    objective: np.ndarray
    gap: np.ndarray
    rel_gap: np.ndarray
    n_iter: np.ndarray
    status: tuple[str, ...]


def _as_xy(X, y) -> tuple[np.ndarray, np.ndarray]:
    try:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"X and y must be numeric arrays: {err}") from None
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {X.shape}")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must be 1-D with {X.shape[0]} entries (rows of X), got {y.shape}")
    for name, a in (("X", X), ("y", y)):
        bad = np.size(a) - np.count_nonzero(np.isfinite(a))
        if bad:
            raise ValueError(f"{name} has {bad} NaN or infinite entries; l1bench fits finite data")
    return X, y


def fit(
    X,
    y,
    *,
    model: str = "linear",
    penalty: str = "l1",
    lam: Sequence[float] | float | None = None,
    l1_ratio: float | None = None,
    dropout: Sequence[float] | float | None = None,
    dropout_mode: str = "marginalized",
    n_lambdas: int = 20,
    lambda_min_ratio: float = 1e-3,
    tol: float = 1e-8,
    max_iter: int = 20000,
    fit_intercept: bool = True,
    precision: str = "float64",
) -> FitResult:
    """Fit a penalized linear model along a path of strengths, exactly, in one compiled call.

    The objective is scikit-learn's ElasticNet one (``lam`` is sklearn's ``alpha``)::

        1/(2n) ||y - Xw - b||² + lam * (l1_ratio * ||w||_1 + (1 - l1_ratio)/2 * ||w||²)

    with ``l1_ratio`` = 1 for ``penalty="l1"`` and 0 for ``"l2"``. ``penalty="dropout"`` with
    ``dropout_mode="marginalized"`` minimizes the exact expected loss under inverted input dropout
    with rate p, ``1/(2n) ||y - Xw - b||² + (1/2) p/(1-p) Σ_j w_j² mean_i x_ij²``.
    X and y are used as given (no standardization).

    Args:
      X: (n_samples, n_features) design. y: (n_samples,) targets.
      model: ``"linear"``.
      penalty: ``none`` | ``l1`` | ``l2`` | ``elastic_net`` | ``dropout``.
      lam: strengths; if None, a path of ``n_lambdas`` values from lam_max down to
        ``lam_max * lambda_min_ratio``.
      l1_ratio: mix α for ``elastic_net``.
      dropout: rate(s) p in [0, 1) for ``penalty="dropout"``.
      dropout_mode: ``marginalized``.
      tol: stop when the duality gap is at most ``tol * P(0)``.
      max_iter: iteration cap per strength.
      fit_intercept: fit an unpenalized intercept.
      precision: ``float64`` | ``float32``.

    Returns:
      A :class:`FitResult`, one row per strength from strongest to weakest.

    Examples:
      >>> res = l1bench.fit(X, y, penalty="l1", lam=[1.0, 0.1])
      >>> res.coef.shape  # (2, n_features)
    """
    X, y = _as_xy(X, y)
    if model != "linear":
        raise ValueError(f"model={model!r} is not supported yet; choose 'linear'")
    if penalty not in PENALTY_KINDS:
        raise ValueError(f"penalty={penalty!r}; choose one of {', '.join(PENALTY_KINDS)}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}; choose one of {', '.join(PRECISIONS)}")
    if penalty == "dropout":
        if dropout_mode not in DROPOUT_MODES:
            raise ValueError(f"dropout_mode={dropout_mode!r}; choose one of marginalized")
        if dropout_mode != "marginalized":
            raise ValueError("dropout_mode='stochastic' needs the optax trainer (not built yet)")
        rates = np.atleast_1d(np.asarray(dropout if dropout is not None else [], dtype=float))
        if rates.size == 0 or np.any((rates < 0) | (rates >= 1)):
            raise ValueError(f"dropout={dropout!r}: give one or more rates in [0, 1)")
        strengths = Strengths(dropout=rates)
    else:
        if lam is not None:
            lam = np.atleast_1d(np.asarray(lam, dtype=float))
            if lam.size == 0 or not np.all(np.isfinite(lam)) or np.any(lam < 0):
                raise ValueError(f"lam={lam!r}: give one or more finite strengths >= 0")
        strengths = Strengths(lam=lam, n_lambdas=n_lambdas, lambda_min_ratio=lambda_min_ratio)
    if penalty != "elastic_net" and l1_ratio is not None:
        raise ValueError(f"l1_ratio is only used by penalty='elastic_net' (got {penalty!r})")
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol={tol!r} must be > 0")
    pen = make_penalty(penalty, penalty, 0.5 if l1_ratio is None else l1_ratio)
    grid = make_grid([pen], [strengths], X[None], y[None], [0], fit_intercept=fit_intercept)
    out = convex.solve(
        grid,
        X[None],
        y[None],
        fit_intercept=fit_intercept,
        tol=tol,
        max_iter=max_iter,
        precision=precision,
    )
    keep = grid.valid[0]
    take = lambda a: a[0, 0][keep]
    return FitResult(
        coef=take(out.coef),
        intercept=take(out.intercept),
        lam=grid.lam[0, 0][keep],
        dropout=grid.dropout[0][keep],
        objective=take(out.objective),
        gap=take(out.gap),
        rel_gap=take(out.rel_gap),
        n_iter=take(out.n_iter),
        status=tuple(convex.STATUS[s] for s in take(out.status)),
    )
