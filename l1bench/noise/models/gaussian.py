"""Gaussian input noise: ``X + ℓ·N(0, 1)`` entrywise, std ℓ."""

from __future__ import annotations

import jax

from l1bench.noise.spec import NoiseModel


def gaussian(key, X, y, params, level, **_):
    """Gaussian input noise, std ℓ.

    .. math:: X' = X + ℓ Z, \\quad Z_{ij} \\sim N(0, 1).

    Returns:
      ``(X', y, params)``.
    """
    return X + level * jax.random.normal(key, X.shape, X.dtype), y, params


MODEL = NoiseModel(
    name="gaussian",
    target="inputs",
    fn=gaussian,
    options={},
    additive=True,
    description="X + level * N(0, 1); std level",
    level="the noise's standard deviation per entry, in the features' units (>= 0)",
)
