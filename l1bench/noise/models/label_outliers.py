"""Gross label outliers on a training set: a fraction ℓ of the labels replaced by wild draws."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from l1bench.noise import checks
from l1bench.noise.sampling import chosen
from l1bench.noise.spec import NoiseModel


def label_outliers(key, X, y, params, level, *, scale=10.0, **_):
    r"""Gross label outliers: a fraction ℓ of the labels replaced by wild draws.

    .. math:: y'_i = \begin{cases} \bar y + c\, \mathrm{sd}(y)\, Z_i & i \in O \\
       y_i & \text{otherwise} \end{cases}, \quad Z_i \sim N(0, 1),

    with ``O`` the ``round(ℓ·n)`` rows of smallest ``V_i`` (``V_i ~ N(0, 1)``, independent of
    Z), c = ``scale``, and ȳ and sd(y) (1/n) the mean and standard deviation of the labels
    given: the outliers are drawn from ``N(ȳ, (c·sd(y))²)``. One key gives nested outlier
    sets with the same values at every level.

    Args:
      scale: c, the outliers' spread in units of sd(y) (default 10).

    Returns:
      ``(X, y', params)``.
    """
    z = jax.random.normal(key, (y.shape[0], 2), y.dtype)  # one draw: [V, Z]
    wild = jnp.mean(y) + scale * jnp.std(y) * z[:, 1]
    return X, jnp.where(chosen(z[:, 0], level), wild, y), params


def check(options, *, levels, task, depth) -> None:
    """``scale`` is a finite number > 0."""
    checks.positive(options, "scale")


MODEL = NoiseModel(
    name="label_outliers",
    target="labels",
    fn=label_outliers,
    options={"scale": 10.0},
    description="a fraction level of the labels replaced by draws from "
    "N(mean(y), (scale * sd(y))^2)",
    supports=("regression",),
    stages=("train",),
    fraction=True,
    level="the fraction of the labels replaced (0 to 1)",
    check=check,
)
