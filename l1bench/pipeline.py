"""``run(cfg)``: the stages in order — data, grid, fit, metrics, results.

Used by the CLI, by ``experiments/`` and by the tests. Takes a validated :class:`Config` and
returns plain values; :func:`write` puts them in a run directory.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import pandas as pd

from l1bench import metrics, results
from l1bench.config import Config
from l1bench.data import Dataset, load_dataset
from l1bench.fit import convex
from l1bench.grid import Grid, Strengths, make_grid
from l1bench.penalties import make_penalty


class RunOutput(NamedTuple):
    """What one run produced.

    Attributes:
      fits: one row per fit (see ``l1bench.results``).
      coef: (n_fits, p) coefficients, row-aligned with ``fits``. intercept: (n_fits,).
      feature_names: the p feature names.
      info: provenance and timings for the manifest.
    """

    fits: pd.DataFrame
    coef: np.ndarray
    intercept: np.ndarray
    feature_names: tuple[str, ...]
    info: dict[str, Any]


def load(cfg: Config) -> Dataset:
    """Stage 1: the dataset, one replicate per seed of the job."""
    d = cfg.dataset
    seeds = [cfg.seed + i for i in range(cfg.n_seeds)]
    return load_dataset(
        d.name,
        seeds=seeds,
        params=d.params,
        test_size=d.test_size,
        standardize=d.standardize,
        path=d.path,
        target=d.target,
        task=d.task,
    )


def build_grid(cfg: Config, data: Dataset) -> Grid:
    """Stage 2: penalties × strengths × seeds."""
    penalties, strengths = [], []
    for label, p in cfg.penalty.items():
        penalties.append(make_penalty(label, p.kind, p.l1_ratio))
        strengths.append(Strengths(p.lam, p.n_lambdas, p.lambda_min_ratio, p.dropout))
    return make_grid(
        penalties,
        strengths,
        data.X_train,
        data.y_train,
        data.seeds,
        fit_intercept=cfg.model.fit_intercept,
    )


def _fit_table(cfg: Config, data: Dataset, grid: Grid, fit: convex.ConvexResult):
    S, P, L = grid.lam.shape
    p = data.X_train.shape[-1]
    coef = fit.coef.reshape(S, P * L, p)
    intercept = fit.intercept.reshape(S, P * L)
    train = metrics.regression_errors(coef, intercept, data.X_train, data.y_train)
    test = metrics.regression_errors(coef, intercept, data.X_test, data.y_test)
    s_idx, p_idx, l_idx = np.meshgrid(np.arange(S), np.arange(P), np.arange(L), indexing="ij")
    labels = np.array([pen.label for pen in grid.penalties])
    kinds = np.array([pen.kind for pen in grid.penalties])
    ratios = np.array([pen.l1_ratio for pen in grid.penalties])
    table = pd.DataFrame(
        {
            "dataset": data.name,
            "model": cfg.model.name,
            "penalty": labels[p_idx].ravel(),
            "kind": kinds[p_idx].ravel(),
            "seed": grid.seeds[s_idx].ravel(),
            "lam_index": l_idx.ravel(),
            "lam": grid.lam.ravel(),
            "lam_ratio": (grid.lam / grid.lam_max[..., None]).ravel(),
            "l1_ratio": ratios[p_idx].ravel(),
            "dropout": grid.dropout[p_idx, l_idx].ravel(),
            "nnz": metrics.nnz(fit.coef).ravel(),
            "sparsity": metrics.sparsity(fit.coef).ravel(),
            "objective": fit.objective.ravel(),
            "gap": fit.gap.ravel(),
            "rel_gap": fit.rel_gap.ravel(),
            "n_iter": fit.n_iter.ravel(),
            "status": np.array(convex.STATUS)[fit.status].ravel(),
            "train_mse": train.mse.ravel(),
            "test_mse": test.mse.ravel(),
            "test_r2": test.r2.ravel(),
        }
    )
    keep = grid.valid[p_idx, l_idx].ravel()
    # penalty-major order: all seeds of a strength together, paths in order
    order = np.lexsort((table["seed"], table["lam_index"], p_idx.ravel()))
    order = order[keep[order]]
    return (
        table.iloc[order].reset_index(drop=True),
        fit.coef.reshape(-1, p)[order],
        fit.intercept.ravel()[order],
    )


def run(cfg: Config) -> RunOutput:
    """Run one job: load, grid, fit, metrics; return the tables and provenance."""
    t_start = time.perf_counter()
    data = load(cfg)
    grid = build_grid(cfg, data)
    timings: dict[str, float] = {}
    s = cfg.solver
    fit = convex.solve(
        grid,
        data.X_train,
        data.y_train,
        fit_intercept=cfg.model.fit_intercept,
        tol=s.tol,
        max_iter=s.max_iter,
        check_every=s.check_every,
        precision=s.precision,
        timings=timings,
    )
    fits, coef, intercept = _fit_table(cfg, data, grid, fit)
    timings["wall_s"] = time.perf_counter() - t_start
    info = {
        "seeds": [int(x) for x in data.seeds],
        "precision": s.precision,
        "solver": {
            "name": s.name,
            "form": "gram" if data.X_train.shape[2] <= data.X_train.shape[1] else "design",
            "algorithm": "fista-restart",
        },
        "jax": {"backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()]},
        "data": {
            "name": data.name,
            "task": data.task,
            "shape_train": list(data.X_train.shape),
            "shape_test": list(data.X_test.shape),
            "hash": results.data_hash(data.X_train, data.y_train, data.X_test, data.y_test),
        },
        "timings": timings,
        "n_fits": int(len(fits)),
    }
    return RunOutput(fits, coef, intercept, tuple(data.feature_names), info)


def seed_report(out: RunOutput) -> str:
    """The seed article's printout (coefficient, intercept, MSE) for single-fit runs."""
    if len(out.fits) != 1:
        return ""
    row = out.fits.iloc[0]
    mse = row["test_mse"] if np.isfinite(row["test_mse"]) else row["train_mse"]
    return (
        f"Coefficients: {np.array2string(out.coef[0], precision=10)}\n"
        f"Intercept: {out.intercept[0]:.10g}\nMean squared error: {mse:.10g}\n"
    )


def write(out: RunOutput, run_dir: Path, manifest: dict[str, Any]) -> str:
    """Write the run's files (manifest last, atomically) and return the summary text."""
    run_dir = Path(run_dir)
    title = f"l1bench — {out.info['data']['name']}, seeds {out.info['seeds']}"
    summary = results.summary_markdown(out.fits, title) + seed_report(out)
    results.write_csv_atomic(run_dir / "fits.csv", out.fits)
    results.write_npz_atomic(
        run_dir / "coefs.npz",
        coef=out.coef,
        intercept=out.intercept,
        feature_names=np.array(out.feature_names, dtype=str),
    )
    results.write_text_atomic(run_dir / "summary.md", summary)
    full = {
        **manifest,
        **out.info,
        "status": "complete",
        "git": results.git_state(),
        "packages": results.package_versions(),
        "machine": results.machine(),
    }
    results.write_json_atomic(run_dir / "manifest.json", full)
    return summary
