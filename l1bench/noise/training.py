"""Training-set contamination: corrupted copies of each seed's training part, on the batch axis.

For each seed, each model ``m`` of a training suite (``train_noise.regression`` or
``train_noise.classification``; any model whose ``stages`` include ``train``), each level
ℓ > 0 of ``m`` and each draw ``d = 0 … D−1``, one contaminated training set

.. code-block:: python

   key = fold_in(model_key(seed, m), d)
   X', y', _ = m.fn(key, X_train, y_train, None, ℓ, task=task, **options)

joins the problem axis: S seeds × C sets (C = Σ_m #{ℓ > 0} · D), seed-major, then in suite
order, level order and draw order (:class:`Plan`). The pipeline fits the S·C problems in one
compiled call, cross-validates each on folds of its own contaminated data and measures every
refit on the clean test set. A level of 0 is the clean training set itself; it is not refitted.

Random streams: ``model_key(seed, m) = fold_in(fold_in(key(seed), STREAM), crc32(m))``, the
seed's training-noise stream and the model's name (adding or removing another model leaves a
model's draws as they were); draw ``d`` folds in d. The key does not depend on the level:
the levels of one draw scale (Gaussian, Student-t) or threshold (outliers, leverage points,
flips: nested sets) one sample. These common random numbers keep the error-versus-level
curves, and the differences between fits, free of fresh-draw noise.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from l1bench.noise import SuiteEntry
from l1bench.vocab import STREAMS

STREAM = STREAMS["train_noise"]


class Plan(NamedTuple):
    """The contaminated training sets of one seed, in problem order: (C,) each.

    Attributes:
      model: the noise model of each set. level: its level (> 0). draw: its draw index.
    """

    model: tuple[str, ...]
    level: np.ndarray
    draw: np.ndarray


def plan(entries: Sequence[SuiteEntry], draws: int) -> Plan:
    """Every (model, level > 0, draw) of a suite, in the order of the problem axis."""
    rows = [
        (e.model.name, lv, d) for e in entries for lv in e.levels if lv > 0 for d in range(draws)
    ]
    return Plan(
        tuple(r[0] for r in rows),
        np.array([r[1] for r in rows], dtype=float),
        np.array([r[2] for r in rows], dtype=int),
    )


def model_key(seed: int, name: str):
    """The key of model ``name``'s draws for ``seed``: draw ``d`` uses ``fold_in(·, d)``
    (see the module docstring)."""
    key = jax.random.fold_in(jax.random.key(int(seed)), STREAM)
    return jax.random.fold_in(key, zlib.crc32(name.encode()) & 0x7FFFFFFF)


@partial(jax.jit, static_argnames=("fn", "options", "task", "n_classes"))
def _corrupt(key, X, y, levels, *, fn, options, task, n_classes):
    """``fn`` at every level of one draw's key, one compiled call: (L, n, p), (L, n).

    The draws are a Python loop over keys, not a batch axis: XLA CPU compiles a batch of
    threefry keys about six times slower than one key (8 s against 1.3 s for one
    (331, 10) normal draw of three keys, measured), and the draws reuse the executable.
    """

    def one(level):
        return fn(key, X, y, None, level, task=task, n_classes=n_classes, **dict(options))[:2]

    return jax.vmap(one)(levels)


def corrupt(entry: SuiteEntry, seed: int, X, y, levels, draws: int, *, task, n_classes):
    """One training set corrupted by ``entry`` at every level of every draw.

    Args:
      entry: the checked suite entry. seed: the problem's seed (its key, :func:`model_key`).
      X: (n, p) training inputs. y: (n,) targets (class indices for classification).
      levels: the L levels. draws: D.
      task: ``regression`` | ``binary`` | ``multiclass``. n_classes: K (classification).

    Returns:
      ``(X', y')`` of shapes (L, D, n, p) and (L, D, n), as numpy arrays (y' in y's dtype).
    """
    base = model_key(seed, entry.model.name)
    args = (jnp.asarray(X), jnp.asarray(y, jnp.float64), jnp.asarray(levels, jnp.float64))
    kw = dict(
        fn=entry.model.fn,
        options=tuple(sorted(entry.options.items())),
        task=task,
        n_classes=n_classes or 2,
    )
    out = [_corrupt(jax.random.fold_in(base, d), *args, **kw) for d in range(draws)]
    Xs = np.stack([np.asarray(o[0]) for o in out], axis=1)  # (L, D, n, p)
    ys = np.stack([np.asarray(o[1]) for o in out], axis=1)
    return Xs, ys.astype(np.asarray(y).dtype)


def contaminate(X, y, seeds, entries: Sequence[SuiteEntry], draws: int, *, task, n_classes):
    """The S·C contaminated training sets of a suite (the problem axis, seed-major).

    Args:
      X: (S, n, p) clean training inputs. y: (S, n) targets. seeds: the S seeds.
      entries: the checked suite. draws: D per level.
      task, n_classes: as :func:`corrupt`.

    Returns:
      ``(X', y', plan)``: (S·C, n, p) and (S·C, n) arrays, and the :class:`Plan` of one
      seed's C sets (the same for every seed).
    """
    p = plan(entries, draws)
    S, n, f = X.shape
    Xs, ys = [], []
    for s, seed in enumerate(seeds):
        for e in entries:
            levels = [lv for lv in e.levels if lv > 0]
            if levels:
                Xc, yc = corrupt(e, seed, X[s], y[s], levels, draws, task=task, n_classes=n_classes)
                Xs.append(Xc.reshape(-1, n, f))
                ys.append(yc.reshape(-1, n))
    if not Xs:
        return np.zeros((0, n, f), X.dtype), np.zeros((0, n), y.dtype), p
    return np.concatenate(Xs), np.concatenate(ys), p
