"""Perturbations of the fitted weights (biases untouched): sensitivity to parameter noise."""

from __future__ import annotations

import jax


def _perturb(key, params, fn):
    keys = jax.random.split(key, len(params))
    return tuple({**layer, "w": fn(k, layer["w"])} for k, layer in zip(keys, params, strict=True))


def param_additive(key, X, y, params, level, **_):
    """``w + level · N(0, 1)`` on every weight."""
    noisy = _perturb(key, params, lambda k, w: w + level * jax.random.normal(k, w.shape, w.dtype))
    return X, y, noisy


def param_multiplicative(key, X, y, params, level, **_):
    """``w · (1 + level · N(0, 1))`` on every weight (zeros stay zero)."""
    noisy = _perturb(
        key, params, lambda k, w: w * (1.0 + level * jax.random.normal(k, w.shape, w.dtype))
    )
    return X, y, noisy
