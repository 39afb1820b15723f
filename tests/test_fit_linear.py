"""The exact convex solver against scikit-learn and against closed forms computed here."""

import numpy as np
import pytest
from scipy.linalg import toeplitz
from sklearn.datasets import load_diabetes, make_regression
from sklearn.linear_model import ElasticNet, Lasso, Ridge

import l1bench


def objective(X, y, w, b, lam, l1_ratio):
    r = y - X @ w - b
    return r @ r / (2 * len(y)) + lam * (l1_ratio * np.abs(w).sum() + 0.5 * (1 - l1_ratio) * w @ w)


def _correlated(n=80, p=30, rho=0.9, seed=1):
    assert p > 12
    rng = np.random.default_rng(seed)
    cov = toeplitz(rho ** np.arange(p))
    X = rng.multivariate_normal(np.zeros(p), cov, size=n)
    w = np.zeros(p)
    w[[0, 1, 5, 12]] = [2.0, -1.5, 1.0, 0.5]
    return X, X @ w + 0.5 * rng.standard_normal(n)


def _datasets():
    X, y = load_diabetes(return_X_y=True)
    yield "diabetes", X, y
    X, y = make_regression(n_samples=40, n_features=120, n_informative=6, noise=2.0, random_state=3)
    yield "p>n", X, y
    yield "correlated", *_correlated()


DATASETS = list(_datasets())


@pytest.mark.parametrize("name,X,y", DATASETS, ids=[d[0] for d in DATASETS])
@pytest.mark.parametrize(
    "penalty,l1_ratio", [("l1", 1.0), ("elastic_net", 0.5), ("elastic_net", 0.9)]
)
def test_l1_and_elastic_net_match_sklearn(name, X, y, penalty, l1_ratio):
    lam_max = np.max(np.abs((y - y.mean()) @ (X - X.mean(0)))) / (len(y) * l1_ratio)
    lams = lam_max * np.array([0.5, 0.1, 0.02])
    res = l1bench.fit(
        X,
        y,
        penalty=penalty,
        lam=lams,
        l1_ratio=l1_ratio if penalty == "elastic_net" else None,
        tol=1e-8,
    )
    assert res.status == ("converged",) * 3
    for k, lam in enumerate(res.lam):
        ref = (
            Lasso(alpha=lam, tol=1e-8, max_iter=200_000)
            if penalty == "l1"
            else ElasticNet(alpha=lam, l1_ratio=l1_ratio, tol=1e-8, max_iter=200_000)
        ).fit(X, y)
        ref_obj = objective(X, y, ref.coef_, ref.intercept_, lam, l1_ratio)
        ours = objective(X, y, res.coef[k], res.intercept[k], lam, l1_ratio)
        assert ours == pytest.approx(ref_obj, rel=1e-6)
        assert res.objective[k] == pytest.approx(ours, rel=1e-10)
        np.testing.assert_array_equal(res.coef[k] != 0, ref.coef_ != 0)


@pytest.mark.parametrize("name,X,y", DATASETS, ids=[d[0] for d in DATASETS])
def test_l2_matches_sklearn_ridge_converted(name, X, y):
    # Ridge minimizes ||y - Xw - b||² + a ||w||²; ours × 2n gives a = n · lam.
    n = len(y)
    for lam in [1.0, 0.01]:
        res = l1bench.fit(X, y, penalty="l2", lam=[lam], tol=1e-10)
        ref = Ridge(alpha=n * lam, solver="svd").fit(X, y)
        ref_obj = objective(X, y, ref.coef_, ref.intercept_, lam, 0.0)
        assert res.objective[0] == pytest.approx(ref_obj, rel=1e-6)
        # strong convexity (modulus lam): ||w - w*||² <= 2 · gap / lam
        dist2 = np.sum((res.coef[0] - ref.coef_) ** 2)
        assert dist2 <= 2 * max(res.gap[0], 1e-12 * res.objective[0]) / lam * 1.01


def test_duality_gap_certifies_the_objective():
    X, y = DATASETS[0][1], DATASETS[0][2]
    res = l1bench.fit(X, y, penalty="elastic_net", l1_ratio=0.3, n_lambdas=8, tol=1e-9)
    p0 = np.var(y) / 2
    assert np.all(res.gap >= -1e-12 * p0)
    assert np.all(res.rel_gap <= 1e-9)
    np.testing.assert_allclose(res.rel_gap, res.gap / p0, rtol=1e-12)


def test_path_starts_at_lam_max_with_all_zeros():
    X, y = DATASETS[1][1], DATASETS[1][2]
    res = l1bench.fit(X, y, penalty="l1", n_lambdas=5, lambda_min_ratio=0.01)
    assert np.all(res.coef[0] == 0)  # at lam_max, w = 0 is optimal
    assert np.all(np.diff(res.lam) < 0)
    assert res.lam[-1] == pytest.approx(0.01 * res.lam[0])
    below = l1bench.fit(X, y, penalty="l1", lam=[0.999 * res.lam[0]])
    assert np.count_nonzero(below.coef[0]) >= 1


