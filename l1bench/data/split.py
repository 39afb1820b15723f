"""Validation, train/test split and standardization — the data layer's boundary.

Everything here raises :class:`DataError` with a message naming the dataset, the field or column,
and what is allowed; nothing lets a numpy or pandas traceback through.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
from sklearn.model_selection import train_test_split


class DataError(ValueError):
    """Bad data or data settings; the message says which dataset, which field, what is allowed."""


class Raw(NamedTuple):
    """What a dataset loader returns: one draw of the full, unsplit data.

    Attributes:
      X: (n, p) features, anything ``np.asarray`` turns into numbers.
      y: (n,) target: numbers, or any labels for classification.
      true_coef: (p,) true coefficients in the scale of ``X``, when the loader knows them.
      task: ``regression`` | ``classification``, or ``auto`` to infer it from ``y``.
      feature_names: p names; ``None`` means ``x0, x1, ...``.
      target_name: how error messages name the target (a file's column name).
    """

    X: Any
    y: Any
    true_coef: Any = None
    task: str = "auto"
    feature_names: tuple[str, ...] | None = None
    target_name: str = "y"


HUGE = 1e150  # larger magnitudes overflow float64 when squared (1e150² = 1e300 still fits)


def _listed(items, limit: int = 10) -> str:
    items = [str(i) for i in items]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def check_xy(name: str, raw: Raw) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Validate shapes and finiteness of X.

    Returns:
      ``(X, y, feature_names)``: X as float64 (n, p), y as a 1-D array (not yet encoded).
    """
    try:
        X = np.asarray(raw.X, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"dataset {name}: X must be numeric") from None
    try:
        y = np.asarray(raw.y)
    except (TypeError, ValueError):
        raise DataError(f"dataset {name}: target {raw.target_name!r} is not an array") from None
    if X.ndim != 2:
        raise DataError(
            f"dataset {name}: X must be 2-D (n_samples, n_features), got shape {X.shape}"
        )
    if X.shape[0] < 2:
        raise DataError(f"dataset {name}: X has {X.shape[0]} row(s); at least 2 are needed")
    if X.shape[1] == 0:
        raise DataError(f"dataset {name}: X has no feature columns")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise DataError(
            f"dataset {name}: target {raw.target_name!r} must be 1-D with one entry per row of X "
            f"({X.shape[0]} rows), got shape {y.shape}"
        )
    names = raw.feature_names
    if names is None:
        names = tuple(f"x{j}" for j in range(X.shape[1]))
    names = tuple(map(str, names))
    if len(names) != X.shape[1]:
        raise DataError(
            f"dataset {name}: {len(names)} feature names for {X.shape[1]} feature columns"
        )
    bad = ~np.isfinite(X)
    if bad.any():
        cols = [names[j] for j in np.flatnonzero(bad.any(axis=0))]
        raise DataError(
            f"dataset {name}: X has {int(bad.sum())} NaN or infinite values in feature "
            f"columns {_listed(cols)}; only finite values are allowed (clean or impute them)"
        )
    huge = np.abs(X).max(axis=0) > HUGE
    if huge.any():
        cols = [names[j] for j in np.flatnonzero(huge)]
        raise DataError(
            f"dataset {name}: feature columns {_listed(cols)} hold values beyond ±{HUGE:.0e}, "
            "whose squares overflow float64 (the standard deviation, Gram matrices); rescale them"
        )
    return X, y, names


def encode_target(name: str, y: np.ndarray, task: str, target_name: str = "y"):
    """Encode the target for a resolved task.

    Args:
      name: the dataset, for messages.
      y: (n,) target as loaded.
      task: ``regression`` or ``classification``.
      target_name: the target's name, for messages.

    Returns:
      ``(task, y, classes)``: ``task`` is regression | binary | multiclass; for classification
      ``y`` holds int64 class indices 0..K-1 in ``np.unique`` order and ``classes`` the original
      labels, for regression ``y`` is float64 and ``classes`` is None.
    """
    where = f"dataset {name}: target {target_name!r}"
    if task == "regression":
        if y.dtype.kind not in "iuf":
            raise DataError(f"{where}: task=regression needs a numeric target, got {y.dtype}")
        y = y.astype(np.float64)
        n_bad = int(np.sum(~np.isfinite(y)))
        if n_bad:
            raise DataError(f"{where} has {n_bad} NaN or infinite values; only finite allowed")
        if np.abs(y).max() > HUGE:
            raise DataError(f"{where} holds values beyond ±{HUGE:.0e}; rescale it")
        if np.ptp(y) == 0:
            raise DataError(
                f"{where} is constant ({y[0]:g} in every row): a regression has nothing to fit"
            )
        return "regression", y, None
    if task != "classification":
        raise DataError(f"dataset {name}: task={task!r}; choose auto, regression or classification")
    if y.dtype.kind == "f":
        n_bad = int(np.sum(~np.isfinite(y)))
        if n_bad:
            raise DataError(f"{where} has {n_bad} NaN or infinite labels; only finite allowed")
        if np.all(y == np.round(y)) and np.abs(y).max() < 2**53:
            y = y.astype(np.int64)  # integer labels read as floats (a file's column): as given
    elif y.dtype.kind == "O":
        n_bad = sum(v is None or (isinstance(v, float) and not np.isfinite(v)) for v in y)
        if n_bad:
            raise DataError(f"{where} has {n_bad} missing labels")
        y = y.astype(str)
    elif y.dtype.kind not in "iubUS":
        raise DataError(f"{where}: labels of dtype {y.dtype} are not supported")
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2 and y.dtype.kind in "iuf":
        raise DataError(
            f"{where} is constant ({classes[0]:g} in every row): classification needs at least "
            "2 classes, and a regression has nothing to fit"
        )
    if classes.size < 2:
        raise DataError(
            f"{where}: classification needs at least 2 classes, the target has only "
            f"{classes.tolist()}"
        )
    kind = "binary" if classes.size == 2 else "multiclass"
    return kind, codes.reshape(-1).astype(np.int64), tuple(classes.tolist())


def drop_constant(name: str, X: np.ndarray, names: tuple[str, ...]):
    """Drop zero-variance columns (over all rows) with a warning naming them.

    Returns:
      ``(X, names, keep)`` with ``keep`` the boolean mask of kept columns.

    Raises:
      DataError: if every feature is constant.
    """
    const = np.all(X == X[:1], axis=0)
    if const.all():
        raise DataError(
            f"dataset {name}: every feature column is constant ({_listed(names)}); "
            "at least one must vary"
        )
    if const.any():
        dropped = [names[j] for j in np.flatnonzero(const)]
        warnings.warn(
            f"dataset {name}: dropping constant features {_listed(dropped, 20)}", stacklevel=3
        )
        keep = ~const
        return X[:, keep], tuple(n for n, k in zip(names, keep, strict=True) if k), keep
    return X, names, np.ones(X.shape[1], dtype=bool)


def split(name: str, X, y, *, seed: int, test_size: float, stratify: bool):
    """Deterministic train/test split (``random_state=seed``); ``test_size=0`` keeps all rows.

    Each part needs at least 2 rows; a stratified split needs every class in both parts.

    Returns:
      ``(X_train, y_train, X_test, y_test)``.
    """
    n = X.shape[0]
    if test_size == 0:
        if n < 2:
            raise DataError(f"dataset {name}: needs at least 2 rows, has {n}")
        return X, y, X[:0], y[:0]
    n_test = int(np.ceil(test_size * n))  # sklearn's rounding
    n_train = n - n_test
    if n_test < 2 or n_train < 2:
        raise DataError(
            f"dataset {name}: {n} rows are too few for test_size={test_size} "
            f"({n_train} train / {n_test} test; each part needs at least 2 rows)"
        )
    if stratify:
        counts = np.bincount(y)
        k = counts.size
        if counts.min() < 2 or n_test < k or n_train < k:
            raise DataError(
                f"dataset {name}: a stratified split needs every class in both train and test "
                f"(each class at least 2 rows, each part at least {k} rows); class counts are "
                f"{counts.tolist()} with {n_train} train / {n_test} test rows (a target that is "
                "a quantity, not classes: set dataset.task=regression)"
            )
    try:
        Xtr, Xte, ytr, yte = train_test_split(
            X, y, test_size=test_size, random_state=seed, stratify=y if stratify else None
        )
    except ValueError as err:
        raise DataError(f"dataset {name}: cannot split with test_size={test_size}: {err}") from None
    return Xtr, ytr, Xte, yte


def standardize(X_train: np.ndarray, X_test: np.ndarray):
    """Zero mean, unit std (``np.std``, ddof=0) fitted on the train part, applied to both.

    A column constant on the train part (though not on all rows) keeps scale 1.

    Returns:
      ``(X_train, X_test, offset, scale)``.
    """
    offset = X_train.mean(axis=0)
    scale = X_train.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return (X_train - offset) / scale, (X_test - offset) / scale, offset, scale
