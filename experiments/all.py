"""Regenerate every table and figure in results/ (or ``--out DIR``), in one process.

    python -m experiments.all                   # ~12 min on a 2-core CPU (experiments/README.md)
    python -m experiments.all --out /tmp/regen  # into another directory, to diff with results/

Runs each experiment's ``main(out)`` in turn and prints the wall time of each.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence

from experiments.common import out_dir

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


def main(argv: Sequence[str] | None = None) -> None:
    """Run every experiment, writing into ``--out DIR`` of ``argv`` (default results/)."""
    out = out_dir(argv, description=__doc__)
    times = {}
    for name in EXPERIMENTS:
        start = time.perf_counter()
        importlib.import_module(f"experiments.{name}").main(out)
        times[name] = time.perf_counter() - start
        print(f"== {name}: {times[name]:.0f} s", flush=True)
    print("\n".join(f"{k:22s} {v:6.0f} s" for k, v in times.items()))
    print(f"{'total':22s} {sum(times.values()):6.0f} s")


if __name__ == "__main__":
    main()
