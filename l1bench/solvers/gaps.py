"""Squared-loss duality gaps and certificates shared by every exact linear solver.

The problem, per fit (scikit-learn's ElasticNet objective with L2 weights ``d``):

.. math::

   \\min_{w, b} \\; \\frac{1}{2n} \\|y - Xw - b\\|_2^2
     + \\lambda \\Big( \\alpha \\|w\\|_1 + \\frac{1-\\alpha}{2} \\sum_j d_j w_j^2 \\Big)

The intercept is eliminated by centring (``b = ȳ - x̄ᵀw``: :func:`prepare`, on the Gram matrix
with ``p <= n``, else on X). A fit is certified when its duality gap is at most
``tol · P(0)``, where ``P(0) = ||y - ȳ||² / (2n)`` is the objective at ``w = 0``
(:func:`gap_scale`). Two Fenchel dual points are evaluated at ``θ = r / n`` (``r`` the residual)
and the better one is used (:func:`objective_and_gap`, :func:`gap_from_residual`):

* the rescaled point ``s·θ`` with ``s = min(1, μ / ||Xᵀθ||_∞)`` (μ = λα), feasible for the L1 part;
* when κ = λ(1-α) > 0, ``θ`` itself with ``g*(v) = Σ_j (|v_j| - μ)_+² / (2κ d_j)``.

With no penalty at all (λ = 0) there is no useful dual bound; the stopping measure is then the
KKT violation ``||Xᵀr/n||_∞`` relative to its value at ``w = 0`` (:func:`kkt0`).

Also here: the result type of the exact solvers (:class:`ConvexResult`), the per-coordinate
step bounds (:func:`curvature`) and the stall rule at the precision's rounding floor
(:func:`rounding_floor`, :func:`track_stall`, :data:`PATIENCE`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from l1bench.penalties import L1

PATIENCE = 200  # iterations without a 10% gap improvement that stop a lane at the rounding floor


class ConvexResult(NamedTuple):
    """Fits of a grid; leading axes (S, P, L) = problems, penalties, strengths.

    Attributes:
      coef: (S, P, L, p) coefficients. intercept: (S, P, L).
      objective: (S, P, L) primal objective P(w) (with the optimal intercept).
      gap: (S, P, L) final duality gap (KKT violation when λ = 0), absolute.
      rel_gap: (S, P, L) the stopping measure: gap / P(0).
      n_iter: (S, P, L) iterations. status: (S, P, L) index into ``STATUS``.
    """

    coef: jax.Array
    intercept: jax.Array
    objective: jax.Array
    gap: jax.Array
    rel_gap: jax.Array
    n_iter: jax.Array
    status: jax.Array


class Problem(NamedTuple):
    A: jax.Array  # Gram Xcᵀ Xc / n (p, p), or Xc (n, p)
    c: jax.Array  # Xcᵀ yc / n (p,) in Gram mode, or yc (n,)
    yy: jax.Array  # ||yc||² / n
    x_mean: jax.Array
    y_mean: jax.Array
    d_dropout: jax.Array  # mean_i x_ij² of the raw X (p,)
    lipschitz: jax.Array  # largest eigenvalue of the Jacobi-scaled Gram matrix (see diag)
    # the diagonal of G = Xcᵀ Xc / n (p,): G ≼ lipschitz · diag(diag), the per-coordinate
    # steps' bound (:func:`curvature`); None where a problem is only evaluated, not solved
    diag: jax.Array | None = None


def inv_sqrt(diag):
    """``1/√diag`` where the diagonal is positive, 0 for the zero columns (they stay out)."""
    pos = diag > 0
    return jnp.where(pos, lax.rsqrt(jnp.where(pos, diag, 1.0)), 0.0)


def curvature(lip, diag, kappa, d):
    """Per-coordinate steps' inverse: ``lip · G_jj + κ d_j`` (1 where it is 0).

    With ``lip = λ_max(S⁻¹ G S⁻¹)``, ``S² = diag(G)``, the smooth part's Hessian ``G + κ D`` is
    at most ``diag(lip · G_jj + κ d_j)``, so proximal gradient steps ``1 / curvature`` are safe
    per coordinate. This is FISTA on the Jacobi-preconditioned problem: columns on different
    scales (raw features in mixed units) converge as if standardized, where one step ``1/λ_max(G)``
    for every coordinate moved the small-scale ones by almost nothing. A coordinate with zero
    curvature has a zero gradient too (a zero centred column without a ridge part).
    """
    c = lip * diag + kappa * d
    return jnp.where(c > 0, c, 1.0)


def prepare(X, y, fit_intercept: bool, use_gram: bool, bounds: bool = True) -> Problem:
    """The centred problem; ``bounds=False`` leaves out the step bounds (``lipschitz`` and
    ``diag`` are None: the problem is only evaluated, as by the certificates)."""
    n = X.shape[0]
    x_mean = X.mean(axis=0) if fit_intercept else jnp.zeros(X.shape[1], X.dtype)
    y_mean = y.mean() if fit_intercept else jnp.zeros((), X.dtype)
    Xc, yc = X - x_mean, y - y_mean
    d = jnp.mean(X * X, axis=0)
    hi = lax.Precision.HIGHEST
    if use_gram:
        G = jnp.matmul(Xc.T, Xc, precision=hi) / n
        c = jnp.matmul(yc, Xc, precision=hi) / n
        if not bounds:
            return Problem(G, c, yc @ yc / n, x_mean, y_mean, d, None)
        diag = jnp.diagonal(G)
        inv = inv_sqrt(diag)
        lip = jnp.linalg.eigvalsh(G * inv[:, None] * inv[None, :])[-1]
        return Problem(G, c, yc @ yc / n, x_mean, y_mean, d, lip, diag)
    if not bounds:
        return Problem(Xc, yc, yc @ yc / n, x_mean, y_mean, d, None)
    diag = jnp.sum(Xc * Xc, axis=0) / n
    lip = jnp.linalg.svd(Xc * inv_sqrt(diag), compute_uv=False)[0] ** 2 / n
    return Problem(Xc, yc, yc @ yc / n, x_mean, y_mean, d, lip, diag)


def residual(prob: Problem, w, use_gram: bool):
    """Return ``(Xcᵀr/n, ||r||²/n, ycᵀr/n)`` for the residual ``r = yc - Xc w``."""
    hi = lax.Precision.HIGHEST
    if use_gram:
        Gw = jnp.matmul(prob.A, w, precision=hi)
        cw = prob.c @ w
        return prob.c - Gw, prob.yy - 2.0 * cw + w @ Gw, prob.yy - cw
    n = prob.A.shape[0]
    r = prob.c - jnp.matmul(prob.A, w, precision=hi)
    return jnp.matmul(r, prob.A, precision=hi) / n, r @ r / n, prob.c @ r / n


def objective_and_gap(prob: Problem, w, mu, kappa, d, use_gram: bool, gauge=L1):
    """Primal objective and duality gap at ``w``.

    The gaps are written in forms free of the cancellation in ``P - D`` (both ≈ P), so they stay
    accurate far below ``eps · P``: with ``v = Xᵀr/n``, the gauge g (``|·|`` for L1), its dual
    norm g° and ``u = prox_{μg}(v)`` (soft-thresholding for L1),

    * rescaled dual, ``s = min(1, μ / g°(v))``: ``(1-s)² ||r||²/(2n) + μ g(w) - s wᵀv
      + (κ/2) Σ d w²``;
    * smooth dual (κ > 0): ``Σ_j (κ d_j w_j - u_j)² / (2κ d_j) + μ g_j(w_j) - w_j (v_j - u_j)``,
      a sum of per-coordinate Fenchel–Young gaps, each ≥ 0.
    """
    v, rr, _ = residual(prob, w, use_gram)
    return gap_from_residual(v, rr, w, mu, kappa, d, gauge)


def gap_from_residual(v, rr, w, mu, kappa, d, gauge=L1):
    """:func:`objective_and_gap` given ``v = Xᵀr/n`` (p,) and ``rr = ||r||²/n`` at ``w``."""
    g_w = gauge.terms(w)
    norm = jnp.sum(g_w)
    ridge = 0.5 * kappa * jnp.sum(d * w * w)
    primal = 0.5 * rr + mu * norm + ridge
    vmax = gauge.dual_norm(v)
    s = jnp.where(vmax > mu, mu / jnp.where(vmax > 0, vmax, 1.0), 1.0)
    gap_scaled = 0.5 * rr * (1.0 - s) ** 2 + mu * norm - s * (w @ v) + ridge
    u = gauge.shrink(v, mu)
    kd = kappa * d
    safe = jnp.where(kd > 0, kd, 1.0)
    terms = (kd * w - u) ** 2 / (2.0 * safe) + mu * g_w - w * (v - u)
    gap_smooth = jnp.where(kappa > 0, jnp.sum(terms), jnp.inf)
    gap = jnp.minimum(gap_scaled, gap_smooth)
    unpenalized = (mu == 0) & (kappa == 0)
    return primal, jnp.where(unpenalized, jnp.max(jnp.abs(v)), gap)


def gap_scale(unpenalized, kkt0, p0):
    """The denominator of ``rel_gap``: P(0), or the KKT violation at w = 0 where λ = 0."""
    return jnp.maximum(jnp.where(unpenalized, kkt0, p0), jnp.finfo(p0.dtype).tiny)


def kkt0(prob: Problem, use_gram: bool):
    """``max |Xcᵀyc| / n``: the KKT violation at w = 0."""
    return jnp.max(jnp.abs(residual(prob, jnp.zeros_like(prob.d_dropout), use_gram)[0]))


def certificate(prob: Problem, w, mu, kappa, d, kkt0, use_gram: bool, gauge=L1):
    """``(objective, gap, rel_gap)`` of ``w``: the measure every exact solver stops on."""
    objective, gap = objective_and_gap(prob, w, mu, kappa, d, use_gram, gauge)
    return objective, gap, gap / gap_scale((mu == 0) & (kappa == 0), kkt0, 0.5 * prob.yy)


def rounding_floor(dtype):
    """Relative gaps up to this (1000 ε) are rounding-limited in ``dtype``, not progress."""
    return 1e3 * jnp.finfo(dtype).eps


def track_stall(crit, best, since, checks):
    """One gap check of the stall rule that every exact solver here stops on.

    Returns ``(best, since, stalled)``: the best gap so far, the checks since it last fell by
    10%, and whether ``checks`` such checks have passed at the :func:`rounding_floor`. A fit
    that stops there has status ``max_iter``: not converged, and the reason is the precision.
    """
    improved = crit <= 0.9 * best
    best = jnp.where(improved, crit, best)
    since = jnp.where(improved, 0, since + 1)
    return best, since, (since >= checks) & (crit <= rounding_floor(crit.dtype))
