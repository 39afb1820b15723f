"""The multinomial logistic loss ℓ(o, y) = log Σ_k e^{o_k} - o_y (K classes, one-hot t)."""

import jax
import jax.numpy as jnp
import numpy as np

from l1bench.losses.base import Loss, one_hot


def _example(o, t):
    return jax.nn.logsumexp(o) - jnp.dot(o, t)


def _value_and_grad(Z, T):
    zmax = jnp.max(Z, axis=-2, keepdims=True)
    E = jnp.exp(Z - zmax)
    se = jnp.sum(E, axis=-2, keepdims=True)
    lse = (jnp.log(se) + zmax)[..., 0, :]
    return lse - jnp.sum(Z * T, axis=-2), E / se - T


def _conjugate(u, t):
    """Σ_k q_k log q_k of q = u + t in the simplex (``inf`` outside)."""
    q = u + t
    inside = jnp.all(q >= 0) & (jnp.abs(jnp.sum(q) - 1.0) <= 1e-12)
    qc = jnp.clip(q, 0.0, 1.0)
    ent = jnp.sum(jnp.where(qc > 0, qc * jnp.log(jnp.where(qc > 0, qc, 1.0)), 0.0))
    return jnp.where(inside, ent, jnp.inf)


def _zero_intercept(T, fit_intercept):
    """The centred log class shares (floored at 1/(2n))."""
    K, n = T.shape
    if not fit_intercept:
        return np.zeros(K)
    logs = np.log(np.maximum(T.mean(axis=1), 0.5 / n))
    return logs - logs.mean()


LOSS = Loss(
    name="multinomial",
    task="multiclass",
    encode=one_hot,
    example=_example,
    value_and_grad=_value_and_grad,
    curvature=0.5,
    conjugate=_conjugate,
    zero_intercept=_zero_intercept,
)
