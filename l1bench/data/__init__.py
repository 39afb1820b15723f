"""Data loading: generators, shipped datasets and user files → a validated, split ``Dataset``.

``load_dataset(name, seeds=..., ...)`` returns one replicate per seed, stacked on axis 0. For
each seed, generators draw with ``random_state=seed``; then the rows are split with
``train_test_split(random_state=seed)`` (stratified for classification) and standardized with
statistics of the train part only.

A loader is ``loader(seed, **params) -> Raw`` (see :class:`l1bench.data.split.Raw`); loaders
whose data does not depend on the seed are marked with ``@ignores_seed`` and called once. Adding
a dataset is one function in the module of its kind (``generators``, ``shipped``, ``files``) and
one line in ``DATASETS``. This package does not import jax.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from l1bench.data import files, generators, shipped
from l1bench.data import split as _split
from l1bench.data.split import DataError, Raw

__all__ = ["DATASETS", "DataError", "Dataset", "load_dataset"]

DATASETS: dict[str, Callable[..., Raw]] = {
    "make_regression": generators.make_regression,
    "make_classification": generators.make_classification,
    "synthetic_sparse": generators.synthetic_sparse,
    "synthetic_sparse_classification": generators.synthetic_sparse_classification,
    "diabetes": shipped.diabetes,
    "breast_cancer": shipped.breast_cancer,
    "digits": shipped.digits,
    "wine": shipped.wine,
    "iris": shipped.iris,
    "file": files.from_file,
}

# arguments a loader receives from l1bench itself, never from the user's params
_RESERVED = ("seed", "random_state", "coef", "path", "target")


class Dataset(NamedTuple):
    """Train/test data, one replicate per seed (S seeds, stacked on axis 0).

    Attributes:
      name: the dataset's name in ``DATASETS``.
      task: ``regression`` | ``binary`` | ``multiclass``.
      X_train: (S, n_train, p) float64.
      y_train: (S, n_train) float64 (regression) or int64 class indices 0..K-1.
      X_test: (S, n_test, p) float64; n_test is 0 when test_size is 0.
      y_test: (S, n_test), as y_train.
      feature_names: the p feature names (constant features dropped).
      classes: the K original class labels in index order (classification), else None.
      true_coef: (S, p) true coefficients in the original (unstandardized) feature scale,
        when the generator knows them, else None.
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


def _accepted_params(loader: Callable) -> list[str] | None:
    """The keyword names a loader accepts from the user, or None if it takes any."""
    sig = inspect.signature(loader)  # follows __wrapped__ to sklearn's generators
    kinds = {p.kind for p in sig.parameters.values()}
    if inspect.Parameter.VAR_KEYWORD in kinds:
        return None
    return [p for p in sig.parameters if p not in _RESERVED]


def _check_settings(name, seeds, params, test_size, task, path, target):
    """Validate the arguments of :func:`load_dataset`; return seeds as ints, params as a dict."""
    if not isinstance(name, str) or name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence | np.ndarray):
        raise DataError(f"dataset {name}: seeds must be a list of integers >= 0, got {seeds!r}")
    if len(seeds) == 0:
        raise DataError(f"dataset {name}: seeds is empty; give at least one integer seed >= 0")
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, numbers.Integral)]
    if bad:
        raise DataError(f"dataset {name}: seeds must be integers >= 0, got {bad}")
    seeds = [int(s) for s in seeds]
    if any(s < 0 for s in seeds):
        raise DataError(f"dataset {name}: seeds must be integers >= 0, got {seeds}")
    if (
        isinstance(test_size, bool)
        or not isinstance(test_size, numbers.Real)
        or not 0 <= test_size < 1
    ):
        raise DataError(f"dataset {name}: test_size={test_size!r} must be a number in [0, 1)")
    if task not in ("auto", "regression", "classification"):
        raise DataError(f"dataset {name}: task={task!r}; choose auto, regression or classification")
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise DataError(f"dataset {name}: params must be a mapping, got {type(params).__name__}")
    params = {str(k): v for k, v in params.items()}
    if name != "file" and (path is not None or target is not None):
        raise DataError(f"dataset {name}: path and target are only used with dataset=file")
    accepted = _accepted_params(DATASETS[name])
    if accepted is not None:
        unknown = [k for k in params if k not in accepted]
        if unknown:
            allowed = ", ".join(accepted) if accepted else "none"
            raise DataError(
                f"dataset {name}: unknown params {', '.join(unknown)}; accepted params: {allowed}"
            )
    return seeds, params


