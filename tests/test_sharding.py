"""Sharding the problem axis across devices, and host threads on one (l1bench.runtime).

Several CPU devices are forced in subprocesses (``--xla_force_host_platform_device_count``), each
with a timeout so that a deadlock fails the test instead of hanging CI. The reference is the
one-device code path (sharding off: the plain compiled function on device 0), run in the same
subprocess on the same arrays. ``PJRT_NPROC`` pins XLA's CPU intra-op pool so that the number of
shards does not depend on the machine's core count (at most pool - 1 devices are used on CPU).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from subprocess import PIPE

import numpy as np
import pandas as pd
import pytest

from l1bench import runtime

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300  # s per subprocess (they run at once); ~30 s each on two quiet cores

# Fits every backend that shards (convex gram with eigvalsh, convex design with svd, logistic,
# optax trainer with per-seed and with shared data) sharded and unsharded; prints a JSON report.
WORKER = r"""
import json, sys
import jax
jax.config.update("jax_enable_x64", True)
import numpy as np
from l1bench import runtime
from l1bench.solvers import convex, logistic, trainer
from l1bench.grid import Strengths, make_grid
from l1bench.penalties import make_penalty

S, names, compare = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3] == "1"
# "threads": compare host threads (on) with one call (off) instead of sharding on / off
threads = len(sys.argv) > 4 and sys.argv[4] == "threads"
chunks = runtime.threaded_chunks
rng = np.random.default_rng(0)


def grid_for(X, y, kinds, task="regression", n_classes=None):
    pens = [make_penalty(k, k, 0.5 if k == "elastic_net" else None) for k in kinds]
    st = [Strengths(n_lambdas=5, lambda_min_ratio=1e-2)] * len(pens)
    return make_grid(pens, st, X, y, range(S), task=task, n_classes=n_classes)


n, p = 60, 12
X = rng.standard_normal((S, n, p))
y = X[..., :3] @ np.array([2.0, -1.5, 1.0]) + 0.5 * rng.standard_normal((S, n))
Xw = rng.standard_normal((S, 20, 30))  # p > n, no L1 part: the design form (svd)
yw = Xw[..., 0] + 0.1 * rng.standard_normal((S, 20))
yc = (X[..., 0] + 0.5 * rng.standard_normal((S, n)) > 0).astype(int)
lam = np.broadcast_to(np.array([[0.1, 0.01], [0.05, 0.0]]), (S, 2, 2))
kw = dict(task="regression", hidden=(), lam=lam, l1_ratio=np.array([1.0, 0.0]),
          dropout=np.array([[0.0, 0.0], [0.2, 0.1]]), seeds=np.arange(S), steps=20,
          check_every=10, learning_rate=1e-2)
FITS = {
    "convex_gram": lambda: convex.solve(grid_for(X, y, ["l1", "elastic_net"]), X, y, tol=1e-10),
    "convex_design": lambda: convex.solve(grid_for(Xw, yw, ["l2"]), Xw, yw, tol=1e-10),
    "logistic": lambda: logistic.solve(
        grid_for(X, yc, ["l1"], "binary", 2), X, yc, n_classes=2, tol=1e-10
    ),
    "trainer": lambda: trainer.train_grid(X, y, **kw),
    "trainer_shared": lambda: trainer.train_grid(X[0], y[0], **kw),
}

report = {"devices": jax.device_count(), "max_shards": runtime.max_shards()}
for name in names:
    runs = {}
    for shard in (True, False) if compare else (True,):
        runtime.set_sharding(shard or threads)
        runtime.threaded_chunks = chunks if shard else (lambda size, n: 1)
        used = runtime.threads_used if threads else runtime.shards_used
        runs[shard] = (jax.tree_util.tree_leaves(FITS[name]()), used())
    leaves, used = runs[True]
    rep = report[name] = dict(used=used, shapes=[list(a.shape) for a in leaves])
    if compare:
        ref, rep["used_off"] = runs[False]
        rep["shapes_off"] = [list(a.shape) for a in ref]
        # per output: max |sharded - one device| and max |one device|; integers must be equal
        rep["err"] = [
            [float(np.max(np.abs(a - b), initial=0)), float(np.max(np.abs(b), initial=0)),
             bool(np.issubdtype(b.dtype, np.integer))]
            for a, b in zip(leaves, ref)
        ]

