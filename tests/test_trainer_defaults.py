"""The trainer at its defaults: every fit beats the zero model, linear fits reach the exact
solver's optimum, and a fit worse than the zero model is flagged and left out of averages.

The zero model's objective (all weights 0, the intercept fitted) is computed here from the
targets with NumPy, independently of ``l1bench.solvers.backends.zero_objective``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Lasso
from sklearn.preprocessing import StandardScaler

import l1bench
from l1bench import config, pipeline, results
from l1bench.solvers import backends, trainer

DATASETS = ("diabetes", "synthetic_sparse", "breast_cancer", "wine", "digits")
# a short path per penalty keeps the test small; the solver settings are the defaults
SHORT_PATH = {
    "compare": [f"penalty.{p}.n_lambdas=4" for p in ("l1", "l2", "elastic_net")],
    "l1": ["penalty.l1.n_lambdas=4"],
}


def _zero_model_objective(y: np.ndarray, task: str) -> float:
    """½ mean (y - ȳ)² for regression, the entropy of the class shares for classification."""
    if task == "regression":
        return 0.5 * float(np.mean((y - y.mean()) ** 2))
    _, counts = np.unique(y, return_counts=True)
    shares = counts / counts.sum()
    return float(-np.sum(shares * np.log(shares)))


def _run(compose_cfg, *overrides, penalty="compare"):
    short = SHORT_PATH[penalty]
    cfg = config.validate(
        compose_cfg(*overrides, f"penalty={penalty}", "noise=none", "cv_folds=0", *short)
    )
    data = pipeline.load(cfg)
    return pipeline.run(cfg).fits, data


@pytest.mark.parametrize("dataset", DATASETS)
def test_default_mlp_fits_are_below_the_zero_model(compose_cfg, dataset):
    fits, data = _run(
        compose_cfg, f"dataset={dataset}", "model=mlp", "solver=optax", "model.hidden=[32]"
    )
    zero = _zero_model_objective(data.y_train[0], data.task)
    # dropout objectives are Monte-Carlo estimates: allow three standard errors
    assert np.all(fits["objective"] - 3 * fits["objective_se"] <= zero * (1 + 1e-6)), fits
    assert "worse_than_zero" not in set(fits["status"])
    assert "diverged" not in set(fits["status"])


@pytest.mark.parametrize("dataset", DATASETS[:4])
def test_default_trained_linear_fits_reach_the_exact_optimum(compose_cfg, dataset):
    model = "linear" if dataset in ("diabetes", "synthetic_sparse") else "logistic"
    args = (f"dataset={dataset}", f"model={model}")
    trained, _ = _run(compose_cfg, *args, "solver=optax", penalty="l1")
    exact, _ = _run(compose_cfg, *args, "solver=convex", penalty="l1")
    rel = np.abs(trained["objective"] - exact["objective"]) / exact["objective"]
    assert rel.max() <= 1e-3, rel
    assert np.array_equal(trained["nnz"], exact["nnz"])


def test_backtracking_fit_equals_sklearn_lasso():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    lam = 2.0
    res = l1bench.fit(X, y, penalty="l1", lam=[lam], solver="optax", steps=5000)
    ref = Lasso(alpha=lam, tol=1e-12, max_iter=100_000).fit(X, y)
    assert res.status == ("converged",)
    np.testing.assert_allclose(res.coef[0], ref.coef_, atol=1e-4 * np.abs(ref.coef_).max())
    assert np.array_equal(res.coef[0] == 0, ref.coef_ == 0)


def test_adam_fit_above_the_zero_model_is_flagged_and_excluded():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y = (y - y.mean()) / y.std()
    res = l1bench.fit(X, y, model="mlp", hidden=[32], penalty="l1", lam=[1.0], optimizer="adam")
    zero = _zero_model_objective(y, "regression")
    assert res.objective[0] > zero  # Adam's heuristic prox leaves the L1 penalty large
    assert res.status == ("worse_than_zero",)
    row = dict(penalty="l1", lam_index=0, lam=1.0, dropout=np.nan, sparsity=0.0)
    fits = pd.DataFrame(
        [
            {**row, "seed": 0, "objective": res.objective[0], "status": res.status[0]},
            {**row, "seed": 1, "objective": zero, "status": "converged"},
        ]
    )
    summary = results.summarize(fits)
    assert summary["n_excluded"].tolist() == [1] and summary["n_seeds"].tolist() == [1]


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_zero_objective_is_the_exact_fit_above_lambda_max(task):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    if task == "regression":
        y, model = 3.0 + rng.normal(size=60), "linear"
    else:
        y, model = rng.integers(0, 2 if task == "binary" else 3, size=60), "logistic"
    res = l1bench.fit(X, y, model=model, penalty="l1", lam=[1e3])
    zero = backends.zero_objective(
        np.searchsorted(np.unique(y), y)[None] if task != "regression" else y[None],
        task=task,
        n_classes=3,
        fit_intercept=True,
    )
    assert zero[0] == pytest.approx(
        _zero_model_objective(y, "regression" if model == "linear" else "c"), rel=1e-12
    )
    assert res.objective[0] == pytest.approx(zero[0], rel=1e-9)
    assert res.status == ("converged",)


def test_stochastic_dropout_reports_the_marginalized_objective():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rate = 0.3
    res = l1bench.fit(X, y, penalty="dropout", dropout=[rate], dropout_mode="stochastic", steps=300)
    w, b = res.coef[0], res.intercept[0]
    expected = 0.5 * np.mean((y - X @ w - b) ** 2) + 0.5 * rate / (1 - rate) * np.sum(
        np.mean(X**2, axis=0) * w**2
    )
    assert res.objective[0] == pytest.approx(expected, rel=1e-10)
    assert res.status == ("max_iter",)  # an expected objective's stationarity is not measured


def test_mlp_dropout_objective_is_a_monte_carlo_estimate_with_its_error():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y = (y - y.mean()) / y.std()
    kw = dict(task="regression", hidden=(4,), lam=np.zeros((1, 1, 1)), l1_ratio=[1.0])
    kw.update(dropout=[[0.5]], seeds=[0], steps=20)
    out = trainer.train_grid(X, y, **kw)
    per_fit = trainer.train_grid(X, y, **kw, stacked=False)
    assert out.objective_se[0, 0, 0] > 0
    np.testing.assert_allclose(out.objective, per_fit.objective, rtol=1e-9)
    np.testing.assert_allclose(out.objective_se, per_fit.objective_se, rtol=1e-6)
