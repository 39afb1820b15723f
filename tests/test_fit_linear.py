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


@pytest.mark.fast
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


@pytest.mark.fast
def test_path_starts_at_lam_max_with_all_zeros():
    X, y = DATASETS[1][1], DATASETS[1][2]
    res = l1bench.fit(X, y, penalty="l1", n_lambdas=5, lambda_min_ratio=0.01)
    assert np.all(res.coef[0] == 0)  # at lam_max, w = 0 is optimal
    assert np.all(np.diff(res.lam) < 0)
    assert res.lam[-1] == pytest.approx(0.01 * res.lam[0])
    below = l1bench.fit(X, y, penalty="l1", lam=[0.999 * res.lam[0]])
    assert np.count_nonzero(below.coef[0]) >= 1


@pytest.mark.fast
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


@pytest.mark.fast
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


@pytest.mark.fast
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
        (dict(penalty="l1", max_iter=0), "max_iter"),
        (dict(penalty="l1", n_lambdas=2.5), "n_lambdas"),
        (dict(penalty="l1", lam=[[0.1, 0.2]]), "lam must be a number or a 1-D list"),
        (dict(penalty="none", lam=[1.0]), "lam is not used by kind=none"),
        (dict(penalty="l1", fit_intercept="no"), "fit_intercept"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, field):
    X, y = DATASETS[0][1], DATASETS[0][2]
    with pytest.raises(ValueError, match=field):
        l1bench.fit(X, y, **kwargs)


@pytest.mark.fast
@pytest.mark.parametrize(
    "X,y,field",
    [
        (np.ones(5), np.ones(5), "X must be a 2-D"),
        (np.ones((5, 2)), np.ones(4), "y must be 1-D"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), np.ones(2), "NaN"),
        (np.array([["a", "b"]]), np.ones(1), "numeric"),
        (np.ones((2, 2)) * (1 + 1j), np.ones(2), "complex"),
    ],
)
def test_bad_arrays_get_clear_errors(X, y, field):
    with pytest.raises(ValueError, match=field):
        l1bench.fit(X, y)


def test_shared_design_equals_one_copy_per_problem():
    from l1bench.grid import Strengths, make_grid
    from l1bench.penalties import make_penalty
    from l1bench.solvers import convex

    X, y = _correlated(n=60, p=20)
    rng = np.random.default_rng(5)
    Y = y + rng.standard_normal((3, len(y)))  # three replicate targets on one design
    Xs = np.broadcast_to(X, (3, *X.shape))
    pens = [make_penalty("l1", "l1"), make_penalty("en", "elastic_net", 0.5)]
    grid = make_grid(pens, [Strengths(n_lambdas=5)] * 2, Xs, Y, [0, 1, 2])
    info: dict = {}
    shared = convex.solve(grid, X, Y, tol=1e-10, info=info)
    copied = convex.solve(grid, Xs, Y, tol=1e-10)
    assert info["algorithm"] == "gram_ws"
    assert (shared.status == 0).all() and (copied.status == 0).all()
    # two algorithms, each within its own certified gap of the optimum: P(w) - P* <= gap
    assert np.all(np.abs(shared.objective - copied.objective) <= shared.gap + copied.gap)
    # elastic net is strongly convex (modulus κ = λ(1 - α)): ||w - w*|| <= sqrt(2 gap / κ)
    kappa = 0.5 * grid.lam[:, 1]
    dist = np.linalg.norm(shared.coef[:, 1] - copied.coef[:, 1], axis=-1)
    bound = np.sqrt(2 * shared.gap[:, 1] / kappa) + np.sqrt(2 * copied.gap[:, 1] / kappa)
    assert np.all(dist <= 1.01 * bound + 1e-12)


def _sparse_replicates(n=300, p=150, S=100, k=8, seed=11):
    rng = np.random.default_rng(seed)
    X = rng.multivariate_normal(np.zeros(p), toeplitz(0.5 ** np.arange(p)), size=n) + 0.3
    w = np.zeros(p)
    w[rng.choice(p, k, replace=False)] = rng.standard_normal(k) * 2
    return X, X @ w + 1.5 + rng.standard_normal((S, n))


