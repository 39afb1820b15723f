"""Robustness evaluation: every fit × noise model × level × random draw in one compiled call.

For noise model ``m`` (index ``i`` in the suite) the error of fit ``f`` at level ``ℓ`` (index
``j``) and draw ``d`` is the task's error on the perturbed test set

.. code-block:: python

   X', y', params' = m.fn(fold_in(fold_in(fold_in(key, i), j), d), X_test, y_test, params[f], ℓ)

vmapped over fits × levels × draws, every model of the suite traced into ONE jit. The key does
not depend on the fit, so every fit sees the same perturbations (common random numbers:
differences between penalties are not blurred by noise draws) and results do not depend on where
a fit sits in the grid. Deterministic models (the adversarial worst cases) use one draw.

Two entry points share that core:

* :func:`evaluate_fits` — one problem: ``params`` with a leading fit axis F, one test set, one
  key, a suite given as ``[(name, levels, options), ...]``; returns ``{name: {metric: (F,
  levels, draws)}}`` with MSE for regression and error rate (1 − accuracy) and log-loss for
  classification.
* :func:`evaluate` — the pipeline's form: S problems (seeds) × F fits, checked
  :class:`~l1bench.noise.SuiteEntry` lists, each problem's key derived from its seed, metrics
  named as :data:`l1bench.metrics.ERRORS`.

Also here: the summary metrics of an error-versus-level curve (:func:`degradation`,
:func:`auc`, :func:`worst_case`), :func:`support_recovery` against known true coefficients and
:func:`layer_sparsity`. These helpers are numpy functions.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from l1bench import metrics, models
from l1bench.noise import NOISE_MODELS, SuiteEntry, check_entry

NOISE_STREAM = 4  # the "noise" stream of a seed's key (init 0, dropout 1, batches 2, ...)


class NoiseErrors(NamedTuple):
    """Errors under one noise model: ``{metric: (S, F, levels, draws)}``."""

    name: str
    levels: tuple[float, ...]
    errors: dict[str, np.ndarray]


@partial(jax.jit, static_argnames=("spec", "task", "activation", "n_classes"))
def _evaluate_suite(params, X, y, keys, levels, *, spec, task, activation, n_classes):
    """The compiled core: a tuple, per suite model, of the metric tuples (S, F, L, D).

    ``spec`` is static: per model ``(fn, sorted option items, draws)``; ``levels`` a tuple of
    (L_m,) arrays; ``keys`` (S,) one key per problem.
    """

    def one_model(i, fn, opts, draws, lv):
        def per_problem(ps, Xs, ys, key):
            base = jax.random.fold_in(key, i)

            def per_fit(p):
                def per_level(j, level):
                    def per_draw(d):
                        k = jax.random.fold_in(jax.random.fold_in(base, j), d)
                        X2, y2, p2 = fn(
                            k,
                            Xs,
                            ys,
                            p,
                            level,
                            task=task,
                            activation=activation,
                            n_classes=n_classes,
                            **opts,
                        )
                        out = jax.vmap(lambda x: models.apply(p2, x, activation=activation))(X2)
                        return metrics._errors(out, y2, task)

                    return jax.vmap(per_draw)(jnp.arange(draws))

                return jax.vmap(per_level)(jnp.arange(lv.shape[0]), lv)

            return jax.vmap(per_fit)(ps)

        return jax.vmap(per_problem)(params, X, y, keys)

    return tuple(
        one_model(i, fn, dict(opts), draws, lv)
        for i, ((fn, opts, draws), lv) in enumerate(zip(spec, levels, strict=True))
    )


def _run_suite(params, X, y, keys, suite, draws, task, activation, n_classes):
    dtype = models.weights(params)[0].dtype
    spec = tuple(
        (e.model.fn, tuple(sorted(e.options.items())), draws if e.model.random else 1)
        for e in suite
    )
    levels = tuple(jnp.asarray(e.levels, dtype) for e in suite)
    return _evaluate_suite(
        params,
        jnp.asarray(X, dtype),
        jnp.asarray(y, dtype),
        keys,
        levels,
        spec=spec,
        task=task,
        activation=activation,
        n_classes=n_classes,
    )


def evaluate(
    params,
    X,
    y,
    seeds,
    suite: list[SuiteEntry],
    *,
    draws: int,
    task: str,
    activation: str = "relu",
    n_classes: int | None = None,
) -> list[NoiseErrors]:
    """Errors of every fit of every problem under every noise model of ``suite``, one jit.

    Problem ``s`` draws its noise from ``fold_in(key(seeds[s]), NOISE_STREAM)``.

    Args:
      params: model layers, leaves with leading axes (S, F) (problems × fits).
      X: (S, n, p) test inputs. y: (S, n) test targets. seeds: (S,) the problems' seeds.
      suite: checked entries (:func:`l1bench.noise.check_suite`).
      draws: random draws per level (deterministic models get 1).
      task: ``regression`` | ``binary`` | ``multiclass``. n_classes: K for classification
        (None means 2).
      activation: the MLP's hidden activation.

    Returns:
      One :class:`NoiseErrors` per suite entry, arrays (S, F, levels, draws) named as
      :data:`l1bench.metrics.ERRORS` ``[task]``.
    """
    if X.shape[1] == 0:
        raise ValueError("robustness needs a test set: set dataset.test_size > 0")
    if not suite:
        return []
    keys = jax.vmap(lambda s: jax.random.fold_in(jax.random.key(s), NOISE_STREAM))(
        jnp.asarray(seeds)
    )
    vals = _run_suite(params, X, y, keys, suite, draws, task, activation, n_classes or 2)
    names = metrics.ERRORS[task]
    return [
        NoiseErrors(
            e.model.name,
            e.levels,
            {k: np.asarray(a, np.float64) for k, a in zip(names, v, strict=True)},
        )
        for e, v in zip(suite, vals, strict=True)
    ]


def _suite_entries(suite, task, depth) -> list[SuiteEntry]:
    if isinstance(suite, (str, bytes)) or not isinstance(suite, Sequence):
        raise ValueError(
            f"suite must be a list of (noise_name, levels, options) tuples, got {suite!r}"
        )
    entries, seen = [], set()
    for i, item in enumerate(suite):
        if isinstance(item, SuiteEntry):
            item = (item.model.name, item.levels, item.options)
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ValueError(
                f"suite[{i}]={item!r}; each entry is (noise_name, levels) or "
                f"(noise_name, levels, options)"
            )
        name, levels, options = (*item, {}) if len(item) == 2 else item
        if name in seen:
            raise ValueError(f"suite[{i}]: noise model {name!r} appears twice")
        seen.add(name)
        if "levels" in (options or {}):
            raise ValueError(f"suite[{i}] ({name}): give levels once, not in options")
        if isinstance(levels, np.ndarray):
            levels = levels.ravel().tolist()
        if not isinstance(levels, (list, tuple)):
            raise ValueError(f"suite[{i}] ({name}).levels={levels!r} must be a list of levels")
        spec = {**dict(options or {}), "levels": list(levels)}
        entries.append(check_entry(name, spec, task=task, depth=depth, path="suite"))
    return entries


def evaluate_fits(
    params_batch,
    X_test,
    y_test,
    *,
    task: str,
    suite: Sequence,
    draws: int,
    key,
    activation: str = "relu",
) -> dict[str, dict[str, np.ndarray]]:
    """Errors of a batch of fitted models under a noise suite, in one compiled call.

    Args:
      params_batch: model layers (:mod:`l1bench.models`), every leaf with a leading fit axis
        F (w: (F, d_in, d_out), b: (F, d_out)).
      X_test: (n, p) test inputs. y_test: (n,) targets, or class indices 0..K−1.
      task: ``regression`` | ``binary`` | ``multiclass``.
      suite: ``[(noise_name, levels, options), ...]`` (options may be left out), names from
        :data:`l1bench.noise.NOISE_MODELS`, each at most once; levels a list of scalars >= 0.
      draws: random draws per level, >= 1 (deterministic models get 1).
      key: a PRNG key (``jax.random.key``) or an int seed; model ``i``, level ``j`` and draw
        ``d`` use ``fold_in(fold_in(fold_in(key, i), j), d)``, the same for every fit.
      activation: the MLP's hidden activation.

    Returns:
      ``{noise_name: {metric: (F, n_levels, n_draws) array}}`` with metric ``mse`` for
      regression and ``error_rate`` (1 − accuracy) and ``log_loss`` (mean, natural log) for
      classification.

    Raises:
      ValueError: naming the field — bad task, activation, shapes, labels, draws, or a suite
        entry that :func:`l1bench.noise.check_entry` rejects (unknown name, negative level,
        unknown option, an attack without a closed form here, ...).
    """
    if task not in models.TASKS:
        raise ValueError(f"task={task!r}; choose one of {', '.join(models.TASKS)}")
    if isinstance(draws, bool) or not isinstance(draws, numbers.Integral) or draws < 1:
        raise ValueError(f"draws={draws!r} must be an integer >= 1")
    if activation not in models.ACTIVATIONS:
        raise ValueError(
            f"activation={activation!r}; choose one of {', '.join(models.ACTIVATIONS)}"
        )
    ws = models.weights(params_batch)
    if any(w.ndim != 3 for w in ws):
        raise ValueError(
            "params_batch: every layer's w must be (F, d_in, d_out), with a leading fit axis"
        )
    X_test, y_test = np.asarray(X_test), np.asarray(y_test)
    if X_test.ndim != 2 or X_test.shape[0] == 0:
        raise ValueError(f"X_test must be (n, p) with n >= 1, got shape {X_test.shape}")
    if y_test.shape != (X_test.shape[0],):
        raise ValueError(f"y_test must be ({X_test.shape[0]},), got shape {y_test.shape}")
    if X_test.shape[1] != ws[0].shape[1]:
        raise ValueError(f"X_test has {X_test.shape[1]} features, the models take {ws[0].shape[1]}")
    n_classes = ws[-1].shape[-1] if task == "multiclass" else 2
    if task != "regression" and not np.all(np.isin(y_test, np.arange(n_classes))):
        raise ValueError(f"y_test must hold class indices 0..{n_classes - 1} for task={task}")
    entries = _suite_entries(suite, task, len(ws))
    if not entries:
        return {}
    if isinstance(key, numbers.Integral):
        key = jax.random.key(int(key))
    batch = jax.tree_util.tree_map(lambda a: jnp.asarray(a)[None], params_batch)
    vals = _run_suite(
        batch, X_test[None], y_test[None], key[None], entries, draws, task, activation, n_classes
    )
    out = {}
    for e, v in zip(entries, vals, strict=True):
        first, second = (np.asarray(a[0], np.float64) for a in v)
        if task == "regression":
            out[e.model.name] = {"mse": first}
        else:
            out[e.model.name] = {"error_rate": 1.0 - first, "log_loss": second}
    return out


def degradation(err, clean):
    """Relative degradation ``(err − clean) / clean``.

    Args:
      err: errors under noise, e.g. (F, levels, draws).
      clean: the clean errors; its axes are the leading axes of ``err`` (e.g. (F,)), or a
        scalar, or an array of err's own shape.

    Returns:
      An array of err's shape; ``inf`` where the clean error is 0 and err is not, ``nan`` where
      both are 0.
    """
    err = np.asarray(err, dtype=float)
    clean = np.asarray(clean, dtype=float)
    clean = clean.reshape(clean.shape + (1,) * (err.ndim - clean.ndim))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (err - clean) / clean


def auc(levels, err) -> np.ndarray:
    """Normalized area under the error-versus-level curve: a mean error over the level range.

    .. math:: \\mathrm{AUC} = \\frac{1}{ℓ_K − ℓ_1} \\sum_{k=1}^{K-1} (ℓ_{k+1} − ℓ_k)
       \\frac{e_k + e_{k+1}}{2}

    (the trapezoid rule). Include level 0 with the clean error to integrate from clean; a single
    level returns its error.

    Args:
      levels: (K,) strictly increasing levels. err: (..., K) errors, levels on the last axis
        (average the draws first).

    Returns:
      (...) array.
    """
    levels = np.asarray(levels, dtype=float)
    err = np.asarray(err, dtype=float)
    if levels.ndim != 1 or levels.size == 0 or err.shape[-1:] != levels.shape:
        raise ValueError(
            f"levels must be (K,) matching err's last axis, got {levels.shape} and {err.shape}"
        )
    if levels.size == 1:
        return err[..., 0]
    if not np.all(np.diff(levels) > 0):
        raise ValueError(f"levels={levels.tolist()} must be strictly increasing")
    return np.trapezoid(err, levels, axis=-1) / (levels[-1] - levels[0])


def worst_case(err, axis=-1) -> np.ndarray:
    """The largest error over ``axis`` (default the last: levels)."""
    return np.max(np.asarray(err), axis=axis)


def support_recovery(coef, true_coef) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 of the estimated support against the true support.

    Supports are the *exact* nonzeros (no threshold): ``Ŝ = {j: coef_j ≠ 0}``,
    ``S = {j: true_j ≠ 0}``; precision ``|Ŝ∩S| / |Ŝ|``, recall ``|Ŝ∩S| / |S|``, F1 their
    harmonic mean. Degenerate cases:

    * empty estimate (``Ŝ = ∅``): precision 1 (nothing selected, no false positive);
    * empty truth (``S = ∅``): recall 1 (nothing to find);
    * F1 is 0 when precision and recall are both 0; so ``Ŝ = S = ∅`` scores (1, 1, 1) and
      ``Ŝ = ∅ ≠ S`` scores (1, 0, 0).

    Args:
      coef: (..., p) estimated coefficients. true_coef: (p,) true coefficients, or any shape
        broadcastable against ``coef``.

    Returns:
      ``(precision, recall, f1)``, each of shape ``coef.shape[:-1]``.
    """
    est = np.asarray(coef) != 0
    true = np.broadcast_to(np.asarray(true_coef) != 0, est.shape)
    tp = np.sum(est & true, axis=-1)
    n_est, n_true = est.sum(axis=-1), true.sum(axis=-1)
    precision = np.where(n_est > 0, tp / np.maximum(n_est, 1), 1.0)
    recall = np.where(n_true > 0, tp / np.maximum(n_true, 1), 1.0)
    denom = precision + recall
    f1 = np.where(denom > 0, 2 * precision * recall / np.where(denom > 0, denom, 1.0), 0.0)
    return precision, recall, f1


def layer_sparsity(params) -> list[np.ndarray]:
    """Fraction of exact zeros in each layer's weights ``w`` (biases excluded).

    Args:
      params: model layers; leading batch axes (e.g. F) are kept.

    Returns:
      One array per layer, of the leading axes' shape (a scalar for one model).
    """
    return metrics.layer_sparsity(params)


__all__ = [
    "NOISE_MODELS",
    "NoiseErrors",
    "auc",
    "degradation",
    "evaluate",
    "evaluate_fits",
    "layer_sparsity",
    "support_recovery",
    "worst_case",
]
