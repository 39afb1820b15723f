"""The same grid fitted with scikit-learn: a reference backend and the speed baseline.

Every fit is certified by :mod:`l1bench.solvers.certify` — the float64 objective and duality gap
that l1bench's exact solvers stop on — so scikit-learn's solutions and l1bench's are compared at the
same, measured quality. The result has the fields and shapes of
:class:`l1bench.solvers.convex.ConvexResult` (linear regression) and
:class:`l1bench.solvers.logistic.LogisticResult` (logistic regression).

**Mapping** (λ = ``grid.lam``, scikit-learn's ``alpha`` in the ElasticNet convention; α the
penalty's ``l1_ratio``; ``n`` the number of samples):

===========================  =======================================================================
penalty                      scikit-learn
===========================  =======================================================================
linear ``l1``                ``Lasso(alpha=λ)``, via ``enet_path(l1_ratio=1)`` (see below)
linear ``elastic_net``       ``ElasticNet(alpha=λ, l1_ratio=α)``, via ``enet_path(l1_ratio=α)``
linear ``l2`` (or α = 0)     ``Ridge(alpha=n·λ)``: ``||y - Xw - b||² + a||w||²`` is ``2n`` × ours
linear ``dropout``           ``Ridge(alpha=n·λ)`` on ``X_j / √d_j``, then ``w_j = u_j / √d_j``
linear ``none`` (or λ = 0)   ``LinearRegression``
logistic ``l1``/``el. net``  ``LogisticRegression(C=1/(n·λ), l1_ratio=α, solver="saga")``
logistic ``l2``              ``LogisticRegression(C=1/(n·λ), l1_ratio=0, solver="lbfgs")``
logistic ``none``/λ = 0      ``LogisticRegression(C=inf, solver="lbfgs")``
===========================  =======================================================================

* Marginalized dropout is the weighted ridge ``(1/2n)||y - Xw - b||² + (λ/2) Σ_j d_j w_j²`` with
  ``d_j = mean_i X_ij²`` of the raw X and λ = p/(1-p). With ``u_j = √d_j w_j`` and
  ``X'_j = X_j / √d_j`` it is the plain ridge ``(1/2n)||y - X'u - b||² + (λ/2)||u||²`` (the
  intercept is untouched: centring commutes with column scaling), i.e. ``Ridge(alpha=n·λ)`` on
  X'; all-zero columns (``d_j = 0``) are left unscaled and get ``w_j = 0``.
* Logistic: scikit-learn minimizes ``C Σ_i ℓ_i + α||W||₁ + (1-α)/2 ||W||²_F`` (intercept
  unpenalized with saga and lbfgs); divided by ``n·C`` this is
  ``(1/n) Σ_i ℓ_i + (1/(n·C)) (α||W||₁ + (1-α)/2 ||W||²_F)``, so ``C = 1/(n·λ)``. For K > 2
  classes scikit-learn fits the full K-column multinomial model, as :mod:`l1bench.solvers.logistic`.

**Paths and warm starts.** L1 / elastic-net paths are fitted by ``enet_path`` (the function
``Lasso`` and ``ElasticNet`` call) on the centred X with the whole path at once: coordinate
descent on X (``precompute=False``, Lasso's default, so the gap sklearn stops on is not formed
from a Gram matrix), each strength warm-started from the previous one, the intercept
``b = ȳ - x̄ᵀw`` after. This is the estimators' own algorithm without their per-fit validation and
copies, 2–5× faster than ``Lasso(warm_start=True)`` refitted along the path on small and medium
data and never slower. Ridge and LinearRegression are direct solvers (no warm start to use).
``LogisticRegression`` is refitted along the path with ``warm_start=True``; saga is seeded with the
problem's seed.

**Tolerances.** scikit-learn's coordinate descent stops when its duality gap of ``n`` × our
objective is at most ``tol_sk · ||y - ȳ||² = tol_sk · 2n · P(0)``; it is passed
``tol_sk = tol / 2``, so it stops at our ``rel_gap <= tol``. saga (largest relative coefficient
change per epoch) and lbfgs (largest projected gradient entry) have no gap criterion; they are
passed ``tol`` as is.

**Status** (per fit): ``diverged`` if the coefficients, intercept, objective or gap are not
finite; else ``converged`` if scikit-learn raised no ``ConvergenceWarning`` for it *and* the
certified ``rel_gap <= 10 · tol``; else ``max_iter``. For ``enet_path`` a fit "raised the warning"
when its ``n_iter`` reached ``max_iter`` (the coordinate-descent loop warns exactly when it ends
that way). ``n_iter`` is scikit-learn's ``n_iter_`` (the largest entry for multinomial), 0 for the
direct solvers. Padded grid points (``valid`` False) are copies of the last real point of their
path.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from l1bench.solvers.certify import certify_linear, certify_logistic
from l1bench.solvers.convex import ConvexResult
from l1bench.solvers.logistic import LogisticResult
from l1bench.vocab import STATUS, TASKS

__all__ = ["STATUS", "solve"]

# rel_gap may exceed tol by this factor and still count as converged (sklearn's own criteria are
# not our gap; see the module docstring)
GAP_SLACK = 10.0


def _check(grid, task: str, n_classes) -> int | None:
    """Refuse what scikit-learn cannot fit, with the reason; return K for classification."""
    if task not in TASKS:
        raise ValueError(f"task={task!r}; choose one of {', '.join(TASKS)}")
    for pen in grid.penalties:
        reason = pen.supports(task, "sklearn")
        if reason:
            raise ValueError(f"{reason}; scikit-learn has no estimator for it")
    if task == "regression":
        return None
    if task == "binary":
        if n_classes not in (None, 2):
            raise ValueError(f"task=binary has 2 classes, got n_classes={n_classes!r}")
        return 2
    if n_classes is None or int(n_classes) != n_classes or n_classes < 2:
        raise ValueError(f"task=multiclass needs n_classes, an integer >= 2; got {n_classes!r}")
    return int(n_classes)


def _fit_catching(fit):
    """Call ``fit()``; return its value and whether it raised a ``ConvergenceWarning``."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        out = fit()
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:  # pass on anything else
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out, warned


