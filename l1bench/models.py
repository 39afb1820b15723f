"""Models as plain pytrees: ``init(key, ...) -> params`` and ``apply(params, x, ...) -> outputs``.

Every model is a multilayer perceptron; linear and logistic regression are the MLP with no hidden
layer. ``params`` is a tuple of layers, each a dict ``{"w": (d_in, d_out), "b": (d_out,)}``.
Outputs are one column for regression and binary classification (a logit) and K columns (logits)
for K-class classification. Penalties act on the weights ``w`` of every layer, never on biases.

Models work on one example; batches go through ``jax.vmap`` (as in equinox), so the same
function serves training, evaluation and per-example adversarial attacks.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from l1bench.vocab import TASKS

ACTIVATIONS = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "gelu": jax.nn.gelu,
    "sigmoid": jax.nn.sigmoid,
}


def n_outputs(task: str, n_classes: int | None = None) -> int:
    """Output width for a task: 1 for regression and binary, K for multiclass."""
    if task not in TASKS:
        raise ValueError(f"task={task!r}; choose one of {', '.join(TASKS)}")
    if task == "multiclass":
        if n_classes is None or n_classes < 3:
            raise ValueError(f"multiclass needs n_classes >= 3, got {n_classes!r}")
        return n_classes
    return 1


def init(key, n_features: int, n_out: int, hidden: Sequence[int] = (), dtype=jnp.float64):
    """Initialize an MLP (He-uniform weights for hidden layers, zeros for a linear model).

    Args:
      key: PRNG key. n_features: input width. n_out: output width.
      hidden: widths of the hidden layers; empty for a linear / logistic model.
      dtype: parameter dtype.

    Returns:
      A tuple of layers ``({"w": (d_in, d_out), "b": (d_out,)}, ...)``.
    """
    widths = [n_features, *hidden, n_out]
    if not hidden:
        return ({"w": jnp.zeros((n_features, n_out), dtype), "b": jnp.zeros(n_out, dtype)},)
    keys = jax.random.split(key, len(widths) - 1)
    layers = []
    for k, d_in, d_out in zip(keys, widths[:-1], widths[1:], strict=True):
        bound = jnp.sqrt(6.0 / d_in)
        w = jax.random.uniform(k, (d_in, d_out), dtype, -bound, bound)
        layers.append({"w": w, "b": jnp.zeros(d_out, dtype)})
    return tuple(layers)


def _dropout(key, x, rate):
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


def apply(params, x, *, activation: str = "relu", dropout_rate=0.0, dropout_key=None):
    """Forward pass for one example.

    Args:
      params: layers from :func:`init`. x: (n_features,) one example.
      activation: hidden-layer nonlinearity (``relu`` | ``tanh`` | ``gelu`` | ``sigmoid``).
      dropout_rate: inverted-dropout rate on the inputs and on every hidden layer (may be a
        traced scalar). With a nonzero rate a ``dropout_key`` is required.
      dropout_key: PRNG key for the masks; None means no dropout (evaluation).

    Returns:
      (n_out,) outputs (predictions or logits).
    """
    act = ACTIVATIONS[activation]
    stochastic = dropout_key is not None
    if not stochastic and not (isinstance(dropout_rate, (int, float)) and dropout_rate == 0.0):
        raise ValueError(
            "dropout_rate is set but no dropout_key was given; pass a key to train "
            "with dropout, or dropout_rate=0.0 to evaluate"
        )
    keys = jax.random.split(dropout_key, len(params)) if stochastic else [None] * len(params)
    h = x
    for i, (layer, k) in enumerate(zip(params, keys, strict=True)):
        if stochastic:
            h = _dropout(k, h, dropout_rate)
        h = h @ layer["w"] + layer["b"]
        if i < len(params) - 1:
            h = act(h)
    return h


def weights(params):
    """The penalized leaves (every layer's ``w``), as a list."""
    return [layer["w"] for layer in params]
