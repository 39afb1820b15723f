"""Working-set coordinate descent for L1 / elastic-net linear regression when p > n.

The problem, per fit (the objective of :mod:`l1bench.solvers.gaps`, scikit-learn's ElasticNet with
L2 weights ``d``), with ``μ = λα`` and ``κ = λ(1-α)``:

.. math::

   \\min_{w, b} \\; \\frac{1}{2n} \\|y - Xw - b\\|_2^2 + \\mu \\|w\\|_1
     + \\frac{\\kappa}{2} \\sum_j d_j w_j^2

The intercept is eliminated by centring (``b = ȳ - x̄ᵀw``). Many fits that share one design X —
replicate targets, several penalties, each with its own non-increasing λ path — share the
centred X and its Gram matrix, and are solved one after the other, each along its path one λ
at a time (warm starts):

1. **Working set.** With ``v = Xcᵀr/n`` (``r`` the residual) a zero coordinate is optimal iff
   ``|v_j| <= μ``. Every feature gets the score ``|v_j| / μ``, or ``+∞`` if it is non-zero; the
   working set ``W`` is the top ``K`` scores (``lax.top_k``): the support plus the worst KKT
   violators. ``K`` is a power of two (static shapes), sized before each λ to hold the support
   and the sequential strong-rule set ``{j : |v_j| >= 2μ_next - μ}`` (Tibshirani et al.,
   2012), and doubled when the support fills three quarters of it.
2. **Inner solver.** Cyclic coordinate descent on the restricted problem through its Gram matrix
   ``G_W = Xc_Wᵀ Xc_W / n`` (K × K): the update of coordinate ``j`` is
   ``w_j ← S(G_jj w_j + q_j, μ) / (G_jj + κ d_j)`` (``S`` soft-thresholding, so zeros are
   exact) followed by the rank-one update ``q ← q - G_{:j} Δw_j`` of the restricted
   correlations ``q = Xc_Wᵀ r / n``; a coordinate whose update is zero is skipped. Every M = 5
   sweeps ``q`` is recomputed as ``c_W - G_W w`` (the updates drift from it: in float32 the
   drift alone held the gap near 5e-5 on the benchmark's case C), and two candidates are tried
   and kept if they lower the objective: Anderson extrapolation of the last M iterates (Bertrand
   & Massias, 2021), and, when no sign changed over those sweeps, a Newton step on the support
   (conjugate gradients on ``G_AA w_A = c_A - μσ_A``, ``σ`` the signs) shortened so that no
   sign flips. Sweeps stop when the restricted duality gap is at most ``0.3 · tol · P(0)``. A
   last sweep makes every coordinate a soft-threshold output.
3. **Full check.** The full correlations ``v`` (one ``r @ Xc``) give the full problem's duality
   gap with the formulas of :func:`l1bench.solvers.gaps.objective_and_gap` (rescaled dual point
   ``s·r/n``, ``s = min(1, μ/‖v‖_∞)``, and for κ > 0 the smooth dual). The fit is done at this
   λ when that gap is at most ``tol · P(0)``, ``P(0) = ||y - ȳ||²/(2n)``; otherwise the working
   set is rebuilt (step 1).

A gap that cannot reach ``tol`` in the precision (float32 below about 1e-6) stops at the
rounding floor, as :mod:`l1bench.solvers.fista` does: the restricted solve once its gap is at
most 1000 ε and has not fallen by 10% in ``PATIENCE`` (50) sweeps, the rounds once a round ends
at most 1000 ε without a 10% gain on the one before; such a fit has status ``max_iter``.

Every fit reports the full problem's gap, its coordinate-descent sweeps (``n_iter``; a sweep is
one pass over the ``K`` working coordinates) and a status, as
:class:`l1bench.solvers.gaps.ConvexResult`.
A Python loop over the fits and λ indices calls one compiled function per λ (the rounds of
steps 1-3 are a ``lax.while_loop`` inside it); one executable is compiled per working-set size
``K``.

References:
  Tibshirani, Bien, Friedman, Hastie, Simon, Taylor, Tibshirani (2012), "Strong rules for
  discarding predictors in lasso-type problems", JRSS B. Massias, Gramfort, Salmon (2018),
  "Celer: a fast solver for the Lasso with dual extrapolation", ICML (working sets). Bertrand,
  Massias (2021), "Anderson acceleration of coordinate descent", AISTATS.
"""

