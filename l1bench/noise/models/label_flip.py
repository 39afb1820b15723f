"""Label flips on a training set: each class label replaced w.p. ℓ by another class."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from l1bench.noise.spec import NoiseModel
from l1bench.vocab import CLASSIFICATION


def label_flip(key, X, y, params, level, *, n_classes=2, **_):
    """Label flips: each label (0..K−1) replaced with probability ℓ by another class.

    The new class is drawn uniformly among the K − 1 *other* classes (never itself),
    ``y' = (y + S) mod K`` with ``S ~ U{1, …, K−1}``; for K = 2 a flip.

    Args:
      n_classes: K.

    Returns:
      ``(X, y', params)``.
    """
    k_flip, k_class = jax.random.split(key)
    flip = jax.random.bernoulli(k_flip, level, y.shape)
    shift = jax.random.randint(k_class, y.shape, 1, n_classes)
    other = ((y.astype(jnp.int32) + shift) % n_classes).astype(y.dtype)
    return X, jnp.where(flip, other, y), params


MODEL = NoiseModel(
    name="label_flip",
    target="labels",
    fn=label_flip,
    options={},
    description="with probability level a label is replaced by a uniformly drawn other class",
    supports=CLASSIFICATION,
    stages=("train",),
    fraction=True,
    level="the probability that a label is replaced (0 to 1)",
)
