"""Penalties: the L1 / L2 / elastic-net family, marginalized dropout, and no penalty.

Every convex penalty here is one member of a single family, so one compiled solver serves them all
and can be vmapped across them:

.. math::

   \\Omega(w) = \\lambda \\Big( \\alpha \\|w\\|_1 + \\frac{1 - \\alpha}{2} \\sum_j d_j w_j^2 \\Big)

with strength ``lam`` (λ, scikit-learn's ``alpha``), mix ``l1_ratio`` (α) and L2 weights ``d``:

* ``l1``: α = 1 (Lasso); ``l2``: α = 0 (ridge); ``elastic_net``: α = l1_ratio; all with d = 1.
* ``dropout`` (marginalized, linear regression, inverted dropout with rate p on the inputs): the
  expected squared loss adds ``(1/2) p/(1-p) Σ_j w_j² mean_i x_ij²``, i.e. λ = p/(1-p), α = 0 and
  d_j = mean_i x_ij² (the raw, uncentred second moment of feature j).
* ``none``: λ = 0.

The L1 part is applied by its proximal operator (soft-thresholding), so zeros are exact zeros.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

# ridge paths start at lam_max computed as if l1_ratio were this (glmnet's convention for alpha=0)
RIDGE_PATH_L1_RATIO = 1e-3


class Penalty(NamedTuple):
    """A penalty of the family, as the solver sees it (static per compiled call).

    Attributes:
      label: the name in the tables (the config key, e.g. ``"l1"``).
      kind: ``none`` | ``l1`` | ``l2`` | ``elastic_net`` | ``dropout``.
      l1_ratio: α in the family above.
      dropout_weighted: whether the L2 part uses d_j = mean_i x_ij² (marginalized dropout).
      stochastic: dropout by Bernoulli masks during training (optax trainer); λ is then 0 and
        the strengths are the rates.
    """

    label: str
    kind: str
    l1_ratio: float
    dropout_weighted: bool
    stochastic: bool = False


def make_penalty(
    label: str, kind: str, l1_ratio: float | None = None, dropout_mode: str = "marginalized"
) -> Penalty:
    """Build a :class:`Penalty` from a kind name.

    ``l1_ratio`` is read for ``elastic_net`` only, ``dropout_mode`` (``marginalized`` |
    ``stochastic``) for ``dropout`` only.
    """
    ratios = {"none": 1.0, "l1": 1.0, "l2": 0.0, "dropout": 0.0}
    if kind == "elastic_net":
        if l1_ratio is None or not 0.0 <= l1_ratio <= 1.0:
            raise ValueError(f"elastic_net needs l1_ratio in [0, 1], got {l1_ratio!r}")
        return Penalty(label, kind, float(l1_ratio), False)
    if kind not in ratios:
        raise ValueError(
            f"unknown penalty kind {kind!r}; choose one of none, l1, l2, elastic_net, dropout"
        )
    if kind == "dropout":
        if dropout_mode not in ("marginalized", "stochastic"):
            raise ValueError(f"dropout_mode={dropout_mode!r}; choose marginalized or stochastic")
        stochastic = dropout_mode == "stochastic"
        return Penalty(label, kind, 0.0, not stochastic, stochastic)
    return Penalty(label, kind, ratios[kind], False)


def dropout_to_lam(rate):
    """Strength λ = p / (1 - p) of the weighted ridge equivalent to input dropout with rate p."""
    return rate / (1.0 - rate)


def value(w, lam, l1_ratio, d):
    """Ω(w) for one coefficient vector ``w`` (p,) with L2 weights ``d`` (p,)."""
    return lam * (l1_ratio * jnp.sum(jnp.abs(w)) + 0.5 * (1.0 - l1_ratio) * jnp.sum(d * w * w))


def soft_threshold(w, threshold):
    """Proximal operator of ``threshold * ||w||_1``: exact zeros where ``|w| <= threshold``."""
    return jnp.sign(w) * jnp.maximum(jnp.abs(w) - threshold, 0.0)
