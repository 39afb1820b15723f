"""Laplace input noise: ``X + Laplace(0, ℓ/√2)`` entrywise, std ℓ."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from l1bench.noise.spec import NoiseModel


def laplace(key, X, y, params, level, **_):
    """Laplace (double-exponential) input noise, std ℓ.

    .. math:: X' = X + L, \\quad L_{ij} \\sim \\mathrm{Laplace}(0, b), \\; b = ℓ / \\sqrt{2},

    since ``Var L = 2 b² = ℓ²``.

    Returns:
      ``(X', y, params)``.
    """
    return X + level / jnp.sqrt(2.0) * jax.random.laplace(key, X.shape, X.dtype), y, params


MODEL = NoiseModel(
    name="laplace",
    target="inputs",
    fn=laplace,
    options={},
    additive=True,
    description="X + Laplace(0, level / sqrt(2)); std level",
    level="the noise's standard deviation per entry, in the features' units (>= 0)",
)