# -- linear regression ---------------------------------------------------------------------------


def _direct(X, y, lam, fit_intercept):
    """Ridge(alpha=n·λ), or LinearRegression at λ = 0: (coef, intercept, warned)."""
    from sklearn.linear_model import LinearRegression, Ridge

    if lam == 0:
        model = LinearRegression(fit_intercept=fit_intercept)
    else:
        model = Ridge(alpha=X.shape[0] * lam, fit_intercept=fit_intercept)
    model, warned = _fit_catching(lambda: model.fit(X, y))
    return model.coef_, float(model.intercept_), warned


def _linear_path(X, y, lams, pen, fit_intercept, tol, max_iter):
    """One penalty's path on one problem: coef (L, p), intercept (L,), n_iter (L,), warned (L,)."""
    from sklearn.linear_model import enet_path

    n, p = X.shape
    L = lams.size
    coef, b = np.zeros((L, p)), np.zeros(L)
    n_iter, warned = np.zeros(L, np.int64), np.zeros(L, bool)
    if pen.dropout_weighted or pen.l1_ratio == 0:
        scale = np.ones(p)
        if pen.dropout_weighted:
            d = np.mean(X * X, axis=0)
            scale = np.where(d > 0, 1.0 / np.sqrt(np.where(d > 0, d, 1.0)), 1.0)
        Xs = X * scale
        for k, lam in enumerate(lams):
            u, b[k], warned[k] = _direct(Xs, y, lam, fit_intercept)
            coef[k] = u * scale
        return coef, b, n_iter, warned
    x_mean = X.mean(axis=0) if fit_intercept else np.zeros(p)
    y_mean = y.mean() if fit_intercept else 0.0
    pos = lams > 0  # λ = 0 (the end of a path) has no coordinate-descent dual: least squares
    if pos.any():
        Xc = np.asfortranarray(X - x_mean)
        out, _ = _fit_catching(
            lambda: enet_path(
                Xc,
                y - y_mean,
                l1_ratio=pen.l1_ratio,
                alphas=lams[pos],
                precompute=False,
                tol=tol / 2,
                max_iter=max_iter,
                return_n_iter=True,
            )
        )
        _, path, _, its = out
        coef[pos] = path.T
        n_iter[pos] = its
        warned[pos] = np.asarray(its) >= max_iter
        b[pos] = y_mean - coef[pos] @ x_mean
    for k in np.flatnonzero(~pos):
        coef[k], b[k], warned[k] = _direct(X, y, 0.0, fit_intercept)
    return coef, b, n_iter, warned


