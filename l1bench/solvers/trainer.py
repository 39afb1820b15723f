"""optax trainer: minibatch training of any model on a grid of penalties, seeds and dropout rates.

Each fit minimizes, by proximal gradient with a backtracking step (``prox_grad``, the default:
:func:`_propose` / :func:`_accept`), or by SGD or Adam with the transforms of
:mod:`l1bench.solvers.transforms`,

.. math::

   F(\\theta) = \\frac{1}{n} \\sum_i \\ell(y_i, f_\\theta(x_i))
     + \\lambda \\sum_{\\text{layers}}
       \\Big( \\alpha \\|W\\|_1 + \\frac{1-\\alpha}{2} \\|W\\|_2^2 \\Big)

with ``ℓ = ½ (y - f)²`` for regression (so for a linear model F is exactly the objective of
:mod:`l1bench.solvers.convex`), the log-loss of a logit for ``binary`` (labels 0/1) and the softmax
cross-entropy for ``multiclass`` (labels 0..K-1). Stochastic (inverted) dropout with rate p on the
inputs and on every hidden layer is applied during training only; a dropout fit reports the
expected F under dropout (exact for linear regression, else a Monte-Carlo estimate with its
standard error, :func:`_reported_objective`) and its KKT measure is that of F without dropout, so
such fits report ``max_iter`` rather than ``converged``. The output bias starts at the zero
model's intercept (:func:`intercept0`).

The whole grid is ONE compiled call: ``vmap`` over seeds (S), penalties (P) and strengths (L),
``lax.scan`` over steps. Randomness comes from ``jax.random.key(seed)`` split into named streams by
``fold_in`` — ``init`` (model init), ``dropout`` (masks, ``fold_in(stream, step)``) and ``batches``
(a permutation per step, ``fold_in(stream, step)``) — so a fit depends only on its seed and its
hyperparameters, never on where it sits in the grid; fits sharing a seed share the initial
parameters, minibatches and dropout draws (common random numbers).

Where X is shared by all seeds and batches are full (the common case), the grid runs as one
*stack* of M = S·P·L fits instead: one hand-written forward / backward pass gives every fit's
loss and gradient at once (:func:`_stacked_loss_grad`), the optimizer, KKT and status logic is
the per-fit one vmapped over M, and the dropout masks are drawn from the same streams, so the
results equal the vmapped per-fit path to rounding (``stacked=False`` selects that path).

Every ``check_every`` steps the relative KKT measure is evaluated on the full data and a fit whose
measure is at most ``tol`` stops updating. Under ``prox_grad`` a non-finite candidate is a
rejected step (the step shrinks); under ``sgd`` / ``adam`` a fit whose minibatch loss or
parameters become non-finite stops updating at once (its last finite parameters are kept) and
is flagged diverged;
so is a fit whose final objective is over ``BLOWUP`` (1000) times its objective at the initial
parameters (a blow-up that had not overflowed within its steps).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from l1bench import models, runtime
from l1bench.losses import LOSSES, for_task
from l1bench.penalties import soft_threshold
from l1bench.solvers import transforms
from l1bench.solvers.transforms import penalized_optimizer, weight_mask
from l1bench.vocab import STATUS, STREAMS, TASKS

TRAIN_STREAMS = ("init", "dropout", "batches")
# prox_grad (the default) first: proximal gradient with a backtracking step; then optax's
OPTIMIZERS = ("prox_grad", *transforms.OPTIMIZERS)
LR_SCHEDULES = ("constant", "cosine")
PRECISIONS = {"float64": jnp.float64, "float32": jnp.float32}
_CONVERGED, _MAX_ITER, _DIVERGED = (STATUS.index(s) for s in ("converged", "max_iter", "diverged"))


class TrainResult(NamedTuple):
    """Fits of a grid; leading axes (S, P, L) = seeds, penalties, strengths.

    Attributes:
      params: the fitted models, a :mod:`l1bench.models` pytree whose leaves have leading axes
        (S, P, L); exact zeros where the L1 prox zeroed a weight.
      objective: (S, P, L) the penalized objective F on the full data; for a stochastic-dropout
        fit its expectation under dropout (exact for linear regression, else a Monte-Carlo
        estimate over :data:`DROPOUT_DRAWS` draws).
      objective_se: (S, P, L) the standard error of that estimate (0 where exact).
      kkt: (S, P, L) the relative stationarity measure ``||G(θ)||∞ / ||G(θ₀)||∞`` (see
        :func:`train_grid`) of F without
        dropout (see :func:`train_grid`), compared with ``tol``.
      n_iter: (S, P, L) optimizer steps taken.
      status: (S, P, L) index into :data:`l1bench.vocab.STATUS`.
    """

    params: Any
    objective: np.ndarray
    objective_se: np.ndarray
    kkt: np.ndarray
    n_iter: np.ndarray
    status: np.ndarray


def _penalty(params, lam, l1_ratio):
    W = models.weights(params)
    l1 = sum(jnp.sum(jnp.abs(w)) for w in W)
    l2 = sum(jnp.sum(w * w) for w in W)
    return lam * (l1_ratio * l1 + 0.5 * (1.0 - l1_ratio) * l2)


def _learning_rate(cfg, lr):
    if cfg["lr_schedule"] == "cosine":
        steps = cfg["steps"]
        return lambda t: lr * 0.5 * (1.0 + jnp.cos(jnp.pi * jnp.minimum(t, steps) / steps))
    return lr


def _freeze_intercept(cfg, grads):
    if cfg["fit_intercept"]:
        return grads
    last = {**grads[-1], "b": jnp.zeros_like(grads[-1]["b"])}
    return (*grads[:-1], last)


def _sup_norm(tree):
    return jnp.max(jnp.stack([jnp.max(jnp.abs(a)) for a in jax.tree_util.tree_leaves(tree)]))


def _kkt_abs(grads, params, lam, l1_ratio):
    """``||G(θ)||∞`` from the full-data loss gradient (intercept already frozen)."""
    mu, kappa = lam * l1_ratio, lam * (1.0 - l1_ratio)

    def mapping(g, th, is_w):
        if not is_w:
            return g
        return th - soft_threshold(th - (g + kappa * th), mu)

    return _sup_norm(jax.tree_util.tree_map(mapping, grads, params, weight_mask(params)))


def _select(flag, new, old):
    return jax.tree_util.tree_map(lambda a, b: jnp.where(flag, a, b), new, old)


def _update(opt, cfg, loss, grads, carry, step):
    """One optimizer step of one fit from its minibatch ``loss`` and ``grads``."""
    params, opt_state, active, diverged, n_iter = carry
    updates, new_state = opt.update(_freeze_intercept(cfg, grads), opt_state, params)
    new_params = optax.apply_updates(params, updates)
    finite = jnp.isfinite(loss) & _finite(new_params)
    running = active & (step < cfg["steps"])
    take = running & finite
    params, opt_state = _select(take, new_params, params), _select(take, new_state, opt_state)
    diverged = diverged | (running & ~finite)
    return params, opt_state, take, diverged, n_iter + take


# a fit that ends with its objective this many times the one at its initial parameters has
# diverged, also when nothing overflowed within its steps
BLOWUP = 1e3


def _status(diverged, objective, kkt, tol, objective0, stochastic):
    """``diverged`` | ``converged`` (kkt <= tol, deterministic objective) | ``max_iter``."""
    blown = objective > BLOWUP * jnp.maximum(objective0, jnp.finfo(objective.dtype).tiny)
    bad = diverged | ~jnp.isfinite(objective) | ~jnp.isfinite(kkt) | blown
    done = (kkt <= tol) & ~stochastic
    return jnp.where(bad, _DIVERGED, jnp.where(done, _CONVERGED, _MAX_ITER)).astype(jnp.int32)


def intercept0(y, *, task: str, n_out: int, fit_intercept: bool, loss=None) -> np.ndarray:
    """The zero model's intercept, where every fit's output bias starts (0 if not fitted).

    The best constant: ȳ for regression, the log-odds of the share π of ones for ``binary``,
    the centred log class shares for ``multiclass`` (shares floored at 1/(2n)). Starting there,
    a fit need not first travel from 0 to the data's centre, which for a target far from 0 is
    its slowest direction (the step is bounded by the weights' curvature). Computed on the host
    once per problem, so a fit's start does not depend on how the grid is batched.

    Args:
      y: (n,) targets or class indices. task: ``regression`` | ``binary`` | ``multiclass``.
      n_out: the output width. fit_intercept: whether the output bias is trained.
      loss: the :class:`l1bench.losses.Loss` (default: the task's own).

    Returns:
      (n_out,) the initial output bias.
    """
    loss = for_task(task) if loss is None else loss
    return np.asarray(loss.zero_intercept(loss.encode(np.asarray(y), n_out), fit_intercept))


def _with_bias(params, b0):
    """``params`` with the output layer's bias set to ``b0``."""
    return (*params[:-1], {**params[-1], "b": b0.astype(params[-1]["b"].dtype)})


# -- the default optimizer: proximal gradient with a backtracking step ------------------------

BACKTRACKING = "prox_grad"
GROW, SHRINK = 1.25, 0.5  # the trial step after an accepted / a rejected step
ETA_MAX = 1e10  # the trial step never grows past this (a stationary start accepts every step)
DROPOUT_DRAWS = 32  # dropout draws of the full-batch Monte-Carlo objective
# the loss whose expectation under input dropout has a closed form for linear models
SQUARED = LOSSES["squared"]


class Backtrack(NamedTuple):
    """State of one fit under :data:`BACKTRACKING`.

    Attributes:
      eta: the trial step η for the next step.
      t: FISTA's momentum counter (1 after a restart).
      y: the point the next gradient is taken at (the extrapolated point; the iterate itself
        without momentum).
      objective: F at the iterate (the full-data objective; unused for stochastic fits).
    """

    eta: jax.Array
    t: jax.Array
    y: Any
    objective: jax.Array


def _tree_dot(a, b):
    leaves = zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    return sum(jnp.vdot(x, y) for x, y in leaves)


def _finite(tree):
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in jax.tree_util.tree_leaves(tree)]))


