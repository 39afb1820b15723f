"""Random perturbations of the test inputs and labels.

Each function has the uniform signature ``fn(key, X, y, params, level, *, task, **options) ->
(X', y', params')`` of :mod:`l1bench.noise`; ``X`` is (n, p), ``y`` (n,), ``level`` a
(possibly traced) scalar ℓ. The context keywords (``task``, ``activation``, ``n_classes``) are
accepted by every function and ignored where they do not matter.

Every additive input noise is i.i.d. per entry, zero-mean, and scaled so that its standard
deviation is ℓ, whatever its shape (Gaussian, uniform, Laplace, Student-t): the data are
standardized, so ℓ = 1 is noise as large as a feature's spread, and curves of different shapes
share one level axis.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gaussian(key, X, y, params, level, **_):
    """Gaussian input noise, std ℓ.

    .. math:: X' = X + ℓ Z, \\quad Z_{ij} \\sim N(0, 1).

    Returns:
      ``(X', y, params)``.
    """
    return X + level * jax.random.normal(key, X.shape, X.dtype), y, params


def uniform(key, X, y, params, level, **_):
    """Uniform input noise, std ℓ (half-width √3·ℓ).

    .. math:: X' = X + U, \\quad U_{ij} \\sim U(-\\sqrt{3} ℓ, \\sqrt{3} ℓ),

    so ``Var U = (2√3ℓ)² / 12 = ℓ²``.

    Returns:
      ``(X', y, params)``.
    """
    a = jnp.sqrt(3.0) * level
    return X + jax.random.uniform(key, X.shape, X.dtype, -1.0, 1.0) * a, y, params


def laplace(key, X, y, params, level, **_):
    """Laplace (double-exponential) input noise, std ℓ.

    .. math:: X' = X + L, \\quad L_{ij} \\sim \\mathrm{Laplace}(0, b), \\; b = ℓ / \\sqrt{2},

    since ``Var L = 2 b² = ℓ²``.

    Returns:
      ``(X', y, params)``.
    """
    return X + level / jnp.sqrt(2.0) * jax.random.laplace(key, X.shape, X.dtype), y, params


def student_t(key, X, y, params, level, *, df=3.0, **_):
    """Heavy-tailed Student-t input noise with ``df`` degrees of freedom, std ℓ.

    .. math:: X' = X + ℓ \\sqrt{(df - 2) / df} \\; T, \\quad T_{ij} \\sim t_{df},

    since ``Var T = df / (df - 2)`` for df > 2 (the only case :func:`l1bench.noise.check_entry`
    accepts: for df ≤ 2 the variance is infinite and no scaling makes the std ℓ).

    Args:
      df: degrees of freedom (default 3, the heaviest tail with finite variance among integers).

    Returns:
      ``(X', y, params)``.
    """
    t = jax.random.t(key, df, X.shape, X.dtype)
    return X + level * jnp.sqrt((df - 2.0) / df) * t, y, params


def feature_dropout(key, X, y, params, level, *, impute="zero", **_):
    """Missing features: each entry of X is missing with probability ℓ, then imputed.

    .. math:: X'_{ij} = M_{ij} \\, c_j + (1 - M_{ij}) X_{ij}, \\quad M_{ij} \\sim
       \\mathrm{Bernoulli}(ℓ),

    with ``c_j = 0`` (``impute="zero"``) or ``c_j = mean_i X_ij``, the column mean of X as given
    (``impute="mean"``; the training data are standardized, so this is close to 0 on a test set
    from the same distribution). No rescaling by 1/(1 − ℓ): this is missing data, not dropout.

    Args:
      impute: ``"zero"`` | ``"mean"``.

    Returns:
      ``(X', y, params)``.
    """
    missing = jax.random.bernoulli(key, level, X.shape)
    fill = jnp.zeros_like(X) if impute == "zero" else jnp.broadcast_to(X.mean(axis=0), X.shape)
    return jnp.where(missing, fill, X), y, params


def label_noise(key, X, y, params, level, *, task="regression", n_classes=2, **_):
    """Label noise.

    * regression: ``y' = y + ℓ·Z``, ``Z ~ N(0, 1)`` (std ℓ, in the units of y);
    * classification (``binary`` | ``multiclass``, labels 0..K−1): each label is replaced with
      probability ℓ by a class drawn uniformly among the K − 1 *other* classes (never itself),
      ``y' = (y + S) mod K`` with ``S ~ U{1, …, K−1}``; for K = 2 a flip.

    Args:
      task: ``regression`` | ``binary`` | ``multiclass``.
      n_classes: K (classification only).

    Returns:
      ``(X, y', params)``.
    """
    if task == "regression":
        return X, y + level * jax.random.normal(key, y.shape, y.dtype), params
    k_flip, k_class = jax.random.split(key)
    flip = jax.random.bernoulli(k_flip, level, y.shape)
    shift = jax.random.randint(k_class, y.shape, 1, n_classes)
    other = ((y.astype(jnp.int32) + shift) % n_classes).astype(y.dtype)
    return X, jnp.where(flip, other, y), params
