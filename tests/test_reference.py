"""The scikit-learn backend and the float64 certificate, against l1bench's exact solvers."""

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import Lasso, Ridge

from l1bench.grid import Strengths, lambda_max, make_grid
from l1bench.penalties import make_penalty
from l1bench.solvers import certify, convex, logistic, reference

LINEAR_PENALTIES = [
    make_penalty("l1", "l1"),
    make_penalty("en", "elastic_net", 0.5),
    make_penalty("l2", "l2"),
    make_penalty("dropout", "dropout"),
    make_penalty("none", "none"),
]
LINEAR_STRENGTHS = [
    Strengths(n_lambdas=5, lambda_min_ratio=1e-2),
    Strengths(n_lambdas=5, lambda_min_ratio=1e-2),
    Strengths(n_lambdas=4),
    Strengths(dropout=[0.1, 0.5]),
    Strengths(),
]
SPARSE = [0, 1]  # penalties with an L1 part


def _standardize(X):
    return (X - X.mean(0)) / X.std(0)


def _regression(n, p, seeds=(0, 1)):
    Xs, ys = [], []
    for seed in seeds:
        X, y = make_regression(
            n_samples=n, n_features=p, n_informative=5, noise=1.0, random_state=seed
        )
        Xs.append(_standardize(X) + 0.3)  # uncentred: the intercept matters
        ys.append(y / y.std() + 2.0)
    return np.stack(Xs), np.stack(ys)


def _classification(n_classes, n=120, p=8):
    X, y = make_classification(
        n_samples=n,
        n_features=p,
        n_informative=4,
        n_redundant=2,
        n_classes=n_classes,
        random_state=0,
    )
    return _standardize(X)[None] + 0.5, y[None]


def _l1_ratio(grid):
    return np.array([pen.l1_ratio for pen in grid.penalties])[:, None]


