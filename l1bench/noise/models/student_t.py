"""Heavy-tailed Student-t input noise, ``df`` > 2 degrees of freedom, scaled to std ℓ."""

from __future__ import annotations

import jax.numpy as jnp

from l1bench.noise import checks
from l1bench.noise.sampling import standard_t
from l1bench.noise.spec import NoiseModel


def student_t(key, X, y, params, level, *, df=3.0, **_):
    """Heavy-tailed Student-t input noise with ``df`` degrees of freedom, std ℓ.

    .. math:: X' = X + ℓ \\sqrt{(df - 2) / df} \\; T, \\quad T_{ij} \\sim t_{df},

    since ``Var T = df / (df - 2)`` for df > 2 (the only case :func:`check` accepts: for
    df ≤ 2 the variance is infinite and no scaling makes the std ℓ).

    Args:
      df: degrees of freedom (default 3, the heaviest tail with finite variance among integers).

    Returns:
      ``(X', y, params)``.
    """
    t = standard_t(key, df, X.shape, X.dtype)
    return X + level * jnp.sqrt((df - 2.0) / df) * t, y, params


def check(options, *, levels, task, depth) -> None:
    """``df`` is a finite number > 2."""
    checks.degrees_of_freedom(options)


MODEL = NoiseModel(
    name="student_t",
    target="inputs",
    fn=student_t,
    options={"df": 3.0},
    additive=True,
    description="X + level * sqrt((df - 2) / df) * t_df, df > 2; std level",
    level="the noise's standard deviation per entry, in the features' units (>= 0)",
    check=check,
)
