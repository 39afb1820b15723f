"""Uniform input noise: ``X + U(−√3·ℓ, √3·ℓ)`` entrywise, std ℓ."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from l1bench.noise.spec import NoiseModel


def uniform(key, X, y, params, level, **_):
    """Uniform input noise, std ℓ (half-width √3·ℓ).

    .. math:: X' = X + U, \\quad U_{ij} \\sim U(-\\sqrt{3} ℓ, \\sqrt{3} ℓ),

    so ``Var U = (2√3ℓ)² / 12 = ℓ²``.

    Returns:
      ``(X', y, params)``.
    """
    a = jnp.sqrt(3.0) * level
    return X + jax.random.uniform(key, X.shape, X.dtype, -1.0, 1.0) * a, y, params


MODEL = NoiseModel(
    name="uniform",
    target="inputs",
    fn=uniform,
    options={},
    additive=True,
    description="X + U(-sqrt(3) level, sqrt(3) level); std level",
    level="the noise's standard deviation per entry, in the features' units (>= 0)",
)
