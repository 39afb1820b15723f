"""Sampling helpers shared by the noise models of :mod:`l1bench.noise.models`.

Student-t and gamma variates drawn as whole arrays (:func:`standard_t`, :func:`gamma_large`),
the nested row sets of the fraction models (:func:`chosen`) and the per-layer weight
perturbation of the parameter models (:func:`perturb_weights`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def standard_t(key, df, shape, dtype):
    """Student-t variates, ``T = Z·sqrt(df / (2G))`` with Z ~ N(0, 1) and G ~ Gamma(df/2)
    (so 2G ~ χ²_df), for df ≥ 2.

    ``jax.random.t`` draws its gamma variates one element at a time (a rejection loop per
    element, vmapped): 40 normal draws' time per number on a CPU. :func:`gamma_large` keeps
    the whole array in one draw and redraws only the few rejections.
    """
    k_z, k_g = jax.random.split(key)
    z = jax.random.normal(k_z, shape, dtype)
    g = gamma_large(k_g, df / 2.0, shape, dtype)
    return z * jnp.sqrt(df / (2.0 * g))


def gamma_large(key, a, shape, dtype):
    """Gamma(a, 1) variates for a ≥ 1 by Marsaglia & Tsang's (2000) rejection method.

    With ``d = a − 1/3`` and ``c = 1/√(9d)``, a proposal ``v = (1 + cx)³`` from x ~ N(0, 1) is
    accepted when ``v > 0`` and ``log u < x²/2 + d − dv + d log v`` (u ~ U(0, 1)); the
    accepted ``dv`` is exactly Gamma(a). All elements get a proposal at once; the rejected
    ones (at most 5% for a ≥ 1) are gathered into a buffer of fixed size and redrawn from
    fresh keys until none is left. Each element keeps its first accepted proposal, so the
    result is exact whatever the rejections were.

    Raises:
      ValueError: ``a < 1`` (the method needs a ≥ 1; Student-t's df > 2 gives a > 1).
    """
    if not a >= 1.0:
        raise ValueError(f"gamma_large: shape a={a!r} must be >= 1 (Marsaglia-Tsang without boost)")
    d = a - 1.0 / 3.0
    c = 1.0 / jnp.sqrt(9.0 * d)

    def propose(k, size):
        k_x, k_u = jax.random.split(k)
        x = jax.random.normal(k_x, (size,), dtype)
        u = jax.random.uniform(k_u, (size,), dtype)
        v = (1.0 + c * x) ** 3
        log_v = jnp.log(jnp.where(v > 0, v, 1.0))
        ok = (v > 0) & (jnp.log(u) < 0.5 * x * x + d - d * v + d * log_v)
        return ok, d * v

    n = math.prod(shape)
    k_first, k_more = jax.random.split(key)
    ok, g = propose(k_first, n)
    buffer = min(n, 64 + n // 16)

    def redraw(state):
        i, ok, g = state
        idx = jnp.nonzero(~ok, size=buffer, fill_value=n)[0]  # n: no element (dropped)
        ok_new, g_new = propose(jax.random.fold_in(k_more, i), buffer)
        at = jnp.where(ok_new, idx, n)
        return i + 1, ok.at[at].set(True, mode="drop"), g.at[at].set(g_new, mode="drop")

    _, _, g = jax.lax.while_loop(lambda s: ~jnp.all(s[1]), redraw, (0, ok, g))
    return g.reshape(shape)


def chosen(z, level):
    """The ``round(ℓ·n)`` rows of smallest ``z_i`` (n i.i.d. continuous draws): a fraction ℓ
    of the rows, nested across levels for one draw (the rows chosen at ℓ are among those
    chosen at ℓ' > ℓ)."""
    rank = jnp.argsort(jnp.argsort(z))
    return rank < jnp.round(level * z.shape[0])


def perturb_weights(key, params, fn):
    """Every layer's weights ``w`` replaced by ``fn(k, w)``, biases untouched; layer ``i``
    draws from ``split(key, n_layers)[i]``."""
    keys = jax.random.split(key, len(params))
    return tuple({**layer, "w": fn(k, layer["w"])} for k, layer in zip(keys, params, strict=True))
