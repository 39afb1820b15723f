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
# sharding across devices is opt-in (config key ``shard``): on CPU with forced host devices
# (--xla_force_host_platform_device_count) runs were seen to hang intermittently on 2 cores
SHARD = {"enabled": False}


def set_sharding(enabled: bool) -> None:
    """Turn sharding of the problem axis across devices on or off for later calls."""
    SHARD["enabled"] = bool(enabled)


def _sharded(fn: Callable, statics: dict, args: tuple, batch_argnums: tuple[int, ...]):
    """``fn`` wrapped in ``shard_map`` over the problem axis when JAX sees several devices.

    Each device runs its own slice of the batch — its own while loops, no cross-device traffic —
    which is right for a batch of independent fits. Returns None when sharding does not apply
    (one device, no batch arguments, or a batch that does not split evenly).
    """
    devices = jax.devices()
    n = len(devices)
    if n == 1 or not batch_argnums or not SHARD["enabled"]:
        return None
    size = args[batch_argnums[0]].shape[0]
    if size % n or any(args[i].shape[0] != size for i in batch_argnums):
        return None
    import numpy as np
    from jax.sharding import Mesh, PartitionSpec

    mesh = Mesh(np.array(devices), ("batch",))
    specs = tuple(
        PartitionSpec("batch") if i in batch_argnums else PartitionSpec() for i in range(len(args))
    )
    inner = getattr(fn, "__wrapped__", fn)
    body = lambda *a: inner(*a, **statics)
    return jax.jit(
        jax.shard_map(
            body, mesh=mesh, in_specs=specs, out_specs=PartitionSpec("batch"), check_vma=False
        )
    )


def n_shards(size: int) -> int:
    """How many devices a batch of ``size`` problems is split over (1 when it does not divide)."""
    n = jax.device_count()
    return n if n > 1 and size % n == 0 else 1


def call(
    fn: Callable,
    args: tuple,
    statics: Mapping | None = None,
    *,
    timings: dict | None = None,
    batch_argnums: tuple[int, ...] = (),
):
    """Run ``fn(*args, **statics)`` through a cached compiled executable.

    Args:
      fn: a jitted function (``jax.jit``), or a plain one (jitted here with ``statics`` bound).
      args: array arguments (traced); their shapes and dtypes key the cache.
      statics: hashable static options; they key the cache too.
      timings: if a dict, ``compile_s`` (0 when the executable is reused) and ``fit_s`` are
        added to it.
      batch_argnums: arguments whose axis 0 is the problem batch, sharded across devices when
        JAX sees several (see :func:`_sharded`).

    Returns:
      The outputs, on the host (``jax.device_get``).
    """
    statics = dict(statics or {})
    shapes = tuple((a.shape, str(a.dtype)) for a in args)
    key = (fn, jax.device_count(), SHARD["enabled"], shapes, tuple(sorted(statics.items())))
    t0 = time.perf_counter()
    if key not in _EXECUTABLES:
        sharded = _sharded(fn, statics, args, batch_argnums)
        if sharded is not None:
            lowered = sharded.lower(*args)
        elif hasattr(fn, "lower"):
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
