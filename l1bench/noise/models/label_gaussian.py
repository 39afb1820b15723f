"""Gaussian label noise on a training set: ``y + ℓ·s·N(0, 1)``, s = 1 or sd(y)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from l1bench.noise import checks
from l1bench.noise.spec import NoiseModel


def label_gaussian(key, X, y, params, level, *, relative=False, **_):
    r"""Gaussian label noise, std ℓ in the target's units (or in units of sd(y)).

    .. math:: y' = y + ℓ\, s\, Z, \quad Z_i \sim N(0, 1),

    with ``s = 1`` (``relative=False``) or ``s = sd(y)``, the standard deviation (1/n) of the
    labels given (``relative=True``: ℓ = 1 is noise as large as the labels' spread).

    Returns:
      ``(X, y', params)``.
    """
    s = jnp.std(y) if relative else 1.0
    return X, y + level * s * jax.random.normal(key, y.shape, y.dtype), params


def check(options, *, levels, task, depth) -> None:
    """``relative`` is true or false."""
    checks.boolean(options, "relative")


MODEL = NoiseModel(
    name="label_gaussian",
    target="labels",
    fn=label_gaussian,
    options={"relative": False},
    description="y + level * s * N(0, 1); s = 1 (level: std in the target's units) or, "
    "with relative=true, s = sd(y) of the clean training labels",
    supports=("regression",),
    stages=("train",),
    level="the noise's standard deviation in the target's units, or in units of sd(y) with "
    "relative=true (>= 0)",
    check=check,
)