from __future__ import annotations

import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from l1bench import runtime
from l1bench.penalties import soft_threshold
from l1bench.solvers.gaps import ConvexResult, gap_from_residual, rounding_floor, track_stall

K_MIN = 32  # smallest working set
INNER = 0.3  # restricted problems are solved to INNER · tol
MAX_ROUNDS = 64  # working-set rounds per λ in one call
GRAM_MAX = 8192**2  # precompute the full Gram matrix when p² is at most this (512 MB in float64)
HI = lax.Precision.HIGHEST
# sweeps without a 10% gap gain that stop a fit at the rounding floor (a sweep is a pass over
# every working coordinate: far more progress than one FISTA iteration, gaps.PATIENCE = 200)
PATIENCE = 50
N_CG = 64  # conjugate-gradient iterations of a Newton step, at most


def _cd_pass(G, w, q, mu, kd, active):
    """One cyclic coordinate-descent pass over the K working coordinates of one fit.

    Args:
      G: (K, K) restricted Gram. w, q: (K,) coefficients and correlations ``Xc_Wᵀr/n``.
      mu: L1 strength. kd: (K,) ``κ d_j``. active: whether the fit may move (else frozen).
    """
    K = G.shape[0]
    diag = jnp.diagonal(G)
    denom = diag + kd
    safe = jnp.where(denom > 0, denom, 1.0)

    def coord(j, carry):
        w, q = carry
        wj = w[j]
        new = soft_threshold(diag[j] * wj + q[j], mu) / safe[j]
        delta = jnp.where(active & (denom[j] > 0), new - wj, 0.0)

        def update(c):
            w, q = c
            return w.at[j].add(delta), q - G[j] * delta

        return lax.cond(delta != 0, update, lambda c: c, (w, q))

    return lax.fori_loop(0, K, coord, (w, q))


def _small_spd_solve(A, b):
    """``A⁻¹b`` for a small SPD ``A`` by an unrolled Cholesky factorization (plain array ops:
    inside the solver's nested loops a LAPACK call costs far more than these few flops)."""
    m = A.shape[0]
    L = [[None] * m for _ in range(m)]
    for j in range(m):
        d = A[j, j] - sum(L[j][k] ** 2 for k in range(j))
        L[j][j] = jnp.sqrt(jnp.maximum(d, jnp.finfo(A.dtype).tiny))
        for i in range(j + 1, m):
            L[i][j] = (A[i, j] - sum(L[i][k] * L[j][k] for k in range(j))) / L[j][j]
    y = []
    for i in range(m):
        y.append((b[i] - sum(L[i][k] * y[k] for k in range(i))) / L[i][i])
    x = [None] * m
    for i in reversed(range(m)):
        x[i] = (y[i] - sum(L[k][i] * x[k] for k in range(i + 1, m))) / L[i][i]
    return jnp.stack(x)


def _anderson(hist):
    """Anderson extrapolation weights for the iterates ``hist`` (M+1, K): the extrapolated point
    is ``Σ_i c_i hist_{i+1}`` with ``c = z / Σz``, ``(UᵀU/tr + 1e-10 I) z = 1``, ``U`` the M
    successive differences; ``c`` picks the last iterate when the differences vanish."""
    U = hist[1:] - hist[:-1]
    C = jnp.matmul(U, U.T, precision=HI)
    M = C.shape[0]
    tr = jnp.trace(C)
    scale = jnp.sum(hist[-1] * hist[-1]) + 1.0
    ok = tr > 1e-28 * scale

    def weights(C):
        eye = jnp.eye(M, dtype=C.dtype)
        z = _small_spd_solve(C / tr + 1e-10 * eye, jnp.ones(M, C.dtype))
        return z / jnp.sum(z)

    last = jnp.zeros(M, C.dtype).at[-1].set(1.0)
    return lax.cond(ok, weights, lambda C: last, C)


