"""Perturbations of the fitted weights: sensitivity to parameter noise.

Each function has the uniform signature of :mod:`l1bench.noise` and returns ``(X, y, params')``
with every layer's weight matrix ``w`` perturbed and every bias ``b`` untouched (penalties act on
weights only, so this is the noise that sparsity can or cannot absorb). Each layer draws from its
own key (``split(key, n_layers)``).
"""

from __future__ import annotations

import jax


def _perturb(key, params, fn):
    keys = jax.random.split(key, len(params))
    return tuple({**layer, "w": fn(k, layer["w"])} for k, layer in zip(keys, params, strict=True))


def param_additive(key, X, y, params, level, **_):
    """Additive weight noise: ``w' = w + ℓ·Z``, ``Z ~ N(0, 1)`` i.i.d. per weight.

    Zeros become nonzero. For a linear model the expected MSE grows by ``ℓ² mean_i ‖x_i‖²``.

    Returns:
      ``(X, y, params')``.
    """
    noisy = _perturb(key, params, lambda k, w: w + level * jax.random.normal(k, w.shape, w.dtype))
    return X, y, noisy


def param_multiplicative(key, X, y, params, level, **_):
    """Multiplicative weight noise: ``w' = w·(1 + ℓ·Z)``, ``Z ~ N(0, 1)`` i.i.d. per weight.

    Zeros stay zero (relative precision loss). For a linear model the expected MSE grows by
    ``ℓ² mean_i Σ_j x_ij² w_j²``.

    Returns:
      ``(X, y, params')``.
    """
    noisy = _perturb(
        key, params, lambda k, w: w * (1.0 + level * jax.random.normal(k, w.shape, w.dtype))
    )
    return X, y, noisy
