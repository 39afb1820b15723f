"""Case D: an L1-logistic path on one problem, certified by :func:`certify.certify_logistic`.

No intercept (``fit_intercept=False``) for every solver: liblinear penalizes an intercept and
celer's ``LogisticRegression`` has none, so this is the one problem all of them solve exactly.
"""

from __future__ import annotations

import warnings

import numpy as np

from experiments.bench.common import (
    DEFAULTS,
    L1BENCH_TOLS,
    PEER_TOLS,
    Options,
    Record,
    measure,
    worst,
)
from experiments.bench.linear import MAX_ITER, _fmt, toeplitz_design
from l1bench.grid import Strengths, make_grid
from l1bench.penalties import make_penalty
from l1bench.solvers import certify, logistic


def logistic_data(rng, n: int, p: int, rho: float = 0.5, density: float = 0.05):
    """Toeplitz design and labels ``y ~ Bernoulli(sigmoid(X w*))`` for a sparse ``w*``."""
    X = toeplitz_design(rng, n, p, rho)
    k = max(1, int(density * p))
    w = np.zeros(p)
    w[rng.choice(p, k, replace=False)] = rng.standard_normal(k)
    z = X @ w
    z *= 2.0 / np.std(z)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
    return X, y


def logistic_grid(X, y, n_lambdas: int, lambda_min_ratio: float):
    st = Strengths(None, n_lambdas, lambda_min_ratio)
    return make_grid(
        [make_penalty("l1", "l1")], [st], X[None], y[None], [0], fit_intercept=False, task="binary"
    )


def certified(X, y, W, lam) -> float:
    """Worst rel_gap of binary L1-logistic solutions W (L, p) without intercept."""
    cert = certify.certify_logistic(
        X, y, W, np.zeros(W.shape[0]), lam, 1.0, n_classes=2, fit_intercept=False
    )
    return worst(cert.rel_gap)


def sklearn_liblinear(X, y, lam, tol):
    """scikit-learn's ``LogisticRegression`` (liblinear, L1), ``C = 1 / (n λ)``, one fit per λ."""
    from sklearn.linear_model import LogisticRegression

    n = X.shape[0]
    out = np.empty((lam.size, X.shape[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j, lm in enumerate(lam):
            model = LogisticRegression(
                penalty="l1",
                C=1.0 / (n * lm),
                solver="liblinear",
                fit_intercept=False,
                tol=tol,
                max_iter=MAX_ITER,
            )
            out[j] = model.fit(X, y).coef_[0]
    return out


def skglm_sparse_logreg(X, y, lam, tol):
    """skglm's ``SparseLogisticRegression`` (``alpha = λ``), warm-started along the path."""
    from skglm import SparseLogisticRegression

    out = np.empty((lam.size, X.shape[1]))
    model = SparseLogisticRegression(
        alpha=lam[0], tol=tol, max_iter=1000, fit_intercept=False, warm_start=True
    )
    for j, lm in enumerate(lam):
        model.alpha = lm
        out[j] = model.fit(X, y).coef_.ravel()
    return out


def celer_logreg(X, y, lam, tol):
    """celer's ``LogisticRegression`` (sum of losses + ||w||₁ / C, so ``C = 1 / (n λ)``)."""
    from celer import LogisticRegression

    n = X.shape[0]
    out = np.empty((lam.size, X.shape[1]))
    model = LogisticRegression(C=1.0 / (n * lam[0]), tol=tol, max_iter=1000, warm_start=True)
    for j, lm in enumerate(lam):
        model.C = 1.0 / (n * lm)
        out[j] = model.fit(X, y).coef_.ravel()
    return out


def peers() -> dict:
    out = {"sklearn LogisticRegression (liblinear)": sklearn_liblinear}
    for name, fn, mod in (
        ("skglm SparseLogisticRegression", skglm_sparse_logreg, "skglm"),
        ("celer LogisticRegression", celer_logreg, "celer"),
    ):
        try:
            __import__(mod)
            out[name] = fn
        except ImportError:
            pass
    return out


def run_case(
    *, X, y, grid, size, repeats, precisions=("float64",), opts: Options = DEFAULTS, log=print
) -> list[Record]:
    lam = grid.lam[0, 0]
    check = lambda W: certified(X, y, W, lam)
    records = []
    for prec in precisions:
        timings: dict = {}

        def run(tol, prec=prec, timings=timings):
            t: dict = {}
            res = logistic.solve(
                grid,
                X[None],
                y[None],
                n_classes=2,
                fit_intercept=False,
                tol=tol,
                max_iter=MAX_ITER,
                precision=prec,
                timings=t,
            )
            timings.setdefault("first", t)
            return res.coef[0, 0]

        rec = measure(
            case="D",
            variant="L1-logistic path",
            size=size,
            solver="l1bench logistic",
            precision=prec,
            run=run,
            check=check,
            tols=L1BENCH_TOLS if prec == "float64" else L1BENCH_TOLS[:1],
            repeats=repeats,
            compile_s=lambda timings=timings: timings["first"].get("compile_s", 0.0),
        )
        log(_fmt(rec))
        records.append(rec)
    for name, fn in peers().items() if opts.peers else ():
        rec = measure(
            case="D",
            variant="L1-logistic path",
            size=size,
            solver=name,
            precision="float64",
            run=lambda tol, fn=fn: fn(X, y, lam, tol),
            check=check,
            tols=PEER_TOLS,
            repeats=repeats,
        )
        log(_fmt(rec))
        records.append(rec)
    return records