def _newton(G, cW, w, mu, kd, Ks):
    """A sign-preserving Newton-CG step towards the minimizer on the support of ``w``.

    On the support ``A`` (at most ``Ks`` coordinates, gathered into a Ks × Ks system padded with
    the identity) with signs ``σ`` the objective is the quadratic
    ``½ wᵀ(G + diag κd)w - cᵀw + μσᵀw``, minimized by ``w* = (G_AA + diag κd_A)⁻¹(c_A - μσ_A)``;
    conjugate gradients from ``w`` (at most ``N_CG`` iterations, until the residual falls by
    1e-10) approximate it — XLA CPU's dense factorizations are slow inside the solver's loops.
    The step ``w + t(w* - w)`` takes the largest ``t <= 1`` at which no sign flips (a coordinate
    reaching zero is set to exactly zero), so the objective cannot increase (as in LARS).
    """
    a = w != 0
    pos = lax.top_k(a.astype(G.dtype), Ks)[1]
    m = a[pos].astype(G.dtype)
    H = G[pos][:, pos] * (m[:, None] * m[None, :]) + jnp.diag(kd[pos] * m + (1.0 - m))
    ws = w[pos]
    g = m * (cW[pos] - mu * jnp.sign(ws)) - jnp.matmul(H, ws, precision=HI)
    tiny = jnp.finfo(G.dtype).tiny
    stop = 1e-20 * (g @ g)

    def cond(st):
        _, _, _, rs, it = st
        return (it < N_CG) & (rs > stop) & (rs > tiny)

    def cg(st):
        x, r, d, rs, it = st
        Hd = jnp.matmul(H, d, precision=HI)
        dHd = d @ Hd
        alpha = jnp.where(dHd > tiny, rs / jnp.where(dHd > tiny, dHd, 1.0), 0.0)
        x, r = x + alpha * d, r - alpha * Hd
        rs_new = r @ r
        return x, r, r + rs_new / rs * d, rs_new, it + 1

    delta = m * lax.while_loop(cond, cg, (jnp.zeros_like(ws), g, g, g @ g, 0))[0]
    on = m > 0
    cross = on & (ws * delta < 0) & (jnp.abs(delta) > jnp.abs(ws))
    t_j = jnp.where(cross, -ws / jnp.where(cross, delta, 1.0), 1.0)
    t = jnp.min(t_j)
    hit = cross & (t_j <= t)
    new = jnp.where(hit, 0.0, jnp.where(on, ws + t * delta, 0.0))
    return w.at[pos].set(new)


