"""The working-set solver (p > n) against scikit-learn, computed here, and its own certificate."""

import numpy as np
import pytest
from sklearn.linear_model import enet_path, lasso_path

from l1bench.grid import Strengths, make_grid
from l1bench.penalties import make_penalty
from l1bench.solvers import convex, gaps, workingset

N, P, S = 30, 100, 3


def _data(seed=0, n=N, p=P, n_problems=S, rho=0.5):
    """A Toeplitz design (ρ^|j-k|) and replicate targets around one sparse w* (p > n)."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, p))
    X[:, 0] = rng.standard_normal(n)
    for j in range(1, p):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    w = np.zeros(p)
    w[rng.choice(p, 8, replace=False)] = rng.standard_normal(8)
    Y = X @ w + 0.3 * rng.standard_normal((n_problems, n)) + 2.0
    return X, Y


def _objective(X, y, w, lam, l1_ratio):
    Xc, yc = X - X.mean(0), y - y.mean()
    r = yc - Xc @ w
    return r @ r / (2 * len(y)) + lam * (l1_ratio * np.abs(w).sum() + 0.5 * (1 - l1_ratio) * w @ w)


def _grid(X, Y, kind="l1", l1_ratio=None, n_lambdas=8, ratio=0.05):
    pen = make_penalty(kind, kind, l1_ratio)
    Xs = np.broadcast_to(X, (Y.shape[0], *X.shape))
    return make_grid([pen], [Strengths(None, n_lambdas, ratio)], Xs, Y, list(range(Y.shape[0])))


def _x_form_gap(X, y, w, lam, l1_ratio):
    """rel_gap of ``w`` by the exact solvers' own evaluator in the X form (the full problem)."""
    import jax.numpy as jnp

    Xc, yc = X - X.mean(0), y - y.mean()
    n, p = X.shape
    prob = gaps.Problem(
        jnp.asarray(Xc), jnp.asarray(yc), yc @ yc / n, X.mean(0), y.mean(), np.ones(p), 1.0
    )
    d = jnp.ones(p)
    _, gap = gaps.objective_and_gap(
        prob, jnp.asarray(w), lam * l1_ratio, lam * (1 - l1_ratio), d, False
    )
    return float(gap) / (0.5 * yc @ yc / n)


@pytest.fixture(scope="module")
def lasso():
    X, Y = _data()
    grid = _grid(X, Y)
    info: dict = {}
    res = workingset.solve(grid, X, Y, tol=1e-12, info=info)
    return X, Y, grid, res, info


def test_lasso_path_matches_sklearn_lasso_path(lasso):
    X, Y, grid, res, _ = lasso
    assert res.coef.shape == (S, 1, 8, P)
    Xc = X - X.mean(0)
    for s in range(S):
        lam = grid.lam[s, 0]
        _, ref, _ = lasso_path(Xc, Y[s] - Y[s].mean(), alphas=lam, tol=1e-14, max_iter=10**6)
        for k in range(len(lam)):
            ours = _objective(X, Y[s], res.coef[s, 0, k], lam[k], 1.0)
            theirs = _objective(X, Y[s], ref[:, k], lam[k], 1.0)
            assert ours <= theirs * (1 + 1e-8)
            assert abs(ours - theirs) <= 1e-8 * theirs
            assert abs(res.objective[s, 0, k] - ours) <= 1e-10 * ours
            big = np.abs(ref[:, k]) > 1e-6
            assert np.array_equal(big, np.abs(res.coef[s, 0, k]) > 1e-6)
            assert np.all(res.coef[s, 0, k][np.abs(ref[:, k]) == 0] == 0.0)


def test_full_problem_gap_is_certified(lasso):
    X, Y, grid, res, info = lasso
    assert info["algorithm"] == "working_set"
    assert len(info["ws_size"]) == len(info["rounds"]) == 8
    assert all(32 <= k <= P for k in info["ws_size"])
    assert np.all(res.status == 0)
    assert np.all(res.rel_gap <= 1e-12)
    assert np.all(res.n_iter[:, :, 1:] > 0)
    for s in range(S):
        for k in (1, 4, 7):
            lam = grid.lam[s, 0, k]
            ref = _x_form_gap(X, Y[s], res.coef[s, 0, k], lam, 1.0)
            assert ref <= 1e-12
            assert abs(ref - res.rel_gap[s, 0, k]) <= 1e-13
    b = Y.mean(1)[:, None] - res.coef[:, 0] @ X.mean(0)
    np.testing.assert_allclose(res.intercept[:, 0], b, rtol=1e-12)


