"""Exact solver for linear regression with the L1 / L2 / elastic-net / marginalized-dropout family.

The problem, per fit (scikit-learn's ElasticNet objective with L2 weights ``d``):

.. math::

   \\min_{w, b} \\; \\frac{1}{2n} \\|y - Xw - b\\|_2^2
     + \\lambda \\Big( \\alpha \\|w\\|_1 + \\frac{1-\\alpha}{2} \\sum_j d_j w_j^2 \\Big)

The intercept is eliminated by centring (``b = ȳ - x̄ᵀw``), the smooth part is minimized by
accelerated proximal gradient (FISTA with O'Donoghue–Candès adaptive restart, with
per-coordinate steps from the Gram matrix's diagonal: :func:`curvature`) and the L1 part by
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

When every problem shares one design (``X`` of shape (n, p); ``p <= n``, or any p on an
accelerator: :func:`choose_algorithm`), :func:`fit_grid_shared` (algorithm ``gram_ws``) builds
that Gram matrix once and treats all fits as the rows of one coefficient matrix: each iteration
is one matrix product on a working set chosen by the sequential strong rule and grown until the
full problem's duality gap certifies every fit. In
float64, the products of large working sets are taken in float32 steps with a periodic exact
product (:func:`_ws_branch`); every certificate is computed in float64.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from l1bench import runtime
from l1bench.grid import subgrid
from l1bench.penalties import L1

ALGORITHMS = {
    "gram_ws": "working-set FISTA on one shared Gram matrix, all fits as one matrix of lanes",
    "gram": "FISTA on the Gram matrix, vmapped per problem",
    "design": "FISTA on X, vmapped per problem",
    "working_set": "working-set coordinate descent for p > n (l1bench.solvers.workingset)",
}
AUTO = "auto"
# gram_ws for p > n (accelerators only): the p × p Gram matrix must fit in this many bytes
GRAM_WS_MAX_BYTES = 4 << 30
WS_MIN = 64  # smallest working set; the sizes double up to p (one compiled branch per size)
MIXED_MIN = 256  # working sets from this size on take their float64 products in float32 steps
REFRESH = 20  # iterations between exact products in those sets (the float32 steps' drift)
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


class _Problem(NamedTuple):
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


def _inv_sqrt(diag):
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


def _prepare(X, y, fit_intercept: bool, use_gram: bool, bounds: bool = True) -> _Problem:
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
            return _Problem(G, c, yc @ yc / n, x_mean, y_mean, d, None)
        diag = jnp.diagonal(G)
        inv = _inv_sqrt(diag)
        lip = jnp.linalg.eigvalsh(G * inv[:, None] * inv[None, :])[-1]
        return _Problem(G, c, yc @ yc / n, x_mean, y_mean, d, lip, diag)
    if not bounds:
        return _Problem(Xc, yc, yc @ yc / n, x_mean, y_mean, d, None)
    diag = jnp.sum(Xc * Xc, axis=0) / n
    lip = jnp.linalg.svd(Xc * _inv_sqrt(diag), compute_uv=False)[0] ** 2 / n
    return _Problem(Xc, yc, yc @ yc / n, x_mean, y_mean, d, lip, diag)


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


def _objective_and_gap(prob: _Problem, w, mu, kappa, d, use_gram: bool, gauge=L1):
    """Primal objective and duality gap at ``w``.

    The gaps are written in forms free of the cancellation in ``P - D`` (both ≈ P), so they stay
    accurate far below ``eps · P``: with ``v = Xᵀr/n``, the gauge g (``|·|`` for L1), its dual
    norm g° and ``u = prox_{μg}(v)`` (soft-thresholding for L1),

    * rescaled dual, ``s = min(1, μ / g°(v))``: ``(1-s)² ||r||²/(2n) + μ g(w) - s wᵀv
      + (κ/2) Σ d w²``;
    * smooth dual (κ > 0): ``Σ_j (κ d_j w_j - u_j)² / (2κ d_j) + μ g_j(w_j) - w_j (v_j - u_j)``,
      a sum of per-coordinate Fenchel–Young gaps, each ≥ 0.
    """
    v, rr, _ = _residual(prob, w, use_gram)
    return gap_from_residual(v, rr, w, mu, kappa, d, gauge)


def gap_from_residual(v, rr, w, mu, kappa, d, gauge=L1):
    """:func:`_objective_and_gap` given ``v = Xᵀr/n`` (p,) and ``rr = ||r||²/n`` at ``w``."""
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


def _kkt0(prob: _Problem, use_gram: bool):
    """``max |Xcᵀyc| / n``: the KKT violation at w = 0."""
    return jnp.max(jnp.abs(_residual(prob, jnp.zeros_like(prob.d_dropout), use_gram)[0]))


def certificate(prob: _Problem, w, mu, kappa, d, kkt0, use_gram: bool, gauge=L1):
    """``(objective, gap, rel_gap)`` of ``w``: the measure every exact solver stops on."""
    objective, gap = _objective_and_gap(prob, w, mu, kappa, d, use_gram, gauge)
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
    scale = gap_scale((mu == 0) & (kappa == 0), _kkt0(prob, use_gram), 0.5 * prob.yy)

    def measure(w):
        return _objective_and_gap(prob, w, mu, kappa, d, use_gram, gauge)[1] / scale

    def fista_step(_, state):
        w, z, t = state
        v = _residual(prob, z, use_gram)[0]
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
    objective, gap = _objective_and_gap(prob, w, mu, kappa, d, use_gram, gauge)
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
        prob = _prepare(Xs, ys, fit_intercept, use_gram)
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
    on (:func:`_objective_and_gap`, the scale of :func:`_solve_one`), in X's precision.

    Args:
      X: (S, n, p) designs or one (n, p) shared. y: (S, n). coef: (S, P, L, p) coefficients.
      lam: (S, P, L). l1_ratio, weighted: (P,). use_gram: evaluate through XᵀX or through X.
      gauge: the penalties' nonsmooth part (shared by all P).

    Returns:
      ``(objective, gap, rel_gap)``, each (S, P, L).
    """

    def per_problem(Xs, ys, W, lam_s):
        prob = _prepare(Xs, ys, fit_intercept, use_gram, bounds=False)
        kkt0 = _kkt0(prob, use_gram)

        def one(w, lam, a, wt):
            d = jnp.where(wt, prob.d_dropout, jnp.ones_like(prob.d_dropout))
            return certificate(prob, w, lam * a, lam * (1.0 - a), d, kkt0, use_gram, gauge)

        path = jax.vmap(one, in_axes=(0, 0, None, None))
        return jax.vmap(path)(W, lam_s, l1_ratio, weighted)

    return jax.vmap(per_problem, in_axes=(0 if X.ndim == 3 else None, 0, 0, 0))(X, y, coef, lam)


