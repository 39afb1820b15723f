"""Robustness evaluation: every fit × noise level × random draw, one compiled call per noise model.

For noise model ``m`` the error of fit ``f`` of problem ``s`` at level ``ℓ`` and draw ``d`` is
the task's error metrics (:data:`l1bench.metrics.ERRORS`) on the perturbed test set
``m(key[s, d, ℓ], X_test[s], y_test[s], params[s, f], ℓ)``. Keys derive from the problem's seed
(``fold_in(key(seed), NOISE_STREAM)``, then the model's index, the level index and the draw),
so every fit of a problem sees the same perturbations (common random numbers) and results do
not depend on where a fit sits in the grid. Deterministic models (the adversarial worst case)
use one draw.

Also here: the summary metrics of an error-versus-level curve (degradation, area, worst case)
and support recovery against known true coefficients.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from l1bench import metrics, models
from l1bench.noise import SuiteEntry

NOISE_STREAM = 4  # the "noise" stream of a seed's key (init 0, dropout 1, batches 2, ...)


class NoiseErrors(NamedTuple):
    """Errors under one noise model: ``{metric: (S, F, levels, draws)}``."""

    name: str
    levels: tuple[float, ...]
    errors: dict[str, np.ndarray]


@partial(jax.jit, static_argnames=("fn", "options", "task", "activation", "n_classes", "draws"))
def _evaluate(
    params, X, y, seeds, levels, model_index, *, fn, options, task, activation, n_classes, draws
):
    opts = dict(options)

    def per_problem(ps, Xs, ys, seed):
        base = jax.random.fold_in(
            jax.random.fold_in(jax.random.key(seed), NOISE_STREAM), model_index
        )

        def per_fit(p):
            def per_level(li, level):
                def per_draw(d):
                    key = jax.random.fold_in(jax.random.fold_in(base, li), d)
                    X2, y2, p2 = fn(
                        key,
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

            return jax.vmap(per_level)(jnp.arange(levels.shape[0]), levels)

        return jax.vmap(per_fit)(ps)

    return jax.vmap(per_problem)(params, X, y, seeds)


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
    """Errors of every fit under every noise model of ``suite``.

    Args:
      params: model layers, leaves with leading axes (S, F).
      X: (S, n, p) test inputs. y: (S, n) test targets. seeds: (S,) the problems' seeds.
      suite: checked entries (:func:`l1bench.noise.check_suite`).
      draws: random draws per level (1 for deterministic models).
      task: ``regression`` | ``binary`` | ``multiclass``. n_classes: K for classification.

    Returns:
      One :class:`NoiseErrors` per suite entry, arrays (S, F, levels, draws).
    """
    out = []
    if X.shape[1] == 0:
        raise ValueError("robustness needs a test set: set dataset.test_size > 0")
    dtype = models.weights(params)[0].dtype
    Xj, yj = jnp.asarray(X, dtype), jnp.asarray(y, dtype)
    for i, entry in enumerate(suite):
        n_draws = draws if entry.model.random else 1
        vals = _evaluate(
            params,
            Xj,
            yj,
            jnp.asarray(seeds),
            jnp.asarray(entry.levels, dtype),
            i,
            fn=entry.model.fn,
            options=tuple(sorted(entry.options.items())),
            task=task,
            activation=activation,
            n_classes=n_classes or 2,
            draws=n_draws,
        )
        names = metrics.ERRORS[task]
        out.append(
            NoiseErrors(
                entry.model.name,
                entry.levels,
                {k: np.asarray(v, np.float64) for k, v in zip(names, vals, strict=True)},
            )
        )
    return out


def degradation(err, clean):
    """Relative increase ``(err - clean) / clean``."""
    return (np.asarray(err) - clean) / clean


def auc(levels, err) -> np.ndarray:
    """Area under the error-versus-level curve (trapezoid over the levels, the clean error at
    level 0 included when given), divided by the level range: a mean error over the range."""
    levels = np.asarray(levels, dtype=float)
    err = np.asarray(err, dtype=float)
    if levels.size == 1:
        return err[..., 0]
    return np.trapezoid(err, levels, axis=-1) / (levels[-1] - levels[0])


def worst_case(err) -> np.ndarray:
    """The largest error over levels."""
    return np.max(np.asarray(err), axis=-1)


def support_recovery(coef, true_coef) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 of the estimated support (exact nonzeros) against the truth.

    Conventions for empty sets: precision is 1 when nothing is selected (no false positives);
    recall is 1 when the true support is empty; F1 is their harmonic mean (0 when both are 0).

    Args:
      coef: (..., p) estimated coefficients. true_coef: (p,) or broadcastable true coefficients.
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
