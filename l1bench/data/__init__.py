"""Data loading: generators, shipped datasets and user files → a validated, split ``Dataset``.

``load_dataset(name, seeds=..., ...)`` returns one replicate per seed, stacked on axis 0. For
each seed, generators draw with ``random_state=seed``; then the rows are split with
``train_test_split(random_state=seed)`` (stratified for classification) and standardized with
statistics of the train part only. Adding a dataset is one function in the module of its kind
(``generators``, ``shipped``) and one line in ``DATASETS``. This package does not import jax.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from l1bench.data import generators, shipped
from l1bench.data.files import FileProblem, load_file
from l1bench.data.split import DataError, check_xy, drop_constant, encode_target, split, standardize

__all__ = ["DATASETS", "DataError", "Dataset", "load_dataset"]

# name -> (loader, kind); generators draw per seed, "shipped" and "file" load once
DATASETS = {
    "make_regression": (generators.make_regression, "generator"),
    "make_classification": (generators.make_classification, "generator"),
    "synthetic_sparse": (generators.synthetic_sparse, "generator"),
    "synthetic_sparse_classification": (generators.synthetic_sparse_classification, "generator"),
    "diabetes": (shipped.diabetes, "shipped"),
    "breast_cancer": (shipped.breast_cancer, "shipped"),
    "digits": (shipped.digits, "shipped"),
    "wine": (shipped.wine, "shipped"),
    "iris": (shipped.iris, "shipped"),
    "file": (None, "file"),
}

# keywords a generator takes from l1bench itself, never from the user's params
_RESERVED = {"random_state", "coef", "seed"}


class Dataset(NamedTuple):
    """Train/test data, one replicate per seed.

    Attributes:
      name: dataset name. task: ``regression`` | ``binary`` | ``multiclass``.
      X_train: (S, n_train, p) float64. y_train: (S, n_train) float64, or int64 class indices.
      X_test: (S, n_test, p); n_test is 0 when test_size is 0. y_test: (S, n_test).
      feature_names: p names (constant features dropped).
      classes: original class labels in index order (classification), else None.
      true_coef: (S, p) true coefficients in the original feature scale, when known.
      seeds: the S seeds.
      scale: (S, p) standardization scales (ones without standardization).
      offset: (S, p) standardization means (zeros without standardization).
    """

    name: str
    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    classes: tuple | None
    true_coef: np.ndarray | None
    seeds: tuple[int, ...]
    scale: np.ndarray
    offset: np.ndarray


def _generator_params(name: str, fn, params: Mapping) -> dict:
    target = getattr(fn, "__wrapped__", None)
    sig = inspect.signature(_SKLEARN_SIGNATURES.get(name, fn) if target is None else target)
    accepted = [p for p in sig.parameters if p not in _RESERVED]
    unknown = [k for k in params if k not in accepted]
    if unknown:
        raise DataError(
            f"dataset {name}: unknown params {', '.join(map(str, unknown))}; "
            f"accepted: {', '.join(accepted)}"
        )
    return dict(params)


def _sklearn_signatures():
    from sklearn import datasets as skd

    return {"make_regression": skd.make_regression, "make_classification": skd.make_classification}


_SKLEARN_SIGNATURES = _sklearn_signatures()


def _raw(name: str, seed: int, params: Mapping, path, target):
    """One draw of the full data: ``(X, y, true_coef, task_hint, names, y_numeric)``."""
    fn, kind = DATASETS[name]
    if kind == "file":
        if params:
            raise DataError(
                f"dataset file: params are not used for files (got {', '.join(params)})"
            )
        try:
            X, y, names, numeric = load_file(path, target)
        except FileProblem as err:
            raise DataError(f"dataset file: {err}") from None
        return X, y, None, "auto", names, numeric
    if kind == "shipped":
        if params:
            raise DataError(f"dataset {name}: takes no params (got {', '.join(params)})")
        X, y, coef, task, names = fn(seed)
        return X, y, coef, task, names, task == "regression"
    kwargs = _generator_params(name, fn, params)
    try:
        X, y, coef, task = fn(seed, **kwargs)
    except (TypeError, ValueError) as err:
        raise DataError(f"dataset {name}: invalid params {kwargs}: {err}") from None
    names = tuple(f"x{j}" for j in range(np.shape(X)[1])) if np.ndim(X) == 2 else ()
    return X, y, coef, task, names, task == "regression"


def load_dataset(
    name: str,
    *,
    seeds: Sequence[int],
    params: Mapping | None = None,
    test_size: float = 0.25,
    standardize: bool = True,
    path: str | None = None,
    target: str | None = None,
    task: str = "auto",
) -> Dataset:
    """Load, validate, split and standardize a dataset, one replicate per seed.

    Args:
      name: a key of ``DATASETS``.
      seeds: one or more seeds ≥ 0; each draws the data (generators) and the split.
      params: generator keyword arguments (``random_state`` is the seed).
      test_size: fraction of rows held out, in [0, 1); 0 keeps every row for training.
      standardize: zero mean / unit std with the train part's statistics.
      path, target: the file and its target column (``name="file"``).
      task: ``auto`` | ``regression`` | ``classification``; generators and shipped datasets
        know their task and ``auto`` keeps it.

    Returns:
      A :class:`Dataset`.

    Raises:
      DataError: naming the dataset, the field and what is allowed.
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise DataError(f"dataset {name}: seeds is empty; give at least one seed >= 0")
    if any(s < 0 for s in seeds):
        raise DataError(f"dataset {name}: seeds must be >= 0, got {seeds}")
    if not (isinstance(test_size, (int, float)) and 0 <= test_size < 1):
        raise DataError(f"dataset {name}: test_size={test_size!r} must be in [0, 1)")
    if task not in ("auto", "regression", "classification"):
        raise DataError(f"dataset {name}: task={task!r}; choose auto, regression or classification")
    params = dict(params or {})
    per_seed = DATASETS[name][1] == "generator"
    parts, shared = [], None
    for seed in seeds:
        if per_seed or shared is None:
            X, y, coef, hint, names, numeric = _raw(name, seed, params, path, target)
            X, y = check_xy(name, X, y)
            kind, y, classes = encode_target(
                name, y, task if task != "auto" else ("auto" if hint == "auto" else hint), numeric
            )
            X, names, keep = drop_constant(name, X, names)
            coef = None if coef is None else np.asarray(coef, dtype=np.float64)[keep]
            shared = (X, y, coef, kind, names, classes)
        X, y, coef, kind, names, classes = shared
        Xtr, ytr, Xte, yte = split(
            name, X, y, seed=seed, test_size=test_size, stratify=kind != "regression"
        )
        if standardize:
            Xtr, Xte, offset, scale = _standardize(Xtr, Xte)
        else:
            offset, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        parts.append((Xtr, ytr, Xte, yte, coef, offset, scale, kind, names, classes))
    kinds = {p[7] for p in parts}
    widths = {p[0].shape for p in parts}
    if len(kinds) > 1 or len(widths) > 1 or len({p[8] for p in parts}) > 1:
        raise DataError(
            f"dataset {name}: seeds {seeds} give different tasks, shapes or "
            "features; use one seed per job or a generator with fixed shapes"
        )
    stack = lambda i: np.stack([p[i] for p in parts])
    coefs = [p[4] for p in parts]
    return Dataset(
        name=name,
        task=parts[0][7],
        X_train=stack(0),
        y_train=stack(1),
        X_test=stack(2),
        y_test=stack(3),
        feature_names=parts[0][8],
        classes=parts[0][9],
        true_coef=None if any(c is None for c in coefs) else np.stack(coefs),
        seeds=tuple(seeds),
        scale=stack(6),
        offset=stack(5),
    )


_standardize = standardize