# -- logistic regression -------------------------------------------------------------------------


def _logistic_path(X, y, lams, pen, n_classes, fit_intercept, tol, max_iter, seed):
    """One penalty's path on one problem, warm-started: (coef, intercept, n_iter, warned)."""
    from sklearn.linear_model import LogisticRegression

    n, p = X.shape
    binary = n_classes == 2
    if np.unique(y).size != n_classes:
        raise ValueError(
            f"scikit-learn fits only the classes present: every problem needs all {n_classes} "
            f"classes, one has {np.unique(y).size}"
        )
    L = lams.size
    coef = np.zeros((L, p) if binary else (L, p, n_classes))
    b = np.zeros((L,) if binary else (L, n_classes))
    n_iter, warned = np.zeros(L, np.int64), np.zeros(L, bool)
    model = LogisticRegression(
        l1_ratio=pen.l1_ratio,
        solver="saga" if pen.l1_ratio > 0 else "lbfgs",
        tol=tol,
        max_iter=max_iter,
        fit_intercept=fit_intercept,
        warm_start=True,
        random_state=seed,
    )
    for k, lam in enumerate(lams):
        if lam == 0:  # unpenalized: lbfgs whatever the family (saga would do, slowly)
            model.set_params(C=np.inf, solver="lbfgs", l1_ratio=0.0)
        else:
            model.set_params(C=1.0 / (n * lam))
        model, warned[k] = _fit_catching(lambda m=model: m.fit(X, y))
        coef[k] = model.coef_[0] if binary else model.coef_.T
        b[k] = model.intercept_[0] if binary else model.intercept_
        n_iter[k] = int(np.max(model.n_iter_))
    return coef, b, n_iter, warned


# -- the grid ------------------------------------------------------------------------------------


