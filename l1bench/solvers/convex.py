"""Exact solver for linear regression with the L1 / L2 / elastic-net / marginalized-dropout family.

:func:`solve` fits a :class:`l1bench.grid.Grid` by one of :data:`ALGORITHMS`, chosen by regime
(:func:`choose_algorithm`) or forced (:func:`check_algorithm`), one compiled call per gauge
(:func:`l1bench.grid.gauge_groups`). The algorithms live in their own modules:

* :mod:`l1bench.solvers.gaps`: the problem, its duality gaps and certificates (every algorithm
  stops on them), and :class:`ConvexResult`;
* :mod:`l1bench.solvers.fista`: ``gram`` and ``design``, FISTA vmapped per problem
  (:func:`fit_grid`), and the float64 certificates of float32 fits (:func:`certify_grid`);
* :mod:`l1bench.solvers.gram_ws`: ``gram_ws``, working-set FISTA with every fit a lane of one
  shared Gram matrix (:func:`fit_grid_shared`);
* :mod:`l1bench.solvers.workingset`: ``working_set``, working-set coordinate descent for p > n.

The names callers use from those modules are re-exported here.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from l1bench import runtime
from l1bench.grid import gauge_groups, per_gauge
from l1bench.solvers import workingset
from l1bench.solvers.fista import certified_float64, certify_grid, fit_grid
from l1bench.solvers.gaps import PATIENCE, ConvexResult
from l1bench.solvers.gram_ws import (
    MIXED_MIN,
    REFRESH,
    WS_MIN,
    fit_grid_shared,
    gram_ws_flops,
    ws_sizes,
)

__all__ = [
    "ALGORITHMS",
    "AUTO",
    "GRAM_WS_MAX_BYTES",
    "MIXED_MIN",
    "PATIENCE",
    "REFRESH",
    "WS_MIN",
    "ConvexResult",
    "certify_grid",
    "check_algorithm",
    "choose_algorithm",
    "fit_grid",
    "fit_grid_shared",
    "gauge_groups",
    "gram_ws_flops",
    "solve",
    "ws_sizes",
]

ALGORITHMS = {
    "gram_ws": "working-set FISTA on one shared Gram matrix, all fits as one matrix of lanes",
    "gram": "FISTA on the Gram matrix, vmapped per problem",
    "design": "FISTA on X, vmapped per problem",
    "working_set": "working-set coordinate descent for p > n (l1bench.solvers.workingset)",
}
AUTO = "auto"
# gram_ws for p > n (accelerators only): the p × p Gram matrix must fit in this many bytes
GRAM_WS_MAX_BYTES = 4 << 30


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


def check_algorithm(algorithm: str, grid, X) -> str:
    """``algorithm`` itself if it can fit ``grid`` on ``X`` (``auto``: the default choice)."""
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
    if len(gauge_groups(grid)) > 1:
        kw = dict(fit_intercept=fit_intercept, tol=tol, max_iter=max_iter, check_every=check_every)
        kw.update(precision=precision, algorithm=algorithm, timings=timings, info=info)
        return per_gauge(grid, lambda part: solve(part, X, y, **kw))
    gauge = grid.penalties[0].gauge
    for pen in grid.penalties:
        reason = pen.supports("regression", "convex")
        if reason:
            raise ValueError(reason)
    l1_ratio = np.array([pen.l1_ratio for pen in grid.penalties])
    weighted = np.array([pen.dropout_weighted for pen in grid.penalties])
    algorithm = check_algorithm(algorithm, grid, X)
    kw = dict(fit_intercept=fit_intercept, tol=tol, max_iter=max_iter, timings=timings, info=info)
    if algorithm == "working_set":
        out = workingset.solve(grid, X, y, precision=precision, **kw)
    else:
        kw["gauge"] = gauge
        out = _solve_fista(grid, X, y, l1_ratio, weighted, check_every, precision, algorithm, **kw)
    if precision == "float32":
        out = certified_float64(
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
