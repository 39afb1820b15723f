"""The exact logistic solver against scikit-learn's LogisticRegression and against its own KKT.

scikit-learn minimizes ``C Σ_i ℓ_i + l1_ratio ||w||_1 + (1 - l1_ratio)/2 ||w||²``; dividing by
``n C`` gives our objective with ``λ = 1 / (n C)``. The references: ``saga`` for L1 and elastic
net (it fits an unpenalized intercept, as we do), ``lbfgs`` for L2, and ``liblinear`` only with
``fit_intercept=False`` (liblinear penalizes the intercept). Both solutions are scored with the
objective written below, never with a solver's own report.
"""

import numpy as np
import pytest
from scipy.linalg import toeplitz
from scipy.special import logsumexp
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import l1bench
from l1bench.grid import Strengths, make_grid
from l1bench.penalties import make_penalty
from l1bench.solvers import logistic

RTOL = 1e-5  # objective agreement asked of the solver at tol=1e-8


def objective(X, y, W, b, lam, l1_ratio):
    """Mean log loss + lam (l1_ratio ||W||_1 + (1 - l1_ratio)/2 ||W||²); W (p,) or (p, K)."""
    Z = X @ W + b
    if Z.ndim == 1:
        loss = np.logaddexp(0.0, Z) - y * Z
    else:
        loss = logsumexp(Z, axis=1) - Z[np.arange(len(y)), y]
    return loss.mean() + lam * (l1_ratio * np.abs(W).sum() + 0.5 * (1 - l1_ratio) * np.sum(W * W))


def sklearn_fit(X, y, lam, l1_ratio, fit_intercept=True):
    """The reference: (W, b) from LogisticRegression at C = 1 / (n lam)."""
    if not fit_intercept:
        solver = "liblinear"
    else:
        solver = "lbfgs" if l1_ratio == 0 else "saga"
    ref = LogisticRegression(
        C=1.0 / (len(y) * lam),
        l1_ratio=l1_ratio,
        solver=solver,
        tol=1e-10,
        max_iter=100_000,
        fit_intercept=fit_intercept,
    ).fit(X, y)
    if ref.coef_.shape[0] == 1:
        return ref.coef_[0], ref.intercept_[0] if fit_intercept else 0.0
    return ref.coef_.T, ref.intercept_


def _breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _correlated(n=569, p=30, rho=0.8, seed=0):
    # breast_cancer's shape, so both share one compiled executable
    rng = np.random.default_rng(seed)
    X = rng.multivariate_normal(np.zeros(p), toeplitz(rho ** np.arange(p)), size=n)
    w = np.zeros(p)
    w[[0, 1, 6, 13]] = [1.5, -1.0, 1.0, 0.5]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ w + 0.3)))).astype(int)
    return X, y


def _wine():
    X, y = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X), y


BINARY = {"breast_cancer": _breast_cancer(), "correlated": _correlated()}


def fit(X, y, penalties, lams, *, n_classes=2, **kwargs):
    """Solve one problem for penalties [(kind, l1_ratio)] × explicit strength lists."""
    pens = [make_penalty(f"{k}{i}", k, a) for i, (k, a) in enumerate(penalties)]
    grid = make_grid(pens, [Strengths(lam=lam) for lam in lams], X[None], y[None], [0])
    res = logistic.solve(grid, X[None], y[None], n_classes=n_classes, **kwargs)
    return grid, type(res)(*(a[0] for a in res))


def lam_max(X, y, l1_ratio, n_classes=2, fit_intercept=True):
    return logistic.lambda_max(X, y, l1_ratio, fit_intercept, n_classes)


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_l1_l2_elastic_net_match_sklearn(name):
    X, y = BINARY[name]
    n = len(y)
    ratios = [1.0, 0.0, 0.5]
    lams = [lam_max(X, y, 1.0) * np.array([0.3, 0.1, 0.03])]
    lams += [np.array([1.0, 0.1, 0.01]) / n]  # C = 1, 10, 100
    lams += [lam_max(X, y, 0.5) * np.array([0.3, 0.1, 0.03])]
    grid, res = fit(X, y, [("l1", None), ("l2", None), ("elastic_net", 0.5)], lams)
    assert np.all(res.status == 0)
    p0 = -(np.mean(y) * np.log(np.mean(y)) + (1 - np.mean(y)) * np.log(1 - np.mean(y)))
    np.testing.assert_allclose(res.rel_gap, res.gap / p0, rtol=1e-12)
    assert np.all(res.rel_gap <= 1e-8)
    for i, a in enumerate(ratios):
        for k, lam in enumerate(grid.lam[0, i]):
            ours = objective(X, y, res.coef[i, k], res.intercept[i, k], lam, a)
            assert res.objective[i, k] == pytest.approx(ours, rel=1e-10)
            W, b = sklearn_fit(X, y, lam, a)
            ref = objective(X, y, W, b, lam, a)
            assert ours == pytest.approx(ref, rel=RTOL)
            # the gap certifies suboptimality: ours - P* <= gap
            assert ours - ref <= res.gap[i, k] + 1e-12 * ref
            if a > 0:
                np.testing.assert_array_equal(res.coef[i, k] != 0, W != 0)