# the executable really is split: devices behind the outputs of the cached sharded executables
report["executables"] = sorted(
    {len(leaf.device_set)
     for exe, shardings in runtime._EXECUTABLES.values() if shardings is not None
     for leaf in jax.tree_util.tree_leaves(exe.output_shardings)}
)
print("REPORT " + json.dumps(report))
"""


def _env(devices: int, pool: int) -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["PJRT_NPROC"] = str(pool)
    env.pop("NPROC", None)
    return env


# (devices, pool threads, problems S, fits, compare with one device)
WORKERS = {
    # 6 problems, 3 per device: each device runs its own batched eigvalsh / svd
    "even": (2, 3, 6, ("convex_gram", "convex_design", "logistic", "trainer_shared"), True),
    # 4 problems on 3 devices: padded to 6 by repeating the last, the padding dropped
    "uneven": (3, 4, 4, ("convex_gram", "trainer"), True),
    # 2 devices on a 2-thread pool deadlocked inside the batched eigvalsh: 1 device is used
    "pool": (2, 2, 6, ("convex_gram",), False),
    # one device, 3 pool threads: the trainer's 5 seeds over 3 host threads (padded to 6)
    "threads": (1, 3, 5, ("trainer", "trainer_shared"), True),
}
CLI = [
    "-m",
    "shard=true,false",
    "n_seeds=2",
    "cv_folds=3",
    "noise=none",
    "penalty=l1",
    "dataset.params.n_samples=80",
    "compilation_cache=null",
]


@pytest.fixture(scope="module")
def procs(tmp_path_factory):
    """All subprocesses, started at once (they are independent); killed if left running."""
    sweep = tmp_path_factory.mktemp("sweep")
    started = {}
    for key, (devices, pool, S, names, compare) in WORKERS.items():
        cmd = [sys.executable, "-c", WORKER, str(S), ",".join(names), str(int(compare)), key]
        started[key] = subprocess.Popen(
            cmd, env=_env(devices, pool), cwd=ROOT, stdout=PIPE, stderr=PIPE, text=True
        )
    cmd = [str(Path(sys.executable).with_name("l1bench")), *CLI, f"hydra.sweep.dir={sweep}"]
    started["cli"] = subprocess.Popen(
        cmd, env=_env(2, 3), cwd=sweep, stdout=PIPE, stderr=PIPE, text=True
    )
    yield started, sweep
    for proc in started.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _output(procs, key: str) -> str:
    """stdout of one subprocess; a deadlock fails the test after ``TIMEOUT`` instead of hanging."""
    proc = procs[0][key]
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"{key}: no result within {TIMEOUT} s (deadlock?)")
    assert proc.returncode == 0, err[-3000:]
    return out


def _report(procs, key: str) -> dict:
    line = [ln for ln in _output(procs, key).splitlines() if ln.startswith("REPORT ")][-1]
    return json.loads(line[len("REPORT ") :])


def _check_equal(name: str, rep: dict) -> None:
    assert rep["used_off"] == 1 and rep["shapes"] == rep["shapes_off"], name
    for i, (err, scale, integer) in enumerate(rep["err"]):
        # iterations and statuses equal; values to 1e-10 relative (gaps: 1e-13 absolute)
        assert err <= (0.0 if integer else 1e-10 * scale + 1e-13), (name, i, err, scale)


def test_two_devices_split_every_backend_and_match_one_device(procs):
    rep = _report(procs, "even")
    assert rep["devices"] == 2 and rep["max_shards"] == 2
    assert rep["executables"] == [2]  # every output of every sharded executable spans 2 devices
    for name in WORKERS["even"][3]:
        assert rep[name]["used"] == 2, name
        _check_equal(name, rep[name])


def test_uneven_batch_is_padded_and_padding_dropped(procs):
    rep = _report(procs, "uneven")
    assert rep["devices"] == 3 and rep["max_shards"] == 3 and rep["executables"] == [3]
    for name in WORKERS["uneven"][3]:
        assert rep[name]["used"] == 3 and rep[name]["shapes"][0][0] == 4, name
        _check_equal(name, rep[name])


def test_devices_not_below_pool_threads_are_not_all_used(procs):
    rep = _report(procs, "pool")
    assert rep["devices"] == 2 and rep["max_shards"] == 1
    assert rep["convex_gram"]["used"] == 1 and rep["executables"] == []


def test_trainer_splits_its_seeds_over_host_threads_and_matches_one_call(procs):
    rep = _report(procs, "threads")
    assert rep["devices"] == 1
    for name in WORKERS["threads"][3]:
        assert rep[name]["used"] == 3 and rep[name]["shapes"][0][0] == 5, name
        _check_equal(name, rep[name])


def test_threads_split_a_batch_into_equal_chunks(monkeypatch):
    import jax
    import jax.numpy as jnp

    if jax.device_count() != 1:
        pytest.skip("this process sees several devices")
    monkeypatch.setattr(runtime, "host_pool_threads", lambda: 3)
    assert [runtime.threaded_chunks(s, 4) for s in (1, 2, 5)] == [1, 2, 3]
    assert runtime.threaded_chunks(5, 1) == 1
    f = jax.jit(lambda x, y: (x * 2.0, x.sum(axis=1) + y))
    x = jnp.arange(10.0).reshape(5, 2)
    runtime.set_sharding(True)
    out = runtime.call(f, (x, jnp.ones(())), batch_argnums=(0,), threads=4)
    assert runtime.threads_used() == 3
    np.testing.assert_array_equal(out[0], np.asarray(x) * 2)
    np.testing.assert_array_equal(out[1], np.asarray(x).sum(axis=1) + 1)


def test_one_device_is_the_plain_path():
    import jax
    import jax.numpy as jnp

    if jax.device_count() != 1:
        pytest.skip("this process sees several devices")
    f = jax.jit(lambda x, y: (x * 2.0, x.sum() + y))
    runtime.set_sharding(True)
    out = runtime.call(f, (jnp.arange(6.0).reshape(3, 2), jnp.ones(())), batch_argnums=(0,))
    assert runtime.n_shards(3) == 1 and runtime.shards_used() == 1
    assert all(shardings is None for _, shardings in runtime._EXECUTABLES.values())
    np.testing.assert_array_equal(out[0], np.arange(6.0).reshape(3, 2) * 2)


def test_batch_arguments_must_agree():
    import jax.numpy as jnp

    with pytest.raises(ValueError, match="batch_argnums"):
        runtime.call(lambda a, b: a, (jnp.ones(3), jnp.ones(4)), batch_argnums=(0, 1))


def test_cli_fits_equal_with_and_without_sharding(procs):
    """``l1bench -m shard=true,false``: the two jobs write the same fits.csv (CV folds too)."""
    _output(procs, "cli")
    sweep = procs[1]
    jobs = {}
    for shard in ("true", "false"):
        job = next(d for d in sweep.iterdir() if f"shard={shard}" in d.name.lower().split(","))
        manifest = json.loads((job / "manifest.json").read_text())
        jobs[shard] = pd.read_csv(job / "fits.csv"), manifest
    (on, m_on), (off, m_off) = jobs["true"], jobs["false"]
    assert m_on["shards"] == 2 and m_off["shards"] == 1
    assert list(on.columns) == list(off.columns) and len(on) == len(off) > 0
    for col in on.columns:
        if pd.api.types.is_float_dtype(on[col]):
            np.testing.assert_allclose(on[col], off[col], rtol=1e-10, atol=1e-13, err_msg=col)
        else:
            assert (on[col] == off[col]).all(), col


def test_every_executable_multiplies_at_the_highest_precision():
    # on GPUs float32 products default to TF32; runtime.call traces under "highest", so the
    # products a solver writes without a precision are compiled at full float32 precision
    import jax
    import jax.numpy as jnp

    import l1bench

    a = jnp.ones((4, 4), jnp.float32)
    runtime.call(jax.jit(lambda a, b: a @ b), (a, a))
    runtime.call(lambda a, b, *, k: (a @ b) * k, (a, a), {"k": 3.0})
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 6)), rng.standard_normal(40)
    l1bench.fit(X, y, penalty="l1", lam=[0.1], precision="float32")
    l1bench.fit(X, y > 0, model="logistic", penalty="l1", lam=[0.01], precision="float32")
    dots = [
        line
        for executable, _ in runtime._EXECUTABLES.values()
        for line in executable.as_text().splitlines()
        if " dot(" in line or "convolution(" in line
    ]
    assert len(dots) >= 4
    assert all("operand_precision={highest,highest}" in line for line in dots), dots[:3]
