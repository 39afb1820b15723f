"""End to end: configs → pipeline → run directory, and the seed article reproduced."""

import json
import os
import stat
import subprocess
import sys
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_regression
from sklearn.linear_model import Lasso
from sklearn.metrics import mean_squared_error

from l1bench import pipeline, results
from l1bench.config import ConfigError, SolverConfig, validate

from conftest import compose_config


@pytest.mark.parametrize("seed", [0, 5])
def test_seed_experiment_matches_sklearn_lasso(seed):
    out = pipeline.run(validate(compose_config("experiment=seed", f"seed={seed}")))
    coef, intercept = pipeline.linear_coefficients(out.params)
    X, y = make_regression(n_samples=100, n_features=1, noise=0.1, random_state=seed)
    ref = Lasso(alpha=0.1).fit(X, y)
    mse = mean_squared_error(y, ref.predict(X))
    assert len(out.fits) == 1
    np.testing.assert_allclose(coef[0], ref.coef_, rtol=1e-6)
    assert intercept[0] == pytest.approx(ref.intercept_, rel=1e-6, abs=1e-9)
    assert out.fits["train_mse"][0] == pytest.approx(mse, rel=1e-6)
    report = pipeline.seed_report(out)
    assert "Coefficients" in report and "Intercept" in report and "Mean squared error" in report


def test_mean_imputation_uses_the_training_part(compose_cfg):
    # raw features (standardize=false), every entry missing: each test row becomes the
    # training part's column means, so each fit's error is that of one constant prediction
    cfg = validate(
        compose_cfg(
            "dataset=diabetes",
            "dataset.standardize=false",
            "penalty=l1",
            "penalty.l1.n_lambdas=3",
            "cv_folds=0",
            "noise=feature_dropout",
            "train_noise=none",
            "noise.models.feature_dropout.levels=[1.0]",
            "noise.models.feature_dropout.impute=mean",
            "noise.draws=1",
        )
    )
    out = pipeline.run(cfg)
    data = pipeline.load(cfg)
    coef, intercept = pipeline.linear_coefficients(out.params)
    pred = data.X_train[0].mean(axis=0) @ coef.T + intercept  # (F,)
    want = np.mean((data.y_test[0][:, None] - pred) ** 2, axis=0)
    np.testing.assert_allclose(out.robustness["error"], want, rtol=1e-10)


def test_default_run_fits_every_penalty_and_seed():
    out = pipeline.run(
        validate(
            compose_config(
                "n_seeds=2",
                "noise=none",
                "train_noise=none",
                "penalty.l1.n_lambdas=5",
                "penalty.l2.n_lambdas=4",
            )
        )
    )
    counts = out.fits.groupby("penalty").size().to_dict()
    assert counts == {"l1": 10, "l2": 8, "elastic_net": 40, "dropout": 12}
    assert set(out.fits["seed"]) == {0, 1}
    assert (out.fits["status"] == "converged").all()
    coef, _ = pipeline.linear_coefficients(out.params)
    assert coef.shape == (len(out.fits), 50)
    # coefficients are row-aligned with the table
    np.testing.assert_array_equal(np.count_nonzero(coef, axis=1), out.fits["nnz"])
    # the L1 path starts at lam_max with nothing selected, and gets denser
    l1 = out.fits[(out.fits.penalty == "l1") & (out.fits.seed == 0)]
    assert l1["nnz"].iloc[0] == 0 and l1["nnz"].is_monotonic_increasing


def test_same_config_gives_identical_tables(tmp_path):
    cfg = validate(
        compose_config(
            "penalty=l1", "n_seeds=2", "noise=gaussian", "noise.draws=3", "train_noise=none"
        )
    )
    a, b = pipeline.run(cfg), pipeline.run(cfg)
    pd.testing.assert_frame_equal(a.fits, b.fits)
    pd.testing.assert_frame_equal(a.robustness, b.robustness)
    np.testing.assert_array_equal(a.params[0]["w"], b.params[0]["w"])


