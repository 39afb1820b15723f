"""Heavy-tailed Student-t label noise on a training set, std ℓ·s (s = 1 or sd(y))."""

from __future__ import annotations

import jax.numpy as jnp

from l1bench.noise import checks
from l1bench.noise.sampling import standard_t
from l1bench.noise.spec import NoiseModel


def label_student_t(key, X, y, params, level, *, df=3.0, relative=False, **_):
    r"""Heavy-tailed label noise: Student-t with ``df`` > 2 degrees of freedom, std ℓ·s.

    .. math:: y' = y + ℓ\, s \sqrt{(df - 2) / df}\; T, \quad T_i \sim t_{df},

    with ``s`` as in :func:`~l1bench.noise.models.label_gaussian.label_gaussian` (1, or sd(y)
    with ``relative=True``).

    Returns:
      ``(X, y', params)``.
    """
    s = jnp.std(y) if relative else 1.0
    t = standard_t(key, df, y.shape, y.dtype)
    return X, y + level * s * jnp.sqrt((df - 2.0) / df) * t, params


def check(options, *, levels, task, depth) -> None:
    """``df`` is a finite number > 2 and ``relative`` true or false."""
    checks.degrees_of_freedom(options)
    checks.boolean(options, "relative")


MODEL = NoiseModel(
    name="label_student_t",
    target="labels",
    fn=label_student_t,
    options={"df": 3.0, "relative": False},
    description="y + level * s * sqrt((df - 2) / df) * t_df, df > 2; std level * s, s as "
    "for label_gaussian",
    supports=("regression",),
    stages=("train",),
    level="the noise's standard deviation in the target's units, or in units of sd(y) with "
    "relative=true (>= 0)",
    check=check,
)
