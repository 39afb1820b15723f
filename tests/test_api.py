"""The Python API reaches every model and backend; runs report divergence; no recompiles."""

import dataclasses
import re

import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import l1bench
from l1bench import pipeline, runtime
from l1bench.config import validate
from l1bench.data.split import DataError, Raw, check_xy

from conftest import compose_config


def _logistic_objective(X, y01, w, b, lam):
    z = X @ w + b
    return np.mean(np.logaddexp(0, z) - y01 * z) + lam * np.abs(w).sum()


@pytest.mark.fast
def test_logistic_with_string_labels_matches_sklearn():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    labels = np.where(y == 1, "benign", "malignant")
    res = l1bench.fit(X, labels, model="logistic", penalty="l1", lam=[0.02])
    assert res.classes == ("benign", "malignant") and res.status == ("converged",)
    y01 = (labels == "malignant").astype(float)  # index 1 = second class in sorted order
    ref = LogisticRegression(
        C=1 / (len(y) * 0.02), l1_ratio=1.0, solver="saga", tol=1e-10, max_iter=100_000
    ).fit(X, y01)
    ours = _logistic_objective(X, y01, res.coef[0], res.intercept[0], 0.02)
    theirs = _logistic_objective(X, y01, ref.coef_[0], ref.intercept_[0], 0.02)
    assert ours == pytest.approx(theirs, rel=1e-5)
    np.testing.assert_array_equal(res.coef[0] != 0, ref.coef_[0] != 0)


def test_multinomial_shapes():
    X, y = load_iris(return_X_y=True)
    res = l1bench.fit(X, y, model="logistic", penalty="l2", n_lambdas=3)
    assert res.coef.shape == (3, 4, 3) and res.intercept.shape == (3, 3)


def test_mlp_and_stochastic_dropout_through_the_api():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 5))
    y = np.tanh(X[:, 0]) + 0.1 * rng.standard_normal(80)
    res = l1bench.fit(
        X, y, model="mlp", hidden=[8], penalty="dropout", dropout=[0.1, 0.3], steps=100
    )
    assert res.coef is None and len(res.params) == 2
    assert res.params[0]["w"].shape == (2, 5, 8)
    assert all(s in ("converged", "max_iter") for s in res.status)
    lin = l1bench.fit(X, y, penalty="dropout", dropout=[0.2], dropout_mode="stochastic", steps=50)
    assert lin.coef.shape == (1, 5)


@pytest.mark.fast
def test_api_rejects_impossible_combinations():
    X, y = np.ones((10, 2)) + np.arange(20).reshape(10, 2), np.arange(10.0)
    with pytest.raises(ValueError, match="model=mlp needs solver=optax"):
        l1bench.fit(X, y, model="mlp", solver="convex")
    with pytest.raises(ValueError, match="marginalized"):
        l1bench.fit(
            X, y, model="logistic", penalty="dropout", dropout=[0.1], dropout_mode="marginalized"
        )
    with pytest.raises(ValueError, match="at least 2 classes"):
        l1bench.fit(X, np.zeros(10), model="logistic")
    with pytest.raises(ValueError, match="auto, gram, design, working_set"):
        l1bench.fit(X, y, algorithm="cd")
    with pytest.raises(ValueError, match="p > n"):  # n = 10 > p = 2
        l1bench.fit(X, y, algorithm="working_set")


def test_api_forced_algorithm_reaches_the_same_fit():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6))
    y = X @ rng.standard_normal(6) + 0.1 * rng.standard_normal(40)
    auto = l1bench.fit(X, y, lam=[0.1, 0.01])
    design = l1bench.fit(X, y, lam=[0.1, 0.01], algorithm="design")
    assert all(s == "converged" for s in design.status)
    np.testing.assert_allclose(design.objective, auto.objective, rtol=1e-7)


def test_diverging_training_is_reported_and_excluded():
    cfg = validate(
        compose_config(
            "solver=optax",
            "solver.optimizer=sgd",
            "penalty=l1",
            # below lambda_max: at lambda_max the start (w = 0, intercept at its optimum) is
            # already stationary and no step is taken
            "penalty.l1.lam=[0.1,0.01,0.001]",
            "solver.learning_rate=1e6",
            "solver.steps=50",
            "cv_folds=0",
        )
    )
    out = pipeline.run(cfg)
    assert (out.fits["status"] == "diverged").all()
    summary = pipeline.results.summarize(out.fits)
    assert (summary["n_excluded"] == 1).all() and summary["test_mse"].isna().all()


