"""Missing features: each input entry missing with probability ℓ, imputed by 0 or a mean."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from l1bench.noise import checks
from l1bench.noise.spec import NoiseModel

IMPUTE = ("zero", "mean")


def feature_dropout(key, X, y, params, level, *, impute="zero", train_mean=None, **_):
    """Missing features: each entry of X is missing with probability ℓ, then imputed.

    .. math:: X'_{ij} = M_{ij} \\, c_j + (1 - M_{ij}) X_{ij}, \\quad M_{ij} \\sim
       \\mathrm{Bernoulli}(ℓ),

    with ``c_j = 0`` (``impute="zero"``) or ``c_j`` the training data's column mean
    (``impute="mean"``: ``train_mean``, as an imputer fitted on the training part; on
    standardized features it is 0, the same as ``zero``). Without ``train_mean`` (an
    evaluation given no training data) ``mean`` takes X's own column means. No rescaling by
    1/(1 − ℓ): this is missing data, not dropout.

    Args:
      impute: ``"zero"`` | ``"mean"``.
      train_mean: (p,) the training part's column means, for ``impute="mean"``.

    Returns:
      ``(X', y, params)``.
    """
    missing = jax.random.bernoulli(key, level, X.shape)
    if impute == "zero":
        fill = jnp.zeros_like(X)
    else:
        means = X.mean(axis=0) if train_mean is None else train_mean.astype(X.dtype)
        fill = jnp.broadcast_to(means, X.shape)
    return jnp.where(missing, fill, X), y, params


def check(options, *, levels, task, depth) -> None:
    """``impute`` is one of :data:`IMPUTE`."""
    checks.choice(options, "impute", IMPUTE)


MODEL = NoiseModel(
    name="feature_dropout",
    target="inputs",
    fn=feature_dropout,
    options={"impute": "zero"},
    fraction=True,
    description="each entry missing with probability level, imputed by 0 or the training "
    "column mean",
    level="the probability that an entry is missing (0 to 1)",
    check=check,
)
