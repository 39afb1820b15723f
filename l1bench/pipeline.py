"""``run(cfg)``: the stages in order — data, grid, fit, metrics, contamination, results.

Used by the CLI, by ``experiments/`` and by the tests. Takes a validated :class:`Config` and
returns plain values; :func:`write` puts them in a run directory.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import pandas as pd

from l1bench import cv, losses, metrics, noise, progress, results, robustness, runtime
from l1bench.config import Config, ConfigError, penalty_of
from l1bench.data import Dataset, load_dataset
from l1bench.grid import Grid, Strengths, make_grid, repeat_problems, subgrid
from l1bench.noise import training
from l1bench.solvers import backends, convex
from l1bench.vocab import STATUS

log = logging.getLogger("l1bench")


class RunOutput(NamedTuple):
    """What one run produced.

    Attributes:
      fits: one row per fit (see ``l1bench.results``).
      params: model layers (:mod:`l1bench.models`), leaves with a leading n_fits axis,
        row-aligned with ``fits``.
      feature_names: the p feature names.
      info: provenance and timings for the manifest.
      robustness: one row per fit × noise model × level (None without a noise suite).
      contamination: one row per fit × contamination model × level × draw (None without a
        training-set contamination suite; :func:`contamination_rows`).
    """

    fits: pd.DataFrame
    params: Any
    feature_names: tuple[str, ...]
    info: dict[str, Any]
    robustness: pd.DataFrame | None = None
    contamination: pd.DataFrame | None = None


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
        loader=d._target_,
    )


def n_classes(data: Dataset) -> int | None:
    """K for classification, None for regression."""
    return None if data.classes is None else len(data.classes)


TASK_MODELS = {
    "linear": ("regression",),
    "logistic": ("binary", "multiclass"),
    "mlp": ("regression", "binary", "multiclass"),
}


def check_task(cfg: Config, data: Dataset) -> None:
    """The model must suit the dataset's task (linear: regression; logistic: classification)."""
    if data.task not in TASK_MODELS[cfg.model.name]:
        want = (
            "model=logistic or model=mlp"
            if data.task != "regression"
            else "model=linear or model=mlp"
        )
        other = "regression" if data.task != "regression" else "classification"
        inferred = (
            f" (inferred from the target; dataset.task={other} overrides it)"
            if cfg.dataset.name == "file" and cfg.dataset.task == "auto"
            else ""
        )
        raise ConfigError(
            f"model={cfg.model.name} does not fit dataset {data.name}, a "
            f"{data.task} task{inferred}; use {want}"
        )


def check_sizes(cfg: Config, data: Dataset, grid: Grid) -> None:
    """The settings bounded by the data's size, checked before any fit: the config alone
    cannot know them, and a fit should not run for minutes before cross-validation fails."""
    n = data.X_train.shape[1]
    if cfg.cv_folds and not cv.valid_fold_count(n, cfg.cv_folds):
        raise ConfigError(
            f"cv_folds={cfg.cv_folds} needs 2 <= cv_folds <= n_train/2 = {n // 2} (dataset "
            f"{data.name} has {n} training rows); lower it, or set cv_folds=0 for no "
            "cross-validation"
        )
    batch = cfg.solver.batch_size
    exact, trained = backends.routes(grid, cfg.model, cfg.solver)
    rows = n - n // cfg.cv_folds if cfg.cv_folds else n  # the smallest training set fitted
    if trained and batch is not None and batch > rows:
        where = "a cross-validation fold's training part" if cfg.cv_folds else "the training part"
        raise ConfigError(
            f"solver.batch_size={batch} is larger than {where} ({rows} rows of dataset "
            f"{data.name}); choose 1..{rows}, or null for full batches"
        )
    if cfg.noise.models and data.X_test.shape[1] == 0:
        raise ConfigError(
            "the noise suite needs a test set: set dataset.test_size > 0 or noise=none"
        )
    if train_suite(cfg, data) and data.X_test.shape[1] == 0:
        raise ConfigError(
            "training-set contamination (train_noise) is measured on the test set: set "
            "dataset.test_size > 0 or train_noise=none"
        )
    if exact and cfg.solver.name == "convex" and data.task == "regression":
        try:  # e.g. working_set, which needs p > n and an L1 part in every fit
            convex.check_algorithm(cfg.solver.algorithm, subgrid(grid, exact), data.X_train)
        except ValueError as err:
            raise ConfigError(
                f"{err} (dataset {data.name}: {n} training rows, {data.X_train.shape[2]} features)"
            ) from None