@pytest.mark.parametrize("n,p", [(80, 30), (30, 50)], ids=["p<n", "p>n"])
def test_linear_grid_matches_convex(n, p):
    X, y = _regression(n, p)
    grid = make_grid(LINEAR_PENALTIES, LINEAR_STRENGTHS, X, y, [0, 1])
    ours = convex.solve(grid, X, y, tol=1e-10, max_iter=100_000)
    timings = {}
    ref = reference.solve(grid, X, y, task="regression", tol=1e-10, timings=timings)
    assert ref.coef.shape == ours.coef.shape and ref.intercept.shape == ours.intercept.shape
    assert timings["fit_s"] > 0
    assert np.all(ours.status == 0) and np.all(ref.status == 0)
    # p > n without a penalty interpolates: objective 0 (P(0) = 1/2 here, y has unit variance)
    np.testing.assert_allclose(ref.objective, ours.objective, rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(ref.coef[:, SPARSE] != 0, ours.coef[:, SPARSE] != 0)
    assert np.all(ref.rel_gap <= 10 * 1e-10)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_logistic_grid_matches_logistic(n_classes):
    X, y = _classification(n_classes)
    task = "binary" if n_classes == 2 else "multiclass"
    pens = [
        make_penalty("l1", "l1"),
        make_penalty("en", "elastic_net", 0.5),
        make_penalty("l2", "l2"),
        make_penalty("none", "none"),
    ]
    # off lam_max, where the all-zero solution is a knife edge for saga's rounding
    strengths = [
        Strengths(
            lam=lambda_max(X[0], y[0], pen.l1_ratio, True, task, n_classes)
            * np.array([0.5, 0.2, 0.05])
        )
        for pen in pens[:3]
    ]
    grid = make_grid(pens, [*strengths, Strengths()], X, y, [0], task=task, n_classes=n_classes)
    ours = logistic.solve(grid, X, y, n_classes=n_classes, tol=1e-10)
    ref = reference.solve(grid, X, y, task=task, n_classes=n_classes, tol=1e-9)
    tail = (8,) if n_classes == 2 else (8, n_classes)
    assert ref.coef.shape == ours.coef.shape == (1, 4, 3, *tail)
    assert ref.intercept.shape == ours.intercept.shape
    assert np.all(ours.status == 0)
    np.testing.assert_allclose(ref.objective, ours.objective, rtol=1e-6)
    np.testing.assert_array_equal(ref.coef[:, SPARSE] != 0, ours.coef[:, SPARSE] != 0)
    # the status rule: converged iff no ConvergenceWarning and rel_gap <= 10 tol
    np.testing.assert_array_equal(ref.status == 0, ref.rel_gap <= 1e-8)


def test_certify_reproduces_the_solvers_gap_and_handles_the_intercept():
    X, y = _regression(80, 30, seeds=(0,))
    grid = make_grid(LINEAR_PENALTIES, LINEAR_STRENGTHS, X, y, [0])
    ours = convex.solve(grid, X, y, tol=1e-10)
    d = np.where(
        np.array([p.dropout_weighted for p in grid.penalties])[:, None, None],
        certify.dropout_weights(X[0]),
        1.0,
    )
    args = (X[0], y[0], ours.coef[0], ours.intercept[0], grid.lam[0], _l1_ratio(grid), d)
    cert = certify.certify_linear(*args)
    p0 = 0.5 * np.var(y[0])
    assert np.max(np.abs(cert.gap - ours.gap[0])) <= 1e-13 * p0
    # rounding is relative to P(0), as for the gaps: near-interpolating fits have P ≪ P(0)
    np.testing.assert_allclose(cert.objective, ours.objective[0], rtol=1e-13, atol=1e-14 * p0)
    assert np.all(cert.gap >= -1e-14 * p0) and np.all(cert.rel_gap <= 1e-10)
    assert np.all(cert.intercept_error <= 1e-12)
    # a shifted intercept: same certificate at b*(w), and the shift is reported
    shifted = certify.certify_linear(*args[:3], args[3] + 0.25, *args[4:])
    np.testing.assert_allclose(shifted.objective, cert.objective, rtol=1e-14)
    np.testing.assert_allclose(shifted.intercept_error, 0.25, rtol=1e-12)
    # the X form (convex.solve's for p > n) gives the same numbers
    by_x = certify.certify_linear(*args, use_gram=False)
    assert np.max(np.abs(by_x.gap - cert.gap)) <= 1e-13 * p0

    Xc, yc = _classification(3)
    lam = lambda_max(Xc[0], yc[0], 1.0, True, "multiclass", 3) * np.array([0.3, 0.1])
    lgrid = make_grid(
        [make_penalty("l1", "l1")],
        [Strengths(lam=lam)],
        Xc,
        yc,
        [0],
        task="multiclass",
        n_classes=3,
    )
    lfit = logistic.solve(lgrid, Xc, yc, n_classes=3, tol=1e-10)
    lcert = certify.certify_logistic(
        Xc[0], yc[0], lfit.coef[0], lfit.intercept[0], lgrid.lam[0], 1.0, 3
    )
    np.testing.assert_allclose(lcert.gap, lfit.gap[0], rtol=1e-6, atol=1e-15)
    assert np.all(lcert.gap >= -1e-15) and np.all(lcert.rel_gap <= 1e-10)


def test_certified_gap_bounds_the_suboptimality_of_a_loose_sklearn_fit():
    X, y = _regression(80, 30, seeds=(0,))
    lam = 0.05
    loose = Lasso(alpha=lam, tol=1e-2).fit(X[0], y[0])
    tight = Lasso(alpha=lam, tol=1e-12, max_iter=100_000).fit(X[0], y[0])
    c_loose, c_tight = (
        certify.certify_linear(X[0], y[0], m.coef_, m.intercept_, lam, 1.0) for m in (loose, tight)
    )
    assert c_loose.gap > 0
    assert c_loose.objective - c_tight.objective <= c_loose.gap
    assert c_tight.rel_gap <= 1e-12


def test_dropout_is_ridge_on_rescaled_columns():
    # (1/2n)||y - Xw - b||² + (λ/2) Σ d_j w_j², d_j = mean x_ij²  ==  Ridge(n λ) on X_j / √d_j
    X, y = _regression(60, 8, seeds=(3,))
    X = X * np.linspace(0.5, 3.0, 8)  # unequal column scales make d matter
    grid = make_grid(
        [make_penalty("dropout", "dropout")], [Strengths(dropout=[0.2, 0.5])], X, y, [0]
    )
    ours = convex.solve(grid, X, y, tol=1e-30, max_iter=20_000)  # runs to the rounding floor
    ref = reference.solve(grid, X, y, task="regression", tol=1e-12)
    err = np.linalg.norm(ref.coef - ours.coef, axis=-1) / np.linalg.norm(ours.coef, axis=-1)
    assert np.all(err <= 1e-8)
    np.testing.assert_allclose(ref.intercept, ours.intercept, rtol=1e-8)
    # and by hand: the weighted-ridge normal equations
    n = X.shape[1]
    d = np.mean(X[0] ** 2, axis=0)
    Xc, yc = X[0] - X[0].mean(0), y[0] - y[0].mean()
    for k, lam in enumerate(grid.lam[0, 0]):
        w = np.linalg.solve(Xc.T @ Xc / n + lam * np.diag(d), Xc.T @ yc / n)
        np.testing.assert_allclose(ref.coef[0, 0, k], w, rtol=1e-10)
        unscaled = Ridge(alpha=n * lam).fit(X[0], y[0]).coef_
        assert not np.allclose(unscaled, w, rtol=1e-3)


def test_status_reports_a_convergence_warning():
    X, y = _regression(80, 30, seeds=(0,))
    grid = make_grid(
        [make_penalty("l1", "l1")], [Strengths(n_lambdas=3, lambda_min_ratio=1e-3)], X, y, [0]
    )
    ref = reference.solve(grid, X, y, task="regression", tol=1e-14, max_iter=1)
    assert ref.status[0, 0, 0] == 0  # lam_max: w = 0 is optimal before any sweep
    assert np.all(ref.status[0, 0, 1:] == 1) and np.all(ref.n_iter[0, 0, 1:] == 1)


@pytest.mark.parametrize(
    "penalty,task,match",
    [
        (make_penalty("dropout", "dropout"), "binary", "marginalized dropout"),
        (make_penalty("sd", "dropout", dropout_mode="stochastic"), "regression", "stochastic"),
    ],
    ids=["marginalized-dropout-logistic", "stochastic-dropout"],
)
def test_unsupported_combination_raises_with_the_reason(penalty, task, match):
    X, y = _classification(2, n=30)
    grid = make_grid([penalty], [Strengths(dropout=[0.3])], X, y, [0])
    with pytest.raises(ValueError, match=f"{penalty.label!r}.*{match}"):
        reference.solve(grid, X, y, task=task, n_classes=2 if task == "binary" else None)