def _propose(y, grads, eta, lam, l1_ratio):
    """The proximal gradient step ``prox_{ηΩ}(y - η∇L(y))``."""
    tx = penalized_optimizer("sgd", eta, lam, l1_ratio)
    updates, _ = tx.update(grads, tx.init(y), y)
    return optax.apply_updates(y, updates)


def _accept(carry, z, loss_y, grads_y, loss_z, penalty_z, factor, step, *, cfg, momentum):
    """Keep or reject the candidate ``z`` of one step, and set the next trial step and point.

    ``z = prox_{ηΩ}(y - η∇L(y))`` is kept when the composite-objective Armijo condition of
    proximal gradient methods holds at ``y``,

    .. math::

       L(z) \\le L(y) + \\langle \\nabla L(y), z - y \\rangle + \\frac{1}{2\\eta} \\|z - y\\|^2 ,

    (true for every η ≤ 1/Lip(∇L)), and, with ``momentum`` (FISTA: ``y = x + (t_{k-1} - 1)/t_k
    · (x - x_prev)``), when it does not raise F above the iterate's: a rise restarts the
    momentum (``y = x``, t = 1; O'Donoghue & Candès's function restart), and the next step is
    a plain proximal gradient step from x, which the Armijo condition makes a descent step,
    ``F(z) ≤ F(x) - ||z - x||²/(2η)``. So F never increases, and the fixed points are exactly
    F's stationary points. A step that fails the Armijo test (also a non-finite one) shrinks η
    by :data:`SHRINK` and is retried from the same ``y``; one that passes grows it by
    :data:`GROW` (up to :data:`ETA_MAX`). Without momentum (minibatches, dropout: a
    stochastic line search on each step's sample) only the Armijo test applies.
    """
    x, st, active, diverged, n_iter = carry
    eta = st.eta * factor
    d = jax.tree_util.tree_map(jnp.subtract, z, st.y)
    bound = loss_y + _tree_dot(grads_y, d) + _tree_dot(d, d) / (2.0 * eta)
    eps = 16 * jnp.finfo(loss_y.dtype).eps
    armijo = jnp.isfinite(loss_z) & _finite(z) & (loss_z <= bound + eps * jnp.abs(loss_y))
    objective_z = loss_z + penalty_z
    descent = objective_z <= st.objective + eps * jnp.abs(st.objective)
    running = active & (step < cfg["steps"])
    take = running & armijo & (descent if momentum else True)
    x_new = _select(take, z, x)
    if momentum:
        t_next = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * st.t**2))
        beta = (st.t - 1.0) / t_next
        ahead = jax.tree_util.tree_map(lambda a, b: a + beta * (a - b), z, x)
        restart = running & armijo & ~descent
        y_new = _select(take, ahead, _select(restart, x, st.y))
        t_new = jnp.where(take, t_next, jnp.where(restart, 1.0, st.t))
    else:
        y_new, t_new = x_new, st.t
    grown = jnp.minimum(st.eta * GROW, ETA_MAX)
    eta_new = jnp.where(running, jnp.where(armijo, grown, st.eta * SHRINK), st.eta)
    objective = jnp.where(take, objective_z, st.objective)
    return x_new, Backtrack(eta_new, t_new, y_new, objective), running, diverged, n_iter + running