def _draw(name: str, seed: int, params: dict, path, target) -> Raw:
    loader = DATASETS[name]
    kwargs = dict(params, path=path, target=target) if name == "file" else params
    try:
        return loader(seed, **kwargs)
    except DataError:
        raise
    except (TypeError, ValueError, OverflowError, MemoryError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"dataset {name}: invalid params {params}: {reason}") from None


def _prepare(name: str, raw: Raw, task: str):
    """Validate one draw, encode its target and drop constant features."""
    X, y, names = _split.check_xy(name, raw)
    resolved = task if task != "auto" else raw.task
    if resolved == "auto":
        resolved = files.infer_task(y)
    kind, y, classes = _split.encode_target(name, y, resolved, raw.target_name)
    X, names, keep = _split.drop_constant(name, X, names)
    coef = None
    if raw.true_coef is not None:
        coef = np.asarray(raw.true_coef, dtype=np.float64).reshape(-1)[keep]
    return X, y, coef, kind, names, classes


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
      seeds: one or more integer seeds ≥ 0; each draws the data (generators) and the split.
      params: the generator's keyword arguments (``random_state`` is the seed); checked
        against the generator's signature.
      test_size: fraction of rows held out, in [0, 1); 0 keeps every row for training.
      standardize: zero mean / unit std (ddof=0) with the train part's statistics;
        ``False`` leaves X exactly as loaded.
      path: the file (``name="file"``): ``.csv``, ``.parquet`` or ``.npz``.
      target: the target column (tables) or array (npz, default ``y``).
      task: ``auto`` | ``regression`` | ``classification``. Generators and shipped datasets
        know their task and ``auto`` keeps it; for files ``auto`` infers it (see
        :func:`l1bench.data.files.infer_task`).

    Returns:
      A :class:`Dataset`.

    Raises:
      DataError: naming the dataset, the field and what is allowed.
    """
    seeds, params = _check_settings(name, seeds, params, test_size, task, path, target)
    per_seed = not getattr(DATASETS[name], "ignores_seed", False)
    parts, prepared = [], None
    for seed in seeds:
        if per_seed or prepared is None:
            prepared = _prepare(name, _draw(name, seed, params, path, target), task)
        X, y, coef, kind, names, classes = prepared
        Xtr, ytr, Xte, yte = _split.split(
            name, X, y, seed=seed, test_size=test_size, stratify=kind != "regression"
        )
        if standardize:
            Xtr, Xte, offset, scale = _split.standardize(Xtr, Xte)
        else:
            offset, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        parts.append((Xtr, ytr, Xte, yte, coef, offset, scale, kind, names, classes))
    first = parts[0]
    same = all(
        p[0].shape == first[0].shape and p[2].shape == first[2].shape and p[7:] == first[7:]
        for p in parts
    )
    if not same:
        raise DataError(
            f"dataset {name}: seeds {seeds} give different tasks, shapes, features or classes "
            "(e.g. a constant feature dropped for one seed only); use one seed per job or "
            "params that give every seed the same shapes"
        )
    coefs = [p[4] for p in parts]

    def stack(i):
        return np.stack([p[i] for p in parts])

    return Dataset(
        name=name,
        task=first[7],
        X_train=stack(0),
        y_train=stack(1),
        X_test=stack(2),
        y_test=stack(3),
        feature_names=first[8],
        classes=first[9],
        true_coef=None if any(c is None for c in coefs) else np.stack(coefs),
        seeds=tuple(seeds),
        scale=stack(6),
        offset=stack(5),
    )
