#!/usr/bin/env bash
# Issue 7's GPU part in one device run: l1bench's rows of the speed suite on the accelerator,
# against the peers' rows of the committed CPU run (results/benchmarks.csv, same sizes).
#
# Here, first:   python3 tasks.py wheels    (.whl/: hydra-core, omegaconf, antlr4; the device
#                                            image has jax, optax, sklearn, pandas, torch)
# Then the device tool's run, with carry [".whl"] and the command
#                bash experiments/bench/device.sh
# It writes benchmarks.md, benchmarks.csv (after every case, so a run cut short keeps the
# cases done), log.txt and gpu.txt into $OUT; copy them to results/gpu/.
#
# Settings (environment): CASES (default CBADFE: C, the GPU target, first), BUDGET_S (the
# suite's time limit, default 480 s, inside the tool's 600 s per command), PEERS (the CSV of
# the peers' rows), PY (the Python that has JAX), EXTRA (more flags, e.g. --quick).
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python3}
OUT=${OUT:-/tmp/l1bench-device}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/l1bench-site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/l1bench-site
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" PYTHONUNBUFFERED=1
{
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1
    "$PY" - <<'EOF'
import jax, jax.numpy as jnp, optax, sklearn, pandas
import l1bench  # noqa: F401  (turns float64 on)
x = jnp.ones(3, jnp.float64)
print("jax", jax.__version__, jax.default_backend(), jax.devices(), "float64:", x.dtype)
print("optax", optax.__version__, "sklearn", sklearn.__version__, "pandas", pandas.__version__)
EOF
} 2>&1 | tee "$OUT/gpu.txt" || exit 1
timeout "${BUDGET_S:-480}" "$PY" -m experiments.bench --cases "${CASES:-CBADFE}" \
    --peers-from "${PEERS:-results/benchmarks.csv}" --out "$OUT" ${EXTRA:-} 2>&1 \
    | tee "$OUT/log.txt"
status=${PIPESTATUS[0]}
[ "$status" = 124 ] && echo "stopped at BUDGET_S=${BUDGET_S:-480} s; the tables hold the cases done"
exit "$status"
