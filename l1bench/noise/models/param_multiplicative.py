"""Multiplicative weight noise: ``w·(1 + ℓ·N(0, 1))`` on every weight, biases untouched."""

from __future__ import annotations

import jax

from l1bench.noise.sampling import perturb_weights
from l1bench.noise.spec import NoiseModel


def param_multiplicative(key, X, y, params, level, **_):
    """Multiplicative weight noise: ``w' = w·(1 + ℓ·Z)``, ``Z ~ N(0, 1)`` i.i.d. per weight.

    Every layer's weight matrix is perturbed from its own key (``split(key, n_layers)``) and
    every bias left untouched. Zeros stay zero (relative precision loss). For a linear model
    the expected MSE grows by ``ℓ² mean_i Σ_j x_ij² w_j²``.

    Returns:
      ``(X, y, params')``.
    """
    noisy = perturb_weights(
        key, params, lambda k, w: w * (1.0 + level * jax.random.normal(k, w.shape, w.dtype))
    )
    return X, y, noisy


MODEL = NoiseModel(
    name="param_multiplicative",
    target="params",
    fn=param_multiplicative,
    options={},
    stages=("test",),
    description="w * (1 + level * N(0, 1)) on every weight, biases untouched",
    level="the relative standard deviation per weight (>= 0)",
)
