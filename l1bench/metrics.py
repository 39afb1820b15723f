"""Metrics of fitted models: sparsity and clean errors, batched over fits in one jit.

Sparsity counts *exact* zeros (the proximal L1 step produces them); nothing is thresholded.
Errors: regression — MSE and R² (``1 - MSE / var(y)``); classification — accuracy and mean
log-loss (natural log) of the predicted probabilities.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from l1bench import models

ERRORS = {
    "regression": ("mse", "r2"),
    "binary": ("accuracy", "log_loss"),
    "multiclass": ("accuracy", "log_loss"),
}


def nnz(params) -> np.ndarray:
    """Exactly nonzero weights (all layers, biases excluded); leading axes are kept."""
    ws = models.weights(params)
    lead = ws[0].ndim - 2
    return sum(np.count_nonzero(w.reshape(*w.shape[:lead], -1), axis=-1) for w in ws)


def n_weights(params) -> int:
    """Number of weights per model (all layers, biases excluded)."""
    return sum(int(np.prod(w.shape[-2:])) for w in models.weights(params))


def sparsity(params) -> np.ndarray:
    """Fraction of weights that are exactly zero."""
    return 1.0 - nnz(params) / n_weights(params)


def layer_sparsity(params) -> list[np.ndarray]:
    """Fraction of exact zeros in each layer's weights."""
    out = []
    for w in models.weights(params):
        lead = w.ndim - 2
        out.append(
            1.0 - np.count_nonzero(w.reshape(*w.shape[:lead], -1), axis=-1) / np.prod(w.shape[-2:])
        )
    return out


def errors(out, y, task):
    """The two error metrics of outputs ``out`` (n, m) against ``y`` (n,) for ``task``:
    (MSE, R²) for regression, (accuracy, log-loss) for classification."""
    if task == "regression":
        mse = jnp.mean((y - out[:, 0]) ** 2)
        var = jnp.var(y)
        return mse, 1.0 - mse / jnp.where(var > 0, var, jnp.nan)
    if task == "binary":
        z = out[:, 0]
        acc = jnp.mean(((z > 0) == (y > 0.5)).astype(out.dtype))
        return acc, jnp.mean(jax.nn.softplus(z) - y * z)
    logp = jax.nn.log_softmax(out, axis=-1)
    yi = y.astype(jnp.int32)
    acc = jnp.mean((jnp.argmax(out, axis=-1) == yi).astype(out.dtype))
    return acc, -jnp.mean(jnp.take_along_axis(logp, yi[:, None], axis=-1))


@partial(jax.jit, static_argnames=("task", "activation"))
def _clean_errors(params, X, y, task, activation):
    def per_problem(ps, Xs, ys):
        def per_fit(p):
            out = jax.vmap(lambda x: models.apply(p, x, activation=activation))(Xs)
            return errors(out, ys, task)

        return jax.vmap(per_fit)(ps)

    return jax.vmap(per_problem)(params, X, y)


def clean_errors(params, X, y, *, task: str, activation: str = "relu") -> dict[str, np.ndarray]:
    """Errors of every fit on its own problem's data, in one compiled call.

    Args:
      params: model layers, leaves with leading axes (S, F) (problems × fits per problem).
      X: (S, n, p) inputs. y: (S, n) targets or class indices; with n == 0 errors are NaN.
      task: ``regression`` | ``binary`` | ``multiclass``.
      activation: the MLP's hidden activation.

    Returns:
      ``{name: (S, F) array}`` with the names of ``ERRORS[task]``.
    """
    names = ERRORS[task]
    S, F = models.weights(params)[0].shape[:2]
    if X.shape[1] == 0:
        return {k: np.full((S, F), np.nan) for k in names}
    dtype = models.weights(params)[0].dtype
    vals = _clean_errors(params, jnp.asarray(X, dtype), jnp.asarray(y, dtype), task, activation)
    return {k: np.asarray(v, dtype=np.float64) for k, v in zip(names, vals, strict=True)}