def _train_entry(cfg: Config, data: Dataset, name: str, spec, path: str):
    try:
        return noise.check_entry(
            name, spec, task=data.task, depth=len(cfg.model.hidden) + 1, path=path, stage="train"
        )
    except ValueError as err:
        raise ConfigError(str(err)) from None


def corrupt_training_data(cfg: Config, data: Dataset) -> Dataset:
    """Apply ``train_noise.name`` at ``train_noise.level`` to each seed's training part (draw
    0 of the model's training stream, :func:`l1bench.noise.training.model_key`)."""
    tn = cfg.train_noise
    if tn.name is None:
        return data
    entry = _train_entry(cfg, data, tn.name, {"levels": [tn.level], **tn.options}, "train_noise")
    Xs, ys = [], []
    for s, seed in enumerate(data.seeds):
        X, y = training.corrupt(
            entry,
            seed,
            data.X_train[s],
            data.y_train[s],
            [tn.level],
            1,
            task=data.task,
            n_classes=n_classes(data),
        )
        Xs.append(X[0, 0])
        ys.append(y[0, 0])
    return data._replace(X_train=np.stack(Xs), y_train=np.stack(ys))


def train_suite(cfg: Config, data: Dataset) -> list[noise.SuiteEntry]:
    """The training-set contamination suite for the data's task (``train_noise.regression``
    or ``train_noise.classification``), checked for that task."""
    key = "regression" if data.task == "regression" else "classification"
    suite = getattr(cfg.train_noise, key)
    path = f"train_noise.{key}"
    return [_train_entry(cfg, data, name, spec, path) for name, spec in suite.items()]


# the error the robustness tables report: MSE (regression), accuracy (classification)
PRIMARY = {"regression": "mse", "binary": "accuracy", "multiclass": "accuracy"}
ID_COLUMNS = (
    "dataset",
    "task",
    "model",
    "solver",
    "penalty",
    "kind",
    "seed",
    "lam_index",
    "lam",
    "l1_ratio",
    "dropout",
    "nnz",
    "sparsity",
    "status",
)


def _robustness_table(
    cfg: Config, data: Dataset, grid: Grid, fit: backends.FitOutput, fits: pd.DataFrame
) -> pd.DataFrame | None:
    """One row per (fit, noise model, level): mean and sd over draws of every error metric."""
    suite = noise.check_suite(
        cfg.noise.models, cfg.noise.draws, task=data.task, depth=len(fit.params)
    )
    if not suite:
        return None
    if data.X_test.shape[1] == 0:
        raise ConfigError(
            "the noise suite needs a test set: set dataset.test_size > 0 or noise=none"
        )
    S, P, L = grid.lam.shape
    evaluated = robustness.evaluate(
        _flat(fit.params, S),
        data.X_test,
        data.y_test,
        data.seeds,
        suite,
        draws=cfg.noise.draws,
        task=data.task,
        activation=cfg.model.activation,
        n_classes=n_classes(data),
        train_mean=data.X_train.mean(axis=1),  # impute=mean: an imputer fitted on the train part
    )
    primary = PRIMARY[data.task]
    ids = fits[[*ID_COLUMNS, "_flat", f"test_{primary}"]].rename(
        columns={f"test_{primary}": "clean_error"}
    )
    parts = []
    for ne in evaluated:
        errs = {
            k: v.reshape(S * P * L, len(ne.levels), -1)[ids["_flat"]] for k, v in ne.errors.items()
        }
        for li, level in enumerate(ne.levels):
            part = ids.drop(columns="_flat").assign(noise=ne.name, level=level, metric=primary)
            vals = errs[primary][:, li]
            part["error"] = vals.mean(axis=-1)
            part["error_sd"] = vals.std(axis=-1, ddof=1) if vals.shape[-1] > 1 else np.nan
            part["draws"] = vals.shape[-1]
            part["degradation"] = robustness.degradation(part["error"], part["clean_error"])
            for k, v in errs.items():
                if k != primary:
                    part[f"error_{k}"] = v[:, li].mean(axis=-1)
            parts.append(part)
    return pd.concat(parts, ignore_index=True)


def build_grid(cfg: Config, data: Dataset) -> Grid:
    """Stage 2: penalties × strengths × seeds."""
    penalties, strengths = [], []
    for label, p in cfg.penalty.items():
        penalties.append(penalty_of(label, p))
        strengths.append(Strengths(p.lam, p.n_lambdas, p.lambda_min_ratio, p.dropout))
    return make_grid(
        penalties,
        strengths,
        data.X_train,
        data.y_train,
        data.seeds,
        fit_intercept=cfg.model.fit_intercept,
        task=data.task,
        n_classes=n_classes(data),
    )