def _lr_factor(cfg):
    """The schedule's factor on the step at step t (1 for ``constant``)."""
    if cfg["lr_schedule"] == "cosine":
        steps = cfg["steps"]
        return lambda t: 0.5 * (1.0 + jnp.cos(jnp.pi * jnp.minimum(t, steps) / steps))
    return lambda t: 1.0


def _kkt_scale(kkt_abs0, grads0):
    """The stationarity measure's denominator: ``max(||G(θ₀)||∞, ||∇L(θ₀)||∞)`` (1 if 0).

    The loss gradient covers a start that is already (nearly) stationary for F, e.g. w = 0
    above λ_max, where ``||G(θ₀)||`` is zero up to rounding.
    """
    scale = jnp.maximum(kkt_abs0, _sup_norm(grads0))
    return jnp.where(scale > 0, scale, 1.0)


def _reported_objective(loss, penalty, draws, params, X, rate, *, cfg):
    """``(objective, objective_se)``: F without dropout, or for a dropout fit its expected F.

    For a stochastic-dropout fit (rate p > 0) the objective is the expected loss under
    inverted dropout plus the penalty. For a linear regression model it is exact (marginalized,
    ``½ mean (y - Xw - b)² + ½ p/(1-p) Σ_j w_j² mean_i x_ij²``, SE 0); otherwise it is the
    mean of ``draws`` (full-batch losses under :data:`DROPOUT_DRAWS` dropout draws) with its
    standard error. Without dropout, SE is 0.
    """
    zero = jnp.zeros((), loss.dtype)
    if draws is None:
        return loss + penalty, zero
    if cfg["loss"] == SQUARED and not cfg["hidden"]:
        w = params[0]["w"][:, 0]
        var = jnp.mean(X * X, axis=-2)
        odds = rate / (1.0 - rate)
        return loss + 0.5 * odds * jnp.sum(var * w * w) + penalty, zero
    mc = jnp.mean(draws)
    se = jnp.std(draws, ddof=1) / jnp.sqrt(draws.shape[0])
    return jnp.where(rate > 0, mc, loss) + penalty, jnp.where(rate > 0, se, zero)


