"""Shared pieces of the speed benchmarks: timing, matched-quality tolerance search, records.

A *run* of a solver is a function ``run(tol) -> solution``; a *check* scores a solution with the
one float64 evaluator (:mod:`l1bench.solvers.certify`) and returns the worst relative duality gap.
:func:`measure` finds the loosest tolerance of a solver's own stopping rule whose solution
certifies to ``TARGET_GAP`` (the first run doubles as the warm-up that compiles / JITs), then times
``repeats`` further runs and keeps the median. Nothing here knows a particular solver.
"""

from __future__ import annotations

import functools
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

TARGET_GAP = 1e-6  # every convex solver must reach rel_gap = gap / P(0) <= this, certified

# own tolerances tried, loosest first (l1bench's tol is the certified measure itself)
PEER_TOLS = (1e-3, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6, 3e-7, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12)
L1BENCH_TOLS = (1e-6, 5e-7, 2e-7, 1e-7, 1e-8)
SLOW_S = 10.0  # a warm run longer than this is timed once (keeps the suite near 30 minutes)
FAST_S = 1.0  # a warm run shorter than this is timed FAST_REPEATS times (when repeats > 1)
FAST_REPEATS = 10


@dataclass(frozen=True)
class Options:
    """How a run of the suite works beyond its sizes (``run.py``'s flags)."""

    peers: bool = True  # False: l1bench's rows only (the peers' rows come from another run)
    algorithm: str = "auto"  # l1bench's convex algorithm in the linear cases (convex.solve)
    peaks: dict | None = None  # GFLOP/s of this device's dense matmul, per precision


DEFAULTS = Options()


@dataclass
class Record:
    """One row of results/benchmarks.csv: one solver on one case variant."""

    case: str
    variant: str
    size: str
    solver: str
    precision: str
    repeats: int
    run_s: float  # median wall time of a warm run
    run_min_s: float
    compile_s: float  # l1bench: XLA compile of the first call; peers: first-call overhead
    own_tol: float | None  # the solver's own tolerance that certified (None: fixed work)
    rel_gap: float | None  # worst certified gap / P(0) over the case's fits
    reached: bool | None  # rel_gap <= TARGET_GAP (None where no gap applies)
    quality: str = ""  # for non-convex / evaluation cases: what was compared
    notes: str = ""
    ratio: float | None = field(default=None)  # run_s / l1bench's run_s in the same variant
    # False: an ablation (e.g. l1bench's own algorithm in NumPy), shown but not a peer
    peer: bool = True

    def row(self) -> dict:
        return asdict(self)


