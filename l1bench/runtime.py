"""One ahead-of-time compiled executable per (function, shapes, static options), timed.

Every backend runs a whole grid as one compiled call. :func:`call` compiles it once per shape
(``jit(...).lower(...).compile()``), keeps the executable, and separates compile time from run
time — the numbers the manifest and the benchmarks report.

When JAX sees several devices, :func:`call` splits the problem axis (axis 0 of the arguments
named by ``batch_argnums``) across them with ``shard_map``: each device runs the same program
on its own slice of the problems — its own while loops, no cross-device traffic, which is right
for a batch of independent fits. A batch that does not divide evenly is padded by repeating its
last problem and the padding is dropped from the outputs, so every problem's result is the
one-device result. With one device (or with sharding turned off) the call is exactly the plain
compiled function, no ``shard_map``.

CPU host devices (``--xla_force_host_platform_device_count`` or ``jax_num_cpu_devices``) share
one intra-op thread pool of ``T`` threads (``PJRT_NPROC``, else ``NPROC``, else the schedulable
cores — the rule of XLA's CPU client). jaxlib's batched LAPACK kernels (``eigvalsh``, ``svd``,
``cholesky``, ...) split their batch into tasks on that pool and block a pool thread until the
tasks finish; when every device's program blocks a thread at once, no thread is left to run the
tasks and the call deadlocks (seen: two devices on a two-core machine, inside the convex solver's
``eigvalsh``). Each program here holds at most one such kernel at a time, so splitting over
``n < T`` devices always leaves a thread free: on CPU the problem axis is split over at most
``T - 1`` devices (see :func:`max_shards`). Raise ``PJRT_NPROC`` (before JAX starts) to use more.

On one CPU device a caller may also ask for host threads (``threads``): XLA CPU runs a batched
matrix product (the per-fit products of a vmapped or stacked grid) on one thread, so a grid of
small models keeps one core busy however many there are. The batch is then split into up to
one chunk per core, each run by the same executable (compiled once, for the chunk shape) from
its own host thread, padded like an uneven sharded batch. Each problem's result is the one-call
result (to rounding: the chunk's products have other shapes). Only programs without the
blocking LAPACK kernels above may opt in (the trainer does; the convex and logistic solvers,
which hold ``eigvalsh`` / ``svd``, do not).

Every executable is traced under ``jax.default_matmul_precision(MATMUL_PRECISION)``
("highest"): on GPUs a float32 matrix product otherwise defaults to TF32 (a 10-bit mantissa,
about 1e-3 relative), which no float32 fit could certify a 1e-6 duality gap through, and the
gaps themselves would be computed wrong. Products that name their own ``precision`` keep it.
On CPU the setting changes nothing.

Importing this module turns on ``jax_enable_x64`` (float64 by default: fits are checked against
scikit-learn to tight tolerances; float32 runs cast their inputs with
``solver.precision=float32``, and the precision is recorded in the manifest). Every module that
computes with JAX imports it, directly or through :mod:`l1bench.solvers`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

_EXECUTABLES: dict = {}
# argument signatures whose program has run (l1bench.robustness: a first call runs one range of
# draws alone so that it compiles once); emptied with the executables by :func:`release`
WARM: set = set()
MATMUL_PRECISION = "highest"  # jax.default_matmul_precision of every executable (see above)
# ``enabled``: split the problem axis across devices (config key ``shard``, on by default);
# ``used``: the most devices any call since the last :func:`set_sharding` was split over
# ``threads``: the most host threads any call since then was split over
SHARD = {"enabled": True, "used": 1, "threads": 1}


def release() -> None:
    """Drop every kept executable and JAX's own caches (the next call of a shape recompiles,
    or loads it from the persistent compilation cache)."""
    import gc

    _EXECUTABLES.clear()
    WARM.clear()
    jax.clear_caches()
    gc.collect()


def memory_maps() -> int | None:
    """This process's memory mappings (Linux), or None where /proc cannot tell."""
    try:
        with open("/proc/self/maps", "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return None


def _map_budget() -> int:
    try:
        with open("/proc/sys/vm/max_map_count") as f:
            return int(f.read()) // 2
    except (OSError, ValueError):
        return 32_765


def release_if_crowded() -> bool:
    """:func:`release` when the process holds over half the kernel's memory-map limit.

    Each XLA CPU executable holds a few hundred mappings (about 300 for a convex fit); Linux
    allows 65 530 by default, past which XLA's compiler crashes the process (a segmentation
    fault or an abort, with no message). A long-lived process that compiles many shapes (a
    sweep of many jobs in one process, a test suite) releases them before it gets there.
    Returns whether it released.
    """
    n = memory_maps()
    if n is None or n <= _map_budget():
        return False
    release()
    return True


def set_sharding(enabled: bool) -> None:
    """Turn sharding of the problem axis across devices on or off for later calls.

    Also resets the records read by :func:`shards_used` and :func:`threads_used` (the pipeline
    calls this once per job).
    """
    SHARD["enabled"] = bool(enabled)
    SHARD["used"] = 1
    SHARD["threads"] = 1


def shards_used() -> int:
    """The most devices one :func:`call` was split over since the last :func:`set_sharding`."""
    return SHARD["used"]


def threads_used() -> int:
    """The most host threads one :func:`call` was split over since the last :func:`set_sharding`."""
    return SHARD["threads"]


def host_pool_threads() -> int:
    """Threads of XLA's CPU intra-op pool: ``PJRT_NPROC``, else ``NPROC``, else usable cores."""
    for name in ("PJRT_NPROC", "NPROC"):
        value = os.environ.get(name, "").strip()
        if value.lstrip("-").isdigit():
            return max(0, int(value))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def note_threads(k: int) -> None:
    """Record that one call ran on ``k`` host threads (read back by :func:`threads_used`)."""
    SHARD["threads"] = max(SHARD["threads"], int(k))


def max_shards() -> int:
    """How many devices a batch may be split over: all of them, but on CPU fewer than the pool.

    On CPU at most ``host_pool_threads() - 1`` devices are used, so that a batched LAPACK kernel
    blocking one pool thread per device cannot starve the pool (see the module docstring).
    Returns 1 when sharding is off or JAX sees one device.
    """
    n = jax.device_count()
    if not SHARD["enabled"] or n == 1:
        return 1
    if jax.default_backend() == "cpu":
        n = min(n, host_pool_threads() - 1)
    return max(1, n)


def n_shards(size: int) -> int:
    """How many devices a batch of ``size`` problems is split over (1 = not sharded)."""
    return max(1, min(max_shards(), int(size)))


def _batch_size(args: tuple, batch_argnums: tuple[int, ...]) -> int:
    sizes = {i: args[i].shape[0] if np.ndim(args[i]) else None for i in batch_argnums}
    if None in sizes.values() or len(set(sizes.values())) != 1:
        raise ValueError(
            f"batch_argnums={batch_argnums}: every batch argument needs the same axis-0 size "
            f"(the problem axis), got {sizes}"
        )
    return next(iter(sizes.values()))


def _pad(a: jax.Array, size: int) -> jax.Array:
    """``a`` with its last problem repeated along axis 0 up to ``size`` problems."""
    extra = size - a.shape[0]
    if extra == 0:
        return a
    return jnp.concatenate([a, jnp.repeat(a[-1:], extra, axis=0)])


def _sharded(fn: Callable, statics: dict, n_args: int, batch_argnums: tuple[int, ...], n: int):
    """``fn`` under ``shard_map`` over the first ``n`` devices, split along the problem axis.

    Batch arguments and every output are split along axis 0 (``PartitionSpec("batch")``); the
    other arguments are replicated. Returns ``(jitted, in_shardings)``.
    """
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.array(jax.devices()[:n]), ("batch",))
    specs = tuple(
        PartitionSpec("batch") if i in batch_argnums else PartitionSpec() for i in range(n_args)
    )
    inner = getattr(fn, "__wrapped__", fn)
    body = lambda *a: inner(*a, **statics)
    mapped = jax.shard_map(
        body, mesh=mesh, in_specs=specs, out_specs=PartitionSpec("batch"), check_vma=False
    )
    return jax.jit(mapped), tuple(NamedSharding(mesh, s) for s in specs)