def _certified_float64(
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


# -- many problems sharing one design, p <= n: working-set FISTA on one Gram matrix ---------------


def ws_sizes(p: int, smallest: int = WS_MIN) -> tuple[int, ...]:
    """Working-set sizes ``smallest · 2^k`` below ``p``, then ``p`` itself."""
    sizes, k = [], smallest
    while k < p:
        sizes.append(k)
        k *= 2
    return (*sizes, p)


def _lipschitz_bound(G, inv=None, n_iter: int = 40):
    """Step bound for the PSD matrix ``G``: ``min(gershgorin, 1.02 · power)`` ≈ ``λ_max(G)``;
    with ``inv`` (p,), the bound for the scaled ``diag(inv) G diag(inv)``, without forming it
    (the scaling is applied in the matrix-vector products and Gershgorin's row sums).

    Power iteration from a fixed generic vector gives a Rayleigh quotient ``ρ ≤ λ_max``; a 2%
    margin covers its remaining error in practice. It is not a guaranteed upper bound: a larger
    underestimate makes the steps too long, which can slow or stall the restart FISTA (status
    ``max_iter`` or ``diverged``) but never passes a wrong certificate, since every fit is
    certified by its duality gap. Gershgorin's ``max_i Σ_j |G_ij|`` is a guaranteed bound, used
    when it is tighter. It costs ``n_iter`` matrix-vector products instead of an ``eigvalsh``
    (0.3-1.1 s at p = 1000 on a shared 2-core CPU, most of the old per-problem set-up after the
    Gram matrix itself).
    """
    hi = lax.Precision.HIGHEST
    p = G.shape[0]
    inv = jnp.ones(p, G.dtype) if inv is None else inv
    x = 1.0 + 0.5 * jnp.sin(jnp.arange(p, dtype=G.dtype) * 1.618) / jnp.sqrt(
        jnp.asarray(p, G.dtype)
    )
    apply = lambda x: inv * jnp.matmul(G, inv * x, precision=hi)

    def body(_, x):
        y = apply(x)
        return y / jnp.maximum(jnp.linalg.norm(y), jnp.finfo(G.dtype).tiny)

    x = lax.fori_loop(0, n_iter, body, x / jnp.linalg.norm(x))
    rayleigh = x @ apply(x)
    gershgorin = jnp.max(inv * jnp.sum(jnp.abs(G) * inv[None, :], axis=1))
    return jnp.minimum(gershgorin, 1.02 * rayleigh)


def _lane_gaps(C, U, yy, W, mu, kappa, D, scale, unpenalized, gauge):
    """Per lane (rows): primal, absolute gap and gap / scale at ``W`` from ``U = W G``.

    With ``C = Xcᵀyc/n`` and ``yy = ||yc||²/n``: ``V = C - U`` and ``||r||²/n = yy - Wᵀ(2C - U)``.
    """
    V = C - U
    rr = yy - jnp.sum(W * (2.0 * C - U), axis=1)
    gaps = partial(gap_from_residual, gauge=gauge)
    primal, gap = jax.vmap(gaps)(V, rr, W, mu, kappa, D)
    gap = jnp.where(unpenalized, jnp.max(jnp.abs(V), axis=1), gap)
    return primal, gap, gap / scale


def _ws_branch(
    K,
    lanes,
    G,
    diag,
    lip_G,
    W,
    V,
    done,
    it,
    score,
    tol,
    max_iter,
    check_every,
    patience,
    mixed,
    gauge,
):
    """Solve every lane not ``done`` on the working set of the ``K`` best-scored coordinates.

    Coordinates outside the set are held at 0 (the caller guarantees that every nonzero of an
    active lane is inside); the restricted problems are solved by FISTA with adaptive restart to
    a restricted gap ≤ ``tol``, then the full gradient ``V`` is recomputed.

    One matrix product per iteration: ``U = W G`` at the new iterate gives both its gap (at O(K)
    cost per lane, so for K ≥ 256 it is checked every iteration) and, since the extrapolated
    point is affine in the last two iterates, the gradient at the next one:
    ``Z G = U + m (U - U_prev)``.

    With ``mixed`` and float64 lanes, sets of ``MIXED_MIN`` coordinates or more take that
    product as ``U + (W_new - W) G`` with the step and ``G`` in float32 (about twice the
    float64 rate on CPUs; ``G`` scaled by a power of two into float32's range, the step by its
    inverse), and compute ``W G`` exactly every ``REFRESH`` iterations. The
    float32 error is relative to the step, which shrinks as the lanes converge, and the refresh
    removes what has built up, so the iterates converge as in float64; the full gradient that
    certifies each lane at the end of the round is computed in float64.
    """
    C, yy, mu, kappa, D, scale, unpenalized = lanes
    hi = lax.Precision.HIGHEST
    B = W.shape[0]
    dtype = W.dtype
    full = K == G.shape[0]
    if full:  # every coordinate in order: G itself and its bound from the caller, no gathers
        Gk, Grows, lip, diag_k = G, G, lip_G, diag
        take = lambda a: a
    else:
        idx = lax.top_k(score, K)[1]
        Grows = G[idx, :]
        Gk = Grows[:, idx]
        diag_k = diag[idx]
        lip = _lipschitz_bound(Gk, _inv_sqrt(diag_k))
        take = lambda a: a[:, idx]
    Ck, Dk, Wk0 = take(C), take(D), take(W)
    # the gap costs O(K) per lane, the product O(K²): for small sets it is checked every
    # ``check_every`` iterations, where the per-iteration overhead would dominate
    period = 1 if K >= 256 else check_every

    mixed = mixed and dtype == jnp.float64 and K >= MIXED_MIN
    if mixed:  # G / 2^e, |entries| < 1: in float32's range whatever the data's units
        e = jnp.frexp(jnp.max(jnp.abs(Gk)))[1]
        up = jnp.ldexp(jnp.ones((), dtype), e)  # a scalar power of two: exact products
        G_lo = (Gk / up).astype(jnp.float32)

    def product(Wn, Wk, Uk):
        if mixed:  # Wn G as Wk G + (Wn - Wk) G, the step's product in float32
            step32 = ((Wn - Wk) * up).astype(jnp.float32)
            return Uk + jnp.matmul(step32, G_lo, precision=hi).astype(dtype)
        return jnp.matmul(Wn, Gk, precision=hi)

    def refresh(st):  # the exact product; the previous one is shifted by the same correction
        Wk, Wp, Uk, Up, t, mom = st
        exact = jnp.matmul(Wk, Gk, precision=hi)
        return Wk, Wp, exact, Up + (exact - Uk), t, mom

    def crit_at(Wk, Uk):
        return _lane_gaps(Ck, Uk, yy, Wk, mu, kappa, Dk, scale, unpenalized, gauge)[2]

    def lane_active(crit, it, stalled):
        return ~done & (crit > tol) & (it < max_iter) & jnp.isfinite(crit) & ~stalled

    def cond(c):
        return jnp.any(lane_active(c[6], c[7], c[10]))

    def fista_step(active, st):
        # an inactive lane takes a step of length 0 without momentum: W_new = shrink(W, 0) = W
        # exactly, and so its product; cheaper than selecting between old and new matrices
        Wk, Wp, Uk, Up, t, mom = st
        m = jnp.where(active, mom, 0.0)[:, None]
        # steps per lane and coordinate (Jacobi-preconditioned FISTA), recomputed in the
        # step's fused loop: cheaper than reading a stored (B, K) matrix
        curv = curvature(lip, diag_k[None, :], kappa[:, None], Dk)
        h = jnp.where(active, 1.0, 0.0)[:, None] / curv
        Zk, UZ = Wk + m * (Wk - Wp), Uk + m * (Uk - Up)
        grad = UZ - Ck + kappa[:, None] * Dk * Zk
        Wn = gauge.shrink(Zk - h * grad, h * mu[:, None])
        Un = product(Wn, Wk, Uk)
        restart = jnp.sum((Zk - Wn) * curv * (Wn - Wk), axis=1) > 0  # preconditioned metric
        tn = jnp.where(restart, 1.0, 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t)))
        mom_n = jnp.where(restart, 0.0, (t - 1.0) / tn)
        return Wn, Wk, Un, Uk, jnp.where(active, tn, t), jnp.where(active, mom_n, mom)

    def body(c):
        *st, crit, it, best, since, stalled, n = c
        active = lane_active(crit, it, stalled)
        st = lax.fori_loop(0, period, lambda _, st: fista_step(active, st), tuple(st))
        if mixed:
            st = lax.cond(n % REFRESH == REFRESH - 1, refresh, lambda st: st, st)
        new = jnp.where(active, crit_at(st[0], st[2]), crit)
        best_n, since_n, stalled_n = track_stall(new, best, since, max(1, patience // period))
        return (
            *st,
            new,
            it + period * active,
            jnp.where(active, best_n, best),
            jnp.where(active, since_n, since),
            stalled | (active & stalled_n),
            n + 1,
        )

    U0 = jnp.matmul(Wk0, Gk, precision=hi)
    inf = jnp.full((B,), jnp.inf, dtype)
    zero = jnp.zeros((B,), jnp.int32)
    one = jnp.ones((B,), dtype)
    count = jnp.zeros((), jnp.int32)
    init = (Wk0, Wk0, U0, U0, one, 0.0 * one, crit_at(Wk0, U0), it, inf, zero, zero > 0, count)
    Wk, _, _, _, _, _, _, it, _, _, stalled, _ = lax.while_loop(cond, body, init)
    # done lanes: Wk is their unchanged W[:, idx]
    W = Wk if full else W.at[:, idx].set(Wk)
    Vn = C - jnp.matmul(Wk, Grows, precision=hi)
    V = jnp.where(done[:, None], V, Vn)
    return W, V, it, stalled


def _solve_lanes(
    G, diag, lip_G, lanes, W, V, mu_prev, tol, max_iter, check_every, patience, sizes, mixed, gauge
):
    """One strength for every lane: working-set rounds until each lane's full gap ≤ ``tol``.

    Round 0 takes the set from the sequential strong rule (``|v_j| ≥ 2μ - μ_prev`` with ``v``
    the gradient at the previous strength's solution) and the current support, at least
    ``sizes[0]`` and twice the support; each further round takes the next larger size, so at most
    ``len(sizes)`` rounds are needed (the last is all p coordinates).
    """
    C, yy, mu, kappa, D, scale, unpenalized = lanes
    B, p = W.shape
    sizes_arr = jnp.asarray(sizes)
    strong = jnp.where(mu_prev > mu, 2.0 - mu_prev / jnp.where(mu > 0, mu, 1.0), 1.0)
    strong = jnp.where(strong >= 0.5, strong, jnp.inf)  # far from the last solution: no rule

    def full_gaps(W, V):
        return _lane_gaps(C, C - V, yy, W, mu, kappa, D, scale, unpenalized, gauge)

    def cond(c):
        _, _, done, _, _, r, _ = c
        return ~jnp.all(done) & (r < len(sizes))

    def body(c):
        W, V, done, it, stalled, r, k = c
        ratio = jnp.abs(V) / jnp.where(mu > 0, mu, 1.0)[:, None]
        need = (W != 0) | (mu == 0)[:, None]
        score_lane = jnp.where(need, jnp.inf, ratio)
        score = jnp.max(jnp.where(done[:, None], -jnp.inf, score_lane), axis=0)
        n_need = jnp.sum(score == jnp.inf)
        n_strong = jnp.sum(jnp.any(~done[:, None] & (score_lane >= strong[:, None]), axis=0))
        want = jnp.maximum(n_strong, n_need)
        k_new = jnp.clip(jnp.searchsorted(sizes_arr, want), 0, len(sizes) - 1)
        k_new = jnp.where(r > 0, jnp.maximum(k_new, k + 1), k_new)
        k_new = jnp.minimum(k_new, len(sizes) - 1)
        branches = [
            partial(
                _ws_branch,
                K,
                lanes,
                G,
                diag,
                lip_G,
                tol=tol,
                max_iter=max_iter,
                check_every=check_every,
                patience=patience,
                mixed=mixed,
                gauge=gauge,
            )
            for K in sizes
        ]
        W, V, it, st = lax.switch(k_new, branches, W, V, done, it, score)
        stalled = stalled | st
        _, _, crit = full_gaps(W, V)
        done = done | (crit <= tol) | stalled | (it >= max_iter) | ~jnp.isfinite(crit)
        return W, V, done, it, stalled, r + 1, k_new

    zero = jnp.zeros((B,), jnp.int32)
    no = jnp.zeros((B,), bool)
    init = (W, V, no, zero, no, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))
    W, V, _, it, _, rounds, k = lax.while_loop(cond, body, init)
    primal, gap, crit = full_gaps(W, V)
    finite = jnp.isfinite(primal) & jnp.all(jnp.isfinite(W), axis=1)
    status = jnp.where(~finite, 2, jnp.where(crit <= tol, 0, 1))
    return W, V, (primal, gap, crit, it, status, sizes_arr[k], rounds)


def _extrapolate(W, W_prev, lam, lam1, lam2):
    """Secant start for strength ``lam`` from the solutions ``W`` at ``lam1`` and ``W_prev`` at
    ``lam2``: ``W + r (W - W_prev)``, ``r = (lam - lam1) / (lam1 - lam2)`` per lane, kept only
    where it keeps the sign of a nonzero of ``W`` (else 0). A Lasso path is piecewise linear in
    λ, so while the support and signs hold this start is the next solution itself.
    """
    den = lam1 - lam2
    r = jnp.where(den != 0, (lam - lam1) / jnp.where(den != 0, den, 1.0), 0.0)
    E = W + r[:, None] * (W - W_prev)
    return jnp.where(W * E > 0, E, 0.0)


@partial(
    jax.jit,
    static_argnames=(
        "fit_intercept",
        "check_every",
        "sizes",
        "patience",
        "extrapolate",
        "mixed",
        "gauge",
    ),
)
def fit_grid_shared(
    X,
    y,
    lam,
    l1_ratio,
    weighted,
    tol,
    max_iter,
    *,
    fit_intercept=True,
    check_every=10,
    sizes=None,
    patience=PATIENCE,
    extrapolate=True,
    mixed=True,
    gauge=L1,
):
    """:func:`fit_grid` for one (n, p) design shared by every problem (any n and p: the Gram
    matrix is p × p, chosen by default where ``p <= n``, and for ``p > n`` on accelerators).

    All S·P fits (problems × penalties) are the rows ("lanes") of one (S·P, p) matrix ``W`` and
    share one Gram matrix ``G = Xcᵀ Xc / n`` (built once) and its per-coordinate step bounds
    (:func:`curvature`), so every gradient
    is one matrix product ``C - W G``. Along each strength path (warm starts, from the secant
    through the last two solutions) a strength is solved in working-set rounds
    (:func:`_solve_lanes`): the restricted problems on the union of the lanes' working sets are
    solved by FISTA with restart, whose gap is known at every iteration for free
    (:func:`_ws_branch`); a lane is finished when its full duality gap / P(0) is ≤ ``tol``
    (exactly the measure of :func:`_objective_and_gap`), when it reaches ``max_iter``
    iterations at one strength, or when its gap has stalled at the rounding floor of the
    precision (``≤ 1000 ε`` without a 10% improvement in ``patience`` iterations; status
    ``max_iter``, honestly: not converged). A finished lane is frozen while the others go on.

    Args:
      X: (n, p) shared design. y: (S, n). lam: (S, P, L). l1_ratio, weighted: (P,).
      tol, max_iter, fit_intercept: as :func:`fit_grid`.
      check_every: iterations between gap checks on working sets below 256 (above: every one).
      sizes: working-set sizes (static; default :func:`ws_sizes`).
      patience: iterations without a 10% improvement that stop a lane at the rounding floor.
      extrapolate: start each strength from the secant through the last two solutions
        (:func:`_extrapolate`), not from the last one.
      mixed: float64 lanes take the products of large working sets in float32 steps
        (:func:`_ws_branch`); every certificate stays float64.
      gauge: the penalties' nonsmooth part (shared by every lane); extrapolated starts are
        projected onto its domain (``shrink(W, 0)``).

    Returns:
      ``(ConvexResult with axes (S, P, L), extras)``, ``extras`` holding ``ws_size`` (L,), the
      largest working set used at each strength, and ``rounds`` (L,).
    """
    n, p = X.shape
    S, P, L = lam.shape
    dtype = X.dtype
    sizes = tuple(sizes) if sizes is not None else ws_sizes(p)
    hi = lax.Precision.HIGHEST
    tol = jnp.asarray(tol, dtype)
    x_mean = X.mean(axis=0) if fit_intercept else jnp.zeros(p, dtype)
    y_mean = y.mean(axis=1) if fit_intercept else jnp.zeros(S, dtype)
    Xc, Yc = X - x_mean, y - y_mean[:, None]
    G = jnp.matmul(Xc.T, Xc, precision=hi) / n
    C = jnp.matmul(Yc, Xc, precision=hi) / n  # (S, p)
    diag = jnp.diagonal(G)
    # for the full working set (Jacobi-scaled); smaller sets bound their own block
    lip_G = _lipschitz_bound(G, _inv_sqrt(diag))
    yy = jnp.sum(Yc * Yc, axis=1) / n
    d_drop = jnp.mean(X * X, axis=0)
    # lanes in (problem, penalty) order
    C_l = jnp.repeat(C, P, axis=0)
    yy_l = jnp.repeat(yy, P)
    alpha = jnp.tile(l1_ratio, S)
    D = jnp.where(jnp.tile(weighted, S)[:, None], d_drop, jnp.ones_like(d_drop))
    kkt0 = jnp.max(jnp.abs(C_l), axis=1)
    lam_l = lam.reshape(S * P, L).T  # (L, B)

    def step(carry, lam_b):
        W, V, mu_prev, W_prev, lam1, lam2 = carry
        mu, kappa = lam_b * alpha, lam_b * (1.0 - alpha)
        unpenalized = (mu == 0) & (kappa == 0)
        scale = gap_scale(unpenalized, kkt0, 0.5 * yy_l)
        lanes = (C_l, yy_l, mu, kappa, D, scale, unpenalized)
        W0 = gauge.shrink(_extrapolate(W, W_prev, lam_b, lam1, lam2), 0.0) if extrapolate else W
        Wn, V, out = _solve_lanes(
            G,
            diag,
            lip_G,
            lanes,
            W0,
            V,
            mu_prev,
            tol,
            max_iter,
            check_every,
            patience,
            sizes,
            mixed,
            gauge,
        )
        return (Wn, V, mu, W, lam_b, lam1), (Wn, *out)

    W0 = jnp.zeros((S * P, p), dtype)
    init = (W0, C_l, kkt0, W0, lam_l[0], lam_l[0])
    _, (Wp, obj, gap, crit, it, status, k, rounds) = lax.scan(step, init, lam_l)
    coef = jnp.moveaxis(Wp, 0, 1).reshape(S, P, L, p)
    per = lambda a: a.T.reshape(S, P, L)
    b = y_mean[:, None, None] - coef @ x_mean
    res = ConvexResult(coef, b, per(obj), per(gap), per(crit), per(it), per(status))
    return res, {"ws_size": k, "rounds": rounds}


def choose_algorithm(grid, X, backend: str | None = None) -> str:
    """The algorithm :func:`solve` runs by default (a name in :data:`ALGORITHMS`).

    * one (n, p) design shared by every problem, ``p <= n``: ``gram_ws``;
    * the same with ``p > n`` on an accelerator (``backend`` is not ``cpu``; default: JAX's)
      when the p × p Gram matrix fits in ``GRAM_WS_MAX_BYTES``: ``gram_ws`` too. There the
      per-fit working-set loop is a long sequence of small kernels, each paying a launch
      latency, while one batched product per iteration over every fit keeps the device busy.
      On a CPU that product grows with the union of the fits' working sets, so per-fit working
      sets win for batches (measured on case C of the benchmarks);
    * ``p > n`` and every fit with an L1 part (:func:`workingset.supports`): ``working_set``;
    * otherwise ``gram`` (``p <= n``) or ``design``.
    """
    from l1bench.solvers import workingset

    n, p = np.shape(X)[-2:]
    shared = np.ndim(X) == 2
    if shared and p <= n:
        return "gram_ws"
    backend = backend or jax.default_backend()
    itemsize = np.dtype(np.float64).itemsize
    if shared and backend != "cpu" and p * p * itemsize <= GRAM_WS_MAX_BYTES:
        return "gram_ws"
    if workingset.supports(grid, X):
        return "working_set"
    return "gram" if p <= n else "design"


def _check_algorithm(algorithm: str, grid, X) -> str:
    """``algorithm`` itself if it can fit ``grid`` on ``X`` (``auto``: the default choice)."""
    from l1bench.solvers import workingset

    if algorithm == AUTO:
        return choose_algorithm(grid, X)
    if algorithm not in ALGORITHMS:
        allowed = ", ".join((AUTO, *ALGORITHMS))
        raise ValueError(f"solver.algorithm={algorithm!r} is not allowed; choose one of {allowed}")
    if algorithm == "gram_ws" and np.ndim(X) != 2:
        raise ValueError(
            "solver.algorithm='gram_ws' needs one (n, p) design shared by every problem; "
            f"got designs of shape {np.shape(X)}"
        )
    if algorithm == "working_set" and not workingset.supports(grid, X):
        raise ValueError(
            "solver.algorithm='working_set' needs p > n and an L1 part with λ > 0 in every fit "
            "(the L1 gauge: penalties with another gauge declare it unsupported); use auto, gram "
            "or design"
        )
    return algorithm


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
    algorithm: str = AUTO,
    timings: dict | None = None,
    info: dict | None = None,
) -> ConvexResult:
    """Fit a :class:`l1bench.grid.Grid` on (S, n, p) designs, or one (n, p) design shared by
    every problem (e.g. replicate targets); returns numpy arrays.

    ``algorithm`` (a name in :data:`ALGORITHMS`, or ``auto``: :func:`choose_algorithm`, by
    regime): ``gram_ws`` is :func:`fit_grid_shared` (one Gram matrix, every fit a row of one
    coefficient matrix, working sets); ``gram`` and ``design`` are :func:`fit_grid`, vmapped
    per problem, on the Gram matrix or on X; ``working_set`` is
    :func:`l1bench.solvers.workingset.solve`. Every one stops at the same certified gap. Arrays are
    cast to ``precision`` (``float64`` | ``float32``). The compiled executable is kept per
    shape, so a second grid of the same shape does not recompile. If ``timings`` is a dict,
    ``compile_s`` (0 when reused) and ``fit_s`` are added; if ``info`` is a dict,
    ``algorithm`` is set (and, for ``gram_ws``, ``ws_size`` and ``rounds`` per strength: the
    largest working set and the number of rounds, ``matmul_flops``: an estimate of the
    products' floating-point operations, and in float64 ``float32_steps``: which products are
    taken in float32 steps), for a manifest to record.

    In float32 the reported ``objective``, ``gap``, ``rel_gap`` and ``status`` are the float64
    certificate of the float32 coefficients (:func:`certify_grid`, one more compiled call):
    the solvers' float32 gaps lose digits to rounding, and a fit is ``converged`` only where
    its certified ``rel_gap`` is ≤ ``tol``.

    Penalties with different gauges (:class:`l1bench.penalties.Gauge`) are fitted in separate
    compiled calls, one per gauge, and put back in the grid's order.
    """
    groups = gauge_groups(grid)
    if len(groups) > 1:
        kw = dict(fit_intercept=fit_intercept, tol=tol, max_iter=max_iter, check_every=check_every)
        kw.update(precision=precision, algorithm=algorithm, timings=timings)
        parts = [solve(subgrid(grid, idx), X, y, info=info, **kw) for idx in groups]
        order = np.argsort(np.concatenate(groups))
        joined = (np.concatenate(a, axis=1)[:, order] for a in zip(*parts, strict=True))
        return ConvexResult(*joined)
    gauge = grid.penalties[0].gauge
    for pen in grid.penalties:
        reason = pen.supports("regression", "convex")
        if reason:
            raise ValueError(reason)
    l1_ratio = np.array([pen.l1_ratio for pen in grid.penalties])
    weighted = np.array([pen.dropout_weighted for pen in grid.penalties])
    algorithm = _check_algorithm(algorithm, grid, X)
    kw = dict(fit_intercept=fit_intercept, tol=tol, max_iter=max_iter, timings=timings, info=info)
    if algorithm == "working_set":
        from l1bench.solvers import workingset

        out = workingset.solve(grid, X, y, precision=precision, **kw)
    else:
        kw["gauge"] = gauge
        out = _solve_fista(grid, X, y, l1_ratio, weighted, check_every, precision, algorithm, **kw)
    if precision == "float32":
        out = _certified_float64(
            out,
            grid,
            X,
            y,
            l1_ratio,
            weighted,
            fit_intercept=fit_intercept,
            tol=tol,
            timings=timings,
            gauge=gauge,
        )
    return out


