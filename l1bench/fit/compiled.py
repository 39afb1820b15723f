"""One ahead-of-time compiled executable per (function, shapes, static options), timed.

Every backend runs a whole grid as one compiled call. :func:`call` compiles it once per shape
(``jit(...).lower(...).compile()``), keeps the executable, and separates compile time from run
time — the numbers the manifest and the benchmarks report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import jax

_EXECUTABLES: dict = {}


def call(fn: Callable, args: tuple, statics: Mapping | None = None, *,
         timings: dict | None = None):
    """Run ``fn(*args, **statics)`` through a cached compiled executable.

    Args:
      fn: a jitted function (``jax.jit``), or a plain one (jitted here with ``statics`` bound).
      args: array arguments (traced); their shapes and dtypes key the cache.
      statics: hashable static options; they key the cache too.
      timings: if a dict, ``compile_s`` (0 when the executable is reused) and ``fit_s`` are
        added to it.

    Returns:
      The outputs, on the host (``jax.device_get``).
    """
    statics = dict(statics or {})
    key = (fn, tuple((a.shape, str(a.dtype)) for a in args), tuple(sorted(statics.items())))
    t0 = time.perf_counter()
    if key not in _EXECUTABLES:
        if hasattr(fn, "lower"):
            lowered = fn.lower(*args, **statics)
        else:
            lowered = jax.jit(lambda *a: fn(*a, **statics)).lower(*args)
        _EXECUTABLES[key] = lowered.compile()
    t1 = time.perf_counter()
    out = jax.block_until_ready(_EXECUTABLES[key](*args))
    t2 = time.perf_counter()
    if timings is not None:
        timings["compile_s"] = timings.get("compile_s", 0.0) + t1 - t0
        timings["fit_s"] = timings.get("fit_s", 0.0) + t2 - t1
    return jax.device_get(out)