def test_marginalized_dropout_equals_weighted_ridge_closed_form():
    X, y = _correlated(n=60, p=15)
    X = X * np.linspace(0.5, 3.0, X.shape[1]) + 1.0  # unequal scales and a nonzero mean
    n = len(y)
    for rate in [0.1, 0.5]:
        # ||w - w*||² <= 2 gap / (kappa min d): a 1e-8 match needs gap ~ 1e-20 P(0), which the
        # cancellation-free gap formulas can certify
        res = l1bench.fit(X, y, penalty="dropout", dropout=[rate], tol=1e-20)
        assert res.status == ("converged",)
        kappa = rate / (1 - rate)
        d = np.mean(X**2, axis=0)  # raw second moments: inverted dropout on uncentred inputs
        Xc, yc = X - X.mean(0), y - y.mean()
        w = np.linalg.solve(Xc.T @ Xc / n + kappa * np.diag(d), Xc.T @ yc / n)
        np.testing.assert_allclose(res.coef[0], w, rtol=1e-8, atol=1e-10)
        assert res.intercept[0] == pytest.approx(y.mean() - X.mean(0) @ w, rel=1e-8)


def test_no_penalty_is_least_squares():
    X, y = DATASETS[2][1], DATASETS[2][2]
    res = l1bench.fit(X, y, penalty="none", tol=1e-10, max_iter=200_000)
    Xc = X - X.mean(0)
    w = np.linalg.lstsq(Xc, y - y.mean(), rcond=None)[0]
    assert res.status == ("converged",)
    np.testing.assert_allclose(res.coef[0], w, rtol=1e-6, atol=1e-8)


def test_float32_runs_and_is_close():
    X, y = DATASETS[0][1], DATASETS[0][2]
    r64 = l1bench.fit(X, y, penalty="l1", lam=[0.1], tol=1e-8)
    r32 = l1bench.fit(X, y, penalty="l1", lam=[0.1], tol=1e-5, precision="float32")
    assert r32.coef.dtype == np.float32
    assert r32.objective[0] == pytest.approx(r64.objective[0], rel=1e-4)


def test_without_intercept_matches_sklearn():
    X, y = DATASETS[0][1], DATASETS[0][2]
    res = l1bench.fit(X, y, penalty="l1", lam=[0.05], fit_intercept=False)
    ref = Lasso(alpha=0.05, fit_intercept=False, tol=1e-10, max_iter=100_000).fit(X, y)
    assert res.intercept[0] == 0
    assert res.objective[0] == pytest.approx(objective(X, y, ref.coef_, 0.0, 0.05, 1.0), rel=1e-6)


@pytest.mark.parametrize(
    "kwargs,field",
    [
        (dict(penalty="l3"), "penalty"),
        (dict(penalty="l1", lam=[-1.0]), "lam"),
        (dict(penalty="l1", lam=[]), "lam"),
        (dict(penalty="elastic_net", l1_ratio=1.5), "l1_ratio"),
        (dict(penalty="l1", l1_ratio=0.5), "l1_ratio"),
        (dict(penalty="dropout", dropout=[1.0]), "dropout"),
        (dict(penalty="l1", precision="float16"), "precision"),
        (dict(penalty="l1", tol=0.0), "tol"),
        (dict(model="svm"), "model"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, field):
    X, y = DATASETS[0][1], DATASETS[0][2]
    with pytest.raises(ValueError, match=field):
        l1bench.fit(X, y, **kwargs)


@pytest.mark.parametrize(
    "X,y,field",
    [
        (np.ones(5), np.ones(5), "X must be a 2-D"),
        (np.ones((5, 2)), np.ones(4), "y must be 1-D"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), np.ones(2), "NaN"),
        (np.array([["a", "b"]]), np.ones(1), "numeric"),
    ],
)
def test_bad_arrays_get_clear_errors(X, y, field):
    with pytest.raises(ValueError, match=field):
        l1bench.fit(X, y)


def test_shared_design_equals_one_copy_per_problem():
    from l1bench.fit import convex
    from l1bench.grid import Strengths, make_grid
    from l1bench.penalties import make_penalty

    X, y = _correlated(n=60, p=20)
    rng = np.random.default_rng(5)
    Y = y + rng.standard_normal((3, len(y)))  # three replicate targets on one design
    Xs = np.broadcast_to(X, (3, *X.shape))
    pens = [make_penalty("l1", "l1"), make_penalty("en", "elastic_net", 0.5)]
    grid = make_grid(pens, [Strengths(n_lambdas=5)] * 2, Xs, Y, [0, 1, 2])
    shared = convex.solve(grid, X, Y, tol=1e-10)
    copied = convex.solve(grid, Xs, Y, tol=1e-10)
    assert (shared.status == 0).all()
    np.testing.assert_allclose(shared.objective, copied.objective, rtol=1e-12)
    np.testing.assert_allclose(shared.coef, copied.coef, rtol=1e-6, atol=1e-9)
