"""Random perturbations of inputs and labels; each fn(key, X, y, params, level, ...) is pure.

Every input-noise model is scaled so that ``level`` is the standard deviation of the added noise
per entry (the data are standardized, so level 1 is noise as large as the signal's spread).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gaussian(key, X, y, params, level, **_):
    """``X + level · N(0, 1)`` entrywise."""
    return X + level * jax.random.normal(key, X.shape, X.dtype), y, params


def uniform(key, X, y, params, level, **_):
    """``X + U(-a, a)`` with ``a = √3 · level`` (standard deviation ``level``)."""
    a = jnp.sqrt(3.0) * level
    return X + jax.random.uniform(key, X.shape, X.dtype, -1.0, 1.0) * a, y, params


def laplace(key, X, y, params, level, **_):
    """``X + Laplace(0, b)`` with scale ``b = level / √2`` (standard deviation ``level``)."""
    return X + level / jnp.sqrt(2.0) * jax.random.laplace(key, X.shape, X.dtype), y, params


def student_t(key, X, y, params, level, *, df=3.0, **_):
    """``X + level · t_df · sqrt((df - 2) / df)`` (standard deviation ``level``; needs df > 2)."""
    t = jax.random.t(key, df, X.shape, X.dtype)
    return X + level * jnp.sqrt((df - 2.0) / df) * t, y, params


def feature_dropout(key, X, y, params, level, *, impute="zero", **_):
    """Each entry of X is missing with probability ``level``, then imputed.

    ``impute="zero"`` writes 0; ``"mean"`` writes the column mean of X as given (0 for
    standardized training data up to the test part's own shift).
    """
    missing = jax.random.bernoulli(key, level, X.shape)
    fill = jnp.zeros_like(X) if impute == "zero" else jnp.broadcast_to(X.mean(axis=0), X.shape)
    return jnp.where(missing, fill, X), y, params


def label_noise(key, X, y, params, level, *, task="regression", n_classes=2, **_):
    """Regression: ``y + level · N(0, 1)``. Classification: each label is replaced, with
    probability ``level``, by a uniformly drawn *other* class."""
    if task == "regression":
        return X, y + level * jax.random.normal(key, y.shape, y.dtype), params
    k_flip, k_class = jax.random.split(key)
    flip = jax.random.bernoulli(k_flip, level, y.shape)
    shift = jax.random.randint(k_class, y.shape, 1, n_classes)
    other = ((y.astype(jnp.int32) + shift) % n_classes).astype(y.dtype)
    return X, jnp.where(flip, other, y), params
