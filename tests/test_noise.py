"""Noise models, called directly: documented distributions, what they touch, and validation.

Every expected value is computed here from the documented formula; Monte-Carlo comparisons use a
bound of 4 standard errors estimated from the same sample.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import l1bench.runtime  # noqa: F401  (turns on float64, as every l1bench entry point does)
from l1bench import models
from l1bench.noise import NOISE_MODELS, TARGETS, check_entry, check_suite
from l1bench.noise.adversarial import example_loss
from l1bench.noise.models.adversarial_l2 import adversarial_l2
from l1bench.noise.models.adversarial_linf import adversarial_linf

pytestmark = pytest.mark.fast

Z = 4.0  # standard errors allowed in Monte-Carlo comparisons
SHAPE = (2000, 50)  # one shape for the distribution tests: jax compiles each sampler once


def _within_se(samples, expected):
    samples = np.asarray(samples, dtype=float).ravel()
    se = samples.std(ddof=1) / np.sqrt(samples.size)
    assert abs(samples.mean() - expected) <= Z * se + 1e-12, (samples.mean(), expected, se)


def _linear(w, b=0.1):
    w = jnp.asarray(w, jnp.float64)
    return ({"w": w[:, None], "b": jnp.array([b])},)


# ---------------------------------------------------------------- the registry


@pytest.mark.parametrize("name", sorted(NOISE_MODELS))
def test_every_model_returns_unchanged_what_it_does_not_touch(name):
    m = NOISE_MODELS[name]
    assert m.name == name and m.target in TARGETS and m.description
    rng = np.random.default_rng(0)
    X = jnp.asarray(rng.standard_normal(SHAPE))
    y = jnp.asarray(rng.standard_normal(SHAPE[0]))
    params = models.init(jax.random.key(0), SHAPE[1], 1, hidden=(4,))
    options = {**m.options, "attack": "fgsm"} if m.target == "adversarial" else m.options
    fn = partial(m.fn, level=0.3, task="regression", **options)
    if m.target == "adversarial":  # the gradient path on the MLP (PGD: its own test below)
        fn = jax.jit(fn)
    X2, y2, p2 = fn(jax.random.key(1), X, y, params)
    assert X2.shape == X.shape and y2.shape == y.shape
    assert jax.tree_util.tree_structure(p2) == jax.tree_util.tree_structure(params)
    same = lambda a, b: bool(jnp.array_equal(a, b))
    touched = {
        "inputs": {"X"},
        "adversarial": {"X"},
        "labels": {"y"},
        "rows": {"X", "y"},
        "params": {"params"},
    }[m.target]
    assert same(X2, X) == ("X" not in touched)
    assert same(y2, y) == ("y" not in touched)
    for layer, layer2 in zip(params, p2):
        assert same(layer2["b"], layer["b"])  # biases are never perturbed
        assert same(layer2["w"], layer["w"]) == ("params" not in touched)


@pytest.mark.parametrize("name", [k for k, m in NOISE_MODELS.items() if m.target == "inputs"])
def test_level_zero_leaves_the_inputs_unchanged(name):
    X = jnp.asarray(np.random.default_rng(1).standard_normal(SHAPE))
    X2, _, _ = NOISE_MODELS[name].fn(jax.random.key(0), X, None, None, 0.0)
    np.testing.assert_array_equal(np.asarray(X2), np.asarray(X))


# ---------------------------------------------------------------- input noise


@pytest.mark.parametrize(
    "name,opts",
    [("gaussian", {}), ("uniform", {}), ("laplace", {}), ("student_t", {"df": 5.0})],
)
def test_input_noise_has_the_documented_std(name, opts):
    level = 0.7
    noise, _, _ = NOISE_MODELS[name].fn(
        jax.random.key(1), jnp.zeros(SHAPE), None, None, level, **opts
    )
    e = np.asarray(noise).ravel()
    _within_se(e, 0.0)  # zero mean
    _within_se(e**2, level**2)  # variance level² (df = 5 > 4: the 4th moment is finite)


def test_uniform_and_laplace_have_their_documented_shape():
    level = 0.7
    X = jnp.zeros(SHAPE)
    u = np.asarray(NOISE_MODELS["uniform"].fn(jax.random.key(2), X, None, None, level)[0])
    assert np.abs(u).max() <= np.sqrt(3) * level  # support [-√3ℓ, √3ℓ] ...
    assert np.abs(u).max() > 0.99 * np.sqrt(3) * level  # ... and filled to its edge
    lap = np.asarray(NOISE_MODELS["laplace"].fn(jax.random.key(3), X, None, None, level)[0])
    _within_se(np.abs(lap), level / np.sqrt(2))  # E|L| = b = ℓ/√2 (a Gaussian gives ℓ√(2/π))


def test_student_t_default_df_is_three_and_heavier_tailed_than_gaussian():
    assert NOISE_MODELS["student_t"].options["df"] == 3.0
    X = jnp.zeros(SHAPE)
    t = np.asarray(NOISE_MODELS["student_t"].fn(jax.random.key(4), X, None, None, 1.0)[0])
    g = np.asarray(NOISE_MODELS["gaussian"].fn(jax.random.key(4), X, None, None, 1.0)[0])
    # with df = 3 the sample variance converges slowly (infinite 4th moment): check the tail
    assert np.mean(np.abs(t) > 4) > 10 * np.mean(np.abs(g) > 4)


@pytest.mark.parametrize("a", [1.0, 1.5, 5.0])
def test_gamma_sampler_follows_the_gamma_law(a):
    """Kolmogorov-Smirnov against scipy's Gamma(a) cdf (fixed key: deterministic), float64
    and float32; a = 1 rejects the most proposals, so the redraw loop runs."""
    from scipy import stats

    from l1bench.noise.sampling import gamma_large

    for dtype in (jnp.float64, jnp.float32):
        g = np.asarray(gamma_large(jax.random.key(1), a, (20000,), dtype))
        assert g.dtype == dtype and np.all(g > 0)
        assert stats.kstest(g.astype(float), stats.gamma(a).cdf).pvalue > 1e-3, (a, dtype)


def test_gamma_sampler_rejects_a_shape_below_one():
    from l1bench.noise.sampling import gamma_large

    with pytest.raises(ValueError, match=r"a=0.5 must be >= 1"):
        gamma_large(jax.random.key(0), 0.5, (10,), jnp.float64)


@pytest.mark.parametrize("df", [2.5, 3.0, 10.0])
def test_student_t_sampler_follows_the_t_law(df):
    from scipy import stats

    from l1bench.noise.sampling import standard_t

    t = np.asarray(standard_t(jax.random.key(2), df, (100, 200), jnp.float64))
    assert t.shape == (100, 200)
    assert stats.kstest(t.ravel(), stats.t(df).cdf).pvalue > 1e-3


def test_input_noise_vmaps_over_traced_levels_and_draws():
    levels = jnp.array([0.0, 0.5, 1.0])
    keys = jax.random.split(jax.random.key(5), 4)
    fn = NOISE_MODELS["laplace"].fn
    out = jax.jit(
        jax.vmap(
            jax.vmap(lambda lv, k: fn(k, jnp.zeros((500, 20)), None, None, lv)[0], (None, 0)),
            (0, None),
        )
    )(levels, keys)
    assert out.shape == (3, 4, 500, 20)
    np.testing.assert_allclose(np.asarray(out).std(axis=(1, 2, 3)), levels, rtol=0.05)


def test_feature_dropout_zeroes_a_level_fraction_and_mean_imputes():
    level = 0.3
    X = jnp.asarray(np.random.default_rng(0).standard_normal((2000, 10)) + 3.0)  # no zeros
    fn = NOISE_MODELS["feature_dropout"].fn
    zeroed = np.asarray(fn(jax.random.key(0), X, None, None, level, impute="zero")[0])
    missing = zeroed == 0
    _within_se(missing, level)
    np.testing.assert_array_equal(zeroed[~missing], np.asarray(X)[~missing])
    imputed = np.asarray(fn(jax.random.key(0), X, None, None, level, impute="mean")[0])
    col_mean = np.broadcast_to(np.asarray(X).mean(axis=0), X.shape)
    np.testing.assert_allclose(imputed[missing], col_mean[missing], rtol=1e-14)
    np.testing.assert_array_equal(imputed[~missing], np.asarray(X)[~missing])
    # given the training part's means, those are filled in (an imputer fitted on train)
    train_mean = jnp.arange(10.0) - 4.5
    key = jax.random.key(0)
    filled = np.asarray(fn(key, X, None, None, level, impute="mean", train_mean=train_mean)[0])
    want = np.broadcast_to(np.asarray(train_mean), X.shape)
    np.testing.assert_array_equal(filled[missing], want[missing])
    np.testing.assert_array_equal(filled[~missing], np.asarray(X)[~missing])


# ---------------------------------------------------------------- label noise


@pytest.mark.parametrize("n_classes,task", [(4, "multiclass"), (2, "binary")])
def test_label_noise_flips_a_level_fraction_never_to_the_same_class(n_classes, task):
    level, n = 0.25, 20000
    y = jnp.asarray(np.random.default_rng(0).integers(0, n_classes, n).astype(float))
    fn = NOISE_MODELS["label_noise"].fn
    _, noisy, _ = fn(jax.random.key(2), None, y, None, level, task=task, n_classes=n_classes)
    noisy, y_np = np.asarray(noisy), np.asarray(y)
    _within_se(noisy != y_np, level)
    assert set(np.unique(noisy)) <= set(range(n_classes))
    # at level 1 every label moves, to each of the K - 1 other classes equally often
    _, moved, _ = fn(jax.random.key(3), None, y, None, 1.0, task=task, n_classes=n_classes)
    moved = np.asarray(moved)
    assert np.all(moved != y_np)
    shift = (moved - y_np) % n_classes
    for s in range(1, n_classes):
        _within_se(shift == s, 1.0 / (n_classes - 1))


def test_label_noise_on_regression_adds_gaussian_noise_of_std_level():
    y = jnp.asarray(np.random.default_rng(0).standard_normal(50000))
    _, noisy, _ = NOISE_MODELS["label_noise"].fn(jax.random.key(4), None, y, None, 0.4)
    e = np.asarray(noisy - y)
    _within_se(e, 0.0)
    _within_se(e**2, 0.4**2)


# ---------------------------------------------------------------- parameter noise


def test_parameter_noise_has_the_documented_law_and_keeps_biases():
    level = 0.2
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((40, 30))
    w0[:, :5] = 0.0  # exact zeros
    params = (
        {"w": w0, "b": rng.standard_normal(30)},
        {"w": rng.standard_normal((30, 3)), "b": rng.standard_normal(3)},
    )
    params = jax.tree_util.tree_map(jnp.asarray, params)

    @jax.jit
    def perturb(key):
        add = NOISE_MODELS["param_additive"].fn(key, None, None, params, level)[2]
        mul = NOISE_MODELS["param_multiplicative"].fn(key, None, None, params, level)[2]
        return add, mul

    add, mul = perturb(jax.random.key(1))
    for layer, a, m in zip(params, add, mul):
        w = np.asarray(layer["w"])
        np.testing.assert_array_equal(a["b"], layer["b"])
        np.testing.assert_array_equal(m["b"], layer["b"])
        _within_se((np.asarray(a["w"]) - w) ** 2, level**2)  # w + ℓ·Z
        nz = w != 0
        _within_se(((np.asarray(m["w"]) - w)[nz] / w[nz]) ** 2, level**2)  # w·(1 + ℓ·Z)
        np.testing.assert_array_equal(np.asarray(m["w"])[~nz], 0.0)  # zeros stay zero


# ---------------------------------------------------------------- adversarial, per example


@pytest.mark.parametrize(
    "fn,dual,norm",
    [
        (adversarial_linf, lambda w: np.abs(w).sum(), lambda d: np.abs(d).max(axis=1)),
        (adversarial_l2, lambda w: np.linalg.norm(w), lambda d: np.linalg.norm(d, axis=1)),
    ],
)
def test_exact_attack_grows_each_residual_by_eps_dual_norm_on_the_sphere(fn, dual, norm):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((100, 6)), rng.standard_normal(100)
    w, b, eps = np.array([1.0, -2.0, 0.0, 0.0, 0.5, 0.0]), 0.1, 0.3
    X_adv = np.asarray(fn(jax.random.key(0), jnp.asarray(X), jnp.asarray(y), _linear(w, b), eps)[0])
    r, r_adv = y - X @ w - b, y - X_adv @ w - b
    np.testing.assert_allclose(np.abs(r_adv), np.abs(r) + eps * dual(w), rtol=1e-12)
    np.testing.assert_allclose(norm(X_adv - X), eps, rtol=1e-12)  # on the ball's boundary


@pytest.mark.parametrize("name", ["adversarial_linf", "adversarial_l2"])
@pytest.mark.parametrize("task", ["regression", "binary"])
def test_exact_attack_outputs_equal_the_model_on_the_attacked_inputs(name, task):
    """The closed-form outputs xᵀw + b − ℓ s ‖w‖_* equal the model applied to fn's X + Δ; a
    hidden layer or attack=pgd has none (None: the evaluation forms the inputs)."""
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((50, 6)), rng.standard_normal(50)
    if task == "binary":
        y = (y > 0).astype(float)
    model = NOISE_MODELS[name]
    params, key = _linear([1.0, -2.0, 0.0, 0.0, 0.5, 0.0], 0.2), jax.random.key(0)
    args = (key, jnp.asarray(X), jnp.asarray(y), params, 0.3)
    out, y2 = model.outputs(*args, task=task)
    X_adv = model.fn(*args, task=task)[0]
    np.testing.assert_allclose(out, jax.vmap(lambda x: models.apply(params, x))(X_adv), rtol=1e-12)
    np.testing.assert_array_equal(y2, y)
    assert model.outputs(*args, task=task, attack="pgd") is None
    mlp = models.init(jax.random.key(1), 6, 1, hidden=(4,))
    assert model.outputs(key, args[1], args[2], mlp, 0.3, task=task) is None


def test_pgd_on_an_mlp_stays_in_the_ball_and_raises_the_loss():
    rng = np.random.default_rng(1)
    X, y = jnp.asarray(rng.standard_normal((64, 5))), jnp.asarray(rng.standard_normal(64))
    params = models.init(jax.random.key(2), 5, 1, hidden=(16,))
    eps = 0.2

    @jax.jit
    def attacks(key):
        opts = dict(steps=10, restarts=2)
        return (
            adversarial_linf(key, X, y, params, eps, **opts)[0],
            adversarial_l2(key, X, y, params, eps, **opts)[0],
        )

    loss = jax.vmap(lambda x, t: example_loss(params, x, t, "regression", "relu"))
    clean = np.asarray(loss(X, y))
    for X_adv, size in zip(
        attacks(jax.random.key(0)),
        (lambda d: np.abs(d).max(1), lambda d: np.linalg.norm(d, axis=1)),
    ):
        assert np.all(size(np.asarray(X_adv - X)) <= eps * (1 + 1e-12))
        adv = np.asarray(loss(X_adv, y))
        assert np.all(adv >= clean - 1e-12) and adv.mean() > 1.05 * clean.mean()


@pytest.mark.parametrize("fn", [adversarial_linf, adversarial_l2])
def test_exact_attack_without_a_closed_form_raises(fn):
    mlp = models.init(jax.random.key(0), 3, 1, hidden=(4,))
    X, y = jnp.zeros((2, 3)), jnp.zeros(2)
    with pytest.raises(ValueError, match="attack=exact.*closed form"):
        fn(jax.random.key(0), X, y, mlp, 0.1, attack="exact")
    multinomial = models.init(jax.random.key(0), 3, 3)
    with pytest.raises(ValueError, match="attack=exact.*multiclass"):
        fn(jax.random.key(0), X, y, multinomial, 0.1, task="multiclass", attack="exact")


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "suite,draws,task,depth,match",
    [
        ({"gaussian": {"levels": [-0.1]}}, 5, "regression", 1, r"gaussian\.levels"),
        ({"gaussian": {"levels": [float("nan")]}}, 5, "regression", 1, r"gaussian\.levels"),
        ({"gaussian": {"levels": []}}, 5, "regression", 1, r"gaussian\.levels"),
        ({"gaussian": {"levels": [0.1]}}, 0, "regression", 1, "draws"),
        ({"gaussian": {"levels": [0.1]}}, 2.5, "regression", 1, "draws"),
        ({"blur": {"levels": [0.1]}}, 5, "regression", 1, "unknown noise model.*gaussian.*"),
        ({"gaussian": {"levels": [0.1], "df": 3}}, 5, "regression", 1, "unknown option df"),
        ({"student_t": {"levels": [0.1], "df": 2}}, 5, "regression", 1, r"student_t\.df"),
        ({"feature_dropout": {"levels": [1.5]}}, 5, "regression", 1, "probabilities"),
        (
            {"feature_dropout": {"levels": [0.1], "impute": "median"}},
            5,
            "regression",
            1,
            r"impute='median'",
        ),
        ({"label_noise": {"levels": [1.5]}}, 5, "binary", 1, "probabilities"),
        (
            {"adversarial_linf": {"levels": [0.1], "attack": "exact"}},
            5,
            "regression",
            2,
            "attack=exact",
        ),
        (
            {"adversarial_l2": {"levels": [0.1], "attack": "exact"}},
            5,
            "multiclass",
            1,
            "attack=exact",
        ),
        ({"adversarial_l2": {"levels": [0.1], "attack": "cw"}}, 5, "regression", 1, "attack='cw'"),
        (
            {"adversarial_l2": {"levels": [0.1], "norm": "l1"}},
            5,
            "regression",
            1,
            "unknown option norm",
        ),
        ({"adversarial_linf": {"levels": [0.1], "steps": 0}}, 5, "regression", 2, "steps"),
        ({"adversarial_linf": {"levels": [0.1], "step_size": -1}}, 5, "regression", 2, "step_size"),
    ],
)
def test_invalid_noise_settings_name_the_field(suite, draws, task, depth, match):
    with pytest.raises(ValueError, match=match):
        check_suite(suite, draws, task=task, depth=depth)


def test_valid_entry_fills_in_the_defaults():
    e = check_entry("adversarial_linf", {"levels": [0, 0.1], "steps": 5}, task="binary", depth=1)
    assert e.levels == (0.0, 0.1)
    assert e.options == {"attack": "auto", "steps": 5, "restarts": 1, "step_size": None}
    assert check_suite({}, 0, task="regression", depth=1) == []  # no suite: draws unused