def solve(
    grid,
    X,
    y,
    *,
    task: str,
    n_classes: int | None = None,
    fit_intercept: bool = True,
    tol: float = 1e-8,
    max_iter: int = 100000,
    timings: dict | None = None,
):
    """Fit a :class:`l1bench.grid.Grid` with scikit-learn and certify every fit.

    Args:
      grid: the grid; its S problems match X's first axis.
      X: (S, n, p) designs. y: (S, n) targets, or integer labels in ``0..K-1``.
      task: ``regression`` | ``binary`` | ``multiclass``.
      n_classes: K for ``multiclass`` (2 for ``binary``, implied).
      fit_intercept: fit an unpenalized intercept.
      tol: target ``rel_gap`` (see the module docstring for what scikit-learn is passed).
      max_iter: scikit-learn's ``max_iter`` per fit (epochs / coordinate-descent sweeps).
      timings: if a dict, ``fit_s`` (scikit-learn's time; there is no compile) and
        ``certify_s`` (the float64 certificates) are added to it.

    Returns:
      A :class:`l1bench.solvers.convex.ConvexResult` (regression) or
      :class:`l1bench.solvers.logistic.LogisticResult` (classification) of numpy arrays with leading
      axes (S, P, L); ``objective``, ``gap`` and ``rel_gap`` are :mod:`l1bench.solvers.certify`'s.

    Raises:
      ValueError: for a combination scikit-learn cannot fit (stochastic dropout; marginalized
        dropout for logistic regression), with the reason.
    """
    K = _check(grid, task, n_classes)
    if not tol > 0:
        raise ValueError(f"tol={tol!r} must be > 0")
    if int(max_iter) < 1:
        raise ValueError(f"max_iter={max_iter!r} must be >= 1")
    X = np.asarray(X, np.float64)
    y = np.asarray(y) if K else np.asarray(y, np.float64)
    if X.ndim != 3 or y.shape != X.shape[:2]:
        raise ValueError(f"X must be (S, n, p) and y (S, n); got {X.shape} and {y.shape}")
    S, n, p = X.shape
    P, L = grid.valid.shape
    if grid.lam.shape != (S, P, L):
        raise ValueError(f"grid.lam has shape {grid.lam.shape}, the data need ({S}, {P}, {L})")
    if K and y.size and (np.any(y != np.round(y)) or y.min() < 0 or y.max() >= K):
        raise ValueError(f"y must hold integer labels in 0..{K - 1}")
    multi = K is not None and K > 2
    tail = (p, K) if multi else (p,)
    coef = np.zeros((S, P, L, *tail))
    b = np.zeros((S, P, L, K) if multi else (S, P, L))
    n_iter = np.zeros((S, P, L), np.int64)
    warned = np.zeros((S, P, L), bool)

    t0 = time.perf_counter()
    for s in range(S):
        for i, pen in enumerate(grid.penalties):
            real = np.flatnonzero(grid.valid[i])
            lams = grid.lam[s, i, real]
            if K is None:
                out = _linear_path(X[s], y[s], lams, pen, fit_intercept, tol, int(max_iter))
            else:
                ys = y[s].astype(np.int64)
                out = _logistic_path(
                    X[s], ys, lams, pen, K, fit_intercept, tol, int(max_iter), int(grid.seeds[s])
                )
            # padded points repeat the last real one (make_grid pads each path at its end)
            src = np.minimum(np.arange(L), real.size - 1)
            for dst, arr in zip((coef, b, n_iter, warned), out, strict=True):
                dst[s, i] = arr[src]
    t1 = time.perf_counter()

    l1_ratio = np.array([pen.l1_ratio for pen in grid.penalties])[:, None]
    certs = []
    for s in range(S):
        if K is None:
            weighted = np.array([pen.dropout_weighted for pen in grid.penalties])
            d = np.where(weighted[:, None, None], np.mean(X[s] * X[s], axis=0), 1.0)
            certs.append(
                certify_linear(X[s], y[s], coef[s], b[s], grid.lam[s], l1_ratio, d, fit_intercept)
            )
        else:
            certs.append(
                certify_logistic(X[s], y[s], coef[s], b[s], grid.lam[s], l1_ratio, K, fit_intercept)
            )
    objective, gap, rel_gap = (
        np.stack([getattr(c, f) for c in certs]) for f in ("objective", "gap", "rel_gap")
    )
    t2 = time.perf_counter()
    if timings is not None:
        timings["fit_s"] = timings.get("fit_s", 0.0) + t1 - t0
        timings["certify_s"] = timings.get("certify_s", 0.0) + t2 - t1

    axes = tuple(range(3, coef.ndim))
    finite = np.all(np.isfinite(coef), axis=axes) & np.isfinite(objective) & np.isfinite(gap)
    finite &= np.all(np.isfinite(b), axis=tuple(range(3, b.ndim))) if multi else np.isfinite(b)
    ok = ~warned & (rel_gap <= GAP_SLACK * tol)
    status = np.where(~finite, 2, np.where(ok, 0, 1)).astype(np.int32)
    result = ConvexResult if K is None else LogisticResult
    return result(coef, b, objective, gap, rel_gap, n_iter.astype(np.int32), status)
