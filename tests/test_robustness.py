"""robustness.evaluate_fits / evaluate against theory computed in the test, and the helpers.

Closed forms for models without hidden layers (w, b; residual r = y − Xw − b; margin
m = (2y − 1)(Xw + b)):

* adversarial, budget ‖δ‖ ≤ ε with dual norm ‖·‖_*: MSE = mean (|r| + ε‖w‖_*)²; logistic margin
  m − ε‖w‖_*;
* Gaussian input noise, std σ: E[MSE] − MSE = σ²‖w‖²₂;
* additive weight noise: σ² mean_i ‖x_i‖²; multiplicative: σ² mean_i Σ_j x_ij² w_j².
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import l1bench.runtime  # noqa: F401  (turns on float64, as every l1bench entry point does)
from l1bench import robustness
from l1bench.noise import NOISE_MODELS, check_suite
from l1bench.noise.models.adversarial_linf import adversarial_linf

Z = 4.0  # standard errors allowed in Monte-Carlo comparisons
DUAL = {"adversarial_linf": lambda w: np.abs(w).sum(), "adversarial_l2": np.linalg.norm}


def _within_se(samples, expected):
    samples = np.asarray(samples, dtype=float).ravel()
    se = samples.std(ddof=1) / np.sqrt(samples.size)
    assert abs(samples.mean() - expected) <= Z * se + 1e-12, (samples.mean(), expected, se)


def _batch(W, b):
    """Linear models (F, p) weights and (F,) intercepts as a params batch."""
    return ({"w": jnp.asarray(W, jnp.float64)[:, :, None], "b": jnp.asarray(b)[:, None]},)


# two sparse linear models (their exact zeros exercise sign(0) = 0)
W = np.array([[1.0, -2.0, 0.0, 0.0, 0.5, 0.0], [0.3, 0.0, 0.0, -1.0, 0.0, 0.2]])
B = np.array([0.1, -0.2])


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 6))
    y = X @ W[0] + 0.3 * rng.standard_normal(200)
    return X, y


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 6))
    y = (rng.random(300) < 1 / (1 + np.exp(-(X @ W[0] + 0.1)))).astype(float)
    return X, y


# ---------------------------------------------------------------- regression: one suite, one jit

SEED, DRAWS, EPS = 11, 400, [0.0, 0.05, 0.2]
REGRESSION_SUITE = [
    ("gaussian", [0.0, 0.5]),
    ("param_additive", [0.1]),
    ("param_multiplicative", [0.3]),
    ("adversarial_linf", EPS),
    ("adversarial_l2", EPS, {"attack": "exact"}),
]


@pytest.fixture(scope="module")
def reg_out(regression):
    """The regression suite on fits (w0, w1, w0): fit 2 is a copy of fit 0."""
    X, y = regression
    return robustness.evaluate_fits(
        _batch(W[[0, 1, 0]], B[[0, 1, 0]]),
        X,
        y,
        task="regression",
        suite=REGRESSION_SUITE,
        draws=DRAWS,
        key=jax.random.fold_in(jax.random.key(SEED), robustness.NOISE_STREAM),
    )


def test_adversarial_linf_and_l2_equal_the_dual_norm_closed_form_for_regression(
    regression, reg_out
):
    X, y = regression
    for name in DUAL:
        mse = reg_out[name]["mse"]
        assert mse.shape == (3, 3, 1)  # deterministic: one draw
        for f in range(2):
            r = y - X @ W[f] - B[f]
            for j, e in enumerate(EPS):
                closed = np.mean((np.abs(r) + e * DUAL[name](W[f])) ** 2)
                assert mse[f, j, 0] == pytest.approx(closed, rel=1e-10, abs=0)


def test_gaussian_input_noise_adds_sigma2_norm_w2(regression, reg_out):
    X, y = regression
    mse = reg_out["gaussian"]["mse"]
    assert mse.shape == (3, 2, DRAWS)
    for f in range(2):
        clean = np.mean((y - X @ W[f] - B[f]) ** 2)
        np.testing.assert_allclose(mse[f, 0], clean, rtol=1e-12)  # level 0 is the clean error
        _within_se(mse[f, 1] - clean, 0.5**2 * W[f] @ W[f])


def test_parameter_noise_matches_its_closed_forms(regression, reg_out):
    X, y = regression
    for f in range(2):
        clean = np.mean((y - X @ W[f] - B[f]) ** 2)
        _within_se(
            reg_out["param_additive"]["mse"][f, 0] - clean,
            0.1**2 * np.mean(np.sum(X**2, axis=1)),
        )
        _within_se(
            reg_out["param_multiplicative"]["mse"][f, 0] - clean,
            0.3**2 * np.mean(np.sum(X**2 * W[f] ** 2, axis=1)),
        )


def test_every_fit_sees_the_same_draws(reg_out):
    for name, errs in reg_out.items():
        np.testing.assert_array_equal(errs["mse"][0], errs["mse"][2], err_msg=name)
        assert not np.array_equal(errs["mse"][0], errs["mse"][1])


def test_evaluate_per_seed_equals_evaluate_fits_with_the_seeds_noise_key(regression, reg_out):
    X, y = regression
    entries = check_suite(
        {name: {"levels": lv, **(opt[0] if opt else {})} for name, lv, *opt in REGRESSION_SUITE},
        DRAWS,
        task="regression",
        depth=1,
    )
    params = _batch(W[[0, 1, 0]], B[[0, 1, 0]])
    per_seed = robustness.evaluate(
        jax.tree_util.tree_map(lambda a: a[None], params),
        X[None],
        y[None],
        np.array([SEED]),
        entries,
        draws=DRAWS,
        task="regression",
    )
    assert [ne.name for ne in per_seed] == [name for name, *_ in REGRESSION_SUITE]
    for ne in per_seed:
        assert ne.errors["mse"].shape == (1, *reg_out[ne.name]["mse"].shape)
        np.testing.assert_array_equal(ne.errors["mse"][0], reg_out[ne.name]["mse"])


# ---------------------------------------------------------------- adversarial: classification


def test_adversarial_linf_and_l2_shrink_the_logistic_margin_by_the_dual_norm(binary):
    X, y = binary
    eps = [0.05, 0.3]
    out = robustness.evaluate_fits(
        _batch(W, B),
        X,
        y,
        task="binary",
        suite=[("adversarial_linf", eps), ("adversarial_l2", eps)],
        draws=3,
        key=0,
    )
    for name in DUAL:
        for f in range(2):
            margin = (2 * y - 1) * (X @ W[f] + B[f])
            for j, e in enumerate(eps):
                worst = margin - e * DUAL[name](W[f])
                got = out[name]
                assert got["log_loss"][f, j, 0] == pytest.approx(
                    np.mean(np.logaddexp(0.0, -worst)), rel=1e-10, abs=0
                )
                # accuracy is a mean of booleans, which jnp computes in float32: 1e-6
                assert got["error_rate"][f, j, 0] == pytest.approx(np.mean(worst <= 0), abs=1e-6)


# ---------------------------------------------------------------- adversarial: PGD


def test_pgd_on_a_linear_model_reaches_the_closed_form(regression):
    """attack=pgd forces the MLP code path on models without hidden layers."""
    X, y = regression
    eps = [0.1, 0.3]
    pgd = {"attack": "pgd", "steps": 10, "restarts": 2}
    out = robustness.evaluate_fits(
        _batch(W, B),
        X,
        y,
        task="regression",
        suite=[("adversarial_linf", eps, pgd), ("adversarial_l2", eps, pgd)],
        draws=1,
        key=0,
    )
    for name in DUAL:
        for f in range(2):
            r = y - X @ W[f] - B[f]
            for j, e in enumerate(eps):
                closed = np.mean((np.abs(r) + e * DUAL[name](W[f])) ** 2)
                got = out[name]["mse"][f, j, 0]
                assert got == pytest.approx(closed, rel=1e-3)
                assert got <= closed * (1 + 1e-12)  # a lower bound on the exact worst case


def test_fgsm_on_a_linear_model_is_the_exact_worst_case(regression):
    X, y = regression
    key = jax.random.key(0)
    fn = jax.jit(
        lambda p: adversarial_linf(key, jnp.asarray(X), jnp.asarray(y), p, 0.2, attack="fgsm")[0]
    )
    for f in range(2):
        X_adv = np.asarray(fn(jax.tree_util.tree_map(lambda a: a[f], _batch(W, B))))
        closed = np.mean((np.abs(y - X @ W[f] - B[f]) + 0.2 * np.abs(W[f]).sum()) ** 2)
        assert np.mean((y - X_adv @ W[f] - B[f]) ** 2) == pytest.approx(closed, rel=1e-10)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_multiclass_worst_case_error_is_the_exact_pairwise_bound(norm):
    """No closed form for the worst-case cross-entropy, but the 0/1 error has one, decided
    pairwise: x of class y can be flipped iff min_{j≠y} (w_y − w_j)ᵀx + b_y − b_j −
    ε‖w_y − w_j‖_* ≤ 0. attack=auto reaches it exactly; PGD alone lies between the clean error
    and it."""
    rng = np.random.default_rng(2)
    K, p, n, eps = 3, 4, 300, 0.15
    Wk = rng.standard_normal((2, p, K))
    bk = rng.standard_normal((2, K)) * 0.1
    X = rng.standard_normal((n, p))
    y = np.argmax(X @ Wk[0] + bk[0] + rng.gumbel(size=(n, K)), axis=1).astype(float)
    params = ({"w": jnp.asarray(Wk), "b": jnp.asarray(bk)},)
    name = f"adversarial_{norm}"
    out = {
        attack: robustness.evaluate_fits(
            params,
            X,
            y,
            task="multiclass",
            suite=[
                (name, [eps], {"steps": 10, "restarts": 2, "attack": attack}),
                ("gaussian", [0.0]),
            ],
            draws=2,
            key=0,
        )
        for attack in ("auto", "pgd")
    }
    yi = y.astype(int)
    for f in range(2):
        logits = X @ Wk[f] + bk[f]
        clean_err = np.mean(np.argmax(logits, axis=1) != yi)
        gap = logits[np.arange(n), yi][:, None] - logits
        diff = Wk[f][:, yi].T[:, :, None] - Wk[f][None]  # w_y − w_j, (n, p, K)
        dual = np.abs(diff).sum(axis=1) if norm == "linf" else np.linalg.norm(diff, axis=1)
        bound = gap - eps * dual
        bound[np.arange(n), yi] = np.inf
        exact_err = np.mean(bound.min(axis=1) <= 0)
        assert out["auto"][name]["error_rate"][f, 0, 0] == pytest.approx(exact_err, abs=1e-6)
        pgd_err = out["pgd"][name]["error_rate"][f, 0, 0]
        assert clean_err < pgd_err <= exact_err + 1e-6  # accuracy is float32 (see above)
        # the kept perturbations lie in the ball
        one = jax.tree_util.tree_map(lambda a: a[f], params)
        fn = NOISE_MODELS[name].fn
        X_adv = np.asarray(fn(jax.random.key(1), X, y, one, eps, task="multiclass")[0])
        size = (
            np.abs(X_adv - X).max(axis=1) if norm == "linf" else np.linalg.norm(X_adv - X, axis=1)
        )
        assert np.all(size <= eps * (1 + 1e-12))
        np.testing.assert_allclose(
            out["auto"]["gaussian"]["error_rate"][f, 0], clean_err, atol=1e-6
        )


# ---------------------------------------------------------------- invalid settings


@pytest.mark.parametrize(
    "suite,draws,match",
    [
        ([("gaussian", [-0.1])], 5, r"suite\.gaussian\.levels"),
        ([("gaussian", 0.1)], 5, r"gaussian.*levels.*list"),
        ([("gaussian", [0.1])], 0, "draws"),
        ([("blur", [0.1])], 5, r"suite\.blur: unknown noise model; choose from .*gaussian"),
        ([("gaussian", [0.1], {"df": 3})], 5, "unknown option df; accepted: none"),
        ([("gaussian", [0.1]), ("gaussian", [0.2])], 5, "appears twice"),
        ([("gaussian", [0.1], {"levels": [0.2]})], 5, "levels once"),
        ([("adversarial_linf", [0.1], {"attack": "exact"})], 5, "attack=exact"),
        ([("adversarial_l2", [0.1], {"attack": "exact"})], 5, "attack=exact"),
        ("gaussian", 5, "suite must be a list"),
    ],
)
def test_invalid_settings_raise_naming_the_field(suite, draws, match):
    batch = (  # an MLP 6 -> 3 -> 1, one fit
        {"w": jnp.ones((1, 6, 3)), "b": jnp.zeros((1, 3))},
        {"w": jnp.ones((1, 3, 1)), "b": jnp.zeros((1, 1))},
    )
    X, y = np.zeros((4, 6)), np.zeros(4)
    with pytest.raises(ValueError, match=match):
        robustness.evaluate_fits(batch, X, y, task="regression", suite=suite, draws=draws, key=0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"task": "ranking"}, "task='ranking'"),
        ({"method": "gram"}, "method='gram'"),
        ({"activation": "swish"}, "activation='swish'"),
        ({"X_test": np.zeros((4, 5))}, "5 features"),
        ({"y_test": np.zeros(3)}, "y_test"),
        ({"task": "binary", "y_test": np.array([0.0, 1.0, 2.0, 1.0])}, "y_test.*0..1"),
        ({"params_batch": ({"w": jnp.zeros((6, 1)), "b": jnp.zeros(1)},)}, "leading fit axis"),
    ],
)
def test_invalid_inputs_raise_naming_the_field(kwargs, match):
    args = dict(
        params_batch=_batch(W, B),
        X_test=np.zeros((4, 6)),
        y_test=np.zeros(4),
        task="regression",
        suite=[("gaussian", [0.1])],
        draws=2,
        key=0,
    )
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        robustness.evaluate_fits(**args)


# ---------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    "coef,true,expected",
    [
        ([1, 0, 2, 0], [3, 0, 1, 0], (1.0, 1.0, 1.0)),  # exact
        ([0, 0, 0, 0], [3, 0, 1, 0], (np.nan, 0.0, 0.0)),  # empty estimate: precision 0/0
        ([1, 1, 2, 0], [3, 0, 1, 0], (2 / 3, 1.0, 0.8)),  # superset
        ([1, 0, 0, 0], [3, 0, 1, 0], (1.0, 0.5, 2 / 3)),  # subset
        ([0, 1, 0, 1], [3, 0, 1, 0], (0.0, 0.0, 0.0)),  # disjoint
        ([0, 0, 0, 0], [0, 0, 0, 0], (np.nan, np.nan, np.nan)),  # every ratio 0/0
        ([1, 0, 0, 0], [0, 0, 0, 0], (0.0, np.nan, 0.0)),  # nothing to find: recall 0/0
        ([1e-300, 0, 0, 0], [3, 0, 0, 0], (1.0, 1.0, 1.0)),  # exact zeros, no threshold
    ],
)
def test_support_recovery_hand_made_cases(coef, true, expected):
    got = robustness.support_recovery(np.array(coef, float), np.array(true, float))
    np.testing.assert_allclose(np.array(got, dtype=float), expected)


@pytest.mark.parametrize("seed", range(5))
def test_support_recovery_matches_sklearn_scores_where_defined(seed):
    from sklearn.metrics import f1_score, precision_score, recall_score

    rng = np.random.default_rng(seed)
    coef = rng.standard_normal((40, 6)) * (rng.random((40, 6)) < 0.4)
    true = rng.standard_normal(6) * (rng.random(6) < 0.5)
    precision, recall, f1 = robustness.support_recovery(coef, true)
    for i, c in enumerate(coef):
        kw = dict(y_true=true != 0, y_pred=c != 0, zero_division=np.nan)
        np.testing.assert_equal(precision[i], precision_score(**kw))
        np.testing.assert_equal(recall[i], recall_score(**kw))
        np.testing.assert_allclose(f1[i], f1_score(**kw))


def test_support_recovery_is_batched_over_leading_axes():
    coef = np.array([[[1, 0, 2, 0], [1, 1, 2, 0]], [[0, 0, 0, 0], [1, 0, 0, 0]]], float)
    precision, recall, f1 = robustness.support_recovery(coef, np.array([3, 0, 1, 0.0]))
    assert precision.shape == recall.shape == f1.shape == (2, 2)
    np.testing.assert_allclose(recall, [[1, 1], [0, 0.5]])


def test_curve_summaries():
    levels = np.array([0.0, 0.5, 2.0])
    err = np.array([[1.0, 2.0, 4.0], [1.0, 1.0, 1.0]])
    trapezoid = (0.5 * (1 + 2) / 2 + 1.5 * (2 + 4) / 2) / 2.0
    np.testing.assert_allclose(robustness.auc(levels, err), [trapezoid, 1.0])
    line = 3.0 + 2.0 * levels  # the normalized area of a line is its value at mid-range
    assert robustness.auc(levels, line) == pytest.approx(3.0 + 2.0 * 1.0)
    assert robustness.auc([0.3], [5.0]) == 5.0
    with pytest.raises(ValueError, match="strictly increasing"):
        robustness.auc([0.5, 0.5], [1.0, 2.0])
    np.testing.assert_array_equal(robustness.worst_case(err), [4.0, 1.0])
    # clean (F,) broadcasts over err (F, levels, draws)
    e3 = np.stack([err, err], axis=-1)
    deg = robustness.degradation(e3, np.array([1.0, 0.5]))
    np.testing.assert_allclose(deg[0, :, 0], [0, 1, 3])
    np.testing.assert_allclose(deg[1, :, 1], [1, 1, 1])
    assert np.isinf(robustness.degradation(1.0, 0.0)) and np.isnan(robustness.degradation(0, 0))


def test_layer_sparsity_counts_exact_zeros_per_layer():
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((4, 5)), rng.standard_normal((5, 2))
    w1[:2] = 0.0  # 10 of 20
    w2[0, 0] = 0.0  # 1 of 10
    params = ({"w": w1, "b": np.zeros(5)}, {"w": w2, "b": np.zeros(2)})
    batch = jax.tree_util.tree_map(lambda a: np.stack([a, np.zeros_like(a)]), params)
    first, second = robustness.layer_sparsity(batch)
    np.testing.assert_allclose(first, [0.5, 1.0])
    np.testing.assert_allclose(second, [0.1, 1.0])


# ---------------------------------------------------------------- the quadratic form


def _registry_suite():
    """Every registered model of the test stage that applies to regression, at levels 0 and
    0.3: a model added to l1bench/noise/models/ joins the tests below unedited."""
    return [
        (name, [0.0, 0.3])
        for name, m in NOISE_MODELS.items()
        if "test" in m.stages and "regression" in m.supports
    ]


RANDOM_SUITE = _registry_suite()


def _path_like(rng, F, p):
    """F sparse fits (F, p), (F,) around a truth, plus an exact copy of fit 0 and a zero fit."""
    w0 = rng.standard_normal(p) * (rng.random(p) < 0.6)
    W = w0 * rng.uniform(0.0, 1.2, (F, 1)) + 0.1 * rng.standard_normal((F, p)) * (
        rng.random((F, p)) < 0.3
    )
    W[-2], W[-1] = W[0], 0.0
    return w0, W, rng.standard_normal(F) * 0.1


def _checked(suite):
    return check_suite(
        {name: {"levels": lv, **(opt[0] if opt else {})} for name, lv, *opt in suite},
        5,
        task="regression",
        depth=1,
    )


@pytest.mark.parametrize("impute", ["zero", "mean"])
def test_quadratic_form_equals_the_direct_errors_for_every_noise_model(impute):
    """MSE_f = vᵀGv (G = ZᵀZ/n, Z = [X', 1, y'], v = [w_f, b_f, -1]) equals mean((y' − X'w_f −
    b_f)²) computed from the predictions, for every registered test-stage model, to 1e-10
    relative in float64, and so does R² = 1 − MSE / var(y'); S = 2 problems, each with its own
    keys."""
    rng = np.random.default_rng(3)
    S, F, n, p = 2, 30, 120, 7
    fits, Xs, ys = [], [], []
    for _ in range(S):
        w0, Ws, bs = _path_like(rng, F, p)
        X = rng.standard_normal((n, p)) + 0.5
        fits.append((Ws, bs))
        Xs.append(X)
        ys.append(X @ w0 + 0.3 + 0.2 * rng.standard_normal(n))
    params = (
        {
            "w": jnp.asarray(np.stack([f[0] for f in fits]))[..., None],
            "b": jnp.asarray(np.stack([f[1] for f in fits]))[..., None],
        },
    )
    suite = [
        (name, lv, {"impute": impute}) if name == "feature_dropout" else (name, lv, *opt)
        for name, lv, *opt in RANDOM_SUITE
    ]
    args = (params, np.stack(Xs), np.stack(ys), np.array([4, 9]), _checked(suite))
    direct = robustness.evaluate(*args, draws=5, task="regression", method="direct")
    quad = robustness.evaluate(*args, draws=5, task="regression", method="quadratic")
    assert [q.name for q in quad] == [name for name, *_ in RANDOM_SUITE]
    for d, q in zip(direct, quad, strict=True):
        m = NOISE_MODELS[q.name]
        assert d.method == "direct"
        # a worst case depends on each fit: it stays direct; every other target is a form
        assert q.method == ("direct" if m.target == "adversarial" else "quadratic")
        mse_d, mse_q = d.errors["mse"], q.errors["mse"]
        assert mse_q.shape == (S, F, len(d.levels), 5 if m.random else 1)
        np.testing.assert_allclose(mse_q, mse_d, rtol=1e-10, atol=0, err_msg=q.name)
        # R² = 1 − MSE/var: its error is the MSE's relative error times MSE/var
        scale = np.abs(1.0 - d.errors["r2"])  # MSE / var(y')
        np.testing.assert_array_less(
            np.abs(q.errors["r2"] - d.errors["r2"]), 1e-10 * scale + 1e-300
        )
        assert not np.array_equal(mse_q[0], mse_q[1])  # the problems draw different noise


def test_quadratic_form_in_float32_is_as_accurate_as_the_direct_path():
    """Near-truth fits (residual 1% of y): the centred form's float32 MSE agrees with a float64
    evaluation of the same float32 inputs as closely as the direct float32 one does."""
    rng = np.random.default_rng(4)
    F, n, p = 40, 300, 10
    w0 = rng.standard_normal(p)
    W = (w0 * np.linspace(0.95, 1.0, F)[:, None]).astype(np.float32)
    b = np.full(F, 0.5, np.float32)
    X = rng.standard_normal((n, p)).astype(np.float32)
    y = (X @ w0 + 0.5 + 0.01 * rng.standard_normal(n)).astype(np.float32)
    params = ({"w": jnp.asarray(W)[:, :, None], "b": jnp.asarray(b)[:, None]},)
    exact = np.mean((y[:, None] - X.astype(float) @ W.T.astype(float) - b) ** 2, axis=0)
    errs, noisy = {}, {}
    for method in ("direct", "quadratic"):
        out = robustness.evaluate_fits(
            params,
            X,
            y,
            task="regression",
            suite=[("gaussian", [0.0, 0.003, 0.3])],
            draws=2,
            key=0,
            method=method,
        )
        mse = out["gaussian"]["mse"]
        errs[method] = np.max(np.abs(mse[:, 0, 0] - exact) / exact)
        noisy[method] = mse[:, 1:]
    assert errs["quadratic"] <= max(2 * errs["direct"], 1e-6), errs
    # levels > 0 (the additive form's ℓ and ℓ² terms, one from 10% of the clean MSE, one
    # 1000 times larger): the two float32 paths agree to float32 rounding on the same draws
    np.testing.assert_allclose(noisy["quadratic"], noisy["direct"], rtol=2e-5)


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_quadratic_form_keeps_its_accuracy_at_large_levels(dtype, rtol):
    """Additive input noise up to level 1e8: the quadratic form agrees with the direct one to
    the precision's rounding (its ℓ² term had been a difference of terms of size |E w_ref|²:
    float32 14% off at level 1000), and a fit with w = 0 keeps its clean MSE at every draw."""
    rng = np.random.default_rng(8)
    F, n, p = 30, 200, 8
    w0, W, b = _path_like(rng, F, p)
    X = rng.standard_normal((n, p))
    y = X @ w0 + 0.5 + 0.1 * rng.standard_normal(n)
    params = (
        {"w": jnp.asarray(W.astype(dtype))[..., None], "b": jnp.asarray(b.astype(dtype))[:, None]},
    )
    suite = [("gaussian", [1.0, 100.0, 1e4, 1e8]), ("student_t", [300.0], {"df": 5.0})]
    out = {
        m: robustness.evaluate_fits(
            params,
            X.astype(dtype),
            y.astype(dtype),
            task="regression",
            suite=suite,
            draws=4,
            key=1,
            method=m,
        )
        for m in ("direct", "quadratic")
    }
    clean = np.mean((y.astype(dtype).astype(float) - b[-1].astype(dtype)) ** 2)
    for name, *_ in suite:
        quad, direct = out["quadratic"][name]["mse"], out["direct"][name]["mse"]
        np.testing.assert_allclose(quad, direct, rtol=rtol, err_msg=name)
        np.testing.assert_allclose(quad[-1], clean, rtol=rtol)  # the zero fit (W[-1] = 0)
        assert np.all(quad[-1] == quad[-1, 0, 0])  # the same at every level and draw


@pytest.mark.parametrize("method", ["direct", "quadratic"])
def test_mean_imputation_fills_in_the_training_means(regression, method):
    # every entry missing (level 1): each row becomes the training means m, so fit f predicts
    # mᵀw_f + b_f for every row; without train_mean the test columns' own means are used
    X, y = regression
    m = np.linspace(-1.0, 2.0, X.shape[1])
    kwargs = dict(
        task="regression",
        suite=[("feature_dropout", [1.0], {"impute": "mean"})],
        draws=2,
        key=0,
        method=method,
    )
    out = robustness.evaluate_fits(_batch(W, B), X, y, train_mean=m, **kwargs)
    mse = out["feature_dropout"]["mse"]
    want = np.mean((y[:, None] - (m @ W.T + B)) ** 2, axis=0)
    np.testing.assert_allclose(mse, np.broadcast_to(want[:, None, None], mse.shape), rtol=1e-12)
    own = robustness.evaluate_fits(_batch(W, B), X, y, **kwargs)["feature_dropout"]["mse"]
    want = np.mean((y[:, None] - (X.mean(0) @ W.T + B)) ** 2, axis=0)
    np.testing.assert_allclose(own[:, 0, 0], want, rtol=1e-12)
    with pytest.raises(ValueError, match=r"train_mean must be \(6,\)"):
        robustness.evaluate_fits(_batch(W, B), X, y, train_mean=m[:3], **kwargs)


def test_a_non_finite_fit_stays_non_finite_and_leaves_the_others_exact(regression):
    X, y = regression
    Ws, bs = W[[0, 1, 0]].copy(), B[[0, 1, 0]].copy()
    Ws[1, 2] = np.nan
    kwargs = dict(
        task="regression", suite=[("gaussian", [0.5]), ("label_noise", [0.5])], draws=3, key=0
    )
    quad = robustness.evaluate_fits(_batch(Ws, bs), X, y, method="quadratic", **kwargs)
    direct = robustness.evaluate_fits(_batch(Ws, bs), X, y, method="direct", **kwargs)
    for name in quad:
        assert np.isnan(quad[name]["mse"][1]).all()
        np.testing.assert_allclose(
            quad[name]["mse"][[0, 2]], direct[name]["mse"][[0, 2]], rtol=1e-10
        )


def test_auto_takes_the_quadratic_form_where_it_costs_less():
    kw = dict(task="regression", depth=1, n_out=1, target="inputs", n=500, p=50)
    assert robustness.choose_method("auto", n_fits=1000, **kw) == "quadratic"
    assert robustness.choose_method("auto", n_fits=10, **kw) == "direct"
    assert robustness.choose_method("quadratic", n_fits=10, **kw) == "quadratic"
    assert robustness.choose_method("direct", n_fits=1000, **kw) == "direct"
    for change in ({"target": "adversarial"}, {"depth": 2}, {"task": "binary"}, {"n_out": 3}):
        assert robustness.choose_method("quadratic", n_fits=1000, **{**kw, **change}) == "direct"
    with pytest.raises(ValueError, match="method='gram'"):
        robustness.choose_method("gram", n_fits=10, **kw)


def test_classification_keeps_the_direct_path(binary):
    X, y = binary
    kwargs = dict(task="binary", suite=[("gaussian", [0.3])], draws=2, key=1)
    a = robustness.evaluate_fits(_batch(W, B), X, y, method="quadratic", **kwargs)
    b = robustness.evaluate_fits(_batch(W, B), X, y, method="direct", **kwargs)
    for k in ("error_rate", "log_loss"):
        np.testing.assert_array_equal(a["gaussian"][k], b["gaussian"][k])


# ---------------------------------------------------------------- the levels of a draw


def test_the_levels_of_a_draw_scale_one_noise_sample(regression):
    """For a fixed draw E, X + ℓE gives an MSE exactly quadratic in ℓ, so at equally spaced
    levels its third difference vanishes draw by draw (fresh draws per level would leave
    Monte-Carlo noise of the size of the MSE's spread); computed directly, not by the form."""
    X, y = regression
    out = robustness.evaluate_fits(
        _batch(W, B),
        X,
        y,
        task="regression",
        suite=[("gaussian", [0.0, 0.2, 0.4, 0.6]), ("param_additive", [0.0, 0.2, 0.4, 0.6])],
        draws=6,
        key=5,
        method="direct",
    )
    for name, errs in out.items():
        mse = errs["mse"]  # (F, 4, D)
        third = mse[:, 3] - 3 * mse[:, 2] + 3 * mse[:, 1] - mse[:, 0]
        assert np.max(np.abs(third)) <= 1e-10 * np.max(mse), name
        assert np.ptp(mse[:, 3], axis=-1).min() > 1e-3  # while the draws do differ


def test_missing_features_are_nested_across_levels():
    """Feature dropout thresholds one uniform sample per draw, so the entries missing at a level
    are also missing at every higher one: with X = 1, y = 0 and fit f = e_f (imputing 0), the
    MSE is the share of column f still present, and it never rises with the level."""
    n, p = 40, 5
    fits = _batch(np.eye(p), np.zeros(p))
    levels = [0.2, 0.25, 0.3, 0.35, 0.4]
    out = robustness.evaluate_fits(
        fits,
        np.ones((n, p)),
        np.zeros(n),
        task="regression",
        suite=[("feature_dropout", levels)],
        draws=8,
        key=2,
        method="direct",
    )
    mse = out["feature_dropout"]["mse"]  # (p, L, D): the share present
    assert np.all(np.diff(mse, axis=1) <= 0)
    assert np.all(mse[:, 0] - mse[:, -1] > 0)  # and higher levels do remove more


# ---------------------------------------------------------------- draws over host threads


@pytest.fixture
def draw_ranges(monkeypatch):
    """The draw indices of every call of the compiled core, recorded (the core itself is the
    spy's ``__wrapped__``)."""
    ranges = []
    core = robustness._evaluate_suite

    @functools.wraps(core)
    def spy(*args, **kw):
        ranges.append(np.asarray(args[5]).tolist())
        return core(*args, **kw)

    monkeypatch.setattr(robustness, "_evaluate_suite", spy)
    return ranges


@pytest.mark.parametrize("task", ["regression", "binary"])
def test_draws_split_over_host_threads_give_the_one_call_errors(
    monkeypatch, draw_ranges, task, binary
):
    """Three host threads (draws 0-1, 2-3, 4 and a padded 5; the deterministic worst case at
    draw 0 in each) give the one-call errors of every model to rounding, on both methods
    (regression's forms, classification's direct path), really ran three ranges, and compiled
    one executable for them, also when called again."""
    monkeypatch.setattr(robustness.runtime, "host_pool_threads", lambda: 3)
    rng = np.random.default_rng(8)
    X, y = binary if task == "binary" else (rng.standard_normal((80, 6)), rng.standard_normal(80))
    fits = _batch(*(_path_like(rng, 12, 6)[1:]))
    suite = [(name, lv, *opt) for name, lv, *opt in RANDOM_SUITE if task == "regression"]
    suite = suite or [("gaussian", [0.3]), ("adversarial_linf", [0.1]), ("label_noise", [0.2])]
    kwargs = dict(task=task, suite=suite, draws=5, key=3)
    one = robustness.evaluate_fits(fits, X, y, threads=1, **kwargs)
    core = robustness._evaluate_suite.__wrapped__
    executables = core._cache_size()
    for _ in range(2):  # the first call compiles (range 0 alone first), the second is warm
        draw_ranges.clear()
        split = robustness.evaluate_fits(fits, X, y, threads=3, **kwargs)
        assert sorted(draw_ranges) == [[0, 1], [2, 3], [4, 5]]  # concurrently, in any order
        assert core._cache_size() == executables + 1
        assert one.keys() == split.keys()
        for name, errs in one.items():
            for metric, a in errs.items():
                assert split[name][metric].shape == a.shape, (name, metric)
                np.testing.assert_allclose(split[name][metric], a, rtol=1e-12, atol=1e-15)


def test_an_mlp_keeps_one_call(monkeypatch, draw_ranges, regression):
    """An MLP's draws are not split (its products already use the cores: measured slower)."""
    monkeypatch.setattr(robustness.runtime, "host_pool_threads", lambda: 2)
    X, y = regression
    mlp = (
        {"w": jnp.full((2, 6, 3), 0.1), "b": jnp.zeros((2, 3))},
        {"w": jnp.full((2, 3, 1), 0.2), "b": jnp.zeros((2, 1))},
    )
    robustness.evaluate_fits(
        mlp, X, y, task="regression", suite=[("gaussian", [0.1])], draws=4, key=0, threads=2
    )
    assert draw_ranges == [[0, 1, 2, 3]]


def test_threads_must_be_a_positive_integer(regression):
    X, y = regression
    for bad in (0, 1.5, True, "2"):
        with pytest.raises(ValueError, match="threads="):
            robustness.evaluate_fits(
                _batch(W, B),
                X,
                y,
                task="regression",
                suite=[("gaussian", [0.1])],
                draws=2,
                key=0,
                threads=bad,
            )