def call(
    fn: Callable,
    args: tuple,
    statics: Mapping | None = None,
    *,
    timings: dict | None = None,
    batch_argnums: tuple[int, ...] = (),
    threads: int = 1,
):
    """Run ``fn(*args, **statics)`` through a cached compiled executable.

    Args:
      fn: a jitted function (``jax.jit``), or a plain one (jitted here with ``statics`` bound).
      args: array arguments (traced), or None for an optional one left out (an empty pytree;
        not a batch argument); their shapes and dtypes key the cache.
      statics: hashable static options; they key the cache too.
      timings: if a dict, ``compile_s`` (0 when the executable is reused) and ``fit_s`` are
        added to it.
      batch_argnums: arguments whose axis 0 is the problem batch (the same size ``S`` for all).
        With several devices the batch is split over ``n = n_shards(S)`` of them, padded to a
        multiple of ``n`` by repeating the last problem; every output must have the batch on
        axis 0, and the padding is dropped from it.
      threads: on one device, split the batch into up to this many equal chunks (padded as
        above) and run them concurrently from host threads, one compiled executable for the
        chunk shape (see :func:`threaded_chunks`). For programs dominated by small batched
        matrix products, which XLA CPU runs on one thread each; only for programs without
        blocking LAPACK kernels (the module docstring). 1 (default): one call.

    Returns:
      The outputs, on the host (``jax.device_get``).

    Raises:
      ValueError: if the batch arguments disagree on their axis-0 size.
    """
    statics = dict(statics or {})
    size = _batch_size(args, batch_argnums) if batch_argnums else 0
    n = n_shards(size) if batch_argnums else 1
    k = threaded_chunks(size, threads) if batch_argnums and n == 1 else 1
    padded = -(-size // (n * k)) * n * k
    chunk = padded // k
    shapes = tuple(
        None
        if a is None  # an empty pytree (an optional array left out)
        else ((chunk, *a.shape[1:]) if i in batch_argnums else a.shape, str(a.dtype))
        for i, a in enumerate(args)
    )
    key = (fn, jax.device_count(), n, shapes, tuple(sorted(statics.items())))
    t0 = time.perf_counter()
    if padded != size:
        args = tuple(_pad(a, padded) if i in batch_argnums else a for i, a in enumerate(args))
    # the chunks of the batch run from host threads (k > 1), else the whole batch at once
    parts = [
        tuple(
            a[j * chunk : (j + 1) * chunk] if i in batch_argnums else a for i, a in enumerate(args)
        )
        for j in range(k)
    ]
    compile_s = 0.0  # only the compile itself: 0 when the executable is reused
    if key not in _EXECUTABLES:
        t_c = time.perf_counter()
        release_if_crowded()
        if n > 1:
            jitted, shardings = _sharded(fn, statics, len(args), batch_argnums, n)
            specs = [
                jax.ShapeDtypeStruct(s, a.dtype) for (s, _), a in zip(shapes, args, strict=True)
            ]
            _EXECUTABLES[key] = (lower(jitted, specs).compile(), shardings)
        else:
            _EXECUTABLES[key] = (lower(fn, parts[0], statics).compile(), None)
        compile_s = time.perf_counter() - t_c
    executable, shardings = _EXECUTABLES[key]
    if shardings is not None:
        args = tuple(jax.device_put(a, s) for a, s in zip(args, shardings, strict=True))
        out = jax.device_get(jax.block_until_ready(executable(*args)))
    elif k > 1:
        with ThreadPoolExecutor(k) as pool:
            outs = list(pool.map(lambda a: jax.device_get(executable(*a)), parts))
        out = jax.tree_util.tree_map(lambda *a: np.concatenate(a), *outs)
    else:
        out = jax.device_get(jax.block_until_ready(executable(*parts[0])))
    t2 = time.perf_counter()
    if timings is not None:
        timings["compile_s"] = timings.get("compile_s", 0.0) + compile_s
        timings["fit_s"] = timings.get("fit_s", 0.0) + t2 - t0 - compile_s
    if n > 1:
        SHARD["used"] = max(SHARD["used"], n)
    note_threads(k)
    if padded != size:
        out = jax.tree_util.tree_map(lambda a: a[:size], out)
    return out


def lower(fn: Callable, args, statics: Mapping | None = None):
    """``fn`` (jitted or plain) traced for ``args`` and ``statics`` under the harness's matmul
    precision (:data:`MATMUL_PRECISION`); returns the ``jax.stages.Lowered`` to compile."""
    statics = dict(statics or {})
    with jax.default_matmul_precision(MATMUL_PRECISION):
        if hasattr(fn, "lower"):
            return fn.lower(*args, **statics)
        return jax.jit(lambda *a: fn(*a, **statics)).lower(*args)


def threaded_chunks(size: int, threads: int) -> int:
    """How many host threads a batch of ``size`` problems is split over on one device.

    At most ``threads`` and ``size``; at most the usable cores (:func:`host_pool_threads`),
    since each chunk's small products keep one core busy; 1 on accelerators (one device runs
    a batch faster than slices of it).
    """
    if int(threads) <= 1 or jax.default_backend() != "cpu":
        return 1
    return max(1, min(int(threads), int(size), host_pool_threads()))
