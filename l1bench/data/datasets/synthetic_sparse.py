"""Sparse linear regression with a known support (see :func:`load`)."""

from __future__ import annotations

import numpy as np

from l1bench.data.loader import Loader, keyword_params
from l1bench.data.split import Raw
from l1bench.data.synthetic import sparse_design


def load(
    seed: int,
    n_samples: int = 200,
    n_features: int = 50,
    k: int = 5,
    rho: float = 0.5,
    snr: float = 5.0,
) -> Raw:
    """Sparse linear regression with a known support.

    ``X ~ N(0, Σ)`` with Toeplitz ``Σ_ij = rho^|i-j|``; ``w`` has ``k`` nonzeros at positions
    drawn without replacement, each ±1 with a random sign; ``y = Xw + ε`` with
    ``ε ~ N(0, σ²)`` and ``σ² = wᵀΣw / snr`` (the population signal-to-noise ratio). With
    ``k = 0`` the signal is zero and ``σ = 1``. Randomness: ``np.random.default_rng(seed)``.

    Args:
      seed: the seed (≥ 0).
      n_samples: rows n.
      n_features: columns p.
      k: number of nonzero coefficients, 0 ≤ k ≤ p.
      rho: neighbour correlation, in (-1, 1).
      snr: signal-to-noise ratio var(Xw) / var(ε), > 0.
    """
    if not snr > 0:
        raise ValueError(f"snr={snr} must be > 0")
    rng = np.random.default_rng(seed)
    X, w, cov = sparse_design(rng, n_samples, n_features, k, rho)
    signal = float(w @ cov @ w)
    sigma = np.sqrt(signal / snr) if signal > 0 else 1.0
    y = X @ w + sigma * rng.standard_normal(n_samples)
    return Raw(X, y, w)


LOADER = Loader(
    load,
    task="regression",
    params=keyword_params(load),
    example={"n_samples": 40, "n_features": 8, "k": 3},
)
