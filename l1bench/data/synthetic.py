"""The synthetic generators' shared design: Toeplitz-correlated Gaussian features and a k-sparse
±1 truth (``synthetic_sparse``, ``synthetic_sparse_classification``)."""

from __future__ import annotations

import numpy as np
from scipy.linalg import toeplitz


def sparse_design(rng, n_samples, n_features, k, rho):
    """Draw ``X ~ N(0, Σ)``, ``Σ_ij = rho^|i-j|``, and a k-sparse ±1 coefficient vector.

    Args:
      rng: a ``np.random.Generator``; X is drawn first, then the support, then the signs.
      n_samples: rows n (an integer >= 0).
      n_features: columns p (an integer >= 1).
      k: nonzero coefficients, 0 <= k <= p, at positions drawn without replacement.
      rho: neighbour correlation, in (-1, 1).

    Returns:
      ``(X, w, Σ)``: (n, p), (p,), (p, p).

    Raises:
      ValueError: naming the argument and its allowed values.
    """
    for field, value in (("n_samples", n_samples), ("n_features", n_features), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{field}={value!r} must be an integer")
    if n_samples < 0 or n_features < 1:
        raise ValueError(f"need n_samples >= 0 and n_features >= 1, got {n_samples}, {n_features}")
    if not 0 <= k <= n_features:
        raise ValueError(f"k={k} must be between 0 and n_features={n_features}")
    if not -1 < rho < 1:
        raise ValueError(f"rho={rho} must be in (-1, 1)")
    cov = toeplitz(rho ** np.arange(n_features))
    chol = np.linalg.cholesky(cov)
    X = rng.standard_normal((n_samples, n_features)) @ chol.T
    w = np.zeros(n_features)
    support = rng.choice(n_features, size=k, replace=False)
    w[support] = rng.choice([-1.0, 1.0], size=k)
    return X, w, cov
