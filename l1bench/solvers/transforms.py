"""optax transforms for the L1 / L2 / elastic-net family: a proximal L1 step and decoupled L2.

optax has projections but no L1 proximal operator; :func:`prox_elastic_net` is one (with the
L2 part's implicit shrink), written as an :class:`optax.GradientTransformation` that runs
*after* the learning-rate scaling. After a gradient (or Adam) step it gives the whole family

.. math::

   \\Omega(\\theta) = \\lambda \\sum_{\\text{layers}} \\Big( \\alpha \\|W\\|_1
     + \\frac{1 - \\alpha}{2} \\|W\\|_2^2 \\Big)

on the weights ``w`` of every layer (biases are never penalized), with strength ``lam`` (λ) and
mix ``l1_ratio`` (α), the same constants as :mod:`l1bench.penalties` and scikit-learn's ElasticNet.
The soft-threshold sets weights to exact zeros, so sparsity is counted as exact zeros.

Every argument that enters the arithmetic (learning rate, strengths) may be a traced scalar, so
one compiled training function serves a vmapped grid of strengths.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from l1bench.penalties import soft_threshold

OPTIMIZERS = ("adam", "sgd")

# newer optax names it safe_increment, older releases only safe_int32_increment (a GPU image may
# hold either)
_safe_increment = getattr(optax, "safe_increment", None) or optax.safe_int32_increment


def weight_mask(params) -> Any:
    """The penalized leaves of a :mod:`l1bench.models` pytree: True for every ``w``, else False.

    Args:
      params: any pytree; a leaf is penalized when the last key on its path is ``"w"``.

    Returns:
      A pytree of bools with the structure of ``params``.
    """

    def is_weight(path, _):
        last = path[-1] if path else None
        return isinstance(last, jax.tree_util.DictKey) and last.key == "w"

    return jax.tree_util.tree_map_with_path(is_weight, params)


def _resolve_mask(mask, params):
    if mask is None:
        return jax.tree_util.tree_map(lambda _: True, params)
    return mask(params) if callable(mask) else mask


class ProxL1State(NamedTuple):
    """State of :func:`prox_l1`: the step count, to evaluate a learning-rate schedule."""

    count: jax.Array


def prox_elastic_net(
    learning_rate: optax.ScalarOrSchedule,
    l1_strength,
    l2_strength=0.0,
    mask: Any | Callable[[Any], Any] | None = weight_mask,
) -> optax.GradientTransformation:
    """Proximal step of ``μ||w||₁ + (κ/2)||w||²`` on the masked leaves, after the step is scaled.

    Placed after the learning-rate scaling in a chain, it receives the update ``u`` (already
    ``-lr * direction``) and returns the update ``u'`` with

    .. math::

       \\theta + u' = \\frac{\\operatorname{soft}(\\theta + u, \\; \\eta_t \\mu)}
         {1 + \\eta_t \\kappa}, \\qquad
       \\operatorname{soft}(z, \\tau) = \\operatorname{sign}(z) \\max(|z| - \\tau, 0)

    on the masked leaves (η_t the learning rate at step t, μ = ``l1_strength``, κ =
    ``l2_strength``); other leaves pass through. Where the threshold wins, ``u' = -θ`` exactly,
    so ``θ + u'`` is an exact zero. With plain SGD before it this is the proximal gradient
    (ISTA) step of the elastic net. The L2 part is shrunk implicitly, ``1/(1 + ηκ)``, stable for
    any ``ηκ``, where the explicit decay ``1 − ηκ`` of a weight-decay step flips sign and grows
    once ``ηκ > 2``; both have the same fixed points.

    Args:
      learning_rate: the step size η, a scalar (may be traced) or an optax schedule of the step
        count; it must be the one the chain scales by.
      l1_strength: μ ≥ 0 (λα in the family); may be a traced scalar.
      l2_strength: κ ≥ 0 (λ(1 − α)); may be a traced scalar.
      mask: a pytree of bools, or a function of the params returning one, selecting the leaves
        to shrink; defaults to :func:`weight_mask` (every ``w``); None shrinks every leaf.

    Returns:
      An :class:`optax.GradientTransformation`; ``update`` requires ``params``.

    Examples:
      >>> tx = optax.chain(optax.sgd(0.1), prox_elastic_net(0.1, 0.5, 0.2))
    """

    def init_fn(params):
        del params
        return ProxL1State(count=jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("the prox needs the params: call update(updates, state, params)")
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
        selected = _resolve_mask(mask, params)

        def prox(u, p, on):
            if not on:
                return u
            threshold = jnp.asarray(lr * l1_strength, p.dtype)
            shrink = 1.0 + jnp.asarray(lr * l2_strength, p.dtype)
            return (soft_threshold(p + u, threshold) / shrink - p).astype(u.dtype)

        updates = jax.tree_util.tree_map(prox, updates, params, selected)
        return updates, ProxL1State(count=_safe_increment(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


def prox_l1(
    learning_rate: optax.ScalarOrSchedule,
    strength,
    mask: Any | Callable[[Any], Any] | None = weight_mask,
) -> optax.GradientTransformation:
    """Proximal step of ``strength * ||w||_1`` (:func:`prox_elastic_net` without an L2 part):
    ``θ + u' = soft(θ + u, η_t μ)``.

    Examples:
      >>> tx = optax.chain(optax.sgd(0.1), prox_l1(0.1, 0.5))
    """
    return prox_elastic_net(learning_rate, strength, 0.0, mask)


def penalized_optimizer(
    optimizer: str,
    learning_rate: optax.ScalarOrSchedule,
    lam,
    l1_ratio,
    *,
    mask: Any | Callable[[Any], Any] | None = weight_mask,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
) -> optax.GradientTransformation:
    """An optimizer for ``loss + λ(α||W||₁ + (1-α)/2 ||W||²)``: base step, then the penalty's prox.

    * ``sgd``: ``chain(scale_by_learning_rate(η), prox_elastic_net(η, λα, λ(1-α)))`` is exactly
      the proximal gradient step on the loss plus the penalty above: a gradient step on the
      loss followed by the prox of the whole penalty, ``soft(·, ηλα) / (1 + ηλ(1-α))``. With
      full batches and ``η <= 1/L`` it converges to the penalized minimizer, for any λ (an
      explicit weight-decay step ``w(1 − ηλ(1-α))`` diverges once ``ηλ(1-α) > 2``: the default
      ridge path for MLPs starts at 1000·λ_max and had grown weights to 1e191).
    * ``adam``: ``chain(scale_by_adam, scale_by_learning_rate(η), prox_elastic_net(η, λα,
      λ(1-α)))`` is AdamW's decoupled L2, taken implicitly (same fixed points, stable for any
      λ), and a Euclidean soft-threshold of ``ηλα``. This is a heuristic "proximal Adam": the
      prox ignores Adam's diagonal
      preconditioner, so its fixed points are *not* the minimizers of the penalized objective
      (at a nonzero stationary weight Adam's normalized step ``m̂/(√v̂+ε)`` must equal ``-λα
      sign(w)``, not the gradient). λα then acts as a threshold on the normalized step,
      roughly a gradient signal-to-noise ratio below which weights are driven to exact zero;
      its scale is not comparable with the SGD / exact solver's λ. (A preconditioned prox with
      per-coordinate threshold ``ηλα/(√v̂+ε)``, as in ProxGen, would restore the right fixed
      points.) The trainer's default, ``prox_grad`` (:mod:`l1bench.solvers.trainer`), is the ``sgd``
      step with a backtracking step size.

    Args:
      optimizer: ``adam`` | ``sgd``.
      learning_rate: step size η, a scalar (may be traced) or an optax schedule.
      lam: strength λ ≥ 0 (may be traced). l1_ratio: mix α in [0, 1] (may be traced).
      mask: the penalized leaves (see :func:`prox_l1`); default every layer's ``w``.
      b1, b2, eps: Adam's parameters (ignored for ``sgd``).

    Returns:
      An :class:`optax.GradientTransformation` whose ``update`` needs ``params``.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    base = [optax.scale_by_adam(b1=b1, b2=b2, eps=eps)] if optimizer == "adam" else []
    return optax.chain(
        *base,
        optax.scale_by_learning_rate(learning_rate),
        prox_elastic_net(learning_rate, lam * l1_ratio, lam * (1.0 - l1_ratio), mask),
    )
