"""Per-problem FISTA for the linear problems of :mod:`l1bench.solvers.gaps` (algorithms
``gram`` and ``design``), and the float64 certificates of a grid's fits.

The smooth part is minimized by accelerated proximal gradient (FISTA with O'Donoghue–Candès
adaptive restart, with per-coordinate steps from the Gram matrix's diagonal:
:func:`l1bench.solvers.gaps.curvature`) and the L1 part by soft-thresholding, so zeros are
exact. Each fit stops when its duality gap (:func:`l1bench.solvers.gaps.objective_and_gap`) is
at most ``tol · P(0)``; the gap is checked every ``check_every`` iterations.

The whole grid — problems × penalties × strengths — is one jit-compiled call (:func:`fit_grid`):
``vmap`` over problems and penalties, ``lax.scan`` along each strength path (warm starts),
``lax.while_loop`` over iterations. With ``p <= n`` the solver works on the Gram matrix
(p × p), else on X.

:func:`certify_grid` evaluates any grid's coefficients by the same formulas;
:func:`certified_float64` reports a float32 fit by its float64 certificate.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from l1bench import runtime
from l1bench.penalties import L1
from l1bench.solvers.gaps import (
    PATIENCE,
    ConvexResult,
    certificate,
    curvature,
    gap_scale,
    kkt0,
    objective_and_gap,
    prepare,
    residual,
    track_stall,
)


def _solve_one(
    prob, w0, lam, l1_ratio, d, tol, max_iter, check_every, use_gram, gauge, patience=PATIENCE
):
    """FISTA with adaptive restart from ``w0`` for one strength; returns (w, diagnostics).

    Stops when the gap / scale is ≤ ``tol``, at ``max_iter``, or when it has stalled at the
    rounding floor of the precision (≤ 1000 ε, no 10% improvement in ``patience`` iterations:
    float32 gaps that cannot reach ``tol``); the last two are status ``max_iter``.
    """
    mu = lam * l1_ratio
    kappa = lam * (1.0 - l1_ratio)
    curv = curvature(prob.lipschitz, prob.diag, kappa, d)
    step = 1.0 / curv  # per coordinate: FISTA on the Jacobi-preconditioned problem
    scale = gap_scale((mu == 0) & (kappa == 0), kkt0(prob, use_gram), 0.5 * prob.yy)

    def measure(w):
        return objective_and_gap(prob, w, mu, kappa, d, use_gram, gauge)[1] / scale

    def fista_step(_, state):
        w, z, t = state
        v = residual(prob, z, use_gram)[0]
        grad = -v + kappa * d * z
        w_new = gauge.shrink(z - step * grad, step * mu)
        restart = jnp.dot((z - w_new) * curv, w_new - w) > 0  # in the preconditioned metric
        t_new = jnp.where(restart, 1.0, 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t)))
        momentum = jnp.where(restart, 0.0, (t - 1.0) / t_new)
        return w_new, w_new + momentum * (w_new - w), t_new

    checks = max(1, patience // check_every)

    def cond(carry):
        _, _, _, it, crit, _, _, stalled = carry
        return (crit > tol) & (it < max_iter) & jnp.isfinite(crit) & ~stalled

    def body(carry):
        w, z, t, it, _, best, since, _ = carry
        w, z, t = lax.fori_loop(0, check_every, fista_step, (w, z, t))
        crit = measure(w)
        return w, z, t, it + check_every, crit, *track_stall(crit, best, since, checks)

    one = jnp.ones((), w0.dtype)
    zero = jnp.zeros((), jnp.int32)
    inf = jnp.full((), jnp.inf, w0.dtype)
    init = (w0, w0, one, zero, measure(w0), inf, zero, zero > 0)
    w, _, _, it, crit, _, _, _ = lax.while_loop(cond, body, init)
    objective, gap = objective_and_gap(prob, w, mu, kappa, d, use_gram, gauge)
    finite = jnp.isfinite(objective) & jnp.all(jnp.isfinite(w))
    status = jnp.where(~finite, 2, jnp.where(crit <= tol, 0, 1))
    return w, (w, objective, gap, crit, it, status)


def _solve_path(prob, lam_path, l1_ratio, weighted, tol, max_iter, check_every, use_gram, gauge):
    d = jnp.where(weighted, prob.d_dropout, jnp.ones_like(prob.d_dropout))

    def step(w, lam):
        return _solve_one(prob, w, lam, l1_ratio, d, tol, max_iter, check_every, use_gram, gauge)

    w0 = jnp.zeros(prob.d_dropout.shape, lam_path.dtype)
    _, (W, obj, gap, crit, it, status) = lax.scan(step, w0, lam_path)
    b = prob.y_mean - W @ prob.x_mean
    return ConvexResult(W, b, obj, gap, crit, it, status)


@partial(jax.jit, static_argnames=("fit_intercept", "use_gram", "check_every", "gauge"))
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
    gauge=L1,
) -> ConvexResult:
    """Fit every point of a grid in one compiled call.

    Args:
      X: (S, n, p) designs, one per problem, or (n, p) shared by all. y: (S, n) targets.
      lam: (S, P, L) strengths, each path from strongest to weakest (warm starts follow it).
      l1_ratio: (P,) α per penalty. weighted: (P,) bool, marginalized-dropout L2 weights.
      tol: stopping tolerance on gap / P(0). max_iter: iteration cap per fit.
      fit_intercept: fit an unpenalized intercept. use_gram: work on XᵀX (best when p <= n).
      check_every: iterations between gap evaluations.
      gauge: the penalties' nonsmooth part (:class:`l1bench.penalties.Gauge`, shared by all P).

    Returns:
      A :class:`ConvexResult` with leading axes (S, P, L).
    """
    tol = jnp.asarray(tol, X.dtype)

    def per_problem(Xs, ys, lam_s):
        prob = prepare(Xs, ys, fit_intercept, use_gram)
        solve = partial(
            _solve_path,
            prob,
            tol=tol,
            max_iter=max_iter,
            check_every=check_every,
            use_gram=use_gram,
            gauge=gauge,
        )
        return jax.vmap(lambda lp, a, wt: solve(lp, a, wt))(lam_s, l1_ratio, weighted)

    # a 2-D X is shared by every problem: vmap leaves it unbatched, so centring, the Gram matrix
    # and its eigenvalue are computed once and the problems' steps become matrix-matrix products
    return jax.vmap(per_problem, in_axes=(0 if X.ndim == 3 else None, 0, 0))(X, y, lam)


@partial(jax.jit, static_argnames=("fit_intercept", "use_gram", "gauge"))
def certify_grid(
    X, y, coef, lam, l1_ratio, weighted, *, fit_intercept=True, use_gram=True, gauge=L1
):
    """Objective, duality gap and gap / P(0) of a grid's fits, by the formulas the solvers stop
    on (:func:`l1bench.solvers.gaps.objective_and_gap`, the scale of :func:`_solve_one`), in X's
    precision.

    Args:
      X: (S, n, p) designs or one (n, p) shared. y: (S, n). coef: (S, P, L, p) coefficients.
      lam: (S, P, L). l1_ratio, weighted: (P,). use_gram: evaluate through XᵀX or through X.
      gauge: the penalties' nonsmooth part (shared by all P).

    Returns:
      ``(objective, gap, rel_gap)``, each (S, P, L).
    """

    def per_problem(Xs, ys, W, lam_s):
        prob = prepare(Xs, ys, fit_intercept, use_gram, bounds=False)
        k0 = kkt0(prob, use_gram)

        def one(w, lam, a, wt):
            d = jnp.where(wt, prob.d_dropout, jnp.ones_like(prob.d_dropout))
            return certificate(prob, w, lam * a, lam * (1.0 - a), d, k0, use_gram, gauge)

        path = jax.vmap(one, in_axes=(0, 0, None, None))
        return jax.vmap(path)(W, lam_s, l1_ratio, weighted)

    return jax.vmap(per_problem, in_axes=(0 if X.ndim == 3 else None, 0, 0, 0))(X, y, coef, lam)


def certified_float64(
    out: ConvexResult, grid, X, y, l1_ratio, weighted, *, fit_intercept, tol, timings, gauge
) -> ConvexResult:
    """A float32 fit's objective, gap, rel_gap and status from float64 certificates.

    The solvers' own float32 gaps (Gram identities such as ``yy - 2cᵀw + wᵀGw``) lose digits to
    cancellation when the residual is small next to y (a good fit, or raw features far from 0
    without an intercept): the objective was off by 1e-5 relative and a gap of 8e-9·P(0)
    claimed where the float32 solution is certified at about 1e-6. So the reported numbers of a
    float32 fit are those of its coefficients in float64, on the data as given (the float32
    fit's own objective, certified), and ``converged`` means ``rel_gap ≤ tol`` there.
    """
    n, p = X.shape[-2], X.shape[-1]
    args = (
        jnp.asarray(X, jnp.float64),
        jnp.asarray(y, jnp.float64),
        jnp.asarray(out.coef, jnp.float64),
        jnp.asarray(grid.lam, jnp.float64),
        jnp.asarray(l1_ratio, jnp.float64),
        jnp.asarray(weighted),
    )
    statics = dict(fit_intercept=bool(fit_intercept), use_gram=p <= n, gauge=gauge)
    batch = (0, 1, 2, 3) if np.ndim(X) == 3 else (1, 2, 3)
    objective, gap, rel_gap = (
        np.asarray(a)
        for a in runtime.call(certify_grid, args, statics, timings=timings, batch_argnums=batch)
    )
    status = np.asarray(out.status)
    failed = (status == 2) | ~np.isfinite(objective)
    status = np.where(failed, 2, np.where(rel_gap <= tol, 0, 1)).astype(status.dtype)
    return out._replace(objective=objective, gap=gap, rel_gap=rel_gap, status=status)
