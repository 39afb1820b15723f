"""Synthetic datasets: scikit-learn's generators and sparse problems with a known support.

Each generator takes the seed first and its own keyword parameters, and returns
``(X, y, true_coef | None, task)``. ``random_state`` is always the seed, so
``make_regression(seed=0, n_samples=100, n_features=1, noise=0.1)`` is exactly scikit-learn's
``make_regression(n_samples=100, n_features=1, noise=0.1, random_state=0)``.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import toeplitz
from sklearn import datasets as skd

# classification from synthetic_sparse_classification: P(y=1|x) = sigmoid(LOGIT_SCALE * xᵀw / sd)
LOGIT_SCALE = 3.0


def make_regression(seed: int, **params):
    """scikit-learn's ``make_regression(**params, random_state=seed, coef=True)``."""
    X, y, coef = skd.make_regression(**params, coef=True, random_state=seed)
    coef = np.asarray(coef).reshape(-1) if np.ndim(y) == 1 else None  # sklearn squeezes p = 1
    return X, y, coef, "regression"


def make_classification(seed: int, **params):
    """scikit-learn's ``make_classification(**params, random_state=seed)``."""
    X, y = skd.make_classification(**params, random_state=seed)
    return X, y, None, "classification"


def _sparse_design(rng, n_samples, n_features, k, rho):
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


def synthetic_sparse(
    seed: int,
    n_samples: int = 200,
    n_features: int = 50,
    k: int = 5,
    rho: float = 0.5,
    snr: float = 5.0,
):
    """Sparse linear regression with a known support.

    ``X ~ N(0, Σ)`` with Toeplitz ``Σ_ij = rho^|i-j|``; ``w`` has ``k`` nonzeros at random
    positions with random signs ±1; ``y = Xw + ε`` with ``ε ~ N(0, σ²)`` and
    ``σ² = wᵀΣw / snr`` (the population signal-to-noise ratio).
    """
    if not snr > 0:
        raise ValueError(f"snr={snr} must be > 0")
    rng = np.random.default_rng(seed)
    X, w, cov = _sparse_design(rng, n_samples, n_features, k, rho)
    signal = float(w @ cov @ w)
    sigma = np.sqrt(signal / snr) if signal > 0 else 1.0
    y = X @ w + sigma * rng.standard_normal(n_samples)
    return X, y, w, "regression"


def synthetic_sparse_classification(
    seed: int, n_samples: int = 300, n_features: int = 50, k: int = 5, rho: float = 0.5
):
    """Sparse logistic model with a known support.

    ``X`` and ``w`` as in :func:`synthetic_sparse`; ``y ~ Bernoulli(sigmoid(3 · xᵀw / s))`` with
    ``s = sqrt(wᵀΣw)``, so the logit has standard deviation 3 whatever k and rho.
    """
    rng = np.random.default_rng(seed)
    X, w, cov = _sparse_design(rng, n_samples, n_features, k, rho)
    s = np.sqrt(float(w @ cov @ w)) or 1.0
    prob = 1.0 / (1.0 + np.exp(-LOGIT_SCALE * (X @ w) / s))
    y = (rng.random(n_samples) < prob).astype(np.int64)
    return X, y, w, "classification"