def test_exact_zeros_and_lam_max_start(lasso):
    _, _, _, res, _ = lasso
    assert np.all(res.coef[:, 0, 0] == 0.0)  # lam_max: w = 0 exactly
    nnz = np.sum(res.coef[:, 0, -1] != 0, axis=-1)
    assert np.all((nnz > 0) & (nnz < N))
    assert np.sum(res.coef == 0.0) > 0.5 * res.coef.size


def test_shared_2d_x_equals_one_design_per_problem(lasso):
    X, Y, grid, res, _ = lasso
    res3 = workingset.solve(grid, np.broadcast_to(X, (S, *X.shape)), Y, tol=1e-12)
    np.testing.assert_allclose(res3.coef, res.coef, atol=1e-9)
    np.testing.assert_allclose(res3.objective, res.objective, rtol=1e-11)


@pytest.mark.parametrize("l1_ratio", [0.5, 0.9])
def test_elastic_net_matches_sklearn_enet_path(l1_ratio):
    X, Y = _data(seed=1, n_problems=2)
    grid = _grid(X, Y, "elastic_net", l1_ratio, n_lambdas=6)
    res = workingset.solve(grid, X, Y, tol=1e-12)
    assert np.all(res.status == 0)
    Xc = X - X.mean(0)
    for s in range(2):
        lam = grid.lam[s, 0]
        _, ref, _ = enet_path(
            Xc, Y[s] - Y[s].mean(), l1_ratio=l1_ratio, alphas=lam, tol=1e-14, max_iter=10**6
        )
        for k in range(len(lam)):
            ours = _objective(X, Y[s], res.coef[s, 0, k], lam[k], l1_ratio)
            theirs = _objective(X, Y[s], ref[:, k], lam[k], l1_ratio)
            assert abs(ours - theirs) <= 1e-8 * theirs
            assert _x_form_gap(X, Y[s], res.coef[s, 0, k], lam[k], l1_ratio) <= 1e-12


def test_convex_solve_dispatches_p_greater_than_n_to_working_sets(lasso):
    X, Y, grid, res, _ = lasso
    out = convex.solve(grid, X, Y, tol=1e-12)  # bit-identical: the same solver ran
    np.testing.assert_array_equal(out.coef, res.coef)
    np.testing.assert_array_equal(out.n_iter, res.n_iter)
    ridge = _grid(X, Y, "l2", n_lambdas=3)
    assert not workingset.supports(ridge, X)  # no L1 part: FISTA on X
    assert workingset.supports(grid, X) and not workingset.supports(grid, X[:, :20])


def test_iteration_cap_reports_max_iter():
    X, Y = _data(seed=2, n_problems=2)
    grid = _grid(X, Y, n_lambdas=4, ratio=0.01)
    res = workingset.solve(grid, X, Y, tol=1e-14, max_iter=5)
    assert np.any(res.status == 1) and np.all(res.status != 2)
    assert np.all(res.n_iter <= 5)


def test_float32_fits_below_the_rounding_floor_stop_early_and_say_so():
    # 1e-12 is far below float32's rounding floor: without a stall stop every fit would run
    # all max_iter sweeps at every λ
    X, Y = _data(seed=3, n_problems=2)
    grid = _grid(X, Y, n_lambdas=5, ratio=0.01)
    r64 = workingset.solve(grid, X, Y, tol=1e-12)
    r32 = workingset.solve(grid, X, Y, tol=1e-12, max_iter=100_000, precision="float32")
    assert r32.coef.dtype == np.float32
    assert r32.n_iter.max() < 5_000  # stopped once the gap stalled
    assert np.sum(r32.status == 1) >= 5 and np.all(r32.status != 2)
    assert np.all((r32.status == 0) == (r32.rel_gap <= 1e-12))
    for s in range(2):
        for k in range(5):
            lam = grid.lam[s, 0, k]
            w = np.asarray(r32.coef[s, 0, k], np.float64)
            assert _x_form_gap(X, Y[s], w, lam, 1.0) <= 1e-5  # as good as float32 allows
    np.testing.assert_allclose(r32.objective, r64.objective, rtol=1e-5)


def test_bad_input_raises_value_error_naming_the_field():
    X, Y = _data(n_problems=2)
    ridge = _grid(X, Y, "l2", n_lambdas=3)
    with pytest.raises(ValueError, match="grid"):
        workingset.solve(ridge, X, Y)
    grid = _grid(X, Y, n_lambdas=3)
    with pytest.raises(ValueError, match="precision"):
        workingset.solve(grid, X, Y, precision="float16")
    with pytest.raises(ValueError, match="y must"):
        workingset.solve(grid, X, Y[:1])
    lam = grid.lam[:, 0]
    with pytest.raises(ValueError, match="mu"):
        workingset.fit_path(X, Y, 0 * lam, 0 * lam, np.ones((2, P)))
    with pytest.raises(ValueError, match="max_iter"):
        workingset.fit_path(X, Y, lam, 0 * lam, np.ones((2, P)), max_iter=0)


