"""Bad leverage points on a training set: a fraction ℓ of the rows (x and y) replaced."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from l1bench.noise import checks
from l1bench.noise.sampling import chosen
from l1bench.noise.spec import NoiseModel


def leverage(key, X, y, params, level, *, scale=10.0, x_scale=10.0, **_):
    r"""Bad leverage points: a fraction ℓ of the rows (x and y) replaced by wild draws.

    .. math:: (x'_i, y'_i) = (\bar x + c_x\, \mathrm{sd}(x) \odot Z_i,\;
       \bar y + c\, \mathrm{sd}(y)\, Z'_i) \; (i \in O), \quad Z_i \sim N(0, I_p),
       \; Z'_i \sim N(0, 1),

    with ``O`` as in :func:`~l1bench.noise.models.label_outliers.label_outliers`, x̄ and
    sd(x) the column means and standard deviations (1/n) of X, c = ``scale`` and c_x =
    ``x_scale``: points far out in feature space whose label is unrelated to their features.

    Args:
      scale: c, the labels' spread in units of sd(y) (default 10).
      x_scale: c_x, the features' spread in units of each column's sd (default 10).

    Returns:
      ``(X', y', params)``.
    """
    n, p = X.shape
    z = jax.random.normal(key, (n, p + 2), X.dtype)  # one draw: [V, Z', Z]
    rows = chosen(z[:, 0], level)
    wild_x = X.mean(axis=0) + x_scale * X.std(axis=0) * z[:, 2:]
    wild_y = jnp.mean(y) + scale * jnp.std(y) * z[:, 1]
    return jnp.where(rows[:, None], wild_x, X), jnp.where(rows, wild_y, y), params


def check(options, *, levels, task, depth) -> None:
    """``scale`` and ``x_scale`` are finite numbers > 0."""
    checks.positive(options, "scale")
    checks.positive(options, "x_scale")


MODEL = NoiseModel(
    name="leverage",
    target="rows",
    fn=leverage,
    options={"scale": 10.0, "x_scale": 10.0},
    description="a fraction level of the rows replaced by bad leverage points: x from "
    "N(mean(x), diag(x_scale * sd(x))^2), y from N(mean(y), (scale * sd(y))^2)",
    supports=("regression",),
    stages=("train",),
    fraction=True,
    level="the fraction of the rows replaced (0 to 1)",
    check=check,
)
