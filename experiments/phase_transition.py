"""Probability of exact support recovery by the Lasso against n, for several (p, k).

    python -m experiments.phase_transition   # ~1-2 min on a 2-core CPU

For each (p, k) and n = θ·n*, θ in THETAS, with n* = 2k·log(p − k) the threshold of Wainwright
(2009, "Sharp thresholds for high-dimensional and noisy sparsity recovery using ℓ1-constrained
quadratic programming (Lasso)"), runs ``experiment=phase_transition`` with n_samples = n over 50
seeds and λ = 2σ·sqrt(2·log(p)/n) (σ = 0.5, the noise level; the rule λ ∝ σ·sqrt(log p / n) of the
theorem with constant 2·sqrt(2)). A replicate succeeds when the estimated support (exact
nonzeros) equals the true support. Writes phase_transition.{csv,md,png,pdf} into results/ (or
``--out DIR``); the band is the 95% Wilson interval of the proportion.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from experiments.common import RESULTS, out_dir, run, write_table
from l1bench import figures
from l1bench.results import markdown_table

SIGMA = 0.5
PK = ((64, 2), (128, 4), (128, 8))
THETAS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


def threshold(p: int, k: int) -> float:
    """Wainwright's n* = 2k·log(p − k)."""
    return 2 * k * math.log(p - k)


def wilson(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    z = stats.norm.ppf(0.5 + level / 2)
    phat = successes / n
    centre = (phat + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(phat * (1 - phat) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def point(p: int, k: int, n: int) -> dict:
    lam = 2 * SIGMA * math.sqrt(2 * math.log(p) / n)
    out = run(
        "experiment=phase_transition",
        f"dataset.params.n_samples={n}",
        f"dataset.params.n_features={p}",
        f"dataset.params.k={k}",
        f"dataset.params.snr={k / SIGMA**2}",
        f"penalty.l1.lam=[{lam!r}]",
    )
    f = out.fits
    ok = (f["support_precision"] == 1) & (f["support_recall"] == 1)
    lo, hi = wilson(int(ok.sum()), len(f))
    return {
        "p": p,
        "k": k,
        "n": n,
        "n_star": threshold(p, k),
        "theta": n / threshold(p, k),
        "sigma": SIGMA,
        "lam": lam,
        "n_seeds": len(f),
        "successes": int(ok.sum()),
        "p_success": float(ok.mean()),
        "ci_low": lo,
        "ci_high": hi,
        "mean_nnz": float(f["nnz"].mean()),
        "mean_recall": float(f["support_recall"].mean()),
        "mean_precision": float(f["support_precision"].mean()),
        "converged": int((f["status"] == "converged").sum()),
    }


def table() -> pd.DataFrame:
    rows = []
    for p, k in PK:
        for theta in THETAS:
            rows.append(point(p, k, int(np.ceil(theta * threshold(p, k)))))
    return pd.DataFrame(rows)


def markdown(t: pd.DataFrame) -> str:
    header = ["p", "k", "n*", *(f"θ = {th:g}" for th in THETAS)]
    rows = []
    for (p, k), g in t.groupby(["p", "k"], sort=False):
        cells = [f"{r.p_success:.2f} (n={r.n})" for r in g.itertuples()]
        rows.append([str(p), str(k), f"{g['n_star'].iloc[0]:.1f}", *cells])
    return (
        "# Support recovery phase transition of the Lasso\n\n"
        f"P(estimated support = true support) over {t['n_seeds'].iloc[0]} replicates at "
        "n = θ·n*, n* = 2k·log(p − k) (Wainwright, 2009). X ~ N(0, I), ±1 signal, σ = "
        f"{SIGMA}, λ = 2σ·sqrt(2·log(p)/n), no standardization. 95% Wilson intervals in "
        "phase_transition.csv.\n\n" + markdown_table(header, rows) + "\n"
    )


def main(out: Path = RESULTS) -> None:
    """Run the experiment and write its tables and figures into ``out``."""
    t = table()
    text = markdown(t)
    write_table(out, "phase_transition", t, text)
    figures.phase_transition(t, Path(out) / "phase_transition")
    print(text)


if __name__ == "__main__":
    main(out_dir(description=__doc__))