def _cli(tmp_path, *args):
    cmd = [sys.executable, "-m", "l1bench", f"hydra.run.dir={tmp_path}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_cli_writes_the_run_directory(tmp_path):
    res = _cli(tmp_path, "experiment=seed")
    assert res.returncode == 0, res.stderr
    assert "Coefficients" in res.stdout and "Mean squared error" in res.stdout
    fits = pd.read_csv(tmp_path / "fits.csv")
    coefs = np.load(tmp_path / "coefs.npz")
    assert len(fits) == 1 and coefs["coef"].shape == (1, 1)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["overrides"] == ["experiment=seed"]
    assert manifest["precision"] == "float64" and manifest["seeds"] == [0]
    for key in ("git", "packages", "jax", "data", "timings", "config"):
        assert key in manifest
    assert manifest["packages"]["jax"] and manifest["data"]["hash"]
    assert (tmp_path / "summary.md").read_text().startswith("# l1bench")
    umask = os.umask(0o022)
    os.umask(umask)
    for name in ("fits.csv", "coefs.npz", "summary.md", "manifest.json"):  # not mkstemp's 0600
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name

    # a report of the one run goes to RUN/report, never over the run's own tables
    own = (tmp_path / "fits.csv").read_bytes()
    rep = subprocess.run(
        [sys.executable, "-m", "l1bench", "report", str(tmp_path)], capture_output=True, text=True
    )
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout.startswith("1 complete run (1 fit), 0 failed or unfinished")
    assert len(pd.read_csv(tmp_path / "report" / "fits.csv")) == 1
    assert (tmp_path / "fits.csv").read_bytes() == own
    into = subprocess.run(
        [sys.executable, "-m", "l1bench", "report", str(tmp_path), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert into.returncode == 2 and "is a run directory" in into.stderr
    assert (tmp_path / "fits.csv").read_bytes() == own

    # a rerun into the directory that fails leaves none of the earlier run's tables behind
    res = _cli(tmp_path, "penalty.elastic_net.l1_ratio=3")
    assert res.returncode == 2
    assert not any((tmp_path / name).exists() for name in results.RUN_FILES)
    assert json.loads((tmp_path / "manifest.json").read_text())["status"] == "failed"


@pytest.mark.parametrize(
    "args,message",
    [
        (["penalty.elastic_net.l1_ratio=3"], "config error: penalty.elastic_net.l1_ratio"),
        (
            ["dataset=file", "dataset.path=/nonexistent.csv", "dataset.target=y"],
            "data error: dataset file",
        ),
    ],
)
def test_cli_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, args, message):
    res = _cli(tmp_path, *args)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "fits.csv").exists() and not (tmp_path / "summary.md").exists()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["status"] == "failed" and message.split(": ", 1)[1] in manifest["error"]


def test_cli_logs_and_records_the_data_warnings(tmp_path):
    res = _cli(
        tmp_path,
        "dataset=digits",
        "model=logistic",
        "penalty=l1",
        "penalty.l1.n_lambdas=2",
        "cv_folds=0",
        "noise=none",
        "train_noise=none",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    message = "dataset digits: dropping constant features pixel_0_0"
    assert any(
        m.startswith(message)
        for m in json.loads((tmp_path / "manifest.json").read_text())["warnings"]
    )
    assert message in "".join(p.read_text() for p in tmp_path.glob("*.log"))
    # and the console repeats it beside the answer, after the tables
    tail = res.stdout.splitlines()[-3:]
    assert any(line.startswith(f"warning: {message}") for line in tail), res.stdout[-2000:]


def test_cli_unknown_keys_and_bad_types_exit_2_naming_the_keys(tmp_path):
    solver_keys = ", ".join(f.name for f in fields(SolverConfig))
    for args in (["solver.tol_typo=1"], ["+solver.tol_typo=1"]):  # Hydra's error / the schema's
        res = _cli(tmp_path, *args)
        assert res.returncode == 2, res.stderr
        assert f"config error: solver.tol_typo is not a config key; solver takes {solver_keys}" in (
            res.stderr
        )
        assert "Traceback" not in res.stderr
    res = _cli(tmp_path, "solver.tol=abc")  # Hydra's own message, before any job
    assert res.returncode == 2 and "solver.tol" in res.stderr


@pytest.mark.parametrize(
    "overrides,match",
    [
        (
            ["dataset=iris", "model=logistic", "cv_folds=100"],
            r"cv_folds=100 needs .* = 56 \(dataset iris has 112 training rows",
        ),
        (
            ["dataset=diabetes", "model=mlp", "solver=optax", "solver.batch_size=300"],
            r"batch_size=300 .* cross-validation fold's training part \(265 rows",
        ),
        (["dataset=diabetes", "model=mlp", "solver=optax", "solver.batch_size=400"], "331 rows"),
        (["dataset.test_size=0", "noise=gaussian"], "needs a test set"),
        (
            ["penalty=l1", "solver.algorithm=working_set"],
            r"working_set' needs p > n .* \(dataset synthetic_sparse: 150 training rows, 50 ",
        ),
    ],
)
def test_settings_the_data_cannot_take_fail_before_any_fit(monkeypatch, overrides, match):
    """cv_folds beyond n_train/2, a batch larger than the smallest training set (a CV fold's
    when cross-validating) and a noise suite without a test set: config errors naming the
    field and the bound, raised before the first fit (which had run for nothing before)."""
    if "solver.batch_size=400" in overrides:
        overrides = [*overrides, "cv_folds=0"]

    def no_fit(*args, **kwargs):
        raise AssertionError("a fit ran before the settings were checked")

    monkeypatch.setattr(pipeline, "_fit", no_fit)
    with pytest.raises(ConfigError, match=match):
        pipeline.run(validate(compose_config(*overrides)))


@pytest.mark.parametrize(
    "n_features, forced, algorithm",
    [(20, "auto", "gram"), (120, "auto", "working_set"), (20, "design", "design")],
)
def test_manifest_records_the_algorithm_each_regime_ran(n_features, forced, algorithm):
    from l1bench.solvers.convex import ALGORITHMS

    out = pipeline.run(
        validate(
            compose_config(
                "penalty=l1",
                "penalty.l1.n_lambdas=4",
                "noise=none",
                "train_noise=none",
                "cv_folds=2",
                "dataset.params.n_samples=80",
                f"dataset.params.n_features={n_features}",
                f"solver.algorithm={forced}",
            )
        )
    )
    algorithms = out.info["solver"]["algorithms"]
    assert algorithms["fit"]["convex"]["algorithm"] == algorithm in ALGORITHMS
    assert algorithms["cv"]["convex"]["algorithm"] == algorithm


def test_a_default_run_prints_its_headline_in_a_few_lines(tmp_path):
    """The console holds each penalty at its cross-validated strength, the warnings and where
    the files are; the tables along the paths stay in summary.md."""
    res = _cli(tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = (res.stdout + res.stderr).splitlines()
    assert len(lines) <= 40, "\n".join(lines)
    fits = pd.read_csv(tmp_path / "fits.csv")
    picked = fits[fits["cv_best"]]
    penalties = list(dict.fromkeys(fits["penalty"]))
    rows = [line for line in lines if line.startswith("| ") and "penalty" not in line]
    assert [r.split("|")[1].strip() for r in rows] == penalties  # one row each: the headline
    for row, penalty in zip(rows, penalties, strict=True):
        cells = [c.strip() for c in row.split("|")[1:-1]]
        g = picked[picked["penalty"] == penalty]
        assert float(cells[1]) == pytest.approx(g["lam"].mean(), rel=1e-3)  # λ picked by CV
        assert float(cells[5]) == pytest.approx(g["test_mse"].mean(), rel=1e-3)  # clean mse
    assert lines[-1].startswith(f"files in {tmp_path}: fits.csv, robustness.csv")
    summary = (tmp_path / "summary.md").read_text()
    n_l1 = int(fits["penalty"].eq("l1").sum())  # one seed: one row per strength
    # the headline, and one row per strength in the robustness, contamination-path and fits tables
    assert summary.count("\n| l1 |") == 1 + 3 * n_l1
    assert "| CV MSE |" in summary and "CV picks (seeds: best / 1se)" in summary
    tex = (tmp_path / "summary.tex").read_text()
    assert tex.isascii() and "test R$^2$" in tex