def test_multinomial_l2_and_l1_match_sklearn():
    X, y = _wine()
    n = len(y)
    lams = [np.array([1.0, 0.1]) / n, lam_max(X, y, 1.0, 3) * np.array([0.3, 0.05])]
    grid, res = fit(X, y, [("l2", None), ("l1", None)], lams, n_classes=3)
    assert res.coef.shape == (2, 2, X.shape[1], 3) and res.intercept.shape == (2, 2, 3)
    assert np.all(res.status == 0)
    for i, a in enumerate([0.0, 1.0]):
        for k, lam in enumerate(grid.lam[0, i]):
            ours = objective(X, y, res.coef[i, k], res.intercept[i, k], lam, a)
            assert res.objective[i, k] == pytest.approx(ours, rel=1e-10)
            W, b = sklearn_fit(X, y, lam, a)
            assert ours == pytest.approx(objective(X, y, W, b, lam, a), rel=RTOL)
            if a > 0:
                np.testing.assert_array_equal(res.coef[i, k] != 0, W != 0)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_path_starts_at_lambda_max_with_all_zeros(n_classes):
    X, y = _breast_cancer() if n_classes == 2 else _wine()
    ratios = [1.0, 0.5, 0.9] if n_classes == 2 else [1.0, 0.5]  # the shapes of the tests above
    penalties = [("l1", None)] + [("elastic_net", a) for a in ratios[1:]]
    below = [0.99, 0.1] if n_classes == 2 else [0.99]
    lams = [lam_max(X, y, a, n_classes) * np.array([1.0, *below]) for a in ratios]
    _, res = fit(X, y, penalties, lams, n_classes=n_classes)
    assert np.all(res.status == 0)
    prior = np.bincount(y) / len(y)
    for i in range(len(ratios)):
        assert np.all(res.coef[i, 0] == 0) and res.n_iter[i, 0] == 0  # w = 0 optimal at lam_max
        b = res.intercept[i, 0]
        if n_classes == 2:
            assert b == pytest.approx(np.log(prior[1] / prior[0]), rel=1e-12)
        else:  # softmax(b) = class frequencies
            np.testing.assert_allclose(np.exp(b - logsumexp(b)), prior, rtol=1e-12)
        assert 1 <= np.count_nonzero(res.coef[i, 1]) <= 2  # just below, a feature enters
        if n_classes == 2:
            assert np.count_nonzero(res.coef[i, 2]) > np.count_nonzero(res.coef[i, 1])


def test_lambda_max_without_intercept_zeroes_the_fit():
    X, y = BINARY["correlated"]
    lmax = lam_max(X, y, 1.0, fit_intercept=False)
    _, res = fit(X, y, [("l1", None)], [lmax * np.array([1.0, 0.99])], fit_intercept=False)
    assert np.all(res.coef[0, 0] == 0) and np.count_nonzero(res.coef[0, 1]) >= 1
    assert np.all(res.intercept == 0)


def test_warm_started_path_equals_cold_fits():
    X, y = BINARY["correlated"]
    path = lam_max(X, y, 1.0) * np.geomspace(1.0, 0.01, 6)
    _, warm = fit(X, y, [("l1", None)], [path])
    # one penalty per strength, each a path of length one: every fit starts from zero
    _, cold = fit(X, y, [("l1", None)] * len(path), [[lam] for lam in path])
    np.testing.assert_allclose(warm.objective[0], cold.objective[:, 0], rtol=1e-7)
    np.testing.assert_array_equal(warm.coef[0] != 0, cold.coef[:, 0] != 0)
    # what a warm start saves shows at a loose tolerance on a fine path (at 1e-10 the linear
    # convergence to the tolerance dominates and both take about the same iterations)
    fine = lam_max(X, y, 1.0) * np.geomspace(1.0, 0.01, 20)
    kw = dict(tol=1e-3, check_every=1)
    _, warm = fit(X, y, [("l1", None)], [fine], **kw)
    _, cold = fit(X, y, [("l1", None)] * len(fine), [[lam] for lam in fine], **kw)
    assert warm.n_iter[0].sum() < 0.75 * cold.n_iter[:, 0].sum()


def test_l1_without_intercept_matches_liblinear():
    X, y = BINARY["correlated"]
    lams = lam_max(X, y, 1.0, fit_intercept=False) * np.array([0.5, 0.05])
    _, res = fit(X, y, [("l1", None)], [lams], fit_intercept=False)
    assert np.all(res.intercept == 0) and np.all(res.status == 0)
    for k, lam in enumerate(lams):
        W, _ = sklearn_fit(X, y, lam, 1.0, fit_intercept=False)
        ref = objective(X, y, W, 0.0, lam, 1.0)
        assert res.objective[0, k] == pytest.approx(ref, rel=RTOL)
        np.testing.assert_array_equal(res.coef[0, k] != 0, W != 0)


