"""Additive weight noise: ``w + ℓ·N(0, 1)`` on every weight, biases untouched."""

from __future__ import annotations

import jax

from l1bench.noise.sampling import perturb_weights
from l1bench.noise.spec import NoiseModel


def param_additive(key, X, y, params, level, **_):
    """Additive weight noise: ``w' = w + ℓ·Z``, ``Z ~ N(0, 1)`` i.i.d. per weight.

    Every layer's weight matrix is perturbed from its own key (``split(key, n_layers)``) and
    every bias left untouched (penalties act on weights only). Zeros become nonzero. For a
    linear model the expected MSE grows by ``ℓ² mean_i ‖x_i‖²``.

    Returns:
      ``(X, y, params')``.
    """
    noisy = perturb_weights(
        key, params, lambda k, w: w + level * jax.random.normal(k, w.shape, w.dtype)
    )
    return X, y, noisy


MODEL = NoiseModel(
    name="param_additive",
    target="params",
    fn=param_additive,
    options={},
    additive=True,
    stages=("test",),
    description="w + level * N(0, 1) on every weight, biases untouched",
    level="the noise's standard deviation per weight, in the weights' units (>= 0)",
)
