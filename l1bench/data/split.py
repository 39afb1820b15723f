"""Validation, train/test split and standardization — the data layer's boundary.

Everything here raises :class:`DataError` with a message naming the dataset, the field or column,
and what is allowed; nothing lets a numpy or pandas traceback through.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.model_selection import train_test_split

# task inference for files: integer-valued numeric targets with at most this many distinct
# values (or any non-numeric target) are classification; everything else is regression
MAX_CLASSES_AUTO = 10


class DataError(ValueError):
    """Bad data or data settings; the message says which dataset, which field, what is allowed."""


def check_xy(name: str, X, y) -> tuple[np.ndarray, np.ndarray]:
    """Validate shapes and finiteness; return X as float64 and y as an array."""
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"dataset {name}: X must be numeric") from None
    y = np.asarray(y)
    if X.ndim != 2:
        raise DataError(
            f"dataset {name}: X must be 2-D (n_samples, n_features), got shape {X.shape}"
        )
    if X.shape[0] == 0:
        raise DataError(f"dataset {name}: no rows")
    if X.shape[1] == 0:
        raise DataError(f"dataset {name}: no feature columns")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise DataError(
            f"dataset {name}: y must be 1-D with one entry per row of X "
            f"({X.shape[0]}), got shape {y.shape}"
        )
    bad = ~np.isfinite(X)
    if bad.any():
        cols = np.flatnonzero(bad.any(axis=0))
        raise DataError(
            f"dataset {name}: X has {int(bad.sum())} NaN or infinite values in "
            f"columns {', '.join(map(str, cols[:10]))}; clean or impute them first"
        )
    return X, y


def encode_target(name: str, y: np.ndarray, task: str, y_numeric: bool):
    """Resolve the task and encode the target.

    Returns:
      ``(task, y, classes)``: ``task`` is regression | binary | multiclass; for classification
      ``y`` holds class indices 0..K-1 in ``np.unique`` order and ``classes`` the labels.
    """
    if task == "auto":
        if not y_numeric:
            task = "classification"
        else:
            yf = y.astype(np.float64)
            integral = np.all(np.isfinite(yf)) and np.all(yf == np.round(yf))
            few = np.unique(yf[np.isfinite(yf)]).size <= MAX_CLASSES_AUTO
            task = "classification" if integral and few else "regression"
    if task == "regression":
        if not y_numeric:
            raise DataError(
                f"dataset {name}: task=regression needs a numeric target, got {y.dtype}"
            )
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            n_bad = int(np.sum(~np.isfinite(y)))
            raise DataError(f"dataset {name}: the target has {n_bad} NaN or infinite values")
        return "regression", y, None
    if task != "classification":
        raise DataError(f"dataset {name}: task={task!r}; choose auto, regression or classification")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise DataError(f"dataset {name}: the target has NaN or infinite values")
    if y.dtype.kind == "O":
        if any(v is None or (isinstance(v, float) and not np.isfinite(v)) for v in y):
            raise DataError(f"dataset {name}: the target has missing values")
        y = y.astype(str)
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise DataError(
            f"dataset {name}: classification needs at least 2 classes, the target "
            f"has only {classes.tolist()}"
        )
    kind = "binary" if classes.size == 2 else "multiclass"
    return kind, codes.astype(np.int64), tuple(classes.tolist())


def drop_constant(name: str, X: np.ndarray, names: tuple[str, ...]):
    """Drop zero-variance columns with a warning naming them; error if none are left."""
    const = np.all(X == X[:1], axis=0)
    if const.all():
        raise DataError(f"dataset {name}: every feature is constant; nothing to fit")
    if const.any():
        dropped = [names[j] for j in np.flatnonzero(const)]
        warnings.warn(
            f"dataset {name}: dropping constant features {', '.join(dropped)}", stacklevel=3
        )
        keep = ~const
        return X[:, keep], tuple(n for n, k in zip(names, keep, strict=True) if k), keep
    return X, names, np.ones(X.shape[1], dtype=bool)


def split(name: str, X, y, *, seed: int, test_size: float, stratify: bool):
    """Deterministic train/test split (``random_state=seed``); ``test_size=0`` keeps all rows.

    Each part needs at least 2 rows; a stratified split needs every class in both parts.
    """
    n = X.shape[0]
    if test_size == 0:
        if n < 2:
            raise DataError(f"dataset {name}: needs at least 2 rows, has {n}")
        return X, y, X[:0], y[:0]
    n_test = int(np.ceil(test_size * n))
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
                f"dataset {name}: a stratified split needs every class in both parts; class "
                f"counts are {counts.tolist()} with {n_train} train / {n_test} test rows"
            )
    try:
        Xtr, Xte, ytr, yte = train_test_split(
            X, y, test_size=test_size, random_state=seed, stratify=y if stratify else None
        )
    except ValueError as err:
        raise DataError(f"dataset {name}: cannot split with test_size={test_size}: {err}") from None
    return Xtr, ytr, Xte, yte


def standardize(X_train: np.ndarray, X_test: np.ndarray):
    """Zero mean, unit std (ddof=0) fitted on the train part; columns constant there keep scale 1.

    Returns:
      ``(X_train, X_test, offset, scale)``.
    """
    offset = X_train.mean(axis=0)
    scale = X_train.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return (X_train - offset) / scale, (X_test - offset) / scale, offset, scale
