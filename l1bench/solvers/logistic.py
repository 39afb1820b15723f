"""Exact solver for binary and multinomial logistic regression with L1 / L2 / elastic net.

The problem, per fit (scikit-learn's ``LogisticRegression`` objective divided by ``n · C``, i.e.
``C = 1 / (n λ)``):

.. math::

   \\min_{W, b} \\; \\frac{1}{n} \\sum_{i=1}^n \\ell(y_i, W^\\top x_i + b)
     + \\lambda \\Big( \\alpha \\|W\\|_1 + \\frac{1-\\alpha}{2} \\|W\\|_F^2 \\Big)

* binary (``n_classes == 2``, labels in {0, 1}): ``W`` is (p,), ``b`` a scalar and
  ``ℓ(y, z) = log(1 + e^z) - y z``;
* multinomial (``n_classes = K >= 3``, labels 0..K-1): ``W`` is (p, K), ``b`` is (K,) and
  ``ℓ(y, z) = log Σ_k e^{z_k} - z_y`` (softmax cross-entropy in the full K-column parametrization,
  as scikit-learn's multinomial ``LogisticRegression``; the L1 norm is elementwise).

The intercept ``b`` is never penalized. With an intercept the columns of X are centred internally
(``b`` absorbs ``x̄ᵀW``; the returned intercept is for the raw X), which leaves the problem unchanged
and makes the intercept orthogonal to the features.

**Algorithm.** Accelerated proximal gradient (FISTA with O'Donoghue–Candès gradient restart) on
the smooth block ``(W, b)``, soft-thresholding ``W`` only, so zeros are exact. The steps are per
coordinate (Jacobi-preconditioned, so features in mixed units converge as if standardized):
``1 / (L s_j + λ(1-α))`` for column j of ``W`` and ``1 / L`` for ``b``, with ``s_j`` the mean
square of column j of ``X_c`` and ``L = ||X̃ S⁻¹ᐟ²||₂² / (4n)`` (binary) or ``/ (2n)``
(multinomial, Böhning's bound ``diag(p) - ppᵀ ⪯ I/2``), where ``X̃ = [X_c, 1]`` with an
intercept, ``X`` without.

**Stopping: a duality gap.** The Fenchel dual of the problem is

.. math::

   \\max_{Q} \\; -\\frac{1}{n} \\sum_i h(q_i) - g^*\\big(X^\\top (Y - Q) / n\\big)
   \\quad \\text{s.t. } q_i \\in \\Delta_K, \\;
   \\textstyle\\sum_i (q_i - y_i) = 0 \\text{ (with an intercept)}

with ``h(q) = Σ_k q_k log q_k`` (for binary, of the Bernoulli ``q``), ``Y`` the one-hot labels,
``g`` the penalty and ``g*`` its convex conjugate. The dual point is built from the model's
probabilities ``Q`` at the current iterate, in steps that keep it feasible:

1. intercept constraint: ``Q ← π + r (Q - m)``, ``m`` the column means of ``Q``, ``π`` the class
   frequencies, ``r ∈ (0, 1]`` the largest value keeping every entry in [0, 1] (``r = 1`` when
   the intercept is optimal, so this step vanishes at the solution);
2. L1 feasibility: ``Q ← Y + s (Q - Y)`` with ``s = min(1, λα / ||V||_∞)``,
   ``V = X_cᵀ(Y - Q)/n``;
3. when ``λ(1-α) > 0`` the point of step 1 (``s = 1``) is feasible too; the smaller gap is kept.

The gap is summed from terms that are each ``≥ 0``: ``(1/n) Σ_i KL(q_i ‖ p(z_i))`` (``p`` the
model's probabilities at logits ``z_i``) plus per-coefficient Fenchel–Young gaps
``g_j(w_j) + g_j*(v_j) - w_j v_j`` of the penalty. A fit stops when ``gap ≤ tol · P(0)``, where
``P(0)`` is the objective at ``W = 0`` with the optimal intercept (the entropy of the class
frequencies; ``log 2`` or ``log K`` without intercept); ``gap`` is absolute and ``rel_gap`` is
``gap / P(0)``. As the gap bounds the suboptimality, ``tol = 1e-8`` leaves the objective within
``1e-8 · P(0) / P*`` of the optimum, relatively. In float32 the gap of L1 fits at small λ floors
near 1e-5 · P(0) (it is first order in the rounding of the gradient): use ``tol >= 1e-4`` there.

With no penalty (λ = 0) there is no finite dual bound; ``gap`` is then the largest entry of the
gradient in ``(W, b)`` (with X centred when an intercept is fitted) and ``rel_gap`` that value over
its value at ``W = 0`` with the optimal intercept. Separable data have no unpenalized solution;
such fits end with status ``max_iter``.

The whole grid (problems × penalties × strengths) is one jit-compiled call: ``vmap`` over problems
and penalties, ``lax.scan`` along each strength path (warm starts), ``lax.while_loop`` over
iterations with the gap evaluated every ``check_every`` iterations.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import xlogy

from l1bench import runtime
from l1bench.grid import gauge_groups, per_gauge
from l1bench.grid import lambda_max as grid_lambda_max
from l1bench.penalties import L1
from l1bench.solvers import gaps
from l1bench.solvers.gaps import ConvexResult
from l1bench.vocab import STATUS

__all__ = ["STATUS", "LogisticResult", "fit_grid", "lambda_max", "solve"]

_HI = lax.Precision.HIGHEST


# The fits of a grid, with leading axes (S, P, L) = problems, penalties, strengths, in the fields
# of the linear solver's result (one result type for every exact backend):
#   coef: (S, P, L, p) binary, (S, P, L, p, K) multinomial; exact zeros from the L1 part.
#   intercept: (S, P, L) binary, (S, P, L, K) multinomial (for the raw, uncentred X).
#   objective: the objective above at the returned (W, b).
#   gap: final duality gap, absolute (largest gradient entry when λ = 0).
#   rel_gap: the stopping measure, gap / P(0) (when λ = 0: over the gradient at W = 0 with the
#     optimal intercept).  n_iter, status: iterations and an index into STATUS.
LogisticResult = ConvexResult


class _Problem(NamedTuple):
    X: jax.Array  # (n, p) design, centred when an intercept is fitted
    Y: jax.Array  # (n, K') labels: (n, 1) in {0, 1} for binary, one-hot (n, K) for multinomial
    XtY: jax.Array  # (K', p) YᵀX/n
    x_mean: jax.Array  # (p,) column means removed from X (zeros without intercept)
    prior: jax.Array  # (K',) class frequencies (1/2 or 1/K without intercept)
    # Lipschitz constant of the mean loss's gradient in (W, b) after Jacobi scaling of X's
    # columns (see diag)
    lipschitz: jax.Array
    b0: jax.Array  # (K',) optimal intercept at W = 0
    p0: jax.Array  # objective at W = 0 with the intercept b0
    kkt0: jax.Array  # largest gradient entry at W = 0, b = b0
    # mean_i X_ij² of the (centred) X (p,): the Hessian in (W, b) is at most
    # lipschitz · diag(diag, 1), the per-coordinate steps' bound (gaps.curvature)
    diag: jax.Array


# -- the loss, for binary (one logit column) and multinomial (K columns) ---------------------------


def probs(Z, binary: bool):
    """Class probabilities of logits ``Z``: the sigmoid (binary) or the softmax over classes."""
    return jax.nn.sigmoid(Z) if binary else jax.nn.softmax(Z, axis=-1)


def _mean_loss(Z, Y, binary: bool):
    if binary:
        return jnp.mean(jax.nn.softplus(Z[:, 0]) - Y[:, 0] * Z[:, 0])
    return jnp.mean(jax.nn.logsumexp(Z, axis=-1) - jnp.sum(Y * Z, axis=-1))


def _mean_kl(Qd, Z, binary: bool):
    """``(1/n) Σ_i KL(q_i ‖ p(z_i))``: the Fenchel–Young gap of the loss at logits ``Z``."""
    if binary:
        kl = (
            xlogy(Qd, Qd)
            + xlogy(1.0 - Qd, 1.0 - Qd)
            + Qd * jax.nn.softplus(-Z)
            + (1.0 - Qd) * jax.nn.softplus(Z)
        )
        return jnp.mean(jnp.sum(kl, axis=-1))
    log_p = Z - jax.nn.logsumexp(Z, axis=-1, keepdims=True)
    return jnp.mean(jnp.sum(xlogy(Qd, Qd) - Qd * log_p, axis=-1))


def _entropy(prior, binary: bool):
    """``-Σ_k π_k log π_k``: the log loss of the intercept-only model."""
    if binary:
        return -(xlogy(prior, prior) + xlogy(1.0 - prior, 1.0 - prior))[0]
    return -jnp.sum(xlogy(prior, prior))


def prepare(X, y, n_classes: int, fit_intercept: bool) -> _Problem:
    """The centred problem, its step bounds and the zero model (prior, intercept, objective)."""
    n, p = X.shape
    binary = n_classes == 2
    if binary:
        Y = y.astype(X.dtype)[:, None]
    else:
        Y = jax.nn.one_hot(y, n_classes, dtype=X.dtype)
    x_mean = X.mean(axis=0) if fit_intercept else jnp.zeros(p, X.dtype)
    Xc = X - x_mean
    diag = jnp.sum(Xc * Xc, axis=0) / n
    sigma2 = jnp.linalg.svd(Xc * gaps.inv_sqrt(diag), compute_uv=False)[0] ** 2
    if fit_intercept:
        sigma2 = jnp.maximum(sigma2, n)  # [Xc S⁻¹, 1] has orthogonal blocks
    lipschitz = sigma2 / n / (4.0 if binary else 2.0)
    tiny = jnp.finfo(X.dtype).tiny
    if fit_intercept:
        prior = Y.mean(axis=0)
        logp = jnp.log(jnp.maximum(prior, tiny))
        if binary:
            b0 = logp - jnp.log(jnp.maximum(1.0 - prior, tiny))
        else:
            b0 = logp - logp.mean()
        p0 = _entropy(prior, binary)
    else:
        prior = jnp.full(Y.shape[1], 0.5 if binary else 1.0 / n_classes, X.dtype)
        b0 = jnp.zeros(Y.shape[1], X.dtype)
        p0 = jnp.log(jnp.asarray(n_classes, X.dtype))
    XtY = jnp.matmul(Y.T, Xc, precision=_HI) / n
    # gradient in W at W = 0, b = b0 (XcᵀY/n up to sign with an intercept, as Xc is centred)
    kkt0 = jnp.max(jnp.abs(jnp.matmul((prior - Y).T, Xc, precision=_HI))) / n
    return _Problem(Xc, Y, XtY, x_mean, prior, lipschitz, b0, p0, kkt0, diag)


def logits(prob: _Problem, W, b):
    """``Z = X_c Wᵀ + b`` with ``W`` stored as (K', p), K' = 1 for binary."""
    return jnp.matmul(prob.X, W.T, precision=_HI) + b


def _gradient(prob: _Problem, Z, binary: bool, fit_intercept: bool):
    """Gradient of the mean loss in ``(W, b)`` (as ``rᵀX``, fast on XLA CPU), and the probs."""
    n = prob.X.shape[0]
    Q = probs(Z, binary)
    R = Q - prob.Y
    gW = jnp.matmul(R.T, prob.X, precision=_HI) / n
    gb = R.mean(axis=0) if fit_intercept else jnp.zeros_like(prob.b0)
    return gW, gb, Q


def objective_and_gap(prob: _Problem, W, b, mu, kappa, binary: bool, fit_intercept: bool, gauge=L1):
    """Primal objective, and the duality gap at ``(W, b)`` (see the module docstring).

    One product with X for the logits and one for the gradient ``gW``; the dual point's
    ``V = X_cᵀ(Y - Q_d)/n`` follows from ``gW`` without a third one: with
    ``Q_d = π + r (Q - m)`` and ``X_c`` centred, ``V = -r gW + (1 - r) X_cᵀY/n``.
    """
    Z = logits(prob, W, b)
    gW, gb, Q = _gradient(prob, Z, binary, fit_intercept)
    kkt = jnp.maximum(jnp.max(jnp.abs(gW)), jnp.max(jnp.abs(gb)))
    g_W = gauge.terms(W)
    ridge = 0.5 * kappa * jnp.sum(W * W)
    primal = _mean_loss(Z, prob.Y, binary) + mu * jnp.sum(g_W) + ridge

    # 1. column means of the dual probabilities equal the class frequencies (intercept constraint)
    if fit_intercept:
        m = Q.mean(axis=0)
        tiny = jnp.finfo(Q.dtype).tiny
        below = m - Q.min(axis=0)  # room needed to keep every entry >= 0 after the shift
        r = jnp.min(jnp.where(below > prob.prior, prob.prior / jnp.maximum(below, tiny), 1.0))
        if binary:  # and <= 1 (for K columns the row sums of 1 see to that)
            above = Q.max(axis=0) - m
            room = 1.0 - prob.prior
            r = jnp.minimum(
                r, jnp.min(jnp.where(above > room, room / jnp.maximum(above, tiny), 1.0))
            )
        Qd = jnp.clip(prob.prior + r * (Q - m), 0.0, 1.0)
        V = (1.0 - r) * prob.XtY - r * gW
    else:
        Qd, V = Q, -gW

    # 2. rescaled point, feasible for the gauge part: g°(s V) <= mu
    vmax = gauge.dual_norm(V)
    s = jnp.where(vmax > mu, mu / jnp.where(vmax > 0, vmax, 1.0), 1.0)
    Qs = prob.Y + s * (Qd - prob.Y)
    safe_kappa = jnp.where(kappa > 0, kappa, 1.0)

    def penalty_fy(Vd):
        """Σ_j Ω_j(w_j) + Ω_j*(v_j) - w_j v_j with Ω* = u²/(2κ), u = prox_{μg}(v) (κ > 0), and
        0 on the feasible Vd used when κ = 0."""
        u = gauge.shrink(Vd, mu)
        conj = jnp.where(kappa > 0, u * u / (2.0 * safe_kappa), 0.0)
        return jnp.sum(mu * g_W + 0.5 * kappa * W * W + conj - W * Vd)

    gap_scaled = _mean_kl(Qs, Z, binary) + penalty_fy(s * V)
    # 3. the unscaled point when the L2 part makes g* finite everywhere
    gap_smooth = jnp.where(kappa > 0, _mean_kl(Qd, Z, binary) + penalty_fy(V), jnp.inf)
    gap = jnp.minimum(gap_scaled, gap_smooth)
    unpenalized = (mu == 0) & (kappa == 0)
    return primal, jnp.where(unpenalized, kkt, gap)


def _solve_one(
    prob, start, lam, l1_ratio, tol, max_iter, check_every, binary, fit_intercept, gauge
):
    """FISTA with adaptive restart from ``start = (W, b)`` for one strength."""
    mu = lam * l1_ratio
    kappa = lam * (1.0 - l1_ratio)
    # per coordinate (Jacobi-preconditioned FISTA): W's columns by the scale of X's, b by 1
    curv_W = gaps.curvature(prob.lipschitz, prob.diag, kappa, 1.0)
    step, step_b = 1.0 / curv_W, 1.0 / prob.lipschitz
    unpenalized = (mu == 0) & (kappa == 0)
    tiny = jnp.finfo(prob.X.dtype).tiny
    scale = jnp.maximum(jnp.where(unpenalized, prob.kkt0, prob.p0), tiny)
    gap_of = partial(
        objective_and_gap,
        prob,
        mu=mu,
        kappa=kappa,
        binary=binary,
        fit_intercept=fit_intercept,
        gauge=gauge,
    )

    def fista_step(_, state):
        W, b, zW, zb, t = state
        gW, gb, _ = _gradient(prob, logits(prob, zW, zb), binary, fit_intercept)
        W_new = gauge.shrink(zW - step * (gW + kappa * zW), step * mu)
        b_new = zb - step_b * gb
        # the restart test in the preconditioned metric
        restart_W = jnp.sum((zW - W_new) * curv_W * (W_new - W))
        restart = restart_W + prob.lipschitz * jnp.sum((zb - b_new) * (b_new - b)) > 0
        t_new = jnp.where(restart, 1.0, 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t)))
        momentum = jnp.where(restart, 0.0, (t - 1.0) / t_new)
        zW = W_new + momentum * (W_new - W)
        zb = b_new + momentum * (b_new - b)
        return W_new, b_new, zW, zb, t_new

    def cond(carry):
        *_, it, (_, gap) = carry
        crit = gap / scale
        return (crit > tol) & (it < max_iter) & jnp.isfinite(crit)

    def body(carry):
        W, b, zW, zb, t, it, _ = carry
        W, b, zW, zb, t = lax.fori_loop(0, check_every, fista_step, (W, b, zW, zb, t))
        return W, b, zW, zb, t, it + check_every, gap_of(W, b)

    W0, b0 = start
    one = jnp.ones((), W0.dtype)
    init = (W0, b0, W0, b0, one, jnp.zeros((), jnp.int32), gap_of(W0, b0))
    W, b, _, _, _, it, (objective, gap) = lax.while_loop(cond, body, init)
    crit = gap / scale
    finite = jnp.isfinite(objective) & jnp.isfinite(crit)
    finite &= jnp.all(jnp.isfinite(W)) & jnp.all(jnp.isfinite(b))
    status = jnp.where(~finite, 2, jnp.where(crit <= tol, 0, 1))
    return (W, b), (W, b, objective, gap, crit, it, status)


def _solve_path(prob, lam_path, l1_ratio, tol, max_iter, check_every, binary, fit_intercept, gauge):
    def step(start, lam):
        return _solve_one(
            prob, start, lam, l1_ratio, tol, max_iter, check_every, binary, fit_intercept, gauge
        )

    W0 = jnp.zeros((prob.Y.shape[1], prob.X.shape[1]), lam_path.dtype)
    _, (W, b, obj, gap, crit, it, status) = lax.scan(step, (W0, prob.b0), lam_path)
    b = b - jnp.matmul(W, prob.x_mean, precision=_HI)  # intercept for the raw X
    if binary:
        W, b = W[:, 0, :], b[:, 0]
    else:
        W = jnp.swapaxes(W, -1, -2)  # (L, p, K)
    return LogisticResult(W, b, obj, gap, crit, it, status)


@partial(jax.jit, static_argnames=("n_classes", "fit_intercept", "check_every", "gauge"))
def fit_grid(
    X,
    y,
    lam,
    l1_ratio,
    tol,
    max_iter,
    *,
    n_classes,
    fit_intercept=True,
    check_every=10,
    gauge=L1,
) -> LogisticResult:
    """Fit every point of a grid in one compiled call.

    Args:
      X: (S, n, p) designs, one per problem. y: (S, n) integer labels in ``0..n_classes-1``.
      lam: (S, P, L) strengths λ, each path from strongest to weakest (warm starts follow it).
      l1_ratio: (P,) α per penalty.
      tol: stopping tolerance on gap / P(0). max_iter: iteration cap per fit.
      n_classes: 2 for binary logistic regression (``W`` (p,)), K >= 3 for multinomial.
      fit_intercept: fit an unpenalized intercept.
      check_every: iterations between gap evaluations.
      gauge: the penalties' nonsmooth part (:class:`l1bench.penalties.Gauge`, shared by all P).

    Returns:
      A :class:`LogisticResult` with leading axes (S, P, L).
    """
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    binary = n_classes == 2
    tol = jnp.asarray(tol, X.dtype)

    def per_problem(Xs, ys, lam_s):
        prob = prepare(Xs, ys, n_classes, fit_intercept)
        solve_path = partial(
            _solve_path,
            prob,
            tol=tol,
            max_iter=max_iter,
            check_every=check_every,
            binary=binary,
            fit_intercept=fit_intercept,
            gauge=gauge,
        )
        return jax.vmap(lambda lp, a: solve_path(lp, a))(lam_s, l1_ratio)

    return jax.vmap(per_problem)(X, y, lam)


def lambda_max(X, y, l1_ratio: float, fit_intercept: bool, n_classes: int) -> float:
    """Smallest λ with ``W = 0`` optimal (see :func:`l1bench.grid.lambda_max`)."""
    task = "binary" if n_classes == 2 else "multiclass"
    X = np.asarray(X, dtype=float)
    return grid_lambda_max(X, np.asarray(y), l1_ratio, fit_intercept, task, n_classes)


def solve(
    grid,
    X,
    y,
    *,
    n_classes,
    fit_intercept=True,
    tol=1e-8,
    max_iter=20000,
    check_every=10,
    precision="float64",
    timings: dict | None = None,
) -> LogisticResult:
    """Fit a :class:`l1bench.grid.Grid` on (S, n, p) designs and (S, n) labels; numpy arrays out.

    Casts to ``precision`` (``float64`` | ``float32``). The compiled executable is kept per shape,
    so a second grid of the same shape does not recompile. If ``timings`` is a dict, ``compile_s``
    (0 when reused) and ``fit_s`` are added. Marginalized dropout has no exact logistic form and is
    refused. Penalties with different gauges are fitted in separate compiled calls.
    """
    if len(gauge_groups(grid)) > 1:
        kw = dict(n_classes=n_classes, fit_intercept=fit_intercept, tol=tol, max_iter=max_iter)
        kw.update(check_every=check_every, precision=precision, timings=timings)
        return per_gauge(grid, lambda part: solve(part, X, y, **kw))
    if precision not in ("float64", "float32"):
        raise ValueError(f"precision must be float64 or float32, got {precision!r}")
    if int(n_classes) != n_classes or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    for pen in grid.penalties:
        if pen.dropout_weighted:
            raise ValueError(
                f"penalty {pen.label!r}: marginalized dropout is defined for linear regression "
                "only; use the optax trainer (stochastic dropout) for logistic models"
            )
    y = np.asarray(y)
    if y.size and (np.any(y != np.round(y)) or y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"y must hold integer labels in 0..{n_classes - 1}")
    dtype = {"float64": jnp.float64, "float32": jnp.float32}[precision]
    l1_ratio = np.array([pen.l1_ratio for pen in grid.penalties])
    args = (
        jnp.asarray(X, dtype),
        jnp.asarray(y, jnp.int32),
        jnp.asarray(grid.lam, dtype),
        jnp.asarray(l1_ratio, dtype),
        jnp.asarray(tol, dtype),
        jnp.asarray(max_iter, jnp.int32),
    )
    statics = dict(
        n_classes=int(n_classes),
        fit_intercept=bool(fit_intercept),
        check_every=int(check_every),
        gauge=grid.penalties[0].gauge,
    )
    out = runtime.call(fit_grid, args, statics, timings=timings, batch_argnums=(0, 1, 2))
    return LogisticResult(*(np.asarray(a) for a in out))