def test_gram_ws_for_p_greater_than_n_matches_working_set_and_sklearn():
    # the batched Gram solver that accelerators run for p > n (forced here on the CPU): the
    # same optimum as the working-set solver and scikit-learn, each within its certified gap
    X, Y = _data(seed=3, p=150, n_problems=3)
    grid = _grid(X, Y, n_lambdas=6, ratio=0.02)
    info: dict = {}
    res = convex.solve(grid, X, Y, tol=1e-10, algorithm="gram_ws", info=info)
    ref = workingset.solve(grid, X, Y, tol=1e-10)
    assert info["algorithm"] == "gram_ws" and np.all(res.status == 0)
    assert info["matmul_flops"] >= 2.0 * N * 150**2  # at least the Gram matrix
    slack = res.gap + ref.gap + 1e-14 * ref.objective  # rounding of P where both gaps are 0
    assert np.all(np.abs(res.objective - ref.objective) <= slack)
    Xc = X - X.mean(0)
    for s in range(Y.shape[0]):
        lam = grid.lam[s, 0]
        _, sk, _ = lasso_path(Xc, Y[s] - Y[s].mean(), alphas=lam, tol=1e-14, max_iter=10**6)
        for k in range(len(lam)):
            ours = _objective(X, Y[s], res.coef[s, 0, k], lam[k], 1.0)
            theirs = _objective(X, Y[s], sk[:, k], lam[k], 1.0)
            assert ours <= theirs + res.gap[s, 0, k] * (1 + 1e-9)
            assert _x_form_gap(X, Y[s], res.coef[s, 0, k], lam[k], 1.0) <= 1e-10 * (1 + 1e-6)


def test_default_algorithm_by_backend_and_gram_size(monkeypatch):
    X, Y = _data(p=150, n_problems=2)
    grid = _grid(X, Y)
    assert convex.choose_algorithm(grid, X, backend="cpu") == "working_set"
    assert convex.choose_algorithm(grid, X, backend="gpu") == "gram_ws"
    Xs = np.broadcast_to(X, (2, *X.shape))  # one design per problem: no shared Gram matrix
    assert convex.choose_algorithm(grid, Xs, backend="gpu") == "working_set"
    monkeypatch.setattr(convex, "GRAM_WS_MAX_BYTES", 150 * 150 * 8 - 1)
    assert convex.choose_algorithm(grid, X, backend="gpu") == "working_set"
    ridge = _grid(X, Y, "l2")
    assert convex.choose_algorithm(ridge, X, backend="cpu") == "design"


@pytest.mark.parametrize(
    "algorithm, shared, match",
    [
        ("newton", True, "auto, gram_ws, gram, design, working_set"),
        ("gram_ws", False, "shared by every problem"),
        ("working_set", True, "p > n"),
    ],
)
def test_forced_algorithm_that_cannot_apply_is_refused(algorithm, shared, match):
    X, Y = _data(p=150, n_problems=2)
    grid = _grid(X, Y, "l2") if algorithm == "working_set" else _grid(X, Y)
    X = X if shared else np.broadcast_to(X, (2, *X.shape))
    with pytest.raises(ValueError, match=match):
        convex.solve(grid, X, Y, algorithm=algorithm)


@pytest.mark.parametrize("n, p", [(5, 20), (2, 10), (10, 31)])
def test_fewer_features_than_the_smallest_working_set(n, p):
    # p > n with p below K_MIN = 32: the first working set is all p coordinates (it asked
    # top_k for 32 of 20 and raised)
    X, Y = _data(seed=4, n=n, p=p, n_problems=1)
    grid = _grid(X, Y, n_lambdas=5, ratio=0.1)
    res = workingset.solve(grid, X, Y, tol=1e-10)
    assert np.all(res.status == 0)
    Xc = X - X.mean(0)
    lam = grid.lam[0, 0]
    _, ref, _ = lasso_path(Xc, Y[0] - Y[0].mean(), alphas=lam, tol=1e-14, max_iter=10**6)
    for k in range(len(lam)):
        ours = _objective(X, Y[0], res.coef[0, 0, k], lam[k], 1.0)
        assert ours <= _objective(X, Y[0], ref[:, k], lam[k], 1.0) + res.gap[0, 0, k] + 1e-15
