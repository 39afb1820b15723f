"""Sparse logistic model with a known support (see :func:`load`)."""

from __future__ import annotations

import numpy as np

from l1bench.data.loader import Loader, keyword_params
from l1bench.data.split import Raw
from l1bench.data.synthetic import sparse_design

# P(y = 1 | x) = sigmoid(LOGIT_SCALE * xᵀw / sqrt(wᵀΣw))
LOGIT_SCALE = 3.0


def load(
    seed: int, n_samples: int = 200, n_features: int = 50, k: int = 5, rho: float = 0.5
) -> Raw:
    """Sparse logistic model with a known support.

    ``X`` and ``w`` as in ``synthetic_sparse``;
    ``y ~ Bernoulli(sigmoid(3 · xᵀw / s))`` with ``s = sqrt(wᵀΣw)``, so the logit has
    standard deviation 3 (``LOGIT_SCALE``) whatever k and rho, and labels are 0/1.
    Randomness: ``np.random.default_rng(seed)``.

    Args:
      seed: the seed (≥ 0).
      n_samples: rows n.
      n_features: columns p.
      k: number of nonzero coefficients, 0 ≤ k ≤ p.
      rho: neighbour correlation, in (-1, 1).
    """
    rng = np.random.default_rng(seed)
    X, w, cov = sparse_design(rng, n_samples, n_features, k, rho)
    s = np.sqrt(float(w @ cov @ w)) or 1.0
    prob = 1.0 / (1.0 + np.exp(-LOGIT_SCALE * (X @ w) / s))
    y = (rng.random(n_samples) < prob).astype(np.int64)
    return Raw(X, y, w)


LOADER = Loader(
    load,
    task="classification",
    params=keyword_params(load),
    example={"n_samples": 60, "n_features": 8, "k": 3},
)