def test_shared_design_100_problems_match_sklearn_lasso():
    from l1bench.grid import Strengths, make_grid
    from l1bench.penalties import make_penalty
    from l1bench.solvers import convex

    X, Y = _sparse_replicates()
    S, n = Y.shape
    grid = make_grid(
        [make_penalty("l1", "l1")], [Strengths(n_lambdas=4, lambda_min_ratio=0.05)],
        np.broadcast_to(X, (S, *X.shape)), Y, list(range(S)),
    )  # fmt: skip
    info: dict = {}
    res = convex.solve(grid, X, Y, tol=1e-9, info=info)
    assert info["algorithm"] == "gram_ws" and max(info["ws_size"]) < X.shape[1]
    assert (res.status == 0).all()
    for s in range(S):
        for k, lam in enumerate(grid.lam[s, 0]):
            ref = Lasso(alpha=lam, tol=1e-10, max_iter=100_000).fit(X, Y[s])
            ref_obj = objective(X, Y[s], ref.coef_, ref.intercept_, lam, 1.0)
            ours = objective(X, Y[s], res.coef[s, 0, k], res.intercept[s, 0, k], lam, 1.0)
            assert ours == pytest.approx(ref_obj, rel=1e-7)
            assert ours <= ref_obj + res.gap[s, 0, k] + 1e-12 * ref_obj


@pytest.mark.parametrize("sizes", [(4, 8, 16, 32, 150), (64, 150), (150,)])
def test_working_sets_never_drop_an_optimal_nonzero(sizes):
    # KKT of the full problem, computed here: v = Xcᵀ(yc - Xc w)/n must satisfy |v_j| <= λ where
    # w_j = 0 and v_j = λ sign(w_j) where w_j != 0; and every coefficient that scikit-learn finds
    # clearly nonzero is nonzero here, whatever the working-set sizes
    import jax.numpy as jnp

    from l1bench.solvers import convex

    X, Y = _sparse_replicates(S=6)
    S, n = Y.shape
    Xc, Yc = X - X.mean(0), Y - Y.mean(1, keepdims=True)
    lam_max = np.max(np.abs(Yc @ Xc), axis=1) / n
    lam = (lam_max[:, None] * np.array([1.0, 0.3, 0.1, 0.03, 0.01]))[:, None, :]
    args = (X, Y, lam, np.ones(1), np.zeros(1, bool), 1e-12, 100_000)
    res, extras = convex.fit_grid_shared(*map(jnp.asarray, args), sizes=sizes)
    W = np.asarray(res.coef)[:, 0]
    assert (np.asarray(res.status) == 0).all()
    if len(sizes) > 1:
        assert min(np.asarray(extras["ws_size"])) < X.shape[1]  # working sets were used
    for s in range(S):
        for k in range(lam.shape[-1]):
            w, mu = W[s, k], lam[s, 0, k]
            v = Xc.T @ (Yc[s] - Xc @ w) / n
            zero = w == 0
            assert np.all(np.abs(v[zero]) <= mu * (1 + 1e-5))
            np.testing.assert_allclose(v[~zero], mu * np.sign(w[~zero]), rtol=1e-5, atol=0)
            ref = Lasso(alpha=mu, tol=1e-12, max_iter=200_000).fit(X, Y[s]).coef_
            assert np.all(w[np.abs(ref) > 1e-6] != 0)


