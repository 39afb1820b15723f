"""Synthetic datasets: scikit-learn's generators and sparse problems with a known support.

Each generator takes the seed first and its own keyword parameters, and returns a
:class:`~l1bench.data.split.Raw`. ``random_state`` is always the seed, so
``make_regression(0, n_samples=100, n_features=1, noise=0.1)`` draws exactly scikit-learn's
``make_regression(n_samples=100, n_features=1, noise=0.1, random_state=0)``. The parameters a
generator accepts are read from its signature (``inspect.signature``, which follows
``__wrapped__`` to scikit-learn's own function for the two wrappers).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import toeplitz
from sklearn import datasets as skd

from l1bench.data.split import Raw

# synthetic_sparse_classification: P(y = 1 | x) = sigmoid(LOGIT_SCALE * xᵀw / sqrt(wᵀΣw))
LOGIT_SCALE = 3.0


def make_regression(seed: int, **params) -> Raw:
    """scikit-learn's ``make_regression(**params, coef=True, random_state=seed)``."""
    X, y, coef = skd.make_regression(**params, coef=True, random_state=seed)
    coef = np.asarray(coef).reshape(-1) if np.ndim(y) == 1 else None  # sklearn squeezes p = 1
    return Raw(X, y, coef, "regression")


def make_classification(seed: int, **params) -> Raw:
    """scikit-learn's ``make_classification(**params, random_state=seed)``; no true_coef."""
    X, y = skd.make_classification(**params, random_state=seed)
    return Raw(X, y, None, "classification")


make_regression.__wrapped__ = skd.make_regression
make_classification.__wrapped__ = skd.make_classification


def _sparse_design(rng, n_samples, n_features, k, rho):
    """X ~ N(0, Toeplitz(rho)) and a k-sparse ±1 vector; returns ``(X, w, Σ)``."""
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


def synthetic_sparse(
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
    X, w, cov = _sparse_design(rng, n_samples, n_features, k, rho)
    signal = float(w @ cov @ w)
    sigma = np.sqrt(signal / snr) if signal > 0 else 1.0
    y = X @ w + sigma * rng.standard_normal(n_samples)
    return Raw(X, y, w, "regression")


def synthetic_sparse_classification(
    seed: int, n_samples: int = 200, n_features: int = 50, k: int = 5, rho: float = 0.5
) -> Raw:
    """Sparse logistic model with a known support.

    ``X`` and ``w`` as in :func:`synthetic_sparse`;
    ``y ~ Bernoulli(sigmoid(3 · xᵀw / s))`` with ``s = sqrt(wᵀΣw)``, so the logit has
    standard deviation 3 (``LOGIT_SCALE``) whatever k and rho, and labels are 0/1.

    Args:
      seed: the seed (≥ 0).
      n_samples: rows n.
      n_features: columns p.
      k: number of nonzero coefficients, 0 ≤ k ≤ p.
      rho: neighbour correlation, in (-1, 1).
    """
    rng = np.random.default_rng(seed)
    X, w, cov = _sparse_design(rng, n_samples, n_features, k, rho)
    s = np.sqrt(float(w @ cov @ w)) or 1.0
    prob = 1.0 / (1.0 + np.exp(-LOGIT_SCALE * (X @ w) / s))
    y = (rng.random(n_samples) < prob).astype(np.int64)
    return Raw(X, y, w, "classification")
