"""Regenerate every table and figure in results/, in one process.

    python -m experiments.all        # ~10 min on a 2-core CPU (see experiments/README.md)

Runs each experiment's ``main()`` in turn and prints the wall time of each.
"""

from __future__ import annotations

import importlib
import time

EXPERIMENTS = (
    "seed",
    "diabetes_path",
    "adversarial",
    "dropout_ridge",
    "mlp",
    "phase_transition",
    "robustness_sparsity",
    "contamination",
)


def main() -> None:
    times = {}
    for name in EXPERIMENTS:
        start = time.perf_counter()
        importlib.import_module(f"experiments.{name}").main()
        times[name] = time.perf_counter() - start
        print(f"== {name}: {times[name]:.0f} s", flush=True)
    print("\n".join(f"{k:22s} {v:6.0f} s" for k, v in times.items()))
    print(f"{'total':22s} {sum(times.values()):6.0f} s")


if __name__ == "__main__":
    main()