def test_float32_lanes_that_cannot_reach_tol_stop_early_and_say_so():
    from l1bench.solvers import convex

    X, y = DATASETS[0][1], DATASETS[0][2]
    rng = np.random.default_rng(2)
    Y = y + 10 * rng.standard_normal((4, len(y)))
    grid = _lasso_grid(X, Y, 5)
    r64 = convex.solve(grid, X, Y, tol=1e-10)
    for Xin in (X, np.broadcast_to(X, (4, *X.shape))):  # shared design, and one per problem
        r32 = convex.solve(grid, Xin, Y, tol=1e-12, max_iter=100_000, precision="float32")
        assert r32.n_iter.max() < 5_000  # stopped once the gap stalled, not at max_iter
        assert np.sum(r32.status == 1) >= 8  # 1e-12 is below float32's rounding floor...
        assert np.all((r32.status == 0) == (r32.rel_gap <= 1e-12))  # ...and the status says so
        np.testing.assert_allclose(r32.objective, r64.objective, rtol=1e-5)


def _lasso_grid(X, Y, n_lambdas):
    from l1bench.grid import Strengths, make_grid
    from l1bench.penalties import make_penalty

    S = Y.shape[0]
    st = [Strengths(n_lambdas=n_lambdas, lambda_min_ratio=0.01)]
    return make_grid([make_penalty("l1", "l1")], st, np.broadcast_to(X, (S, *X.shape)), Y, range(S))


def test_shared_design_ridge_and_dropout_lanes_use_every_coordinate():
    # lanes without an L1 part need all p coordinates; they share the matrix with Lasso lanes
    from l1bench.grid import Strengths, make_grid
    from l1bench.penalties import make_penalty
    from l1bench.solvers import convex

    X, Y = _sparse_replicates(n=200, p=80, S=3)
    n = Y.shape[1]
    pens = [make_penalty("l1", "l1"), make_penalty("l2", "l2"), make_penalty("do", "dropout")]
    st = [Strengths(lam=[0.05]), Strengths(lam=[0.1]), Strengths(dropout=[0.3])]
    grid = make_grid(pens, st, np.broadcast_to(X, (3, *X.shape)), Y, [0, 1, 2])
    res = convex.solve(grid, X, Y, tol=1e-20)  # the smooth gap certifies far below eps · P(0)
    assert (res.status[:, 1:] == 0).all()
    assert (res.rel_gap[:, 0] <= 1e-11).all()  # the Lasso lane stops at float64's floor
    Xc = X - X.mean(0)
    d = np.mean(X**2, axis=0)
    for s in range(3):
        yc = Y[s] - Y[s].mean()
        # closed forms; the objective is κ-strongly convex in the norm Σ_j d_j w_j², so a
        # certified gap g bounds the distance: |w_j - w*_j| <= sqrt(2 g / (κ d_j))
        ridge = np.linalg.solve(Xc.T @ Xc / n + 0.1 * np.eye(X.shape[1]), Xc.T @ yc / n)
        bound = np.sqrt(2 * res.gap[s, 1, 0] / 0.1) + 1e-12
        assert np.all(np.abs(res.coef[s, 1, 0] - ridge) <= bound) and bound < 1e-8
        kappa = 0.3 / 0.7
        drop = np.linalg.solve(Xc.T @ Xc / n + kappa * np.diag(d), Xc.T @ yc / n)
        bound = np.sqrt(2 * res.gap[s, 2, 0] / (kappa * d)) + 1e-12
        assert np.all(np.abs(res.coef[s, 2, 0] - drop) <= bound) and np.all(bound < 1e-8)


