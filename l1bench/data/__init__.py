"""Data loading: dataset loaders → a validated, split ``Dataset``.

``load_dataset(name, seeds=..., ...)`` returns one replicate per seed, stacked on axis 0. For
each seed, a loader draws with the seed; then the rows are split with
``train_test_split(random_state=seed)`` (stratified for classification) and standardized with
statistics of the train part only.

A dataset is a :class:`~l1bench.data.loader.Loader`: ``load(seed, **params) -> Raw`` (see
:class:`l1bench.data.split.Raw`) and what it is (its task, whether it uses the seed, its params).
The shipped ones are the modules of :mod:`l1bench.data.datasets`, one each, discovered into
``DATASETS``; a dataset config names its loader by ``_target_`` (:func:`loader_for`), so a
user's own loader, in their own package, is named the same way. This package does not import
jax.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from l1bench.data import files
from l1bench.data import split as _split
from l1bench.data.datasets import discover
from l1bench.data.loader import Loader, as_loader
from l1bench.data.split import DataError, Raw

__all__ = ["DATASETS", "DataError", "Dataset", "Loader", "Raw", "load_dataset", "loader_for"]

# the shipped datasets: {name: Loader}, from the modules of l1bench.data.datasets
DATASETS: dict[str, Loader] = discover()


class Dataset(NamedTuple):
    """Train/test data, one replicate per seed (S seeds, stacked on axis 0).

    Attributes:
      name: the dataset's label in the tables (``dataset.name``).
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


def resolve_target(target: str) -> Loader:
    """The loader a dataset config's ``_target_`` names, resolved with Hydra's ``instantiate``.

    Args:
      target: a dotted path, ``package.module.name``, to a :class:`Loader` or to a function
        ``load(seed, **params) -> Raw``.

    Raises:
      DataError: naming ``dataset._target_`` when it cannot be imported or is not callable.
    """
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    where = f"dataset._target_={target!r}"
    if not isinstance(target, str) or not target.strip():
        raise DataError(f"{where} must be a dotted path (package.module.name) to a loader")
    try:
        deferred = instantiate({"_target_": target, "_partial_": True})
    except InstantiationException as err:
        if err.__cause__ is None:
            raise DataError(
                f"{where} is not a loader ({err}); name a function load(seed, **params) -> Raw "
                "or an l1bench.data.Loader"
            ) from None
        lines = str(err.__cause__).splitlines()
        reason = " ".join(lines[1:] or lines)
        raise DataError(
            f"{where} cannot be imported: {reason} (is its package on PYTHONPATH?)"
        ) from None
    return as_loader(deferred.func)


def loader_for(name: str, target: str | Callable | None = None) -> Loader:
    """The loader of a dataset config: its ``_target_``, or the shipped dataset ``name``.

    Args:
      name: ``dataset.name``, the table label; with no ``target`` a key of ``DATASETS``.
      target: ``dataset._target_`` (a dotted path), a loader itself, or None.

    Raises:
      DataError: an unknown ``name`` without ``target``; a ``target`` that cannot be imported
        or is not callable; a ``name`` of a shipped dataset with the ``_target_`` of another
        (a ``dataset.name=`` override that left the group's loader in place).
    """
    if target is None:
        if not isinstance(name, str) or name not in DATASETS:
            raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
        return DATASETS[name]
    loader = resolve_target(target) if isinstance(target, str) else as_loader(target)
    shipped = {id(v): k for k, v in DATASETS.items()}
    if name in DATASETS and id(loader) in shipped and shipped[id(loader)] != name:
        raise DataError(
            f"dataset.name={name!r} is a shipped dataset but dataset._target_={target!r} is "
            f"the loader of {shipped[id(loader)]}; choose the dataset with dataset={name} "
            "(the group), not dataset.name"
        )
    return loader


def _check_settings(name, loader, seeds, params, test_size, task, path, target):
    """Validate the arguments of :func:`load_dataset`; return seeds as ints, params as a dict."""
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
    if not loader.reads_file and (path is not None or target is not None):
        raise DataError(
            f"dataset {name}: path and target are only used with dataset=file (or a loader "
            "that reads a file)"
        )
    accepted = loader.params
    if accepted is not None:
        unknown = [k for k in params if k not in accepted]
        if unknown:
            allowed = ", ".join(accepted) if accepted else "none"
            raise DataError(
                f"dataset {name}: unknown params {', '.join(unknown)}; accepted params: {allowed}"
            )
    return seeds, params


def _draw(name: str, loader: Loader, seed: int, params: dict, path, target) -> Raw:
    kwargs = dict(params, path=path, target=target) if loader.reads_file else params
    try:
        raw = loader(seed, **kwargs)
    except DataError:
        raise
    except (TypeError, ValueError, OverflowError, MemoryError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"dataset {name}: invalid params {params}: {reason}") from None
    if not isinstance(raw, Raw):
        raise DataError(
            f"dataset {name}: its loader returned a {type(raw).__name__}; a loader returns an "
            "l1bench.data.Raw (X, y, true_coef, task, feature_names, target_name)"
        )
    return raw


def _prepare(name: str, loader: Loader, raw: Raw, task: str):
    """Validate one draw, encode its target and drop constant features.

    The task is ``task`` when given, else the loader's declared one, else the Raw's, else
    inferred from the target (:func:`l1bench.data.files.infer_task`)."""
    X, y, names = _split.check_xy(name, raw)
    resolved = next((t for t in (task, loader.task, raw.task) if t != "auto"), "auto")
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
    loader: str | Callable | None = None,
) -> Dataset:
    """Load, validate, split and standardize a dataset, one replicate per seed.

    Args:
      name: the dataset's label; without ``loader``, a key of ``DATASETS``.
      seeds: one or more integer seeds ≥ 0; each draws the data (loaders that use the seed)
        and the split.
      params: the loader's keyword arguments (for scikit-learn's generators ``random_state``
        is the seed); checked against the loader's ``params``.
      test_size: fraction of rows held out, in [0, 1); 0 keeps every row for training.
      standardize: zero mean / unit std (ddof=0) with the train part's statistics;
        ``False`` leaves X exactly as loaded.
      path: the file (``name="file"``, or a loader that reads a file): ``.csv``, ``.parquet``
        or ``.npz``.
      target: the target column (tables) or array (npz, default ``y``).
      task: ``auto`` | ``regression`` | ``classification``. Generators and shipped datasets
        declare their task and ``auto`` keeps it; for files ``auto`` infers it (see
        :func:`l1bench.data.files.infer_task`).
      loader: ``dataset._target_``, a dotted path to a loader, or a loader itself
        (:func:`loader_for`); None: the shipped dataset ``name``.

    Returns:
      A :class:`Dataset`.

    Raises:
      DataError: naming the dataset, the field and what is allowed.
    """
    loader = loader_for(name, loader)
    seeds, params = _check_settings(name, loader, seeds, params, test_size, task, path, target)
    parts, prepared = [], None
    for seed in seeds:
        if loader.uses_seed or prepared is None:
            raw = _draw(name, loader, seed, params, path, target)
            prepared = _prepare(name, loader, raw, task)
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
