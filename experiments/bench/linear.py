"""Cases A-C: Lasso paths on many problems that share one design X (problems differ in y).

Every solver fits the same (S problems × L strengths) grid; every solution is scored by
:func:`certified_gaps`, which evaluates l1bench's own objective-and-gap formula
(:func:`l1bench.solvers.gaps.objective_and_gap`, the one
:func:`l1bench.solvers.certify.certify_linear` calls) in float64, with the shared Gram matrix /
centred X built once for all problems (the per-call ``certify_linear`` rebuilds them per
problem, which would cost more than some solvers).
``tests/test_bench.py`` checks that both give the same gaps.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from experiments.bench.common import (
    DEFAULTS,
    L1BENCH_TOLS,
    PEER_TOLS,
    Options,
    Record,
    measure,
    worst,
)
from l1bench.grid import Grid
from l1bench.penalties import make_penalty
from l1bench.solvers import convex, gaps

MAX_ITER = 100_000  # peers' iteration caps: never the reason a tolerance fails


# -- data -----------------------------------------------------------------------------------------


def toeplitz_design(rng, n: int, p: int, rho: float) -> np.ndarray:
    """Rows i.i.d. N(0, Σ) with ``Σ_jk = rho^|j-k|`` (an AR(1) recurrence over columns)."""
    X = np.empty((n, p))
    X[:, 0] = rng.standard_normal(n)
    s = np.sqrt(1.0 - rho**2)
    for j in range(1, p):
        X[:, j] = rho * X[:, j - 1] + s * rng.standard_normal(n)
    return X


def replicate_targets(rng, X, n_problems: int, *, density=0.1, snr=3.0) -> np.ndarray:
    """``n_problems`` noise draws ``y = X w* + σ ε`` around one sparse ``w*`` (S, n)."""
    n, p = X.shape
    k = max(1, int(density * p))
    w = np.zeros(p)
    w[rng.choice(p, k, replace=False)] = rng.standard_normal(k)
    signal = X @ w
    sigma = np.std(signal) / snr
    return signal + sigma * rng.standard_normal((n_problems, n))


def diabetes_replicates(rng, n_problems: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's diabetes X (442 × 10) and ``n_problems`` parametric-bootstrap draws of y."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    Xc = X - X.mean(0)
    w, *_ = np.linalg.lstsq(Xc, y - y.mean(), rcond=None)
    fitted = y.mean() + Xc @ w
    sigma = np.std(y - fitted)
    return X, fitted + sigma * rng.standard_normal((n_problems, X.shape[0]))


def lasso_grid(X, Y, *, n_lambdas=None, lambda_min_ratio=1e-2, lam=None) -> Grid:
    """The l1bench grid of one L1 penalty over the problems sharing ``X`` (lam_max per problem).

    The same grid :func:`l1bench.grid.make_grid` builds from S copies of ``X``, without the
    copies: with an intercept, ``lam_max_s = max_j |x_jᵀ(y_s - ȳ_s)| / n`` and the centring of
    ``x_j`` drops out because ``y_s - ȳ_s`` sums to zero, so all S are one ``(Y - Ȳ) X`` product.
    An explicit ``lam`` is sorted from strongest to weakest and shared by every problem.
    """
    X, Y = np.asarray(X, float), np.asarray(Y, float)
    S, n = Y.shape
    if lam is not None:
        path = np.sort(np.asarray(lam, dtype=float))[::-1]
        lam3 = np.broadcast_to(path, (S, 1, path.size)).copy()
        lam_max = np.full((S, 1), np.nan)
    else:
        Yc = Y - Y.mean(axis=1, keepdims=True)
        lam_max = np.max(np.abs(Yc @ X), axis=1)[:, None] / n
        ratios = np.geomspace(1.0, lambda_min_ratio, n_lambdas) if n_lambdas > 1 else np.ones(1)
        lam3 = lam_max[:, :, None] * ratios
    L = lam3.shape[-1]
    return Grid(
        (make_penalty("l1", "l1"),),
        lam3,
        np.ones((1, L), dtype=bool),
        np.full((1, L), np.nan),
        lam_max,
        np.arange(S, dtype=np.int64),
    )


# -- the common evaluator, batched over problems that share X --------------------------------------


@partial(jax.jit, static_argnames=("use_gram",))
def _rel_gaps(X, Y, W, lam, *, use_gram):
    n, p = X.shape
    hi = lax.Precision.HIGHEST
    x_mean = X.mean(axis=0)
    Xc = X - x_mean
    d = jnp.ones(p, X.dtype)
    G = jnp.matmul(Xc.T, Xc, precision=hi) / n if use_gram else None
    one = jnp.ones((), X.dtype)

    def per_problem(y, Ws, lams):
        y_mean = y.mean()
        yc = y - y_mean
        yy = yc @ yc / n
        if use_gram:
            prob = gaps.Problem(G, jnp.matmul(yc, Xc, precision=hi) / n, yy, x_mean, y_mean, d, one)
        else:
            prob = gaps.Problem(Xc, yc, yy, x_mean, y_mean, d, one)

        def one_fit(w, lam):
            _, gap = gaps.objective_and_gap(prob, w, lam, jnp.zeros((), X.dtype), d, use_gram)
            return gap / jnp.maximum(0.5 * yy, jnp.finfo(X.dtype).tiny)

        return jax.vmap(one_fit)(Ws, lams)

    return jax.vmap(per_problem)(Y, W, lam)


def certified_gaps(X, Y, W, lam) -> np.ndarray:
    """rel_gap = gap / P(0) of Lasso solutions ``W`` (S, L, p) at ``lam`` (S, L), in float64.

    The Gram form is used when ``p <= n``, as :func:`l1bench.solvers.certify.certify_linear` does.
    """
    X = np.asarray(X, np.float64)
    use_gram = X.shape[1] <= X.shape[0]
    out = _rel_gaps(
        X,
        np.asarray(Y, np.float64),
        np.asarray(W, np.float64),
        np.asarray(lam, np.float64),
        use_gram=use_gram,
    )
    return np.asarray(out)


# -- solvers: each maps (X, Y, lam (S, L), tol) to coefficients (S, L, p) -------------------------


def l1bench_solver(precision: str, timings: dict, algorithm: str = "auto"):
    def run(X, Y, lam, tol, grid=None):
        if grid is None:
            grid = lasso_grid(X, Y, lam=list(lam[0]))._replace(lam=lam[:, None, :])
        t: dict = {}
        info: dict = {}
        res = convex.solve(
            grid,
            X,  # one (n, p) design shared by the S problems: never copied
            Y,
            tol=tol,
            max_iter=MAX_ITER,
            precision=precision,
            algorithm=algorithm,
            timings=t,
            info=info,
        )
        timings.setdefault("first", t)
        timings["last"] = t
        timings["info"] = info
        return res.coef[:, 0]

    return run


def algorithm_note(info: dict) -> str:
    """The notes column for l1bench: which algorithm ran (``convex.solve``'s ``info``)."""
    algo = info.get("algorithm", "?")
    note = f"{algo}: {convex.ALGORITHMS.get(algo, '')}".rstrip(": ")
    if "ws_size" in info:
        ws = info["ws_size"]
        note += f"; working set {min(ws)}-{max(ws)} of p, {max(info['rounds'])} round(s) at most"
    if "float32_steps" in info:
        note += f"; float32 steps in {info['float32_steps']}"
    return note


def rate_note(flops: float | None, seconds: float, precision: str, peaks: dict | None) -> str:
    """``flops`` over ``seconds`` as GFLOP/s, and as a share of the device's matmul rate."""
    if not flops or not seconds > 0:
        return ""
    rate = flops / seconds / 1e9
    peak = peaks.get(precision) if peaks else None
    share = f", {rate / peak:.1%} of the {precision} matmul rate" if peak else ""
    return f"{rate:.1f} GFLOP/s of products ({flops / 1e9:.3g} GFLOP, estimated{share})"


def _centred(X, Y):
    x_mean = X.mean(axis=0)
    Xc = np.ascontiguousarray(X - x_mean)
    return Xc, Y - Y.mean(axis=1, keepdims=True)


def sklearn_path(X, Y, lam, tol):
    """``lasso_path`` per problem on centred data, with the shared Gram when ``p <= n``."""
    from sklearn.linear_model import lasso_path

    Xc, Yc = _centred(X, Y)
    gram = Xc.T @ Xc if X.shape[1] <= X.shape[0] else None
    out = np.empty((Y.shape[0], lam.shape[1], X.shape[1]))
    for s in range(Y.shape[0]):
        kw = {}
        if gram is not None:
            kw = dict(precompute=gram, Xy=Xc.T @ Yc[s])
        _, coefs, _ = lasso_path(Xc, Yc[s], alphas=lam[s], tol=tol, max_iter=MAX_ITER, **kw)
        out[s] = coefs.T
    return out


def sklearn_loop(X, Y, lam, tol):
    """A warm-started loop of ``Lasso`` fits (shared Gram when ``p <= n``), one per (problem, λ)."""
    from sklearn.linear_model import Lasso

    Xc, Yc = _centred(X, Y)
    pre = Xc.T @ Xc if X.shape[1] <= X.shape[0] else False
    out = np.empty((Y.shape[0], lam.shape[1], X.shape[1]))
    for s in range(Y.shape[0]):
        model = Lasso(
            alpha=lam[s, 0],
            tol=tol,
            max_iter=MAX_ITER,
            fit_intercept=False,
            precompute=pre,
            warm_start=True,
        )
        for j in range(lam.shape[1]):
            model.set_params(alpha=lam[s, j])
            model.fit(Xc, Yc[s])
            out[s, j] = model.coef_
    return out


def _estimator_loop(make):
    def run(X, Y, lam, tol):
        out = np.empty((Y.shape[0], lam.shape[1], X.shape[1]))
        for s in range(Y.shape[0]):
            model = make(lam[s, 0], tol)
            for j in range(lam.shape[1]):
                model.alpha = lam[s, j]
                model.fit(X, Y[s])
                out[s, j] = model.coef_
        return out

    return run


def skglm_loop(X, Y, lam, tol):
    """skglm's ``Lasso`` (working sets + Anderson extrapolation), warm-started along the path."""
    from skglm import Lasso

    make = lambda a, t: Lasso(alpha=a, tol=t, max_iter=1000, fit_intercept=True, warm_start=True)
    return _estimator_loop(make)(X, Y, lam, tol)


def celer_loop(X, Y, lam, tol):
    """celer's ``Lasso`` (working sets + dual extrapolation), warm-started along the path."""
    from celer import Lasso

    make = lambda a, t: Lasso(alpha=a, tol=t, max_iter=1000, fit_intercept=True, warm_start=True)
    return _estimator_loop(make)(X, Y, lam, tol)


def available_peers(loop: bool) -> dict:
    """Peers that import here; ``loop`` adds scikit-learn's loop of ``Lasso`` fits."""
    peers = {"sklearn lasso_path": sklearn_path}
    if loop:
        peers["sklearn Lasso loop"] = sklearn_loop
    for name, fn, mod in (
        ("skglm Lasso", skglm_loop, "skglm"),
        ("celer Lasso", celer_loop, "celer"),
    ):
        try:
            __import__(mod)
            peers[name] = fn
        except ImportError:
            pass
    return peers


# -- one case variant ----------------------------------------------------------------------------


def run_variant(
    *,
    case: str,
    variant: str,
    size: str,
    X,
    Y,
    grid,
    repeats: int,
    precisions=("float64",),
    loop: bool = False,
    probe_k: int = 0,
    skip: dict | None = None,
    subset: dict | None = None,
    opts: Options = DEFAULTS,
    log=print,
) -> list[Record]:
    """l1bench (each precision) and every peer on the same grid; one Record per solver.

    Args:
      grid: the l1bench grid (its ``lam[:, 0]`` (S, L) is what every solver fits).
      probe_k: search the peers' tolerance on the first ``probe_k`` problems (0: on all).
      skip: ``{peer name: reason}`` peers left out of this variant (reported, not run).
      subset: ``{peer name: k}`` peers that fit one problem after another, sharing nothing
        between them, timed on the first ``k`` problems and scaled linearly to all S (noted).
      opts: l1bench's algorithm, whether peers run, the device's matmul rates.
    """
    lam = grid.lam[:, 0]
    check = lambda W: worst(certified_gaps(X, Y, W, lam))
    records = l1bench_records(case, variant, size, X, Y, grid, precisions, repeats, opts, log)
    for name, fn in available_peers(loop).items() if opts.peers else ():
        if skip and name in skip:
            records.append(_skipped(case, variant, size, name, skip[name]))
            log(f"  {name}: skipped ({skip[name]})")
            continue
        Yr, lamr, check_r, scale = Y, lam, check, 1.0
        if subset and name in subset and subset[name] < Y.shape[0]:
            k = subset[name]
            Yr, lamr, scale = Y[:k], lam[:k], Y.shape[0] / k
            check_r = lambda W, Yr=Yr, lamr=lamr: worst(certified_gaps(X, Yr, W, lamr))
        probe = None
        if probe_k and probe_k < Yr.shape[0]:
            Ys, lams = Y[:probe_k], lam[:probe_k]
            probe = (
                lambda tol, fn=fn, Ys=Ys, lams=lams: fn(X, Ys, lams, tol),
                lambda W, Ys=Ys, lams=lams: worst(certified_gaps(X, Ys, W, lams)),
            )
        rec = measure(
            case=case,
            variant=variant,
            size=size,
            solver=name,
            precision="float64",
            run=lambda tol, fn=fn, Yr=Yr, lamr=lamr: fn(X, Yr, lamr, tol),
            check=check_r,
            tols=PEER_TOLS,
            repeats=repeats,
            probe=probe,
            notes=f"tol searched on the first {probe_k} problems" if probe else "",
        )
        if scale != 1.0:
            scale_record(
                rec, scale, f"timed on the first {Yr.shape[0]} problems, scaled ×{scale:g}"
            )
        log(_fmt(rec))
        records.append(rec)
    return records


def scale_record(rec: Record, factor: float, note: str) -> Record:
    """Scale ``rec``'s times by ``factor`` (a subset timed for the whole batch) and say so."""
    rec.run_s *= factor
    rec.run_min_s *= factor
    rec.notes = "; ".join(x for x in (rec.notes, note) if x)
    return rec


def l1bench_records(
    case, variant, size, X, Y, grid, precisions, repeats, opts: Options, log
) -> list[Record]:
    """l1bench's rows of a variant, one per precision: ``convex.solve`` on ``grid`` (its
    ``lam[:, 0]`` fitted to ``Y``), float64 at the loosest certifying tolerance, float32 at
    the first only; the notes say which algorithm ran (and, where it counts them, the rate of
    its products)."""
    lam = grid.lam[:, 0]
    check = lambda W: worst(certified_gaps(X, Y, W, lam))
    records = []
    for prec in precisions:
        timings: dict = {}
        solver = l1bench_solver(prec, timings, opts.algorithm)
        rec = measure(
            case=case,
            variant=variant,
            size=size,
            solver="l1bench convex",
            precision=prec,
            run=lambda tol, solver=solver: solver(X, Y, lam, tol, grid),
            check=check,
            tols=L1BENCH_TOLS if prec == "float64" else L1BENCH_TOLS[:1],
            repeats=repeats,
            compile_s=lambda timings=timings: timings["first"].get("compile_s", 0.0),
        )
        info = timings.get("info", {})
        rate = rate_note(info.get("matmul_flops"), rec.run_s, prec, opts.peaks)
        rec.notes = "; ".join(x for x in (algorithm_note(info), rate) if x)
        log(_fmt(rec))
        records.append(rec)
    return records


def _skipped(case, variant, size, name, reason) -> Record:
    nan = float("nan")
    return Record(
        case,
        variant,
        size,
        name,
        "float64",
        0,
        nan,
        nan,
        nan,
        None,
        None,
        None,
        notes=f"not run: {reason}",
    )


def _fmt(rec: Record) -> str:
    return (
        f"  {rec.solver:22s} {rec.precision:8s} run {rec.run_s:8.3f} s"
        f"  compile {rec.compile_s:6.2f} s"
        f"  tol {rec.own_tol:.0e}  rel_gap {rec.rel_gap:.2e}  reached {rec.reached}"
    )