def _fit(cfg: Config, data: Dataset, grid: Grid, X, y, timings, info=None) -> backends.FitOutput:
    return backends.fit(
        grid,
        X,
        y,
        task=data.task,
        n_classes=n_classes(data),
        model=cfg.model,
        solver=cfg.solver,
        timings=timings,
        info=info,
        loss=losses.resolve(cfg.loss._target_, cfg.loss.params) if cfg.loss._target_ else None,
    )


def _flat(params, S: int):
    """(S, P, L, ...) leaves → (S, P·L, ...)."""
    return jax.tree_util.tree_map(lambda a: a.reshape(S, -1, *a.shape[3:]), params)


def cross_validate(cfg: Config, data: Dataset, grid: Grid, timings, info=None) -> cv.Selection:
    """K-fold CV on each seed's training part; the S·K fold problems fit in one call."""
    k = cfg.cv_folds
    folds = cv.make_folds(data.X_train, data.y_train, k, data.seeds)
    fgrid = repeat_problems(grid, k)
    fit = _fit(cfg, data, fgrid, folds.X_train, folds.y_train, timings, info)
    S, P, L = grid.lam.shape
    errs = metrics.clean_errors(
        _flat(fit.params, S * k),
        folds.X_val,
        folds.y_val,
        task=data.task,
        activation=cfg.model.activation,
    )
    name = cv.METRIC[data.task]
    voting = np.isin(fit.status, [STATUS.index(s) for s in results.KEPT_STATUSES])
    e = np.where(voting.reshape(S * k, -1), errs[name], np.nan)  # other statuses: no vote
    return cv.select(e.reshape(S, k, P, L), grid.valid)


def _fit_table(
    cfg: Config, data: Dataset, grid: Grid, fit: backends.FitOutput, selection: cv.Selection | None
):
    S, P, L = grid.lam.shape
    flat = _flat(fit.params, S)
    train = metrics.clean_errors(
        flat, data.X_train, data.y_train, task=data.task, activation=cfg.model.activation
    )
    test = metrics.clean_errors(
        flat, data.X_test, data.y_test, task=data.task, activation=cfg.model.activation
    )
    s_idx, p_idx, l_idx = np.meshgrid(np.arange(S), np.arange(P), np.arange(L), indexing="ij")
    labels = np.array([pen.label for pen in grid.penalties])
    kinds = np.array([pen.kind for pen in grid.penalties])
    ratios = np.array([pen.l1_ratio for pen in grid.penalties])
    columns = {
        "dataset": data.name,
        "task": data.task,
        "model": cfg.model.name,
        "solver": np.array(fit.solver)[p_idx].ravel(),
        "penalty": labels[p_idx].ravel(),
        "kind": kinds[p_idx].ravel(),
        "seed": grid.seeds[s_idx].ravel(),
        "lam_index": l_idx.ravel(),
        "lam": grid.lam.ravel(),
        "lam_ratio": (grid.lam / grid.lam_max[..., None]).ravel(),
        "l1_ratio": ratios[p_idx].ravel(),
        "dropout": grid.dropout[p_idx, l_idx].ravel(),
        "nnz": metrics.nnz(fit.params).ravel(),
        "sparsity": metrics.sparsity(fit.params).ravel(),
    }
    if cfg.model.name == "mlp":
        for i, sp in enumerate(metrics.layer_sparsity(fit.params)):
            columns[f"sparsity_layer{i}"] = sp.ravel()
    columns.update(
        {
            "objective": fit.objective.ravel(),
            "objective_se": fit.objective_se.ravel(),
            "gap": fit.gap.ravel(),
            "rel_gap": fit.rel_gap.ravel(),
            "n_iter": fit.n_iter.ravel(),
            "status": np.array(STATUS)[fit.status].ravel(),
        }
    )
    for name in metrics.ERRORS[data.task]:
        columns[f"train_{name}"] = train[name].ravel()
        columns[f"test_{name}"] = test[name].ravel()
    if selection is not None:
        columns["cv_error"] = selection.mean.ravel()
        columns["cv_se"] = selection.se.ravel()
        columns["cv_best"] = (l_idx == selection.best[..., None]).ravel()
        columns["cv_1se"] = (l_idx == selection.one_se[..., None]).ravel()
    if data.true_coef is not None and len(fit.params) == 1 and data.task != "multiclass":
        coef = fit.params[0]["w"][..., 0]  # (S, P, L, p)
        prec, rec, f1 = robustness.support_recovery(coef, data.true_coef[:, None, None, :])
        columns.update(
            support_precision=prec.ravel(), support_recall=rec.ravel(), support_f1=f1.ravel()
        )
    columns["_flat"] = np.arange(S * P * L)
    table = pd.DataFrame(columns)
    keep = grid.valid[p_idx, l_idx].ravel()
    # penalty-major order: all seeds of a strength together, paths in order
    order = np.lexsort((table["seed"], table["lam_index"], p_idx.ravel()))
    order = order[keep[order]]
    params = jax.tree_util.tree_map(lambda a: a.reshape(S * P * L, *a.shape[3:])[order], fit.params)
    return table.iloc[order].reset_index(drop=True), params


