"""Noise models and robustness metrics against theory computed in the test."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

import l1bench
from l1bench import robustness
from l1bench.noise import NOISE_MODELS, check_suite
from l1bench.noise.adversarial import adversarial_l2, adversarial_linf


def _regression(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6))
    y = X @ np.array([1.0, -2.0, 0, 0, 0.5, 0]) + 0.3 * rng.standard_normal(n)
    return X, y


def _batch(res):
    """FitResult params (L, ...) → (1, L, ...) for one problem."""
    return jax.tree_util.tree_map(lambda a: a[None], res.params)


def _eval(res, X, y, suite, draws, task="regression"):
    entries = check_suite(suite, draws, task=task, depth=len(res.params))
    return robustness.evaluate(
        _batch(res), X[None], y[None], np.array([3]), entries, draws=draws, task=task
    )


@pytest.fixture(scope="module")
def linear_fit():
    X, y = _regression()
    return X, y, l1bench.fit(X, y, penalty="l1", lam=[0.3, 0.05])


@pytest.mark.parametrize(
    "name,dual",
    [
        ("adversarial_linf", lambda w: np.abs(w).sum()),
        ("adversarial_l2", lambda w: np.linalg.norm(w)),
    ],
)
def test_adversarial_regression_equals_dual_norm_closed_form(linear_fit, name, dual):
    X, y, res = linear_fit
    eps = [0.05, 0.2]
    out = _eval(res, X, y, {name: {"levels": eps}}, 1)[0].errors["mse"][0, :, :, 0]
    for k in range(2):
        r = y - X @ res.coef[k] - res.intercept[k]
        for j, e in enumerate(eps):
            closed = np.mean((np.abs(r) + e * dual(res.coef[k])) ** 2)
            assert out[k, j] == pytest.approx(closed, rel=1e-10)


@pytest.fixture(scope="module")
def logistic_fit():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return X, y.astype(float), l1bench.fit(X, y, model="logistic", penalty="l1", lam=[0.05, 0.01])


@pytest.mark.parametrize(
    "name,dual",
    [
        ("adversarial_linf", lambda w: np.abs(w).sum()),
        ("adversarial_l2", lambda w: np.linalg.norm(w)),
    ],
)
def test_adversarial_logistic_shrinks_the_margin_by_the_dual_norm(logistic_fit, name, dual):
    X, y, res = logistic_fit
    eps = 0.1
    out = _eval(res, X, y, {name: {"levels": [eps]}}, 1, task="binary")[0].errors
    for k in range(2):
        margin = (2 * y - 1) * (X @ res.coef[k] + res.intercept[k])
        worst = margin - eps * dual(res.coef[k])
        assert out["log_loss"][0, k, 0, 0] == pytest.approx(
            np.mean(np.logaddexp(0, -worst)), rel=1e-10
        )
        assert out["accuracy"][0, k, 0, 0] == pytest.approx(np.mean(worst > 0))


@pytest.mark.parametrize(
    "fn,dual",
    [(adversarial_linf, lambda w: np.abs(w).sum()), (adversarial_l2, lambda w: np.linalg.norm(w))],
)
def test_pgd_on_a_linear_model_reaches_the_closed_form(linear_fit, fn, dual):
    X, y, res = linear_fit
    params = jax.tree_util.tree_map(lambda a: a[1], res.params)
    eps = 0.2
    X_adv, _, _ = fn(
        jax.random.key(0),
        jnp.asarray(X),
        jnp.asarray(y),
        params,
        eps,
        task="regression",
        attack="pgd",
        steps=50,
        restarts=2,
    )
    r_adv = y - np.asarray(X_adv) @ res.coef[1] - res.intercept[1]
    r = y - X @ res.coef[1] - res.intercept[1]
    closed = np.mean((np.abs(r) + eps * dual(res.coef[1])) ** 2)
    assert np.mean(r_adv**2) == pytest.approx(closed, rel=1e-3)
    assert np.mean(r_adv**2) <= closed * (1 + 1e-12)  # never beyond the exact worst case
    fgsm, _, _ = fn(
        jax.random.key(0),
        jnp.asarray(X),
        jnp.asarray(y),
        params,
        eps,
        task="regression",
        attack="fgsm",
    )
    assert np.mean((y - np.asarray(fgsm) @ res.coef[1] - res.intercept[1]) ** 2) <= closed * (
        1 + 1e-12
    )


def _mc_check(samples, expected):
    """Mean of draws within 4 standard errors of the expected value."""
    samples = np.asarray(samples)
    se = samples.std(ddof=1) / np.sqrt(samples.size)
    assert abs(samples.mean() - expected) <= 4 * se + 1e-12


def test_gaussian_input_noise_adds_sigma2_norm_w2(linear_fit):
    X, y, res = linear_fit
    sigma, draws = 0.5, 400
    mse = _eval(res, X, y, {"gaussian": {"levels": [sigma]}}, draws)[0].errors["mse"][0]
    for k in range(2):
        clean = np.mean((y - X @ res.coef[k] - res.intercept[k]) ** 2)
        _mc_check(mse[k, 0] - clean, sigma**2 * res.coef[k] @ res.coef[k])


def test_parameter_noise_matches_its_closed_forms(linear_fit):
    X, y, res = linear_fit
    s, draws = 0.1, 400
    out = _eval(
        res,
        X,
        y,
        {"param_additive": {"levels": [s]}, "param_multiplicative": {"levels": [s]}},
        draws,
    )
    for k in range(2):
        clean = np.mean((y - X @ res.coef[k] - res.intercept[k]) ** 2)
        _mc_check(out[0].errors["mse"][0, k, 0] - clean, s**2 * np.mean(np.sum(X**2, axis=1)))
        _mc_check(
            out[1].errors["mse"][0, k, 0] - clean,
            s**2 * np.mean(np.sum(X**2 * res.coef[k] ** 2, axis=1)),
        )


@pytest.mark.parametrize(
    "name,opts", [("uniform", {}), ("laplace", {}), ("student_t", {"df": 5.0}), ("gaussian", {})]
)
def test_input_noise_has_the_documented_std(name, opts):
    X = jnp.zeros((4000, 50))
    noisy, _, _ = NOISE_MODELS[name].fn(jax.random.key(1), X, jnp.zeros(4000), None, 0.7, **opts)
    assert float(jnp.std(noisy)) == pytest.approx(0.7, rel=0.03)


def test_feature_dropout_zeroes_and_mean_imputes():
    X = jnp.asarray(np.random.default_rng(0).standard_normal((2000, 10)) + 3.0)
    fn = NOISE_MODELS["feature_dropout"].fn
    zeroed, _, _ = fn(jax.random.key(0), X, None, None, 0.3, impute="zero")
    assert float(jnp.mean(zeroed == 0)) == pytest.approx(0.3, abs=0.01)
    imputed, _, _ = fn(jax.random.key(0), X, None, None, 0.3, impute="mean")
    filled = np.asarray(imputed)[np.asarray(zeroed) == 0]
    means = np.broadcast_to(np.asarray(X).mean(0), X.shape)[np.asarray(zeroed) == 0]
    np.testing.assert_allclose(filled, means)


def test_label_flips_never_keep_the_class():
    y = jnp.asarray(np.random.default_rng(0).integers(0, 4, 20000).astype(float))
    _, noisy, _ = NOISE_MODELS["label_noise"].fn(
        jax.random.key(2), None, y, None, 0.25, task="multiclass", n_classes=4
    )
    changed = np.asarray(noisy != y)
    assert changed.mean() == pytest.approx(0.25, abs=0.01)
    assert set(np.unique(np.asarray(noisy))) <= {0.0, 1.0, 2.0, 3.0}


@pytest.mark.parametrize(
    "coef,true,expected",
    [
        ([1, 0, 2, 0], [3, 0, 1, 0], (1.0, 1.0, 1.0)),  # exact
        ([0, 0, 0, 0], [3, 0, 1, 0], (1.0, 0.0, 0.0)),  # empty estimate
        ([1, 1, 2, 0], [3, 0, 1, 0], (2 / 3, 1.0, 0.8)),  # superset
        ([1, 0, 0, 0], [3, 0, 1, 0], (1.0, 0.5, 2 / 3)),  # subset
        ([0, 0, 0, 0], [0, 0, 0, 0], (1.0, 1.0, 1.0)),  # nothing to find, nothing found
    ],
)
def test_support_recovery_hand_made_cases(coef, true, expected):
    got = robustness.support_recovery(np.array(coef, float), np.array(true, float))
    np.testing.assert_allclose(np.array(got, dtype=float), expected)


def test_curve_summaries():
    levels, err = [0.0, 0.5, 1.0], np.array([1.0, 2.0, 4.0])
    assert robustness.auc(levels, err) == pytest.approx((1.5 * 0.5 + 3.0 * 0.5) / 1.0)
    assert robustness.worst_case(err) == 4.0
    np.testing.assert_allclose(robustness.degradation(err, 1.0), [0, 1, 3])


@pytest.mark.parametrize(
    "suite,draws,match",
    [
        ({"gaussian": {"levels": [-0.1]}}, 5, "levels"),
        ({"gaussian": {"levels": []}}, 5, "levels"),
        ({"gaussian": {"levels": [0.1]}}, 0, "draws"),
        ({"blur": {"levels": [0.1]}}, 5, "unknown noise model.*gaussian"),
        ({"gaussian": {"levels": [0.1], "df": 3}}, 5, "unknown option df"),
        ({"adversarial_linf": {"levels": [0.1], "attack": "exact"}}, 5, "attack=exact"),
        ({"feature_dropout": {"levels": [1.5]}}, 5, "probabilities"),
        ({"student_t": {"levels": [0.1], "df": 2}}, 5, "df"),
    ],
)
def test_invalid_noise_settings_name_the_field(suite, draws, match):
    with pytest.raises(ValueError, match=match):
        check_suite(suite, draws, task="regression", depth=2)