def test_running_a_grid_twice_does_not_recompile():
    cfg = validate(compose_config("penalty=l1", "penalty.l1.n_lambdas=4", "cv_folds=0", "seed=11"))
    pipeline.run(cfg)
    n = len(runtime._EXECUTABLES)
    out = pipeline.run(dataclasses.replace(cfg, seed=12))  # new data, same shapes
    assert len(runtime._EXECUTABLES) == n
    assert set(out.info["timings"]) >= {"compile_s", "fit_s", "wall_s"}


def test_executables_are_released_before_the_memory_map_limit(monkeypatch):
    # XLA CPU executables hold hundreds of memory maps each; near half the kernel's limit the
    # kept ones are dropped before the next compile (the process had crashed in XLA's compiler)
    X, y = np.random.default_rng(0).standard_normal((30, 4)), np.arange(30.0)
    l1bench.fit(X, y, penalty="l1", n_lambdas=3)
    assert runtime._EXECUTABLES and runtime.memory_maps() > 0
    monkeypatch.setattr(runtime, "_map_budget", lambda: 10**9)
    assert not runtime.release_if_crowded() and runtime._EXECUTABLES
    monkeypatch.setattr(runtime, "_map_budget", lambda: 0)
    before = runtime.memory_maps()
    assert runtime.release_if_crowded() and not runtime._EXECUTABLES
    assert runtime.memory_maps() < before
    res = l1bench.fit(X, y, penalty="l1", n_lambdas=3)  # recompiles (releasing again first)
    assert res.status == ("converged",) * 3


def _small_regression(n=30, p=4):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, p))
    return X, X @ rng.standard_normal(p) + 0.1 * rng.standard_normal(n)


@pytest.mark.fast
def test_an_empty_x_is_called_empty():
    X, y = _small_regression()
    with pytest.raises(ValueError, match=r"^X is empty \(shape \(0, 4\)\): it has 0 rows"):
        l1bench.fit(X[:0], y[:0])
    with pytest.raises(ValueError, match=r"^X is empty \(shape \(30, 0\)\): it has no feature"):
        l1bench.fit(X[:, :0], y)


@pytest.mark.fast
def test_one_row_is_refused_as_the_cli_refuses_it():
    X, y = _small_regression()
    with pytest.raises(DataError) as cli:
        check_xy("one_row", Raw(X[:1], y[:1]))
    message = str(cli.value).removeprefix("dataset one_row: ")
    for model in ("linear", "logistic", "mlp"):
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            l1bench.fit(X[:1], y[:1], model=model)


@pytest.mark.fast
def test_a_constant_float_target_is_a_linear_regression():
    X, _ = _small_regression()
    res = l1bench.fit(X, np.full(len(X), 3.0), penalty="l1", lam=[0.1])
    # the squared loss of a constant target is minimized by w = 0, b = the constant
    assert res.classes is None and res.status == ("converged",)
    np.testing.assert_array_equal(res.coef, 0.0)
    np.testing.assert_allclose(res.intercept, 3.0, rtol=1e-12)


@pytest.mark.parametrize(
    "as_target",
    [
        lambda v: np.asarray(v, dtype=np.float32),
        lambda v: np.asarray(v, dtype=object),  # Python floats, as from a mixed-type frame
        lambda v: jnp.asarray(v, dtype=jnp.bfloat16),
    ],
    ids=["float32", "object-floats", "bfloat16"],
)
def test_a_float_target_is_an_mlp_regression_also_when_constant(as_target):
    X, _ = _small_regression()
    res = l1bench.fit(
        X, as_target(np.full(len(X), 3.0)), model="mlp", hidden=[4], lam=[0.1], steps=20
    )
    assert res.classes is None
    assert res.params[-1]["w"].shape[-1] == 1  # one regression output, not class logits


@pytest.mark.fast
def test_an_integer_target_of_one_value_is_one_class_for_the_mlp():
    X, _ = _small_regression()
    with pytest.raises(ValueError, match="at least 2 classes.*give floats for regression"):
        l1bench.fit(X, np.full(len(X), 3), model="mlp", hidden=[4], steps=20)
