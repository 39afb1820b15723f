"""Working-set FISTA on one shared Gram matrix: the ``gram_ws`` algorithm.

When every problem shares one design (``X`` of shape (n, p); ``p <= n``, or any p on an
accelerator: :func:`l1bench.solvers.convex.choose_algorithm`), :func:`fit_grid_shared` builds
that Gram matrix once and treats all fits as the rows ("lanes") of one coefficient matrix: each
iteration is one matrix product on a working set chosen by the sequential strong rule and grown
until the full problem's duality gap (:mod:`l1bench.solvers.gaps`) certifies every fit. In
float64, the products of large working sets are taken in float32 steps with a periodic exact
product (:func:`_ws_branch`); every certificate is computed in float64. :func:`gram_ws_flops`
estimates the products' floating-point operations from the counts a fit reports.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from l1bench.penalties import L1
from l1bench.solvers.gaps import (
    PATIENCE,
    ConvexResult,
    curvature,
    gap_from_residual,
    gap_scale,
    inv_sqrt,
    track_stall,
)

WS_MIN = 64  # smallest working set; the sizes double up to p (one compiled branch per size)
MIXED_MIN = 256  # working sets from this size on take their float64 products in float32 steps
REFRESH = 20  # iterations between exact products in those sets (the float32 steps' drift)


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
        lip = _lipschitz_bound(Gk, inv_sqrt(diag_k))
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


def secant_start(W, W_prev, lam, lam1, lam2):
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
    """:func:`l1bench.solvers.fista.fit_grid` for one (n, p) design shared by every problem (any
    n and p: the Gram matrix is p × p, chosen by default where ``p <= n``, and for ``p > n`` on
    accelerators).

    All S·P fits (problems × penalties) are the rows ("lanes") of one (S·P, p) matrix ``W`` and
    share one Gram matrix ``G = Xcᵀ Xc / n`` (built once) and its per-coordinate step bounds
    (:func:`l1bench.solvers.gaps.curvature`), so every gradient is one matrix product
    ``C - W G``. Along each strength path (warm starts, from the secant
    through the last two solutions) a strength is solved in working-set rounds
    (:func:`_solve_lanes`): the restricted problems on the union of the lanes' working sets are
    solved by FISTA with restart, whose gap is known at every iteration for free
    (:func:`_ws_branch`); a lane is finished when its full duality gap / P(0) is ≤ ``tol``
    (exactly the measure of :func:`l1bench.solvers.gaps.objective_and_gap`), when it reaches
    ``max_iter`` iterations at one strength, or when its gap has stalled at the rounding floor
    of the precision (``≤ 1000 ε`` without a 10% improvement in ``patience`` iterations;
    status ``max_iter``, honestly: not converged). A finished lane is frozen while the others go on.

    Args:
      X: (n, p) shared design. y: (S, n). lam: (S, P, L). l1_ratio, weighted: (P,).
      tol, max_iter, fit_intercept: as :func:`l1bench.solvers.fista.fit_grid`.
      check_every: iterations between gap checks on working sets below 256 (above: every one).
      sizes: working-set sizes (static; default :func:`ws_sizes`).
      patience: iterations without a 10% improvement that stop a lane at the rounding floor.
      extrapolate: start each strength from the secant through the last two solutions
        (:func:`secant_start`), not from the last one.
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
    lip_G = _lipschitz_bound(G, inv_sqrt(diag))
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
        W0 = gauge.shrink(secant_start(W, W_prev, lam_b, lam1, lam2), 0.0) if extrapolate else W
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