def test_secant_start_is_the_next_solution_while_the_support_holds():
    # with an orthonormal design (G = I) the Lasso solution is soft(c, λ), linear in λ on each
    # piece of constant support: the secant through two solutions meets the third exactly,
    # and a coordinate that would cross zero starts at zero
    import jax.numpy as jnp

    from l1bench.solvers import gram_ws

    c = np.array([[3.0, -2.0, 1.15, 0.5, -0.2], [0.3, 4.0, -1.0, 2.5, 0.0]])
    soft = lambda lam: np.sign(c) * np.maximum(np.abs(c) - lam[:, None], 0.0)
    lam2, lam1, lam = np.array([1.2, 1.5]), np.array([1.1, 1.2]), np.array([1.0, 0.7])
    extrapolate = lambda *a: np.asarray(gram_ws.secant_start(*map(jnp.asarray, a)))
    W0 = extrapolate(soft(lam1), soft(lam2), lam, lam1, lam2)
    same = (np.abs(c) > lam2[:, None]) | (np.abs(c) <= lam[:, None])  # support unchanged
    np.testing.assert_allclose(W0[same], soft(lam)[same], rtol=1e-14, atol=1e-14)
    # entered at 1.15, between lam2 and lam1: the secant has half the path's slope
    assert soft(lam2)[0, 2] == 0 and W0[0, 2] == pytest.approx(0.1)
    one = np.ones(1)
    assert extrapolate([[0.1]], [[0.5]], 0 * one, one, 2 * one)[0, 0] == 0  # 0.1 - 0.4 < 0: held
    np.testing.assert_array_equal(extrapolate([[2.0]], [[1.0]], one, one, one), [[2.0]])  # λ again


def test_float32_steps_in_large_working_sets_keep_float64_accuracy():
    # from MIXED_MIN coordinates on, float64 lanes take FISTA's products in float32 steps with an
    # exact product every REFRESH iterations; the fits must be float64's: the same certified
    # objectives, KKT at float64 accuracy, and the smooth lanes' gaps far below float32's eps
    import jax.numpy as jnp

    from l1bench.solvers import convex

    X, Y = _sparse_replicates(n=600, p=300, S=3, k=60)
    S, n = Y.shape
    p = X.shape[1]
    Xc, Yc = X - X.mean(0), Y - Y.mean(1, keepdims=True)
    lam_max = np.max(np.abs(Yc @ Xc), axis=1) / n
    ratios = np.geomspace(1.0, 0.003, 8)
    lam = np.stack([lam_max[:, None] * ratios, np.broadcast_to(0.05, (S, 8))], axis=1)
    args = (X, Y, lam, np.array([1.0, 0.0]), np.zeros(2, bool), 1e-14, 100_000)
    args = tuple(map(jnp.asarray, args))
    mixed, extras = convex.fit_grid_shared(*args, sizes=convex.ws_sizes(p))
    exact, _ = convex.fit_grid_shared(*args, sizes=convex.ws_sizes(p), mixed=False)
    assert max(np.asarray(extras["ws_size"])) >= convex.MIXED_MIN  # the float32 steps ran
    assert not np.array_equal(np.asarray(mixed.coef), np.asarray(exact.coef))
    for res in (mixed, exact):
        assert (np.asarray(res.status)[:, 1] == 0).all()  # ridge: certified at 1e-14
        assert (np.asarray(res.rel_gap) <= 1e-11).all()  # Lasso lanes: float64's floor
    gap = np.asarray(mixed.gap) + np.asarray(exact.gap)
    assert np.all(np.abs(np.asarray(mixed.objective) - np.asarray(exact.objective)) <= gap)
    W = np.asarray(mixed.coef)[:, 0]
    for s in range(S):
        for k in range(len(ratios)):
            w, mu = W[s, k], lam[s, 0, k]
            v = Xc.T @ (Yc[s] - Xc @ w) / n
            zero = w == 0
            assert np.all(np.abs(v[zero]) <= mu * (1 + 1e-8))
            np.testing.assert_allclose(v[~zero], mu * np.sign(w[~zero]), rtol=1e-8, atol=0)
        # ridge is 0.05-strongly convex: ||w - w*|| <= sqrt(2 gap / 0.05)
        ridge = np.linalg.solve(Xc.T @ Xc / n + 0.05 * np.eye(p), Xc.T @ Yc[s] / n)
        dist = np.linalg.norm(np.asarray(mixed.coef)[s, 1] - ridge, axis=-1)
        assert np.all(dist <= 1.01 * np.sqrt(2 * np.asarray(mixed.gap)[s, 1] / 0.05) + 1e-12)


