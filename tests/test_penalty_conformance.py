"""Conformance of every registered penalty to the protocol (l1bench.penalties.base).

The suite iterates :data:`l1bench.penalties.PENALTIES`: a penalty added to the package is
checked here without being named. Each check is against an independent computation: the prox
against a numerical minimization, λ_max against fits on either side of it, the duality gap
against the objective of a much tighter fit.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from l1bench.grid import make_grid
from l1bench.penalties import PENALTIES, Gauge, Penalty, Strengths
from l1bench.solvers import convex, logistic

pytestmark = pytest.mark.fast

# a penalty with a gauge other than L1 (the nonnegative Lasso of tests/test_plugin_penalty.py)
# joins the registered ones, so the suite also checks the gauge-generic formulas
NONNEGATIVE = Gauge(
    "nonnegative",
    terms=lambda w: jnp.where(w >= 0, w, jnp.inf),
    dual_norm=lambda v: jnp.maximum(jnp.max(v), 0.0),
    shrink=lambda v, t: jnp.maximum(v - t, 0.0),
)
REGISTERED = {kind: make(kind) for kind, make in PENALTIES.items()}
REGISTERED["nonneg_l1 (test)"] = Penalty("nonneg", "nonneg_l1", gauge=NONNEGATIVE)
EXACT = {k: p for k, p in REGISTERED.items() if p.supports("regression", "convex") is None}


def _data(seed=0, n=40, p=6):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 2.0, size=p)
    w = np.where(rng.random(p) < 0.5, rng.normal(size=p) * 2, 0.0)
    return X, X @ w + 0.5 * rng.normal(size=n)


def _numerical_prox(pen, z, step, lam, d):
    """argmin_x ½ (x - z)²/step + Ω(x e_j), one coordinate at a time (Ω is separable)."""
    out = np.empty_like(z)
    for j in range(z.size):
        e = np.zeros(z.size)
        e[j] = 1.0

        def f(x, j=j, e=e):
            return 0.5 * (x - z[j]) ** 2 / step[j] + float(pen.value(x * e, lam, d))

        grid = np.linspace(-3 * abs(z[j]) - 1, 3 * abs(z[j]) + 1, 4001)
        omega = np.asarray(jax.vmap(lambda x, e=e: pen.value(x * e, lam, d))(grid))
        best = grid[np.argmin(0.5 * (grid - z[j]) ** 2 / step[j] + omega)]
        h = grid[1] - grid[0]
        with np.errstate(invalid="ignore"):  # Brent's parabolas through inf (outside dom Ω)
            res = minimize_scalar(
                f, bounds=(best - h, best + h), method="bounded", options={"xatol": 1e-12}
            )
        out[j] = res.x if res.fun <= f(best) else best
    return out


@pytest.mark.parametrize("kind", sorted(REGISTERED))
def test_prox_is_the_argmin(kind):
    pen = REGISTERED[kind]
    rng = np.random.default_rng(1)
    p = 5
    for trial in range(3):
        z = rng.normal(size=p) * 3
        lam = float(rng.uniform(0.1, 2.0))
        d = rng.uniform(0.5, 2.0, size=p)
        bound = float(pen.step_bound(lam))
        step = rng.uniform(0.05, min(2.0, 0.99 * bound), size=p)  # per-coordinate steps
        prox = np.asarray(pen.prox(z, step, lam, d))
        ref = _numerical_prox(pen, z, step, lam, d)

        def objective(x):
            return 0.5 * np.sum((x - z) ** 2 / step) + float(pen.value(x, lam, d))

        assert objective(prox) <= objective(ref) + 1e-9, (trial, prox, ref)
        np.testing.assert_allclose(prox, ref, atol=1e-6)


RATES = [0.5, 0.3, 0.1]  # the strengths of penalties whose path is given by dropout rates


def _grid(pen, X, y, lam):
    return make_grid([pen], [Strengths(lam=lam, dropout=RATES)], X[None], y[None], [0])


def _solve(pen, X, y, lam, tol, algorithm="gram"):
    grid = _grid(pen, X, y, lam)
    return convex.solve(grid, X[None], y[None], tol=tol, max_iter=200_000, algorithm=algorithm)


def _has_lam_max(pen, X, y):
    path = pen.path(
        Strengths(n_lambdas=2, dropout=RATES),
        X[None],
        y[None],
        fit_intercept=True,
        task="regression",
        n_classes=None,
    )
    return np.isfinite(path.lam_max).all() and pen.l1_ratio > 0


@pytest.mark.parametrize("kind", sorted(EXACT))
def test_zero_exactly_from_lam_max(kind):
    pen = EXACT[kind]
    X, y = _data()
    if not _has_lam_max(pen, X, y):
        pytest.skip(f"{kind}: its path does not start at a λ_max with w = 0")
    lmax = pen.lam_max(X, y, True)
    out = _solve(pen, X, y, [lmax, 0.99 * lmax], tol=1e-12)
    assert np.all(out.coef[0, 0, 0] == 0)
    assert np.any(out.coef[0, 0, 1] != 0)


@pytest.mark.parametrize("kind", sorted(EXACT))
@pytest.mark.parametrize("algorithm", ["gram", "design", "gram_ws"])
def test_gap_bounds_the_suboptimality_once_converged(kind, algorithm):
    pen = EXACT[kind]
    X, y = _data(seed=2)
    lmax = pen.lam_max(X, y, True) if _has_lam_max(pen, X, y) else 1.0
    lam = [0.5 * lmax, 0.1 * lmax, 0.01 * lmax]
    tol = 1e-6
    Xa = X if algorithm == "gram_ws" else X[None]
    grid = _grid(pen, X, y, lam)
    loose = convex.solve(grid, Xa, y[None], tol=tol, algorithm=algorithm)
    tight = _solve(pen, X, y, lam, tol=1e-13)
    assert np.all(loose.status == 0)
    assert np.all(loose.gap >= 0) and np.all(loose.rel_gap <= tol)
    # where λ > 0 the measure is a duality gap: it bounds the distance to the optimum
    penalized = grid.lam > 0
    excess = (loose.objective - tight.objective)[penalized]
    slack = 1e-12 * np.abs(tight.objective[penalized])
    assert np.all(excess <= loose.gap[penalized] + slack)


def _labels(seed, n, p, k):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    W = rng.normal(size=(p, k)) * (rng.random((p, 1)) < 0.5)
    logits = X @ W + rng.gumbel(size=(n, k))
    y = np.argmax(logits, axis=1) if k > 1 else (logits[:, 0] > 0).astype(int)
    return X, y


CLASSIFIERS = [
    (kind, task)
    for kind, pen in sorted(REGISTERED.items())
    for task in ("binary", "multiclass")
    if pen.supports(task, "convex") is None and pen.supports(task, None) is None
]


@pytest.mark.parametrize(("kind", "task"), CLASSIFIERS)
def test_logistic_zero_from_lam_max_and_gap_bounds(kind, task):
    pen = REGISTERED[kind]
    k = 1 if task == "binary" else 3
    X, y = _labels(4, 60, 5, k)
    n_classes = 2 if task == "binary" else 3
    kw = dict(fit_intercept=True, task=task, n_classes=n_classes)
    path = pen.path(Strengths(n_lambdas=2, dropout=RATES), X[None], y[None], **kw)
    has_max = bool(np.isfinite(path.lam_max).all()) and pen.l1_ratio > 0
    lmax = path.lam_max[0] if has_max else 0.1
    lam = [lmax, 0.99 * lmax, 0.3 * lmax, 0.05 * lmax] if has_max else [lmax, 0.1 * lmax]

    def fit(tol):
        grid = make_grid([pen], [Strengths(lam=lam, dropout=RATES)], X[None], y[None], [0], **kw)
        out = logistic.solve(grid, X[None], y[None], n_classes=n_classes, tol=tol, max_iter=200_000)
        return grid, out

    grid, loose = fit(1e-7)
    _, tight = fit(1e-13)
    assert np.all(loose.status == 0)
    if has_max:
        assert np.all(loose.coef[0, 0, 0] == 0) and np.any(loose.coef[0, 0, 1] != 0)
    penalized = grid.lam > 0
    excess = (loose.objective - tight.objective)[penalized]
    # the KL terms of the logistic gap round to a few ε below 0 at an exact optimum (w = 0)
    assert np.all(loose.gap[penalized] >= -1e-14 * np.abs(tight.objective[penalized]))
    assert np.all(excess <= loose.gap[penalized] + 1e-12 * np.abs(tight.objective[penalized]))


def test_penalties_with_different_gauges_in_one_grid():
    """One grid mixing gauges is one compiled call per gauge, put back in the grid's order (the
    batch width changes the vectorized code, so equal to rounding, not bit for bit)."""
    pens = [REGISTERED["l1"], REGISTERED["nonneg_l1 (test)"], REGISTERED["elastic_net"]]
    X, y = _data(seed=5)
    st = [Strengths(n_lambdas=4, lambda_min_ratio=0.05)] * 3
    grid = make_grid(pens, st, X[None], y[None], [0])
    together = convex.solve(grid, X[None], y[None], tol=1e-10, algorithm="gram")
    for i, pen in enumerate(pens):
        alone = make_grid([pen], st[:1], X[None], y[None], [0])
        single = convex.solve(alone, X[None], y[None], tol=1e-10, algorithm="gram")
        np.testing.assert_allclose(together.coef[:, i], single.coef[:, 0], rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(together.status[:, i], single.status[:, 0])
    Xc, yc = _labels(6, 50, 4, 1)
    kw = dict(task="binary", n_classes=2)
    grid = make_grid(pens, st, Xc[None], yc[None], [0], **kw)
    together = logistic.solve(grid, Xc[None], yc[None], n_classes=2, tol=1e-9)
    for i, pen in enumerate(pens):
        alone = make_grid([pen], st[:1], Xc[None], yc[None], [0], **kw)
        single = logistic.solve(alone, Xc[None], yc[None], n_classes=2, tol=1e-9)
        np.testing.assert_allclose(together.coef[:, i], single.coef[:, 0], rtol=1e-12, atol=1e-14)


def test_a_user_penalty_factory_is_checked_at_start_up(tmp_path, monkeypatch):
    from l1bench.config import ConfigError, validate

    from conftest import compose_config

    (tmp_path / "user_penalties.py").write_text(
        "from l1bench.penalties import Penalty\n"
        "def scaled(label, c=1.0):\n"
        "    if c <= 0:\n"
        "        raise ValueError(f'c={c} must be > 0')\n"
        "    return Penalty(label, 'scaled_l1')\n"
        "def broken(label):\n"
        "    return 'not a penalty'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    base = ("penalty=l1", "penalty.l1.kind=null")
    cases = [
        ("penalty.l1._target_=user_penalties.broken", "not an l1bench.penalties.Penalty"),
        ("+penalty.l1.params.d=1", "penalty.l1.params.d is not an option"),
        ("+penalty.l1.params.c=-1", "c=-1 must be > 0"),
        ("penalty.l1.l1_ratio=0.5", "penalty.l1.l1_ratio is not an option of this penalty"),
    ]
    for override, message in cases:
        target = [] if "_target_" in override else ["penalty.l1._target_=user_penalties.scaled"]
        with pytest.raises(ConfigError, match=re.escape(message)):
            validate(compose_config(*base, *target, override))
    cfg = validate(compose_config(*base, "penalty.l1._target_=user_penalties.scaled"))
    assert cfg.penalty["l1"]._target_ == "user_penalties.scaled"