def _step_one(Xc, Gfull, c_full, yc, yy, d, w, v, rr, mu, kappa, mu_next, tol, budget, K, M):
    """Solve one fit at one λ from the warm start ``w`` (p,); see :func:`_lambda_step`."""
    n = Xc.shape[0]
    dtype = Xc.dtype
    scale = jnp.maximum(0.5 * yy, jnp.finfo(dtype).tiny)
    tol_in = INNER * tol
    floor = rounding_floor(dtype)
    checks = max(1, PATIENCE // M)  # restricted-gap checks without a 10% gain that stop there
    zero = jnp.zeros((), jnp.int32)
    Ks = max(K // 2, min(K, K_MIN))  # Newton steps take supports up to this size

    def gap1(rr, v, w, dd):  # primal and duality gap, the formulas of gaps (μ > 0 here)
        return gap_from_residual(v, rr, w, mu, kappa, dd)

    def open_(crit, sweeps):
        return (crit > tol) & (sweeps < budget) & jnp.isfinite(crit)

    def round_(st):
        w, v, rr, _, _, last, sweeps, rounds, _, _ = st
        score = jnp.where(w != 0, jnp.inf, jnp.abs(v) / mu)
        idx = jnp.sort(lax.top_k(score, K)[1])
        if Gfull is None:
            XW = Xc[:, idx]
            G = jnp.matmul(XW.T, XW, precision=HI) / n
        else:
            G = Gfull[idx][:, idx]
        cW, dW = c_full[idx], d[idx]
        kd = kappa * dW
        G, cW, kd = lax.optimization_barrier((G, cW, kd))  # materialized once per round
        live = open_(last, sweeps)

        def restricted(wk, q):
            rr = yy - cW @ wk - wk @ q
            primal, gap = gap1(rr, q, wk, dW)
            return primal, gap / scale

        def icond(c):
            _, _, rc, sw, _, _, stalled = c
            return live & (rc > tol_in) & (sw < budget) & ~stalled

        def ibody(c):
            wk, q, _, sw, best, since, _ = c

            def sweep(i, c2):
                wk, q, hist, qhist = c2
                wk, q = _cd_pass(G, wk, q, mu, kd, True)
                return wk, q, hist.at[i + 1].set(wk), qhist.at[i].set(q)

            # the rank-one updates drift from c_W - G w (badly in float32): restart from it
            q = cW - jnp.matmul(G, wk, precision=HI)
            hist = jnp.zeros((M + 1, K), dtype).at[0].set(wk)
            signs = jnp.sign(wk)
            qhist = jnp.zeros((M, K), dtype)
            wk, q, hist, qhist = lax.fori_loop(0, M, sweep, (wk, q, hist, qhist))
            stable = jnp.all(jnp.sign(wk) == signs) & (jnp.sum(wk != 0) <= Ks)
            # q = c_W - G w is affine in w and Σc = 1: the extrapolated q is the same combination
            coeffs = _anderson(hist)
            wa = jnp.matmul(coeffs, hist[1:], precision=HI)
            qa = jnp.matmul(coeffs, qhist, precision=HI)
            pa, ca = restricted(wa, qa)
            pk, ck = restricted(wk, q)
            take = jnp.isfinite(pa) & (pa < pk) & jnp.all(jnp.isfinite(wa))
            wk, q = jnp.where(take, wa, wk), jnp.where(take, qa, q)
            pk, ck = jnp.where(take, pa, pk), jnp.where(take, ca, ck)

            def newton(c):
                wk, q, pk, ck = c
                wn = _newton(G, cW, wk, mu, kd, Ks)
                qn = cW - jnp.matmul(G, wn, precision=HI)
                pn, cn = restricted(wn, qn)
                take = jnp.isfinite(pn) & (pn < pk) & jnp.all(jnp.isfinite(wn))
                return (
                    jnp.where(take, wn, wk),
                    jnp.where(take, qn, q),
                    jnp.where(take, pn, pk),
                    jnp.where(take, cn, ck),
                )

            wk, q, pk, ck = lax.cond(stable, newton, lambda c: c, (wk, q, pk, ck))
            return wk, q, ck, sw + M, *track_stall(ck, best, since, checks)

        wk0, q0 = w[idx], v[idx]
        inf = jnp.asarray(jnp.inf, dtype)
        init = (wk0, q0, restricted(wk0, q0)[1], sweeps, inf, zero, zero > 0)
        wk, q, _, sweeps, _, _, _ = lax.while_loop(icond, ibody, init)
        # end on a coordinate-descent pass: every coordinate a soft-threshold output, so the
        # zeros are exact where extrapolated points left tiny values
        polish = live & (sweeps < budget)
        wk = _cd_pass(G, wk, q, mu, kd, polish)[0]
        sweeps = sweeps + polish.astype(sweeps.dtype)
        w = w.at[idx].set(wk)
        r = yc - jnp.matmul(Xc, w, precision=HI)
        v = jnp.matmul(r, Xc, precision=HI) / n
        rr = r @ r / n
        primal, gap = gap1(rr, v, w, d)
        crit = gap / scale
        # a round that ends at the rounding floor without a 10% gain on the last one: stalled
        stalled = (crit <= floor) & (crit > 0.9 * last)
        grow = open_(crit, sweeps) & ~stalled & (4 * jnp.sum(w != 0) > 3 * K)
        return w, v, rr, primal, gap, crit, sweeps, rounds + 1, grow, stalled

    def cond(st):
        *_, crit, sweeps, rounds, grow, stalled = st
        return open_(crit, sweeps) & (rounds < MAX_ROUNDS) & ~grow & ~stalled

    primal, gap = gap1(rr, v, w, d)
    no = jnp.zeros((), bool)
    st = (w, v, rr, primal, gap, gap / scale, zero, zero, no, no)
    w, v, rr, primal, gap, crit, sweeps, rounds, grow, _ = lax.while_loop(cond, round_, st)
    need = jnp.sum((w != 0) | (jnp.abs(v) >= 2.0 * mu_next - mu))
    return w, v, rr, primal, gap, crit, sweeps, rounds, grow, need


@partial(jax.jit, static_argnames=("K", "M"))
def _lambda_step(Xc, Gfull, c, yc, yy, d, w, v, rr, mu, kappa, mu_next, tol, budget, *, K, M):
    """Solve one fit at one λ, warm-started at ``w`` (p,), in working-set rounds.

    ``v`` (p,) are the correlations ``Xcᵀr/n`` at ``w``, ``rr`` is ``||r||²/n``, ``c`` is
    ``Xcᵀyc/n`` and ``Gfull`` the (p, p) Gram matrix or None. Returns the new ``(w, v, rr)``, the
    primal objective, absolute gap, rel_gap, sweeps and rounds, whether ``K`` must grow, and the
    size of the support ∪ strong-rule set for ``mu_next``.
    """
    return _step_one(Xc, Gfull, c, yc, yy, d, w, v, rr, mu, kappa, mu_next, tol, budget, K, M)


def _bucket(m: int, p: int) -> int:
    """Smallest power of two >= m (at least K_MIN), capped at p."""
    k = K_MIN
    while k < m:
        k *= 2
    return min(k, p)


def fit_path(
    X,
    Y,
    mu,
    kappa,
    D,
    *,
    fit_intercept=True,
    tol=1e-8,
    max_iter=20000,
    check_every=5,
    dtype=np.float64,
    timings: dict | None = None,
    stats: dict | None = None,
):
    """Fit B problems sharing one design along their strength paths.

    Args:
      X: (n, p) design shared by every fit. Y: (B, n) targets (one per fit).
      mu, kappa: (B, L) L1 and L2 strengths ``λα`` and ``λ(1-α)``, each row non-increasing in λ.
      D: (B, p) L2 weights ``d`` (ones, or mean_i x_ij² for marginalized dropout).
      fit_intercept: centre X and y (unpenalized intercept). tol: stop when gap <= tol · P(0).
      max_iter: cap on coordinate-descent sweeps per fit (each λ). check_every: sweeps between
        restricted-gap checks. dtype: float64 | float32.
      timings: if a dict, ``compile_s`` and ``fit_s`` are added. stats: if a dict, per-λ working
        set sizes ``K``, rounds and wall seconds (compilation included) are recorded under
        ``"ws_size"``, ``"rounds"`` and ``"seconds"``.

    Returns:
      A :class:`l1bench.solvers.gaps.ConvexResult` with leading axes (B, L), numpy arrays.
    """
    X = np.asarray(X, dtype)
    Y = np.asarray(Y, dtype)
    mu = np.asarray(mu, dtype)
    kappa = np.asarray(kappa, dtype)
    B, L = mu.shape
    n, p = X.shape
    if Y.shape != (B, n):
        raise ValueError(f"Y must have shape (B, n) = {(B, n)}, got {Y.shape}")
    if kappa.shape != (B, L):
        raise ValueError(f"kappa must have shape {(B, L)}, got {kappa.shape}")
    if np.any(mu <= 0):
        raise ValueError("mu: the working-set solver needs an L1 part, μ = λα > 0, in every fit")
    if np.any(kappa < 0):
        raise ValueError("kappa must be >= 0")
    if max_iter < 1 or check_every < 1:
        raise ValueError("max_iter and check_every must be >= 1")
    t_start = time.perf_counter()
    comp: dict = {}
    x_mean = X.mean(axis=0) if fit_intercept else np.zeros(p, dtype)
    y_mean = Y.mean(axis=1) if fit_intercept else np.zeros(B, dtype)
    Xc = jnp.asarray(X - x_mean)
    Yc = jnp.asarray(Y - y_mean[:, None])
    yy = jnp.sum(Yc * Yc, axis=1) / n
    Dj = jnp.asarray(np.broadcast_to(np.asarray(D, dtype), (B, p)))
    C = jnp.matmul(Yc, Xc, precision=HI) / n
    # the (p, p) Gram matrix, when it fits, makes each working set's Gram a gather
    Gfull = jnp.matmul(Xc.T, Xc, precision=HI) / n if p * p <= GRAM_MAX else None
    tol_ = jnp.asarray(tol, dtype)
    coef = np.empty((B, L, p), dtype)
    obj, gap, crit = (np.empty((B, L), dtype) for _ in range(3))
    n_iter = np.empty((B, L), np.int32)
    ws_size = np.zeros((B, L), np.int64)
    rounds = np.zeros((B, L), np.int64)
    seconds = np.zeros((B, L))
    statics = dict(M=int(check_every))
    for b in range(B):  # fits one after the other, each along its own path
        w, v, rr = jnp.zeros(p, dtype), C[b], yy[b]
        K, need = min(K_MIN, p), 0  # p < K_MIN: every coordinate
        for l in range(L):
            mu_next = mu[b, l + 1] if l + 1 < L else mu[b, l]
            # sized for the support and the strong-rule set; grows (never shrinks) along the path
            K = max(K, _bucket(int(need * 1.25) + 8, p))
            used, t_l = 0, time.perf_counter()
            while True:
                args = (Xc, Gfull, C[b], Yc[b], yy[b], Dj[b], w, v, rr)
                args += tuple(jnp.asarray(a, dtype) for a in (mu[b, l], kappa[b, l], mu_next))
                args += (tol_, jnp.asarray(max_iter - used, jnp.int32))
                w, v, rr, primal, g, c, sweeps, r, grow, need_ = runtime.call(
                    _lambda_step, args, {**statics, "K": K}, timings=comp
                )
                used += int(sweeps)
                rounds[b, l] += int(r)
                if bool(grow) and K < p:
                    K = min(2 * K, p)
                    continue
                break
            need = int(need_)
            seconds[b, l] = time.perf_counter() - t_l
            ws_size[b, l] = K
            coef[b, l] = np.asarray(w)
            obj[b, l], gap[b, l], crit[b, l], n_iter[b, l] = primal, g, c, used
    finite = np.isfinite(obj) & np.all(np.isfinite(coef), axis=-1)
    status = np.where(~finite, 2, np.where(crit <= tol, 0, 1)).astype(np.int32)
    intercept = y_mean[:, None] - coef @ x_mean
    if timings is not None:
        c_s = comp.get("compile_s", 0.0)
        timings["compile_s"] = timings.get("compile_s", 0.0) + c_s
        timings["fit_s"] = timings.get("fit_s", 0.0) + time.perf_counter() - t_start - c_s
    if stats is not None:
        stats["ws_size"], stats["rounds"] = ws_size.max(0).tolist(), rounds.max(0).tolist()
        stats["seconds"] = seconds.sum(0).tolist()
    return ConvexResult(coef, intercept, obj, gap, crit, n_iter, status)


def supports(grid, X) -> bool:
    """Whether :func:`solve` applies: p > n and every penalty has an L1 part with λ > 0 (and
    supports this solver: its kernels are written for the L1 gauge)."""
    n, p = np.shape(X)[-2:]
    if p <= n:
        return False
    if any(pen.supports("regression", "working_set") for pen in grid.penalties):
        return False
    if any(pen.l1_ratio <= 0 for pen in grid.penalties):
        return False
    return bool(np.all(np.asarray(grid.lam) > 0))


def solve(
    grid,
    X,
    y,
    *,
    fit_intercept=True,
    tol=1e-8,
    max_iter=20000,
    check_every=5,
    precision="float64",
    timings: dict | None = None,
    info: dict | None = None,
) -> ConvexResult:
    """Fit a :class:`l1bench.grid.Grid` by working sets; the contract of :func:`convex.solve`.

    All problems and penalties that share a design are one batch: a 2-D ``X`` (n, p) is shared
    by all S problems (S · P fits in one batch); a 3-D ``X`` (S, n, p) gives one batch of P fits
    per problem. ``max_iter`` caps the coordinate-descent sweeps of each fit (each λ). If
    ``timings`` is a dict, ``compile_s`` and ``fit_s`` are added; if ``info`` is a dict,
    ``algorithm`` is set to ``"working_set"`` and ``ws_size`` / ``rounds`` to the working-set size
    and rounds per strength (largest over the batches), for a manifest to record.

    Returns:
      A :class:`l1bench.solvers.gaps.ConvexResult` with leading axes (S, P, L), numpy arrays.
    """
    if precision not in ("float64", "float32"):
        raise ValueError(f"precision must be float64 or float32, got {precision!r}")
    dtype = np.float64 if precision == "float64" else np.float32
    lam = np.asarray(grid.lam, np.float64)
    S, P, L = lam.shape
    y = np.asarray(y)
    if y.ndim != 2 or y.shape[0] != S:
        raise ValueError(f"y must have shape (S, n) with S = {S}, got {y.shape}")
    X = np.asarray(X)
    if X.ndim not in (2, 3):
        raise ValueError(f"X must be (n, p) or (S, n, p), got shape {X.shape}")
    if not supports(grid, X):
        raise ValueError("grid: the working-set solver needs p > n and l1_ratio > 0, λ > 0")
    alpha = np.array([pen.l1_ratio for pen in grid.penalties])
    weighted = np.array([pen.dropout_weighted for pen in grid.penalties])
    mu = lam * alpha[None, :, None]
    kappa = lam * (1.0 - alpha)[None, :, None]
    kw = dict(
        fit_intercept=fit_intercept,
        tol=tol,
        max_iter=max_iter,
        check_every=check_every,
        dtype=dtype,
        timings=timings,
    )
    stats: list[dict] = []

    def weights(Xs):
        d = np.mean(np.asarray(Xs, np.float64) ** 2, axis=0)
        return np.where(weighted[:, None], d[None, :], 1.0)  # (P, p)

    if X.ndim == 2:
        D = np.tile(weights(X), (S, 1))
        stats.append({})
        res = fit_path(
            X,
            np.repeat(y, P, axis=0),
            mu.reshape(S * P, L),
            kappa.reshape(S * P, L),
            D,
            stats=stats[-1],
            **kw,
        )
        out = [a.reshape(S, P, *a.shape[1:]) for a in res]
    else:
        parts = []
        for s in range(S):
            stats.append({})
            Ys = np.repeat(y[s : s + 1], P, axis=0)
            parts.append(fit_path(X[s], Ys, mu[s], kappa[s], weights(X[s]), stats=stats[-1], **kw))
        out = [np.stack(a) for a in zip(*parts, strict=True)]
    if info is not None:
        info["algorithm"] = "working_set"
        for key in ("ws_size", "rounds"):
            info[key] = [int(max(st[key][k] for st in stats)) for k in range(L)]
    return ConvexResult(*out)