def test_unpenalized_stops_on_the_gradient_and_matches_sklearn():
    X, y = BINARY["correlated"]
    n = len(y)
    _, res = fit(X, y, [("none", None)], [[0.0]])
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, y)
    assert res.status[0, 0] == 0 and res.rel_gap[0, 0] <= 1e-8

    def max_gradient(w, b):  # in the solver's centred parametrization
        r = 1.0 / (1.0 + np.exp(-(X @ w + b))) - y
        return np.abs(np.append(r @ (X - X.mean(0)), r.sum())).max() / n

    w, b = res.coef[0, 0], res.intercept[0, 0]
    assert max_gradient(w, b) == pytest.approx(res.gap[0, 0], rel=1e-6)
    # the stopping measure is relative to the gradient at w = 0 with the optimal intercept
    assert res.rel_gap[0, 0] == pytest.approx(
        res.gap[0, 0] / max_gradient(np.zeros_like(w), np.log(y.mean() / (1 - y.mean()))),
        rel=1e-6,
    )
    ours, theirs = (
        objective(X, y, w, b, 0.0, 1.0),
        objective(X, y, ref.coef_[0], ref.intercept_[0], 0.0, 1.0),
    )
    assert ours <= theirs * (1 + 1e-12)
    np.testing.assert_allclose(w, ref.coef_[0], rtol=1e-4, atol=1e-6)  # sklearn stops earlier


def test_float32_runs_and_is_close():
    X, y = BINARY["correlated"]
    lams = [lam_max(X, y, 1.0) * np.array([0.3, 0.1])]
    _, r64 = fit(X, y, [("l1", None)], lams)
    _, r32 = fit(X, y, [("l1", None)], lams, tol=1e-5, precision="float32")
    assert r32.coef.dtype == np.float32 and np.all(r32.status == 0)
    np.testing.assert_allclose(r32.objective, r64.objective, rtol=1e-5)


def test_compiled_executable_is_reused():
    X, y = BINARY["correlated"]
    lams = [lam_max(X, y, 1.0) * np.array([0.5, 0.2])]
    fit(X, y, [("l1", None)], lams)
    timings = {}
    fit(X, y, [("l1", None)], [0.5 * lams[0]], timings=timings)
    assert timings["compile_s"] == 0.0 and timings["fit_s"] > 0


def test_bad_arguments_name_the_field():
    X, y = BINARY["correlated"]
    with pytest.raises(ValueError, match="dropout"):
        grid = make_grid(
            [make_penalty("d", "dropout")], [Strengths(dropout=[0.1])], X[None], y[None], [0]
        )
        logistic.solve(grid, X[None], y[None], n_classes=2)
    with pytest.raises(ValueError, match="labels"):
        fit(X, y + 1, [("l1", None)], [[0.01]])
    with pytest.raises(ValueError, match="precision"):
        fit(X, y, [("l1", None)], [[0.01]], precision="float16")


@pytest.mark.parametrize(
    "labels, match",
    [
        ([0.0, 1.0, np.nan, 1.0], "NaN or infinite labels"),
        ([0.3, 1.7, 2.2, 0.1], "continuous"),
    ],
)
def test_labels_that_are_not_classes_are_refused(labels, match):
    X = np.arange(8.0).reshape(4, 2)
    with pytest.raises(ValueError, match=match):
        l1bench.fit(X, np.array(labels), model="logistic", lam=[0.1])


def test_float_labels_that_are_whole_numbers_are_classes():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = (X[:, 0] > 0).astype(float)  # 0.0 / 1.0
    res = l1bench.fit(X, y, model="logistic", lam=[0.05])
    assert res.classes == (0.0, 1.0) and res.status == ("converged",)


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_raw_features_in_mixed_units_converge_as_if_standardized(penalty):
    # breast_cancer's raw columns span 1e-3..1e3. One step 1/L for every coordinate took
    # 3140 and 10240 iterations at these l1 strengths and 69590 and 163730 at the l2 ones;
    # per-coordinate (Jacobi) steps take 100-230 and 3410-5090
    X, y = load_breast_cancer(return_X_y=True)
    lams = lam_max(X, y, 1.0) * np.array([0.3, 0.03]) if penalty == "l1" else [1e-2, 1e-3]
    _, res = fit(X, y, [(penalty, None)], [lams], tol=1e-9)
    assert np.all(res.status == 0) and np.all(res.n_iter <= (1000 if penalty == "l1" else 10000))
    if penalty == "l2":  # a quasi-Newton reference, which is not slowed by the units
        for k, lam in enumerate(lams):
            W, b = sklearn_fit(X, y, lam, 0.0)
            ref = objective(X, y, W, b, lam, 0.0)
            ours = objective(X, y, res.coef[0, k], res.intercept[0, k], lam, 0.0)
            assert ours <= ref + res.gap[0, k] + 1e-12 and ours == pytest.approx(ref, rel=1e-6)