def test_float32_steps_work_in_any_units_of_the_data():
    # X in units 1e25 larger: G ~ 1e50 overflows float32, so the float32 steps must scale it.
    # The problem maps exactly: (X·s, λ·s) has the solution w / s
    from l1bench.solvers import convex

    X, Y = _sparse_replicates(n=600, p=300, S=2, k=60)
    s = 1e25
    fits = []
    for Xs in (X, X * s):
        info: dict = {}
        fits.append(convex.solve(_lasso_grid(Xs, Y, 6), Xs, Y, tol=1e-10, info=info))
        assert max(info["ws_size"]) >= convex.MIXED_MIN and "float32_steps" in info
    plain, scaled = fits
    assert (plain.status == 0).all() and (scaled.status == 0).all()
    np.testing.assert_allclose(scaled.rel_gap, plain.rel_gap, atol=1e-10)
    np.testing.assert_allclose(scaled.coef * s, plain.coef, rtol=1e-6, atol=1e-8)


def _mixed_units(scale=1e3):
    """Columns in units from 1/scale to scale: raw features measured in different units."""
    X, y = make_regression(n_samples=80, n_features=10, noise=1.0, random_state=3)
    return X * np.logspace(-np.log10(scale), np.log10(scale), 10), y


@pytest.mark.parametrize("penalty", ["l1", "l2", "none", "dropout", "elastic_net"])
def test_columns_in_mixed_units_converge_as_if_standardized(penalty):
    # FISTA with one step 1/λ_max(G) barely moved the small-scale coordinates (20000
    # iterations, status max_iter, objective 30x too high); the per-coordinate (Jacobi) steps
    # make the problem as easy as its standardized version
    X, y = _mixed_units()
    kw = dict(lam=[1e-2, 1e-3]) if penalty != "none" else {}
    if penalty == "dropout":
        kw = dict(dropout=[0.5], dropout_mode="marginalized")
    res = l1bench.fit(X, y, penalty=penalty, tol=1e-10, **kw)
    assert all(s == "converged" for s in res.status) and np.all(res.n_iter <= 500)
    Xc, yc = X - X.mean(0), y - y.mean()
    n = len(y)
    for k, lam in enumerate(res.lam):
        if penalty in ("l1", "elastic_net"):
            a = 1.0 if penalty == "l1" else 0.5
            ref = ElasticNet(alpha=lam, l1_ratio=a, tol=1e-14, max_iter=10**6).fit(X, y)
            theirs = objective(X, y, ref.coef_, ref.intercept_, lam, a)
            ours = objective(X, y, res.coef[k], res.intercept[k], lam, a)
            assert ours <= theirs + res.gap[k] * (1 + 1e-9) and ours == pytest.approx(theirs)
            continue
        if penalty == "none":
            w = np.linalg.lstsq(Xc, yc, rcond=None)[0]
            np.testing.assert_allclose(res.coef[k], w, rtol=1e-6)
            continue
        # ridge forms, κ-strongly convex in Σ_j d_j w_j²: |w_j - w*_j| <= sqrt(2 gap / (κ d_j))
        if penalty == "l2":
            kappa, d = lam, np.ones(10)
        else:  # marginalized dropout at rate 0.5: κ = p / (1 - p) = 1, d_j = mean_i x_ij²
            kappa, d = 1.0, np.mean(X**2, 0)
        w = np.linalg.solve(Xc.T @ Xc / n + kappa * np.diag(d), Xc.T @ yc / n)
        bound = np.sqrt(2 * res.gap[k] / (kappa * d))
        assert np.all(np.abs(res.coef[k] - w) <= bound + 1e-9 * np.abs(w))
        assert np.all(bound <= 1e-3 * np.abs(w).max())  # the bound says something