class Refits(NamedTuple):
    """The fits of the contaminated training sets (problems: S seeds × C sets, seed-major).

    Attributes:
      fit: the fits, leading axes (S·C, P, L).
      errors: ``{metric: (S, C·P·L)}`` clean-test errors (:data:`l1bench.metrics.ERRORS`).
      selection: each contaminated set's cross-validation (None without it).
    """

    fit: backends.FitOutput
    errors: dict[str, np.ndarray]
    selection: cv.Selection | None


def refit(cfg: Config, data: Dataset, grid: Grid, X, y, timings, info) -> Refits:
    """Fit ``grid`` on the S·C contaminated training sets ``X`` (S·C, n, p), ``y`` in one
    call, cross-validate each on folds drawn from its own (contaminated) training data, and
    measure every fit on the clean test set. Each set keeps its seed's strengths."""
    S = grid.lam.shape[0]
    C = X.shape[0] // S
    cdata = data._replace(X_train=X, y_train=y, seeds=tuple(np.repeat(data.seeds, C)))
    cgrid = repeat_problems(grid, C)
    fit = _fit(cfg, cdata, cgrid, X, y, timings, info.setdefault("fit", {}))
    selection = None
    if cfg.cv_folds:
        selection = cross_validate(cfg, cdata, cgrid, timings, info.setdefault("cv", {}))
    errors = metrics.clean_errors(
        _flat(fit.params, S),
        data.X_test,
        data.y_test,
        task=data.task,
        activation=cfg.model.activation,
    )
    return Refits(fit, errors, selection)


CONTAMINATION_IDS = ID_COLUMNS[: ID_COLUMNS.index("nnz")]


def _refit_columns(refits: Refits, task: str) -> dict[str, np.ndarray]:
    """Per-fit values of the refits, flat in (seed, set, penalty, strength) order."""
    fit = refits.fit
    primary = PRIMARY[task]
    cols = {
        "nnz": metrics.nnz(fit.params).ravel(),
        "sparsity": metrics.sparsity(fit.params).ravel(),
        "status": np.array(STATUS)[fit.status].ravel(),
        "error": refits.errors[primary].ravel(),
    }
    cols.update({f"error_{k}": v.ravel() for k, v in refits.errors.items() if k != primary})
    if refits.selection is not None:
        L = fit.status.shape[-1]
        lam_index = np.broadcast_to(np.arange(L), fit.status.shape)
        cols["cv_best"] = (lam_index == refits.selection.best[..., None]).ravel()
        cols["cv_1se"] = (lam_index == refits.selection.one_se[..., None]).ravel()
    return cols