def gauge_groups(grid) -> list[np.ndarray]:
    """The indices of ``grid``'s penalties by gauge, in order of first appearance."""
    gauges = [pen.gauge for pen in grid.penalties]
    firsts = list(dict.fromkeys(gauges))
    return [np.flatnonzero([g == first for g in gauges]) for first in firsts]


def _solve_fista(
    grid,
    X,
    y,
    l1_ratio,
    weighted,
    check_every,
    precision,
    algorithm,
    *,
    fit_intercept,
    tol,
    max_iter,
    timings,
    info,
    gauge,
) -> ConvexResult:
    """:func:`solve` for the FISTA algorithms (``gram_ws``, ``gram``, ``design``)."""
    dtype = {"float64": jnp.float64, "float32": jnp.float32}[precision]
    n, p = X.shape[-2], X.shape[-1]
    args = (
        jnp.asarray(X, dtype),
        jnp.asarray(y, dtype),
        jnp.asarray(grid.lam, dtype),
        jnp.asarray(l1_ratio, dtype),
        jnp.asarray(weighted),
        jnp.asarray(tol, dtype),
        jnp.asarray(max_iter, jnp.int32),
    )
    if algorithm == "gram_ws":
        statics = dict(
            fit_intercept=bool(fit_intercept),
            check_every=int(check_every),
            sizes=ws_sizes(p),
            gauge=gauge,
        )
        # not sharded: the lanes share one Gram matrix and one while loop per strength
        out, extras = runtime.call(fit_grid_shared, args, statics, timings=timings)
        out = ConvexResult(*(np.asarray(a) for a in out))
        if info is not None:
            info["algorithm"] = "gram_ws"
            info["ws_size"] = [int(k) for k in extras["ws_size"]]
            info["rounds"] = [int(r) for r in extras["rounds"]]
            info["matmul_flops"] = gram_ws_flops(n, p, out.n_iter, info["ws_size"])
            if precision == "float64" and max(info["ws_size"]) >= MIXED_MIN:  # ``mixed`` ran
                info["float32_steps"] = f"working sets of {MIXED_MIN}+, exact every {REFRESH}"
        return out
    use_gram = algorithm == "gram"
    statics = dict(
        fit_intercept=bool(fit_intercept),
        use_gram=use_gram,
        check_every=int(check_every),
        gauge=gauge,
    )
    batch = (0, 1, 2) if np.ndim(X) == 3 else (1, 2)
    out = runtime.call(fit_grid, args, statics, timings=timings, batch_argnums=batch)
    if info is not None:
        info["algorithm"] = algorithm
    return ConvexResult(*(np.asarray(a) for a in out))


def gram_ws_flops(n: int, p: int, n_iter, ws_size) -> float:
    """Floating-point operations of ``gram_ws``'s matrix products, estimated from its counts.

    The Gram matrix costs ``2 n p²``. At strength ``l`` the lanes step together until the
    slowest is done (finished lanes take zero steps in the same product), so a strength costs
    about ``max_lanes(n_iter[..., l]) · B · 2 K_l²`` with ``B`` lanes and ``K_l`` its largest
    working set (smaller first rounds make this an upper bound), plus one ``B · 2 K_l p``
    gradient per strength. Used to report achieved rates against the device's peak.
    """
    it = np.asarray(n_iter)
    L = it.shape[-1]
    lanes = it.reshape(-1, L)
    B = lanes.shape[0]
    K = np.asarray(ws_size, dtype=float)
    steps = lanes.max(axis=0).astype(float)
    return float(2.0 * n * p * p + np.sum(steps * B * 2.0 * K * K + B * 2.0 * K * p))