def test_shared_design_in_mixed_units_takes_the_iterations_of_its_standardized_version():
    from l1bench.grid import Strengths, make_grid
    from l1bench.penalties import make_penalty
    from l1bench.solvers import convex

    X, Y = _sparse_replicates(n=300, p=60, S=5)
    units = np.logspace(-3, 3, X.shape[1])
    fits = {}
    for name, Xu in (("standard", X), ("mixed", X * units)):
        Xs = np.broadcast_to(Xu, (5, *Xu.shape))
        grid = make_grid(
            [make_penalty("l1", "l1")], [Strengths(n_lambdas=8, lambda_min_ratio=0.01)],
            Xs, Y, list(range(5)),
        )  # fmt: skip
        info: dict = {}
        fits[name] = convex.solve(grid, Xu, Y, tol=1e-9, info=info), grid
        assert info["algorithm"] == "gram_ws" and (fits[name][0].status == 0).all()
    (std, _), (mix, grid) = fits["standard"], fits["mixed"]
    # another problem (the L1 norm is not unit-free), but no harder for Jacobi steps: one
    # shared step took 13x the iterations at units 1e-1..1e1 (10013 against 749)
    assert mix.n_iter.sum() <= 3 * std.n_iter.sum()
    Xu = X * units
    for s in range(5):
        for k, lam in enumerate(grid.lam[s, 0]):
            ref = Lasso(alpha=lam, tol=1e-14, max_iter=10**6).fit(Xu, Y[s])
            theirs = objective(Xu, Y[s], ref.coef_, ref.intercept_, lam, 1.0)
            ours = objective(Xu, Y[s], mix.coef[s, 0, k], mix.intercept[s, 0, k], lam, 1.0)
            assert ours <= theirs + mix.gap[s, 0, k] * (1 + 1e-9) + 1e-12 * theirs


def _lasso_gap(X, y, w, lam, fit_intercept):
    """The Lasso duality gap at w (and the optimal intercept), in float64, written out here:
    P(w) - D(s r) with the residual r scaled by s into the dual feasible set."""
    n = len(y)
    Xc = X - X.mean(0) if fit_intercept else X
    yc = y - y.mean() if fit_intercept else y
    r = yc - Xc @ w
    primal = r @ r / (2 * n) + lam * np.abs(w).sum()
    s = min(1.0, lam / np.abs(Xc.T @ r / n).max())
    dual = (yc @ yc - (yc - s * r) @ (yc - s * r)) / (2 * n)
    return primal, primal - dual, yc @ yc / (2 * n)


@pytest.mark.parametrize("algorithm", ["gram", "design", "gram_ws", "working_set"])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_float32_fits_report_their_float64_objective_and_gap(algorithm, fit_intercept):
    # raw diabetes without an intercept: columns far from 0, a residual small next to y, where
    # float32 Gram identities had reported the objective 1e-5 off and gaps below the truth
    from l1bench.solvers import convex

    if algorithm == "working_set":  # p > n
        X, _ = _correlated(n=40, p=60, seed=5)
        X = 3.0 + 2.0 * X
        y = X[:, :4] @ np.array([3.0, -2.0, 1.5, 1.0]) + 0.5
    else:
        X, y = load_diabetes(return_X_y=True, scaled=False)
    rng = np.random.default_rng(3)
    Y = y + rng.standard_normal((2, len(y)))
    grid = _lasso_grid(X, Y, 4)
    if not fit_intercept:
        grid = grid._replace(lam=grid.lam * 0.5)
    kw = dict(tol=1e-7, max_iter=3000, fit_intercept=fit_intercept, algorithm=algorithm)
    r32 = convex.solve(grid, X, Y, precision="float32", **kw)
    assert r32.coef.dtype == np.float32
    for s in range(2):
        for k in range(4):
            lam = grid.lam[s, 0, k]
            w = r32.coef[s, 0, k].astype(np.float64)
            primal, gap, p0 = _lasso_gap(X, Y[s], w, lam, fit_intercept)
            assert r32.objective[s, 0, k] == pytest.approx(primal, rel=1e-12)
            assert r32.gap[s, 0, k] == pytest.approx(gap, rel=1e-6, abs=1e-12 * p0)
            assert r32.rel_gap[s, 0, k] == pytest.approx(r32.gap[s, 0, k] / p0, rel=1e-12)
    assert np.array_equal(r32.status == 0, r32.rel_gap <= 1e-7)