def contamination_rows(
    data: Dataset,
    grid: Grid,
    fits: pd.DataFrame,
    entries: list[noise.SuiteEntry],
    draws: int,
    plan: training.Plan,
    refits: Refits | None,
) -> pd.DataFrame:
    """One row per fit × contamination model × level × draw (``contamination.csv``).

    A level-0 row is the clean fit itself (the fits table's values, for every draw); every
    other row is the refit of that seed's contaminated set at the same strength. ``excess_error``
    is ``error − clean_error`` and ``degradation`` ``error / clean_error − 1``, both against
    the clean fit of the same seed, penalty and strength.
    """
    primary = PRIMARY[data.task]
    S, P, L = grid.lam.shape
    C = len(plan.level)
    flat = fits["_flat"].to_numpy()
    seed_idx, point = flat // (P * L), flat % (P * L)
    clean = {
        "nnz": fits["nnz"],
        "sparsity": fits["sparsity"],
        "status": fits["status"],
        "error": fits[f"test_{primary}"],
    }
    clean.update(
        {f"error_{k}": fits[f"test_{k}"] for k in metrics.ERRORS[data.task] if k != primary}
    )
    clean.update({k: fits[k] for k in ("cv_best", "cv_1se") if k in fits.columns})
    refit_cols = {} if refits is None else _refit_columns(refits, data.task)
    where = {key: c for c, key in enumerate(zip(plan.model, plan.level, plan.draw, strict=True))}
    base = fits[list(CONTAMINATION_IDS)].reset_index(drop=True)
    parts = []
    for e in entries:
        for level in e.levels:
            for d in range(draws):
                if level == 0:
                    vals = {k: np.asarray(v) for k, v in clean.items()}
                else:
                    idx = (seed_idx * C + where[(e.model.name, level, d)]) * P * L + point
                    vals = {k: v[idx] for k, v in refit_cols.items()}
                parts.append(
                    base.assign(
                        contamination=e.model.name, level=level, draw=d, metric=primary, **vals
                    )
                )
    table = pd.concat(parts, ignore_index=True)
    table["clean_error"] = np.tile(fits[f"test_{primary}"].to_numpy(), len(parts))
    table["clean_status"] = np.tile(fits["status"].to_numpy(), len(parts))
    table["excess_error"] = table["error"] - table["clean_error"]
    table["degradation"] = robustness.degradation(table["error"], table["clean_error"])
    return table