def _train_in_chunks(step_fn, kkt_rel, carry, tol, cfg):
    """Run ``cfg["steps"]`` steps of ``step_fn`` in chunks of ``cfg["check_every"]``.

    After each chunk a fit whose relative KKT measure ``kkt_rel(params)`` is ``<= tol`` (or
    that has used all its steps) stops moving. ``carry`` is ``(params, opt_state, active,
    diverged, n_iter)``, one fit or a stack of fits; returns the final carry.
    """

    def chunk_fn(carry, c):
        steps_c = c * cfg["check_every"] + jnp.arange(cfg["check_every"])
        (params, opt_state, active, diverged, n_iter), _ = lax.scan(step_fn, carry, steps_c)
        converged = kkt_rel(params) <= tol
        active = active & ~converged & (n_iter < cfg["steps"])
        return (params, opt_state, active, diverged, n_iter), None

    n_chunks = -(-cfg["steps"] // cfg["check_every"])
    return lax.scan(chunk_fn, carry, jnp.arange(n_chunks))[0]


def _fit_one(key, X, y, b0, lam, l1_ratio, rate, lr, tol, *, cfg):
    """Train one grid point; returns ``(params, objective, objective_se, kkt, n_iter, status)``."""
    n, p = X.shape
    dtype = X.dtype
    k_init, k_drop, k_batch = (jax.random.fold_in(key, STREAMS[s]) for s in TRAIN_STREAMS)
    params0 = _with_bias(models.init(k_init, p, cfg["n_out"], cfg["hidden"], dtype), b0)
    apply = partial(models.apply, activation=cfg["activation"])
    datafit = cfg["loss"]
    T = datafit.encode(y, cfg["n_out"], dtype)  # (n_out, n)
    loss_of = jax.vmap(datafit.example, in_axes=(0, 1))

    def full_loss(params):
        out = jax.vmap(lambda x: apply(params, x))(X)
        return jnp.mean(loss_of(out, T))

    def batch_loss(params, step):
        if cfg["batch_size"] is None:
            Xb, Tb = X, T
        else:
            idx = jax.random.permutation(jax.random.fold_in(k_batch, step), n)
            idx = idx[: cfg["batch_size"]]
            Xb, Tb = X[idx], T[:, idx]
        if cfg["use_dropout"]:
            keys = jax.random.split(jax.random.fold_in(k_drop, step), Xb.shape[0])
            out = jax.vmap(lambda x, k: apply(params, x, dropout_rate=rate, dropout_key=k))(
                Xb, keys
            )
        else:
            out = jax.vmap(lambda x: apply(params, x))(Xb)
        return jnp.mean(loss_of(out, Tb))

    def kkt_abs(params):
        """``||G(θ)||∞``, G the prox-gradient mapping with unit step (the natural residual)."""
        grads = _freeze_intercept(cfg, jax.grad(full_loss)(params))
        return _kkt_abs(grads, params, lam, l1_ratio)

    loss0, grads0 = jax.value_and_grad(full_loss)(params0)
    grads0 = _freeze_intercept(cfg, grads0)
    objective0 = loss0 + _penalty(params0, lam, l1_ratio)
    kkt_scale = _kkt_scale(_kkt_abs(grads0, params0, lam, l1_ratio), grads0)
    kkt_rel = lambda params: kkt_abs(params) / kkt_scale
    stochastic = cfg["use_dropout"] or cfg["batch_size"] is not None
    scale = _lr_factor(cfg)

    if cfg["optimizer"] == BACKTRACKING:

        def step_fn(carry, step):
            st = carry[1]
            if stochastic:  # both points under this step's minibatch and dropout masks
                loss_y, grads_y = jax.value_and_grad(batch_loss)(st.y, step)
            else:
                loss_y, grads_y = jax.value_and_grad(full_loss)(st.y)
            grads_y = _freeze_intercept(cfg, grads_y)
            eta = st.eta * scale(step)
            z = _propose(st.y, grads_y, eta, lam, l1_ratio)
            loss_z = batch_loss(z, step) if stochastic else full_loss(z)
            penalty_z = _penalty(z, lam, l1_ratio)
            args = (z, loss_y, grads_y, loss_z, penalty_z, scale(step), step)
            return _accept(carry, *args, cfg=cfg, momentum=not stochastic), None

        state0 = Backtrack(jnp.asarray(lr, dtype), jnp.ones((), dtype), params0, objective0)
    else:
        opt = penalized_optimizer(cfg["optimizer"], _learning_rate(cfg, lr), lam, l1_ratio)

        def step_fn(carry, step):
            loss, grads = jax.value_and_grad(batch_loss)(carry[0], step)
            return _update(opt, cfg, loss, grads, carry, step), None

        state0 = opt.init(params0)

    kkt0 = kkt_abs(params0) / kkt_scale
    carry = (params0, state0, kkt0 > tol, jnp.zeros((), bool), jnp.zeros((), jnp.int32))
    params, _, _, diverged, n_iter = _train_in_chunks(step_fn, kkt_rel, carry, tol, cfg)
    loss = full_loss(params)
    kkt = kkt_abs(params) / kkt_scale

    def dropout_losses(params):
        """Full-batch losses under the dropout draws of steps ``steps .. steps + DRAWS - 1``."""

        def one(t):
            keys = jax.random.split(jax.random.fold_in(k_drop, t), n)
            drop = lambda x, ke: apply(params, x, dropout_rate=rate, dropout_key=ke)
            return jnp.mean(loss_of(jax.vmap(drop)(X, keys), T))

        return jax.vmap(one)(cfg["steps"] + jnp.arange(DROPOUT_DRAWS))

    draws = dropout_losses(params) if cfg["use_dropout"] else None
    objective, objective_se = _reported_objective(
        loss, _penalty(params, lam, l1_ratio), draws, params, X, rate, cfg=cfg
    )
    status = _status(diverged, objective, kkt, tol, objective0, rate > 0)
    return params, objective, objective_se, kkt, n_iter, status


# -- the stacked path: every fit of the grid in one hand-written forward / backward -----------

SAMPLE_BLOCK = 256  # samples per block of the stacked forward / backward (fits in L2 on CPU)


def _blocks(n: int) -> tuple[int, int]:
    """``(n_blocks, block)``: the fewest blocks of at most SAMPLE_BLOCK samples, equal sizes."""
    n_blocks = -(-n // SAMPLE_BLOCK)
    return n_blocks, -(-n // n_blocks)


def _to_blocks(a, n_blocks, block):
    """(..., n) -> (n_blocks, ..., block), zero-padded at the end of the sample axis."""
    pad = n_blocks * block - a.shape[-1]
    a = jnp.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, pad)])
    a = a.reshape(*a.shape[:-1], n_blocks, block)
    return jnp.moveaxis(a, -2, 0)


def _head_loss_grad(loss, Z, T, w):
    """Loss ``Σ_i w_i ℓ_i`` per fit and its gradient in the output Z (M, n_out, b).

    T (n_out, b) the encoded targets (:meth:`l1bench.losses.Loss.encode`); w (b,) the sample
    weights (1/n, 0 on padding).
    """
    value, grad = loss.value_and_grad(Z, T)
    return jnp.sum(w * value, axis=-1), w * grad


