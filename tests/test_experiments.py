"""The paper experiments: the diabetes entry order against LARS, and results/ against the code."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import lars_path

import l1bench

# experiments/ is a package at the repository root (on sys.path via pytest's pythonpath)
from experiments import adversarial
from experiments import all as all_experiments
from experiments.common import RESULTS, out_dir
from experiments.diabetes_path import entry_order
from l1bench import figures

N_FIRST = 8  # features whose order of entry is compared


def test_diabetes_entry_order_matches_lars_path():
    data = load_diabetes()
    X = data.data - data.data.mean(axis=0)  # lars_path does not center: center X and y here
    y = data.target - data.target.mean()
    alphas, _, lars_coefs = lars_path(X, y, method="lasso")
    lars_first = [int(np.flatnonzero(c)[0]) for c in lars_coefs]  # first knot with c != 0
    lars_rank = np.argsort(lars_first, kind="stable")
    lam_max = np.abs(X.T @ y).max() / len(y)
    lam = lam_max * np.geomspace(1.0, 1e-4, 400)
    res = l1bench.fit(X, y, penalty="l1", lam=lam, fit_intercept=False, tol=1e-12, max_iter=100_000)
    assert set(res.status) == {"converged"}
    order, _ = entry_order(res.coef, res.lam)
    assert [data.feature_names[i] for i in order[:N_FIRST]] == [
        data.feature_names[i] for i in lars_rank[:N_FIRST]
    ]
    # and the first entry is at λ_max, which is LARS's first knot
    assert np.isclose(alphas[0], lam_max, rtol=1e-12)


def test_adversarial_table_regenerates_from_the_code():
    """results/adversarial.csv (synthetic_sparse part) equals a fresh run to rtol 1e-8.

    The fits are float64 with duality gap <= 1e-8·P(0) and CV picks a grid point, so a rerun on
    another machine can differ only by solver round-off; 1e-8 relative leaves room for that and
    none for a change of data, config, solver or noise code.
    """
    committed = pd.read_csv(RESULTS / "adversarial.csv")
    committed = committed[committed["dataset"] == "synthetic_sparse"].reset_index(drop=True)
    fresh = adversarial.table({"synthetic_sparse": ()})
    assert list(fresh.columns) == list(committed.columns)
    assert fresh[["penalty", "eps"]].equals(committed[["penalty", "eps"]])
    numeric = [c for c in fresh.columns if c not in ("dataset", "penalty", "max_rel_diff")]
    np.testing.assert_allclose(
        fresh[numeric].to_numpy(float), committed[numeric].to_numpy(float), rtol=1e-8, atol=1e-10
    )
    # the worst case measured by l1bench's noise code is the dual-norm closed form
    assert (fresh["max_rel_diff"] < 1e-9).all()


@pytest.mark.parametrize(
    "stem", ["robustness_sparsity", "diabetes_path_order", "adversarial", "contamination"]
)
def test_committed_tables_exist(stem):
    assert (RESULTS / f"{stem}.csv").is_file() and (RESULTS / f"{stem}.md").is_file()


def _snapshot(folder: Path) -> dict:
    """Every file under ``folder``: its modification time and the sha256 of its bytes."""
    return {
        p.relative_to(folder): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_out_dir_defaults_to_results():
    assert out_dir([]) == RESULTS
    assert out_dir(["--out", "scratch/regen"]) == Path("scratch/regen")


def _touch_figure(fig, stem):
    """Stand-in for ``figures.save``: empty files at the paths it would write."""
    plt.close(fig)
    paths = [Path(stem).with_suffix(suffix) for suffix in (".png", ".pdf")]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    return paths


@pytest.mark.parametrize("name", all_experiments.EXPERIMENTS)
def test_each_experiment_writes_only_under_out(tmp_path, monkeypatch, name):
    """Each script's files land under ``out`` with the names they have in results/, which is
    left untouched. The fits are replaced by the committed tables and the figures' rendering by
    empty files (where the files go is under test; test_all_regenerates_into_out renders)."""
    module = importlib.import_module(f"experiments.{name}")
    monkeypatch.setattr(figures, "save", _touch_figure)
    committed = lambda stem: pd.read_csv(RESULTS / f"{stem}.csv")
    if name == "diabetes_path":
        tables = (committed("diabetes_path"), committed("diabetes_path_order"))
        monkeypatch.setattr(module, "tables", lambda: tables)
    else:
        monkeypatch.setattr(module, "table", lambda *args: committed(name))
    for check in ("theory_check", "paired_check"):  # contamination's two checks
        if hasattr(module, check):
            stem = f"{name}_{check.removesuffix('_check')}"
            monkeypatch.setattr(module, check, lambda stem=stem: committed(stem))
    before = _snapshot(RESULTS)
    module.main(tmp_path / "regen")
    assert _snapshot(RESULTS) == before
    written = {p.name for p in (tmp_path / "regen").iterdir()}
    # the experiment's own tables: <name>.* and <name>_<part>.* (diabetes_path_order, ...)
    mine = lambda stem: stem == name or stem.startswith(f"{name}_")
    expected = {p.name for p in RESULTS.iterdir() if mine(p.stem)}
    assert written == expected


def test_all_regenerates_into_out(tmp_path, monkeypatch):
    monkeypatch.setattr(all_experiments, "EXPERIMENTS", ("diabetes_path",))  # ~5 s
    before = _snapshot(RESULTS)
    all_experiments.main(["--out", str(tmp_path)])
    assert _snapshot(RESULTS) == before
    stems = ("diabetes_path", "diabetes_path_order")
    expected = {p.name for p in RESULTS.iterdir() if p.stem in stems}
    assert {p.name for p in tmp_path.iterdir()} == expected
    fresh = pd.read_csv(tmp_path / "diabetes_path_order.csv")
    committed = pd.read_csv(RESULTS / "diabetes_path_order.csv")
    assert fresh[["rank", "feature"]].equals(committed[["rank", "feature"]])


def test_committed_ols_contamination_matches_theory():
    """results/contamination_theory.csv: the theory column is σ² tr(A_t (AᵀA)⁻¹ A_tᵀ)/n_t of
    the experiment's designs (recomputed here from scikit-learn's diabetes split as l1bench
    loads it), and OLS's measured excess test MSE is within 3 Monte-Carlo SE of it."""
    from experiments.common import load_config
    from l1bench import pipeline

    committed = pd.read_csv(RESULTS / "contamination_theory.csv")
    data = pipeline.load(load_config("dataset=diabetes", "n_seeds=5"))
    for r in committed.itertuples():
        want = []
        for X, Xt in zip(data.X_train, data.X_test, strict=True):
            A, At = (np.column_stack([M, np.ones(len(M))]) for M in (X, Xt))
            want.append(r.level**2 * np.trace(At @ np.linalg.pinv(A.T @ A) @ At.T) / len(At))
        assert r.theory == pytest.approx(np.mean(want), rel=1e-10)
        assert abs(r.difference) <= 3 * r.difference_se