def contamination(
    cfg: Config, data: Dataset, grid: Grid, fits: pd.DataFrame, timings, info
) -> pd.DataFrame | None:
    """Training-set contamination (``train_noise.regression`` / ``classification``): the
    suite's corrupted training sets refitted on the batch axis (:func:`refit`), as
    :func:`contamination_rows`; None without a suite. ``info`` gets the manifest's entry."""
    entries = train_suite(cfg, data)
    if not entries:
        return None
    draws = cfg.train_noise.draws
    X, y, plan = training.contaminate(
        data.X_train,
        data.y_train,
        data.seeds,
        entries,
        draws,
        task=data.task,
        n_classes=n_classes(data),
    )
    S = len(data.seeds)
    info.update(
        models={e.model.name: {"levels": list(e.levels), **e.options} for e in entries},
        draws=draws,
        problems=int(X.shape[0]),
        stream=training.STREAM,
        folds="drawn from each contaminated training set" if cfg.cv_folds else None,
    )
    log.info("contamination: %d corrupted training set(s) x %d seed(s)", X.shape[0] // S, S)
    refits = (
        refit(cfg, data, grid, X, y, timings, info.setdefault("algorithms", {})) if len(X) else None
    )
    return contamination_rows(data, grid, fits, entries, draws, plan, refits)


def run(cfg: Config) -> RunOutput:
    """Run one job: load, grid, fit, cross-validate, metrics; return tables and provenance."""
    t_start = time.perf_counter()
    progress.configure(cfg.progress.mode, cfg.progress.interval)
    runtime.set_sharding(cfg.shard)
    data = corrupt_training_data(cfg, load(cfg))
    check_task(cfg, data)
    grid = build_grid(cfg, data)
    check_sizes(cfg, data, grid)
    S, P, L = grid.lam.shape
    log.info(
        "data %s: %d seed(s), train %s, test %s; fitting %d penalties x up to %d strengths",
        data.name,
        S,
        data.X_train.shape[1:],
        data.X_test.shape[1:],
        P,
        L,
    )
    timings: dict[str, float] = {}
    algorithms: dict[str, dict] = {"fit": {}, "cv": {}}  # which algorithm each backend ran
    with progress.Stage(f"fit: {P} penalties x up to {L} strengths x {S} seed(s)"):
        fit = _fit(cfg, data, grid, data.X_train, data.y_train, timings, algorithms["fit"])
    log.info("fit: %.2f s (compile %.2f s)", timings.get("fit_s", 0), timings.get("compile_s", 0))
    selection = None
    if cfg.cv_folds:
        log.info("cross-validation: %d folds x %d seed(s) in one batch", cfg.cv_folds, S)
        with progress.Stage(f"cross-validation: {cfg.cv_folds} folds"):
            selection = cross_validate(cfg, data, grid, timings, algorithms["cv"])
    fits, params = _fit_table(cfg, data, grid, fit, selection)
    t_noise = time.perf_counter()
    if cfg.noise.models:
        log.info("robustness: %d noise models x %d draws", len(cfg.noise.models), cfg.noise.draws)
    with progress.Stage(f"robustness: {len(cfg.noise.models)} noise models"):
        robust = _robustness_table(cfg, data, grid, fit, fits)
    timings["robustness_s"] = time.perf_counter() - t_noise
    t_contam = time.perf_counter()
    contam_info: dict[str, Any] = {}
    contam_timings: dict[str, float] = {}
    with progress.Stage("contamination: refits on corrupted training sets"):
        contam = contamination(cfg, data, grid, fits, contam_timings, contam_info)
    timings.update({f"contamination_{k}": v for k, v in contam_timings.items()})
    timings["contamination_s"] = time.perf_counter() - t_contam
    fits = fits.drop(columns="_flat")
    timings["wall_s"] = time.perf_counter() - t_start
    info = {
        "seeds": [int(x) for x in data.seeds],
        "precision": cfg.solver.precision,
        "solver": {
            "name": cfg.solver.name,
            "backends": dict(zip([pen.label for pen in grid.penalties], fit.solver, strict=True)),
            # per stage and backend, the algorithm that ran (l1bench.solvers.convex.ALGORITHMS)
            "algorithms": {k: v for k, v in algorithms.items() if v},
        },
        "jax": {"backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()]},
        "data": {
            "name": data.name,
            "task": data.task,
            "shape_train": list(data.X_train.shape),
            "shape_test": list(data.X_test.shape),
            "classes": data.classes,
            "hash": results.data_hash(data.X_train, data.y_train, data.X_test, data.y_test),
            # each seed's replicate alone: a fit's identity when runs are merged (report.merge)
            "seed_hashes": {
                str(seed): results.data_hash(
                    data.X_train[s], data.y_train[s], data.X_test[s], data.y_test[s]
                )
                for s, seed in enumerate(data.seeds)
            },
        },
        "cv_folds": cfg.cv_folds,
        "shards": runtime.shards_used(),  # most devices one compiled fit was split over
        "threads": runtime.threads_used(),  # most host threads one was split over (CPU)
        "timings": timings,
        "n_fits": int(len(fits)),
        "contamination": contam_info or None,
    }
    return RunOutput(fits, params, tuple(data.feature_names), info, robust, contam)


def seed_report(out: RunOutput) -> str:
    """The seed article's printout (coefficient, intercept, MSE) for single-fit linear runs."""
    if len(out.fits) != 1 or out.fits["task"][0] != "regression" or len(out.params) != 1:
        return ""
    row = out.fits.iloc[0]
    coef, intercept = linear_coefficients(out.params)
    mse = row["test_mse"] if np.isfinite(row["test_mse"]) else row["train_mse"]
    return (
        f"Coefficients: {np.array2string(coef[0], precision=10)}\n"
        f"Intercept: {float(intercept[0]):.10g}\nMean squared error: {mse:.10g}\n"
    )


def linear_coefficients(params):
    """``(coef, intercept)`` of a model without hidden layers, leading axis n_fits.

    coef is (n_fits, p) for one output, (n_fits, p, K) for K classes; intercept (n_fits,) or
    (n_fits, K). None for MLPs.
    """
    if len(params) != 1:
        return None
    w, b = params[0]["w"], params[0]["b"]
    if w.shape[-1] == 1:
        return w[..., 0], b[..., 0]
    return w, b


def write(out: RunOutput, run_dir: Path, manifest: dict[str, Any]) -> str:
    """Write the run's files (manifest last, atomically) and return the summary text."""
    run_dir = Path(run_dir)
    title = f"l1bench — {out.info['data']['name']}, seeds {out.info['seeds']}"
    summary, latex = results.run_summary(out.fits, out.robustness, title, out.contamination)
    summary += seed_report(out)
    results.write_csv_atomic(run_dir / "fits.csv", out.fits)
    if out.robustness is not None:
        results.write_csv_atomic(run_dir / "robustness.csv", out.robustness)
    if out.contamination is not None:
        results.write_csv_atomic(run_dir / "contamination.csv", out.contamination)
    results.write_text_atomic(run_dir / "summary.tex", latex)
    arrays = {f"layer{i}_{k}": v for i, layer in enumerate(out.params) for k, v in layer.items()}
    linear = linear_coefficients(out.params)
    if linear is not None:
        arrays["coef"], arrays["intercept"] = linear
    names = np.array(out.feature_names, dtype=str)
    results.write_npz_atomic(run_dir / "coefs.npz", **arrays, feature_names=names)
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