def timed(fn: Callable, *args, **kwargs):
    """``(result, seconds)`` of one call."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def time_repeats(fn: Callable[[], object], repeats: int) -> tuple[list[float], object]:
    """Wall times of ``repeats`` calls of ``fn`` and the last result."""
    times, out = [], None
    for _ in range(repeats):
        out, t = timed(fn)
        times.append(t)
    return times, out


def time_warm(fn: Callable[[], object], repeats: int) -> tuple[list[float], object]:
    """Wall times of warm calls of ``fn`` (already compiled / warmed up) and the last result.

    The first timed call sets how many there are: one if it took over ``SLOW_S``, at least
    ``FAST_REPEATS`` if it took under ``FAST_S`` (short runs are the noisiest; only when
    ``repeats > 1``, so that a quick run stays quick), else ``repeats``.
    """
    out, t = timed(fn)
    if t > SLOW_S:
        return [t], out
    total = max(repeats, FAST_REPEATS) if t < FAST_S and repeats > 1 else repeats
    more, out2 = time_repeats(fn, total - 1)
    return [t, *more], (out2 if more else out)


def search_tol(
    run: Callable[[float], object],
    check: Callable[[object], float],
    tols: Sequence[float],
    target: float = TARGET_GAP,
):
    """Loosest ``tol`` in ``tols`` (ordered loosest first) whose solution certifies to ``target``.

    Returns ``(tol, rel_gap, last_call_s, solution)``; ``tol`` is the last one tried and
    ``rel_gap > target`` when none certifies. ``last_call_s`` is the time of the run at ``tol``
    (a first call includes any JIT / XLA compilation).
    """
    for tol in tols:
        sol, t = timed(run, tol)
        gap = float(check(sol))
        if gap <= target:
            return tol, gap, t, sol
    return tol, gap, t, sol


def measure(
    *,
    case: str,
    variant: str,
    size: str,
    solver: str,
    precision: str,
    run: Callable[[float], object],
    check: Callable[[object], float],
    tols: Sequence[float],
    repeats: int,
    probe: tuple[Callable[[float], object], Callable[[object], float]] | None = None,
    compile_s: Callable[[], float] | None = None,
    notes: str = "",
) -> Record:
    """Tolerance search, then ``repeats`` timed runs at that tolerance; one :class:`Record`.

    Args:
      run, check: the solver on the full case and its certified worst rel_gap.
      tols: own tolerances to try, loosest first.
      probe: optionally a cheaper ``(run, check)`` (a subset of the problems) to search on; the
        full case is then run at the found tolerance and tightened further if it does not
        certify.
      compile_s: returns the compile time to report (l1bench's ``timings``); peers: NaN (their
        JIT / first-call overhead is spent in the search runs, which are not timed).
    """
    tols = list(tols)
    if probe is not None:
        tol, _, _, _ = search_tol(probe[0], probe[1], tols)
        tols = tols[tols.index(tol) :]
    tol, gap, _, _ = search_tol(run, check, tols)  # the search runs are the warm-up
    times, sol = time_warm(lambda: run(tol), repeats)
    repeats = len(times)
    gap = max(gap, float(check(sol)))
    med = statistics.median(times)
    comp = compile_s() if compile_s is not None else float("nan")
    return Record(
        case=case,
        variant=variant,
        size=size,
        solver=solver,
        precision=precision,
        repeats=repeats,
        run_s=med,
        run_min_s=min(times),
        compile_s=comp,
        own_tol=tol,
        rel_gap=gap,
        reached=gap <= TARGET_GAP,
        notes=notes,
    )


def fixed_work(
    *,
    case: str,
    variant: str,
    size: str,
    solver: str,
    precision: str,
    run: Callable[[], object],
    repeats: int,
    quality: Callable[[object], str] = lambda _: "",
    compile_s: Callable[[], float] | None = None,
    notes: str = "",
) -> tuple[Record, object]:
    """Time a fixed amount of work (MLP epochs, an evaluation); warm-up first, then repeats."""
    _, first = timed(run)
    times, out = time_warm(run, repeats)
    repeats = len(times)
    med = statistics.median(times)
    comp = compile_s() if compile_s is not None else max(first - med, 0.0)
    rec = Record(
        case=case,
        variant=variant,
        size=size,
        solver=solver,
        precision=precision,
        repeats=repeats,
        run_s=med,
        run_min_s=min(times),
        compile_s=comp,
        own_tol=None,
        rel_gap=None,
        reached=None,
        quality=quality(out),
        notes=notes,
    )
    return rec, out


def machine() -> dict:
    """CPU model and cores, the JAX backend and devices, package versions."""
    import jax

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for name in ("jax", "jaxlib", "numpy", "sklearn", "skglm", "celer", "torch"):
        try:
            mod = __import__(name)
            versions[name] = getattr(mod, "__version__", "?")
        except ImportError:
            versions[name] = "not installed"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "load": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
        "jax_backend": jax.default_backend(),
        "jax_devices": ", ".join(str(d) for d in jax.devices()),
        "versions": versions,
    }


@functools.cache
def matmul_rates(n: int | None = None, repeats: int = 5) -> dict[str, float]:
    """GFLOP/s of one dense ``(n, n) @ (n, n)`` product in JAX on the default device, float64
    and float32 at the highest precision (median of ``repeats`` after a warm-up): the
    practical peak of this machine's arithmetic, that rate notes are compared against.

    Measured once per process (cached); ``n`` defaults to 2048 on CPU, 8192 on accelerators.
    """
    import jax
    import jax.numpy as jnp

    if n is None:
        n = 2048 if jax.default_backend() == "cpu" else 8192
    product = jax.jit(lambda a, b: jnp.matmul(a, b, precision=jax.lax.Precision.HIGHEST))
    rates = {}
    for dtype in ("float64", "float32"):
        if dtype == "float64" and not jax.config.jax_enable_x64:
            rates[dtype] = float("nan")  # float64 is off in this process
            continue
        a = jax.random.normal(jax.random.key(0), (n, n), dtype)
        jax.block_until_ready(product(a, a))
        times = time_repeats(lambda a=a: jax.block_until_ready(product(a, a)), repeats)[0]
        rates[dtype] = 2.0 * n**3 / statistics.median(times) / 1e9
    return rates


def worst(a) -> float:
    """Largest finite-or-not entry, as a float (NaN counts as a failure: +inf)."""
    a = np.asarray(a, dtype=float)
    return float(np.inf) if np.any(~np.isfinite(a)) else float(np.max(a))
