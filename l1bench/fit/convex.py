"""Exact solver for linear regression with the L1 / L2 / elastic-net / marginalized-dropout family.

The problem, per fit (scikit-learn's ElasticNet objective with L2 weights ``d``):

.. math::

   \\min_{w, b} \\; \\frac{1}{2n} \\|y - Xw - b\\|_2^2
     + \\lambda \\Big( \\alpha \\|w\\|_1 + \\frac{1-\\alpha}{2} \\sum_j d_j w_j^2 \\Big)

The intercept is eliminated by centring (``b = ȳ - x̄ᵀw``), the smooth part is minimized by
accelerated proximal gradient (FISTA with O'Donoghue–Candès adaptive restart) and the L1 part by
soft-thresholding, so zeros are exact. Each fit stops when its duality gap is at most
``tol · P(0)``, where ``P(0) = ||y - ȳ||² / (2n)`` is the objective at ``w = 0``; the gap is
checked every ``check_every`` iterations. Two Fenchel dual points are evaluated at ``θ = r / n``
(``r`` the residual) and the better one is used:

* the rescaled point ``s·θ`` with ``s = min(1, μ / ||Xᵀθ||_∞)`` (μ = λα), feasible for the L1 part;
* when κ = λ(1-α) > 0, ``θ`` itself with ``g*(v) = Σ_j (|v_j| - μ)_+² / (2κ d_j)``.

With no penalty at all (λ = 0) there is no useful dual bound; the stopping measure is then the
KKT violation ``||Xᵀr/n||_∞`` relative to its value at ``w = 0``.

The whole grid — problems × penalties × strengths — is one jit-compiled call: ``vmap`` over
problems and penalties, ``lax.scan`` along each strength path (warm starts), ``lax.while_loop``
over iterations. With ``p <= n`` the solver works on the Gram matrix (p × p), else on X.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from l1bench.fit import compiled
from l1bench.penalties import soft_threshold

STATUS = ("converged", "max_iter", "diverged")


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


class _Problem(NamedTuple):
    A: jax.Array  # Gram Xcᵀ Xc / n (p, p), or Xc (n, p)
    c: jax.Array  # Xcᵀ yc / n (p,) in Gram mode, or yc (n,)
    yy: jax.Array  # ||yc||² / n
    x_mean: jax.Array
    y_mean: jax.Array
    d_dropout: jax.Array  # mean_i x_ij² of the raw X (p,)
    lipschitz: jax.Array  # largest eigenvalue of Xcᵀ Xc / n


def _prepare(X, y, fit_intercept: bool, use_gram: bool) -> _Problem:
    n = X.shape[0]
    x_mean = X.mean(axis=0) if fit_intercept else jnp.zeros(X.shape[1], X.dtype)
    y_mean = y.mean() if fit_intercept else jnp.zeros((), X.dtype)
    Xc, yc = X - x_mean, y - y_mean
    d = jnp.mean(X * X, axis=0)
    hi = lax.Precision.HIGHEST
    if use_gram:
        G = jnp.matmul(Xc.T, Xc, precision=hi) / n
        lip = jnp.linalg.eigvalsh(G)[-1]
        return _Problem(
            G, jnp.matmul(yc, Xc, precision=hi) / n, yc @ yc / n, x_mean, y_mean, d, lip
        )
    lip = jnp.linalg.svd(Xc, compute_uv=False)[0] ** 2 / n
    return _Problem(Xc, yc, yc @ yc / n, x_mean, y_mean, d, lip)


def _residual(prob: _Problem, w, use_gram: bool):
    """Return ``(Xcᵀr/n, ||r||²/n, ycᵀr/n)`` for the residual ``r = yc - Xc w``."""
    hi = lax.Precision.HIGHEST
    if use_gram:
        Gw = jnp.matmul(prob.A, w, precision=hi)
        cw = prob.c @ w
        return prob.c - Gw, prob.yy - 2.0 * cw + w @ Gw, prob.yy - cw
    n = prob.A.shape[0]
    r = prob.c - jnp.matmul(prob.A, w, precision=hi)
    return jnp.matmul(r, prob.A, precision=hi) / n, r @ r / n, prob.c @ r / n


def _objective_and_gap(prob: _Problem, w, mu, kappa, d, use_gram: bool):
    """Primal objective and duality gap at ``w``.

    The gaps are written in forms free of the cancellation in ``P - D`` (both ≈ P), so they stay
    accurate far below ``eps · P``: with ``v = Xᵀr/n`` and ``u = soft(v, μ)``,

    * rescaled dual: ``(1-s)² ||r||²/(2n) + μ||w||₁ - s wᵀv + (κ/2) Σ d w²``;
    * smooth dual (κ > 0): ``Σ_j (κ d_j w_j - u_j)² / (2κ d_j) + μ|w_j| - w_j (v_j - u_j)``,
      a sum of per-coordinate Fenchel–Young gaps, each ≥ 0.
    """
    v, rr, _ = _residual(prob, w, use_gram)
    l1 = jnp.sum(jnp.abs(w))
    ridge = 0.5 * kappa * jnp.sum(d * w * w)
    primal = 0.5 * rr + mu * l1 + ridge
    vmax = jnp.max(jnp.abs(v))
    s = jnp.where(vmax > mu, mu / jnp.where(vmax > 0, vmax, 1.0), 1.0)
    gap_scaled = 0.5 * rr * (1.0 - s) ** 2 + mu * l1 - s * (w @ v) + ridge
    u = soft_threshold(v, mu)
    kd = kappa * d
    safe = jnp.where(kd > 0, kd, 1.0)
    terms = (kd * w - u) ** 2 / (2.0 * safe) + mu * jnp.abs(w) - w * (v - u)
    gap_smooth = jnp.where(kappa > 0, jnp.sum(terms), jnp.inf)
    gap = jnp.minimum(gap_scaled, gap_smooth)
    unpenalized = (mu == 0) & (kappa == 0)
    return primal, jnp.where(unpenalized, vmax, gap)


def _solve_one(prob, w0, lam, l1_ratio, d, tol, max_iter, check_every, use_gram):
    """FISTA with adaptive restart from ``w0`` for one strength; returns (w, diagnostics)."""
    mu = lam * l1_ratio
    kappa = lam * (1.0 - l1_ratio)
    step = 1.0 / (prob.lipschitz + kappa * jnp.max(d))
    p0 = 0.5 * prob.yy
    kkt0 = jnp.max(jnp.abs(_residual(prob, jnp.zeros_like(w0), use_gram)[0]))
    unpenalized = (mu == 0) & (kappa == 0)
    tiny = jnp.finfo(w0.dtype).tiny
    scale = jnp.maximum(jnp.where(unpenalized, kkt0, p0), tiny)

    def measure(w):
        return _objective_and_gap(prob, w, mu, kappa, d, use_gram)[1] / scale

    def fista_step(_, state):
        w, z, t = state
        v = _residual(prob, z, use_gram)[0]
        grad = -v + kappa * d * z
        w_new = soft_threshold(z - step * grad, step * mu)
        restart = jnp.dot(z - w_new, w_new - w) > 0
        t_new = jnp.where(restart, 1.0, 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t)))
        momentum = jnp.where(restart, 0.0, (t - 1.0) / t_new)
        return w_new, w_new + momentum * (w_new - w), t_new

    def cond(carry):
        _, _, _, it, crit = carry
        return (crit > tol) & (it < max_iter) & jnp.isfinite(crit)

    def body(carry):
        w, z, t, it, _ = carry
        w, z, t = lax.fori_loop(0, check_every, fista_step, (w, z, t))
        return w, z, t, it + check_every, measure(w)

    one = jnp.ones((), w0.dtype)
    init = (w0, w0, one, jnp.zeros((), jnp.int32), measure(w0))
    w, _, _, it, crit = lax.while_loop(cond, body, init)
    objective, gap = _objective_and_gap(prob, w, mu, kappa, d, use_gram)
    finite = jnp.isfinite(objective) & jnp.all(jnp.isfinite(w))
    status = jnp.where(~finite, 2, jnp.where(crit <= tol, 0, 1))
    return w, (w, objective, gap, crit, it, status)


def _solve_path(prob, lam_path, l1_ratio, weighted, tol, max_iter, check_every, use_gram):
    d = jnp.where(weighted, prob.d_dropout, jnp.ones_like(prob.d_dropout))

    def step(w, lam):
        return _solve_one(prob, w, lam, l1_ratio, d, tol, max_iter, check_every, use_gram)

    w0 = jnp.zeros(prob.d_dropout.shape, lam_path.dtype)
    _, (W, obj, gap, crit, it, status) = lax.scan(step, w0, lam_path)
    b = prob.y_mean - W @ prob.x_mean
    return ConvexResult(W, b, obj, gap, crit, it, status)


@partial(jax.jit, static_argnames=("fit_intercept", "use_gram", "check_every"))
def fit_grid(
    X,
    y,
    lam,
    l1_ratio,
    weighted,
    tol,
    max_iter,
    *,
    fit_intercept=True,
    use_gram=True,
    check_every=10,
) -> ConvexResult:
    """Fit every point of a grid in one compiled call.

    Args:
      X: (S, n, p) designs, one per problem, or (n, p) shared by all. y: (S, n) targets.
      lam: (S, P, L) strengths, each path from strongest to weakest (warm starts follow it).
      l1_ratio: (P,) α per penalty. weighted: (P,) bool, marginalized-dropout L2 weights.
      tol: stopping tolerance on gap / P(0). max_iter: iteration cap per fit.
      fit_intercept: fit an unpenalized intercept. use_gram: work on XᵀX (best when p <= n).
      check_every: iterations between gap evaluations.

    Returns:
      A :class:`ConvexResult` with leading axes (S, P, L).
    """
    tol = jnp.asarray(tol, X.dtype)

    def per_problem(Xs, ys, lam_s):
        prob = _prepare(Xs, ys, fit_intercept, use_gram)
        solve = partial(
            _solve_path,
            prob,
            tol=tol,
            max_iter=max_iter,
            check_every=check_every,
            use_gram=use_gram,
        )
        return jax.vmap(lambda lp, a, wt: solve(lp, a, wt))(lam_s, l1_ratio, weighted)

    # a 2-D X is shared by every problem: vmap leaves it unbatched, so centring, the Gram matrix
    # and its eigenvalue are computed once and the problems' steps become matrix-matrix products
    return jax.vmap(per_problem, in_axes=(0 if X.ndim == 3 else None, 0, 0))(X, y, lam)


def solve(
    grid,
    X,
    y,
    *,
    fit_intercept=True,
    tol=1e-8,
    max_iter=20000,
    check_every=10,
    precision="float64",
    timings: dict | None = None,
) -> ConvexResult:
    """Fit a :class:`l1bench.grid.Grid` on (S, n, p) designs, or one (n, p) design shared by
    every problem (e.g. replicate targets); returns numpy arrays.

    Picks the Gram form when ``p <= n`` and casts to ``precision`` (``float64`` | ``float32``).
    The compiled executable is kept per shape, so a second grid of the same shape does not
    recompile. If ``timings`` is a dict, ``compile_s`` (0 when reused) and ``fit_s`` are added.
    """
    import numpy as np

    dtype = {"float64": jnp.float64, "float32": jnp.float32}[precision]
    n, p = X.shape[-2], X.shape[-1]
    l1_ratio = np.array([pen.l1_ratio for pen in grid.penalties])
    weighted = np.array([pen.dropout_weighted for pen in grid.penalties])
    from l1bench.fit import workingset

    if workingset.supports(grid, X):  # p > n, every fit with an L1 part: working-set CD
        kw = dict(fit_intercept=fit_intercept, tol=tol, max_iter=max_iter, precision=precision)
        return workingset.solve(grid, X, y, timings=timings, **kw)
    args = (
        jnp.asarray(X, dtype),
        jnp.asarray(y, dtype),
        jnp.asarray(grid.lam, dtype),
        jnp.asarray(l1_ratio, dtype),
        jnp.asarray(weighted),
        jnp.asarray(tol, dtype),
        jnp.asarray(max_iter, jnp.int32),
    )
    statics = dict(fit_intercept=bool(fit_intercept), use_gram=p <= n, check_every=int(check_every))
    batch = (0, 1, 2) if np.ndim(X) == 3 else (1, 2)
    out = compiled.call(fit_grid, args, statics, timings=timings, batch_argnums=batch)
    return ConvexResult(*(np.asarray(a) for a in out))