def _stacked_loss_grad(params, blocks, drop, *, cfg, with_grad=True):
    """Loss and gradient of every fit, all fits at once, summed over sample blocks.

    The forward / backward pass is written out in a features-first layout — activations are
    (M, width, block), weights enter as W^T (M, d_out, d_in) — so that every product is a plain
    (batched) matrix product on XLA CPU: the first layer of all M fits is ONE (M·h, p) @ (p, b)
    product with the shared X (one (M·h, b) @ (b, p) product for its gradient), the other
    layers are batched products, and no X is broadcast to (M, n, p). Samples are processed in
    blocks of at most :data:`SAMPLE_BLOCK` so that a block's activations stay in cache.

    With H_0 = Xᵀ (dropped out per fit when dropout is on), per layer l = 1..L

    .. math::

       Z_l = W_l^\\top H_{l-1} + b_l, \\quad H_l = \\sigma(Z_l), \\qquad
       G_L = \\partial \\textstyle\\sum_i w_i \\ell_i / \\partial Z_L, \\quad
       \\nabla_{W_l^\\top} = G_l H_{l-1}^\\top, \\quad \\nabla_{b_l} = G_l \\mathbf{1}, \\quad
       G_{l-1} = \\sigma'(Z_{l-1}) \\odot (W_l G_l)

    (the dropout scaling ``where(keep, · / (1 - rate), 0)`` applied to H_{l-1} and to
    W_l G_l), summed over the blocks.

    Args:
      params: model pytree with leaves (M, ...), M fits.
      blocks: ``(XT, X, T, w[, U])`` with a leading block axis: XT (B, p, b), X (B, b, p),
        targets T (B, n_out | 1, b), weights w (B, b) (1/n, 0 on padding), and with dropout
        the uniforms U, one (B, S, d_l, b) per layer, shared by the M / S fits of each seed.
      drop: None, or the (M,) dropout rates (inverted dropout: keep where U < 1 - rate).

    Returns:
      ``(loss (M,), grads)``, the mean loss over the n samples and its gradient (a pytree
      like ``params``), equal to ``vmap(value_and_grad(loss))`` of the per-fit path; with
      ``with_grad=False`` the loss alone (the forward pass only).
    """
    act = models.ACTIVATIONS[cfg["activation"]]
    M = params[0]["w"].shape[0]
    WT = [jnp.swapaxes(layer["w"], 1, 2) for layer in params]  # (M, d_out, d_in)
    # W as stored for W_l G_l: the barrier keeps XLA from folding it into a transposed dot of
    # W^T (contracting its first axis), which XLA CPU runs ~1.6x slower (measured)
    W = [lax.optimization_barrier(layer["w"]) for layer in params]  # (M, d_in, d_out)
    b = [layer["b"][:, :, None] for layer in params]

    def dropped(H, U, keep, rate):
        # the per-fit path's models._dropout: where(uniform < 1 - rate, h / (1 - rate), 0)
        S = U.shape[0]
        U = jnp.broadcast_to(U[:, None], (S, M // S, *U.shape[1:])).reshape(M, *U.shape[1:])
        mask = U < keep[:, None, None]
        return mask, jnp.where(mask, H / (1.0 - rate)[:, None, None], 0.0)

    def one_block(blk):
        XT, Xb, T, w = blk[:4]
        U = blk[4] if drop is not None else None
        keep = None if drop is None else 1.0 - drop
        n_b = XT.shape[-1]
        H, inputs, masks, vjps = XT, [], [], []
        for i in range(len(params)):
            mask = None
            if drop is not None:
                mask, H = dropped(H, U[i], keep, drop)
            inputs.append(H)
            masks.append(mask)
            d_out, d_in = WT[i].shape[1:]
            if H.ndim == 2:  # the shared X: one product for all fits
                Z = (WT[i].reshape(M * d_out, d_in) @ H).reshape(M, d_out, n_b)
            else:
                Z = WT[i] @ H
            Z = Z + b[i]
            if i < len(params) - 1:
                H, vjp = jax.vjp(act, Z)
                vjps.append(vjp)
        loss, G = _head_loss_grad(cfg["loss"], Z, T, w)
        if not with_grad:
            return loss, ()
        grads = [None] * len(params)
        for i in reversed(range(len(params))):
            Hin = inputs[i]
            d_out, d_in = WT[i].shape[1:]
            if Hin.ndim == 2:
                gWT = (G.reshape(M * d_out, n_b) @ Xb).reshape(M, d_out, d_in)
            else:
                gWT = G @ jnp.swapaxes(Hin, 1, 2)
            grads[i] = (gWT, jnp.sum(G, axis=2))
            if i > 0:
                dH = W[i] @ G
                if masks[i] is not None:
                    dH = jnp.where(masks[i], dH / (1.0 - drop)[:, None, None], 0.0)
                G = vjps[i - 1](dH)[0]
        return loss, grads

    def body(acc, blk):
        return jax.tree_util.tree_map(jnp.add, acc, one_block(blk)), None

    first = jax.tree_util.tree_map(lambda a: a[0], blocks)
    zeros = jax.tree_util.tree_map(
        lambda a: jnp.zeros(a.shape, a.dtype), jax.eval_shape(one_block, first)
    )
    (loss, grads), _ = lax.scan(body, zeros, blocks)
    if not with_grad:
        return loss
    grads = tuple({"w": jnp.swapaxes(gWT, 1, 2), "b": gb} for gWT, gb in grads)
    return loss, grads


def _fit_stacked(X, y, b0, lam, l1_ratio, dropout, seeds, lr, tol, *, cfg):
    """The grid as one stack of M = S·P·L fits sharing X (full batch): same results as
    vmapping :func:`_fit_one`, with the gradients of all fits from :func:`_stacked_loss_grad`."""
    n, p = X.shape
    dtype = X.dtype
    S, P, L = lam.shape
    M = S * P * L
    keys = jax.vmap(jax.random.key)(seeds)
    stream = lambda name: jax.vmap(lambda k: jax.random.fold_in(k, STREAMS[name]))(keys)
    init = jax.vmap(lambda k: models.init(k, p, cfg["n_out"], cfg["hidden"], dtype))
    per_seed = jax.vmap(_with_bias)(init(stream("init")), b0)
    params0 = jax.tree_util.tree_map(
        lambda a: jnp.broadcast_to(a[:, None], (S, P * L, *a.shape[1:])).reshape(M, *a.shape[1:]),
        per_seed,
    )
    lam_m = lam.reshape(M)
    a_m = jnp.broadcast_to(l1_ratio[None, :, None], (S, P, L)).reshape(M)
    rate_m = jnp.broadcast_to(dropout[None], (S, P, L)).reshape(M)

    n_blocks, block = _blocks(n)
    T = cfg["loss"].encode(y, cfg["n_out"], dtype)
    w = jnp.full((n,), 1.0 / n, dtype)
    blocks = tuple(_to_blocks(a, n_blocks, block) for a in (X.T, X.T, T, w))
    blocks = (blocks[0], jnp.swapaxes(blocks[1], 1, 2), *blocks[2:])
    grad_full = partial(_stacked_loss_grad, blocks=blocks, drop=None, cfg=cfg)

    widths = [p, *cfg["hidden"]]
    k_drop = stream("dropout")

    def uniforms(step):
        """The per-fit path's dropout draws for every seed: (B, S, d_l, b) per layer."""

        def per_seed_u(k):
            def per_example(ke):
                ks = jax.random.split(ke, len(widths))
                return [jax.random.uniform(ks[i], (d,), dtype) for i, d in enumerate(widths)]

            return jax.vmap(per_example)(jax.random.split(jax.random.fold_in(k, step), n))

        U = jax.vmap(per_seed_u)(k_drop)  # per layer (S, n, d)
        return [_to_blocks(jnp.swapaxes(u, 1, 2), n_blocks, block) for u in U]

    def batch_loss_grad(params, step):
        if not cfg["use_dropout"]:
            return grad_full(params)
        return _stacked_loss_grad(params, (*blocks, uniforms(step)), rate_m, cfg=cfg)

    kkt_v = jax.vmap(_kkt_abs)
    freeze = partial(_freeze_intercept, cfg)

    def kkt_abs(params):
        return kkt_v(freeze(grad_full(params)[1]), params, lam_m, a_m)

    loss0, grads0 = grad_full(params0)
    grads0 = freeze(grads0)
    objective0 = loss0 + jax.vmap(_penalty)(params0, lam_m, a_m)
    kkt_scale = jax.vmap(_kkt_scale)(kkt_v(grads0, params0, lam_m, a_m), grads0)
    stochastic = cfg["use_dropout"]

    if cfg["optimizer"] == BACKTRACKING:
        scale = _lr_factor(cfg)
        propose_v = jax.vmap(_propose)
        accept = partial(_accept, cfg=cfg, momentum=not stochastic)
        accept_v = jax.vmap(accept, in_axes=(0, 0, 0, 0, 0, 0, None, None))
        penalty_v = jax.vmap(_penalty)

        def loss_only(params, step):
            if not stochastic:
                return _stacked_loss_grad(params, blocks, None, cfg=cfg, with_grad=False)
            drop_blocks = (*blocks, uniforms(step))
            return _stacked_loss_grad(params, drop_blocks, rate_m, cfg=cfg, with_grad=False)

        def step_fn(carry, step):
            st = carry[1]
            loss_y, grads_y = batch_loss_grad(st.y, step)
            grads_y = freeze(grads_y)
            eta = st.eta * scale(step)
            z = propose_v(st.y, grads_y, eta, lam_m, a_m)
            loss_z = loss_only(z, step)
            args = (z, loss_y, grads_y, loss_z, penalty_v(z, lam_m, a_m), scale(step), step)
            return accept_v(carry, *args), None

        state0 = Backtrack(jnp.full(M, lr, dtype), jnp.ones(M, dtype), params0, objective0)
    else:
        lr_t = _learning_rate(cfg, lr)
        make_opt = lambda lm, a: penalized_optimizer(cfg["optimizer"], lr_t, lm, a)

        def update_one(loss, grads, carry, lm, a, step):
            return _update(make_opt(lm, a), cfg, loss, grads, carry, step)

        update_v = jax.vmap(update_one, in_axes=(0, 0, 0, 0, 0, None))

        def step_fn(carry, step):
            loss, grads = batch_loss_grad(carry[0], step)
            return update_v(loss, grads, carry, lam_m, a_m, step), None

        state0 = jax.vmap(lambda q, lm, a: make_opt(lm, a).init(q))(params0, lam_m, a_m)

    kkt0 = kkt_v(grads0, params0, lam_m, a_m) / kkt_scale
    carry = (params0, state0, kkt0 > tol, jnp.zeros(M, bool), jnp.zeros(M, jnp.int32))
    kkt_rel = lambda params: kkt_abs(params) / kkt_scale
    params, _, _, diverged, n_iter = _train_in_chunks(step_fn, kkt_rel, carry, tol, cfg)
    loss, grads = grad_full(params)
    penalty = jax.vmap(_penalty)(params, lam_m, a_m)
    kkt = kkt_v(freeze(grads), params, lam_m, a_m) / kkt_scale
    draws = None
    if cfg["use_dropout"]:
        # DROPOUT_DRAWS fresh draws per seed, past the training steps' draws
        steps_mc = cfg["steps"] + jnp.arange(DROPOUT_DRAWS)
        loss_at = lambda t: _stacked_loss_grad(params, (*blocks, uniforms(t)), rate_m, cfg=cfg)[0]
        draws = lax.map(loss_at, steps_mc).T  # (M, DROPOUT_DRAWS)
    report = partial(_reported_objective, cfg=cfg)
    objective, objective_se = jax.vmap(
        report, in_axes=(0, 0, 0 if draws is not None else None, 0, None, 0)
    )(loss, penalty, draws, params, X, rate_m)
    status = _status(diverged, objective, kkt, tol, objective0, rate_m > 0)
    out = (params, objective, objective_se, kkt, n_iter, status)
    return jax.tree_util.tree_map(lambda a: a.reshape(S, P, L, *a.shape[1:]), out)


def _fit_grid(X, y, b0, lam, l1_ratio, dropout, seeds, lr, tol, *, cfg):
    """The compiled core: vmap over S (seeds, and problems if X has a leading S axis), P and L."""
    if cfg["stacked"]:
        return _fit_stacked(X, y, b0, lam, l1_ratio, dropout, seeds, lr, tol, cfg=cfg)

    def per_seed(seed, Xs, ys, b0s, lam_s):
        key = jax.random.key(seed)

        def per_penalty(lam_p, a, rates):
            one = lambda lm, r: _fit_one(key, Xs, ys, b0s, lm, a, r, lr, tol, cfg=cfg)
            return jax.vmap(one)(lam_p, rates)

        return jax.vmap(per_penalty)(lam_s, l1_ratio, dropout)

    xa = 0 if cfg["per_seed_data"] else None
    return jax.vmap(per_seed, in_axes=(0, xa, xa, 0, 0))(seeds, X, y, b0, lam)


class _Static(dict):
    """A hashable dict of static options (compared by value)."""

    def __hash__(self):
        return hash(tuple(sorted(self.items())))


_fit_grid_jit = jax.jit(_fit_grid, static_argnames=("cfg",))


def _check_grid(lam, l1_ratio, dropout, seeds):
    lam = np.asarray(lam, dtype=np.float64)
    if lam.ndim != 3:
        raise ValueError(f"lam must have shape (S, P, L), got {lam.shape}")
    S, P, L = lam.shape
    l1_ratio = np.asarray(l1_ratio, dtype=np.float64)
    dropout = np.asarray(dropout, dtype=np.float64)
    seeds = np.asarray(seeds)
    if l1_ratio.shape != (P,):
        raise ValueError(f"l1_ratio must have shape (P,) = ({P},), got {l1_ratio.shape}")
    if dropout.shape != (P, L):
        raise ValueError(f"dropout must have shape (P, L) = ({P}, {L}), got {dropout.shape}")
    if seeds.shape != (S,) or not np.issubdtype(seeds.dtype, np.integer):
        raise ValueError(f"seeds must be (S,) = ({S},) integers, got {seeds.dtype} {seeds.shape}")
    if not np.all(np.isfinite(lam)) or np.any(lam < 0):
        raise ValueError("lam must be finite and >= 0")
    if np.any((l1_ratio < 0) | (l1_ratio > 1)):
        raise ValueError(f"l1_ratio must lie in [0, 1], got {l1_ratio}")
    if np.any((dropout < 0) | (dropout >= 1)):
        raise ValueError(f"dropout rates must lie in [0, 1), got {dropout}")
    return lam, l1_ratio, dropout, seeds


def train_grid(
    X,
    y,
    *,
    task: str,
    hidden: Sequence[int] = (),
    activation: str = "relu",
    lam,
    l1_ratio,
    dropout,
    seeds,
    optimizer: str = "prox_grad",
    learning_rate: float = 1e-2,
    lr_schedule: str = "constant",
    steps: int = 1000,
    batch_size: int | None = None,
    fit_intercept: bool = True,
    tol: float = 1e-6,
    check_every: int = 50,
    precision: str = "float64",
    n_classes: int | None = None,
    stacked: bool = True,
    timings: dict | None = None,
    loss=None,
) -> TrainResult:
    """Train every point of a grid of seeds × penalties × strengths in one compiled call.

    ``prox_grad`` (the default) is the proximal gradient method with a backtracking step: each
    step proposes ``θ⁺ = prox_{ηΩ}(θ - η∇L(θ))`` and keeps it when the composite Armijo
    condition holds (:func:`_accept`), so every kept step decreases F and the step adapts to
    the local curvature (starting from ``learning_rate``); its fixed points are exactly the
    stationary points of F. With full batches and no dropout L is the full-data loss; with
    minibatches or dropout the test is made on each step's sample (both points under the same
    minibatch and dropout masks), a stochastic line search whose iterates do not settle exactly.
    ``sgd`` and ``adam`` are optax steps at a fixed ``learning_rate`` (see
    :func:`l1bench.solvers.transforms.penalized_optimizer`; adam's prox is a heuristic whose fixed
    points are not those of F).

    Stationarity is measured by the prox-gradient mapping with unit step on the full data,
    ``G_W = W - soft(W - ∇_W(L + λ(1-α)/2 ||W||²), λα)`` for weights and ``G_b = ∇_b L`` for
    biases (zero for ``fit_intercept=False``); ``kkt = ||G(θ)||∞ / max(||G(θ₀)||∞, ||∇L(θ₀)||∞)``
    (θ₀ the initial parameters; the loss gradient covers an already stationary start, 1 a zero
    denominator), which is 0 exactly at a stationary point of F.
    Status: ``diverged`` if the loss or parameters ever became non-finite (fixed-step optimizers)
    or the final F is over ``BLOWUP`` times F(θ₀), else ``converged`` if ``kkt <= tol`` and the
    fit has no dropout, else ``max_iter``: a stochastic-dropout fit minimizes the expected F,
    whose stationarity the measure does not see, and is never ``converged``.
    The compiled executable is kept per shape and static options, so a second grid of the same
    shape does not recompile.

    Args:
      X: (n, p) design shared by all seeds, or (S, n, p) one per seed (e.g. folds).
      y: (n,) or (S, n) targets: real for ``regression``, 0/1 for ``binary``, 0..K-1 for
        ``multiclass``.
      task: ``regression`` | ``binary`` | ``multiclass``.
      hidden: hidden-layer widths; empty for a linear / logistic model (initialized at zero).
      activation: hidden nonlinearity (see :func:`l1bench.models.apply`).
      lam: (S, P, L) strengths λ ≥ 0.
      l1_ratio: (P,) mixes α in [0, 1].
      dropout: (P, L) stochastic dropout rates in [0, 1) (0 where no dropout).
      seeds: (S,) integer seeds.
      optimizer: ``prox_grad`` | ``adam`` | ``sgd``.
      learning_rate: the step η (its peak value under a schedule); for ``prox_grad`` the first
        trial step, which the line search then adapts.
      lr_schedule: ``constant`` | ``cosine`` (η·(1 + cos(πt/steps))/2, decaying to 0; for
        ``prox_grad`` a factor on the trial step).
      steps: optimizer steps per fit (for ``prox_grad`` each is one gradient evaluation, kept
        or rejected).
      batch_size: minibatch size (a fresh random subset each step); None = full batch.
      fit_intercept: train the output bias; if False it stays at zero.
      tol: stop a fit once ``kkt <= tol`` (checked every ``check_every`` steps).
      check_every: steps between full-data KKT evaluations.
      precision: ``float64`` | ``float32``.
      n_classes: K for ``multiclass`` (default: ``max(y) + 1``).
      stacked: where X is shared (2-D) and batches are full, train all fits as one stack
        whose gradients come from one hand-written batched forward / backward pass
        (:func:`_stacked_loss_grad`; the same fits to rounding, ~1.5× faster on a 2-core
        CPU for case E of the speed suite).
        False (or per-seed X, or minibatches) vmaps the per-fit autodiff path instead.
      timings: if a dict, ``compile_s`` (0 when reused) and ``fit_s`` are added to it.
      loss: the :class:`l1bench.losses.Loss` every fit minimizes (its ``task`` must be
        ``task``; default: the task's own, :func:`l1bench.losses.for_task`).

    Returns:
      A :class:`TrainResult` of numpy arrays with leading axes (S, P, L).
    """
    if task not in TASKS:
        raise ValueError(f"task={task!r}; choose one of {', '.join(TASKS)}")
    loss = for_task(task) if loss is None else loss
    if loss.task != task:
        raise ValueError(f"loss {loss.name!r} is for task={loss.task}, not {task}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule={lr_schedule!r}; choose one of {', '.join(LR_SCHEDULES)}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}; choose one of {', '.join(PRECISIONS)}")
    if activation not in models.ACTIVATIONS:
        raise ValueError(
            f"activation={activation!r}; choose one of {', '.join(models.ACTIVATIONS)}"
        )
    if int(steps) < 1 or int(check_every) < 1:
        raise ValueError(f"steps={steps!r} and check_every={check_every!r} must be >= 1")
    if not (np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate={learning_rate!r} must be > 0")
    if not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol={tol!r} must be >= 0")
    lam, l1_ratio, dropout, seeds = _check_grid(lam, l1_ratio, dropout, seeds)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    S = lam.shape[0]
    if X.ndim not in (2, 3) or (X.ndim == 3 and X.shape[0] != S):
        raise ValueError(f"X must be (n, p) or (S, n, p) with S = {S}, got {X.shape}")
    if y.shape != X.shape[:-1]:
        raise ValueError(
            f"y must have shape {X.shape[:-1]} (X without its last axis), got {y.shape}"
        )
    if not np.all(np.isfinite(X)) or not np.all(np.isfinite(y)):
        raise ValueError("X and y must be finite")
    if task == "multiclass":
        if n_classes is None:
            n_classes = int(y.max()) + 1
        if np.any((y < 0) | (y >= n_classes) | (y != np.round(y))):
            raise ValueError(f"multiclass labels must be integers in [0, {n_classes})")
    elif task == "binary" and not np.all((y == 0) | (y == 1)):
        raise ValueError("binary labels must be 0 or 1")
    n = X.shape[-2]
    if batch_size is not None and not 1 <= int(batch_size) <= n:
        raise ValueError(f"batch_size={batch_size!r} must be in [1, n_samples={n}] or None")

    dtype = PRECISIONS[precision]
    y_dtype = jnp.int32 if task == "multiclass" else dtype
    cfg = dict(
        task=task,
        loss=loss,
        n_out=models.n_outputs(task, n_classes),
        hidden=tuple(int(h) for h in hidden),
        activation=activation,
        optimizer=optimizer,
        lr_schedule=lr_schedule,
        steps=int(steps),
        batch_size=None if batch_size is None or int(batch_size) == n else int(batch_size),
        fit_intercept=bool(fit_intercept),
        check_every=min(int(check_every), int(steps)),
        use_dropout=bool(np.any(dropout > 0)),
        per_seed_data=X.ndim == 3,
        stacked=bool(stacked) and X.ndim == 2 and (batch_size is None or int(batch_size) == n),
    )
    per_problem = y if y.ndim == 2 else [y] * S
    b0 = [
        intercept0(ys, task=task, n_out=cfg["n_out"], fit_intercept=cfg["fit_intercept"], loss=loss)
        for ys in per_problem
    ]
    args = (
        jnp.asarray(X, dtype),
        jnp.asarray(y, y_dtype),
        jnp.asarray(np.stack(b0), dtype),
        jnp.asarray(lam, dtype),
        jnp.asarray(l1_ratio, dtype),
        jnp.asarray(dropout, dtype),
        jnp.asarray(seeds),
        jnp.asarray(learning_rate, dtype),
        jnp.asarray(tol, dtype),
    )
    batch = (0, 1, 2, 3, 6) if X.ndim == 3 else (2, 3, 6)  # X, y, b0, lam, seeds carry S
    # the seeds run from one host thread per core on CPU: XLA CPU runs each small batched
    # product of the stack on one thread, so one call keeps one core busy for most of a step
    out = runtime.call(
        _fit_grid_jit,
        args,
        {"cfg": _Static(cfg)},
        timings=timings,
        batch_argnums=batch,
        threads=runtime.host_pool_threads(),
    )
    params, *rest = out
    params = jax.tree_util.tree_map(np.asarray, params)
    return TrainResult(params, *(np.asarray(a) for a in rest))
