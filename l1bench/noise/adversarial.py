"""Worst-case input perturbations within a norm ball ``‖δ‖ ≤ level`` per example.

For models without hidden layers (linear regression, binary logistic regression) the worst case
is exact, from the dual norm (Xu, Caramanis & Mannor): with ``‖·‖_*`` the dual of the budget's
norm (‖·‖₁ for L∞, ‖·‖₂ for L2) and ``g(w)`` the maximizer of ``⟨g, w⟩`` on the unit ball
(``sign(w)`` for L∞, ``w / ‖w‖₂`` for L2):

* regression: ``x - sign(r) · level · g(w)`` with ``r = y - xᵀw - b``, so the absolute residual
  grows to ``|r| + level · ‖w‖_*``;
* binary logistic: ``x - (2y - 1) · level · g(w)``, so the margin ``(2y-1)(xᵀw + b)`` shrinks by
  ``level · ‖w‖_*``.

Otherwise (MLPs, multinomial logistic) projected gradient ascent on the per-example loss (PGD,
Madry et al.): ``steps`` steps of size ``step_size`` (default ``2.5 · level / steps``), signed
gradients for L∞ and normalized ones for L2, projection onto the ball, and ``restarts`` starts
(the clean point first, then uniform draws in the ball) of which the worst is kept;
``attack="fgsm"`` is one signed (or normalized) step of size ``level``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from l1bench import models

ATTACKS = ("auto", "exact", "pgd", "fgsm")


def exact_available(params_or_depth, task: str) -> bool:
    """Whether the closed form applies: no hidden layer and a regression or binary task."""
    depth = params_or_depth if isinstance(params_or_depth, int) else len(params_or_depth)
    return depth == 1 and task in ("regression", "binary")


def _unit_direction(w, norm):
    if norm == "linf":
        return jnp.sign(w)
    nrm = jnp.linalg.norm(w)
    return jnp.where(nrm > 0, w / jnp.where(nrm > 0, nrm, 1.0), 0.0)


def _exact(X, y, params, level, norm, task):
    w, b = params[0]["w"][:, 0], params[0]["b"][0]
    g = _unit_direction(w, norm)
    if task == "regression":
        r = y - X @ w - b
        s = jnp.where(r >= 0, 1.0, -1.0)
    else:
        s = 2.0 * y - 1.0
    return X - level * s[:, None] * g[None, :]


def example_loss(params, x, y, task, activation):
    """The training loss of one example (½ squared error, log-loss or cross-entropy)."""
    out = models.apply(params, x, activation=activation)
    if task == "regression":
        return 0.5 * (y - out[0]) ** 2
    if task == "binary":
        return jax.nn.softplus(out[0]) - y * out[0]
    return -jax.nn.log_softmax(out)[y.astype(jnp.int32)]


def _project(delta, level, norm):
    if norm == "linf":
        return jnp.clip(delta, -level, level)
    nrm = jnp.linalg.norm(delta)
    return delta * jnp.minimum(1.0, level / jnp.where(nrm > 0, nrm, 1.0))


def _ascent(g, norm):
    if norm == "linf":
        return jnp.sign(g)
    nrm = jnp.linalg.norm(g)
    return g / jnp.where(nrm > 0, nrm, 1.0)


def _random_start(key, shape, level, norm, dtype):
    if norm == "linf":
        return jax.random.uniform(key, shape, dtype, -level, level)
    d = jax.random.normal(key, shape, dtype)
    radius = level * jax.random.uniform(key, (), dtype) ** (1.0 / shape[-1])
    return d / jnp.linalg.norm(d) * radius


def _pgd_one(key, x, y, params, level, norm, task, activation, steps, step_size, restarts, fgsm):
    loss = lambda xx: example_loss(params, xx, y, task, activation)
    grad = jax.grad(loss)
    if fgsm:
        return x + _project(level * _ascent(grad(x), norm), level, norm)
    alpha = 2.5 * level / steps if step_size is None else step_size

    def attack(r, k):
        # the first start is the clean point, the others are uniform in the ball
        delta0 = jnp.where(r == 0, 0.0, _random_start(k, x.shape, level, norm, x.dtype))

        def step(delta, _):
            delta = _project(delta + alpha * _ascent(grad(x + delta), norm), level, norm)
            return delta, None

        delta, _ = jax.lax.scan(step, delta0, None, length=steps)
        return x + delta

    cands = jax.vmap(attack)(jnp.arange(restarts), jax.random.split(key, restarts))
    losses = jax.vmap(loss)(cands)
    return cands[jnp.argmax(losses)]


def _attack(norm):
    def fn(
        key,
        X,
        y,
        params,
        level,
        *,
        task="regression",
        activation="relu",
        attack="auto",
        steps=20,
        restarts=1,
        step_size=None,
        **_,
    ):
        use_exact = attack == "exact" or (attack == "auto" and exact_available(params, task))
        if use_exact:
            return _exact(X, y, params, level, norm, task), y, params
        keys = jax.random.split(key, X.shape[0])
        one = lambda k, x, yy: _pgd_one(
            k,
            x,
            yy,
            params,
            level,
            norm,
            task,
            activation,
            steps,
            step_size,
            restarts,
            attack == "fgsm",
        )
        return jax.vmap(one)(keys, X, y), y, params

    return fn


adversarial_linf = _attack("linf")
adversarial_linf.__doc__ = "Worst case under ``‖δ‖∞ ≤ level`` (exact or PGD; module docstring)."
adversarial_l2 = _attack("l2")
adversarial_l2.__doc__ = "Worst case under ``‖δ‖₂ ≤ level`` (exact or PGD; module docstring)."
