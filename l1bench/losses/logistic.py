"""The binary logistic loss ℓ(o, y) = log(1 + eᵒ) - y·o, y ∈ {0, 1} (mean log-loss)."""

import jax
import jax.numpy as jnp
import numpy as np

from l1bench.losses.base import Loss, column


def _example(o, t):
    return jax.nn.softplus(o[0]) - t[0] * o[0]


def _value_and_grad(Z, T):
    f = Z[..., 0, :]
    loss = jax.nn.softplus(f) - T[0] * f
    return loss, (jax.nn.sigmoid(f) - T[0])[..., None, :]


def _conjugate(u, t):
    """The negative entropy of q = u + y ∈ [0, 1] (``inf`` outside)."""
    q = u[0] + t[0]
    inside = (q >= 0) & (q <= 1)
    qc = jnp.clip(q, 0.0, 1.0)
    xlogx = lambda x: jnp.where(x > 0, x * jnp.log(jnp.where(x > 0, x, 1.0)), 0.0)
    return jnp.where(inside, xlogx(qc) + xlogx(1.0 - qc), jnp.inf)


def _zero_intercept(T, fit_intercept):
    """The log-odds of the share π of ones (floored at 1/(2n) away from 0 and 1)."""
    if not fit_intercept:
        return np.zeros(1)
    y = T[0]
    shares = np.array([np.mean(y == 0), np.mean(y == 1)])
    logs = np.log(np.maximum(shares, 0.5 / y.size))
    return logs[1:] - logs[:1]


LOSS = Loss(
    name="logistic",
    task="binary",
    encode=column,
    example=_example,
    value_and_grad=_value_and_grad,
    curvature=0.25,
    conjugate=_conjugate,
    zero_intercept=_zero_intercept,
)
