"""Worst-case L∞ error against ε per penalty, with the dual-norm prediction overlaid.

    python -m experiments.adversarial        # ~30 s on a 2-core CPU

Runs ``experiment=adversarial`` on synthetic_sparse and on diabetes. For each penalty at its
5-fold-CV strength (per seed), the measured worst-case test MSE under ‖δ‖∞ ≤ ε (l1bench's noise
code) is set against the prediction computed here, independently, from the fitted coefficients
and the test data: for a linear model ``max_{‖δ‖∞≤ε} (y − (x+δ)ᵀw − b)² = (|r| + ε‖w‖₁)²``
(Hölder: the dual of L∞ is L1), so the MSE is ``mean((|r| + ε‖w‖₁)²)``. Writes
adversarial.{csv,md,png,pdf} into results/ (or ``--out DIR``); means over seeds ± 95% t-interval.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from experiments.common import RESULTS, aggregate, fmt, load_config, out_dir, write_table
from l1bench import figures, pipeline
from l1bench.results import markdown_table

RUNS = {"synthetic_sparse": (), "diabetes": ("dataset=diabetes",)}


def predicted_mse(coef, intercept, X, y, eps) -> np.ndarray:
    """``mean((|y − Xw − b| + ε‖w‖₁)²)`` for each ε."""
    r = np.abs(y - X @ coef - intercept)
    l1 = np.abs(coef).sum()
    return np.array([np.mean((r + e * l1) ** 2) for e in eps])


def per_fit(*overrides: str) -> pd.DataFrame:
    """One row per (seed, penalty at its CV strength, ε): measured and predicted worst case."""
    cfg = load_config("experiment=adversarial", *overrides)
    out = pipeline.run(cfg)
    data = pipeline.load(cfg)
    coef, intercept = (np.asarray(a) for a in pipeline.linear_coefficients(out.params))
    fits = out.fits.assign(row=np.arange(len(out.fits)))
    chosen = fits[fits["cv_best"]]
    robust = out.robustness.merge(chosen[["penalty", "seed", "lam_index", "row"]])
    rows = []
    for (pen, seed, row), g in robust.groupby(["penalty", "seed", "row"], sort=False):
        s = list(data.seeds).index(seed)
        g = g.sort_values("level")
        eps = g["level"].to_numpy()
        pred = predicted_mse(coef[row], intercept[row], data.X_test[s], data.y_test[s], eps)
        rows.append(
            pd.DataFrame(
                {
                    "dataset": data.name,
                    "penalty": pen,
                    "seed": seed,
                    "lam": g["lam"].to_numpy(),
                    "dropout": g["dropout"].to_numpy(),
                    "sparsity": g["sparsity"].to_numpy(),
                    "l1_norm": np.abs(coef[row]).sum(),
                    "eps": eps,
                    "error": g["error"].to_numpy(),
                    "predicted": pred,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def table(runs=RUNS) -> pd.DataFrame:
    parts = []
    for overrides in runs.values():
        f = per_fit(*overrides)
        f["rel_diff"] = np.abs(f["error"] - f["predicted"]) / f["predicted"]
        agg = aggregate(
            f,
            ["dataset", "penalty", "eps"],
            ["lam", "dropout", "sparsity", "l1_norm", "error", "predicted"],
        )
        agg["max_rel_diff"] = (
            f.groupby(["dataset", "penalty", "eps"], sort=False)["rel_diff"].max().to_numpy()
        )
        parts.append(agg)
    return pd.concat(parts, ignore_index=True)


def markdown(t: pd.DataFrame) -> str:
    lines = [
        "# Adversarial robustness and the L1 norm",
        "",
        "Worst-case test MSE under ‖δ‖∞ ≤ ε (inputs standardized), each penalty at its 5-fold-CV "
        "strength, mean ± 95% t-interval over seeds; *predicted*: mean((|r| + ε‖w‖₁)²) computed "
        "from the coefficients; *max rel. diff*: the largest |measured − predicted| / predicted "
        "over seeds.",
        "",
    ]
    eps = sorted(t["eps"].unique())
    for ds, g in t.groupby("dataset", sort=False):
        lines += [f"## {ds}", ""]
        header = ["penalty", "‖w‖₁", "sparsity", *(f"ε = {e:g}" for e in eps), "max rel. diff"]
        rows = []
        for pen, h in g.groupby("penalty", sort=False):
            h = h.set_index("eps")
            rows.append(
                [
                    pen,
                    fmt(h["l1_norm"].iloc[0], h["l1_norm_ci"].iloc[0]),
                    f"{h['sparsity'].iloc[0]:.2f}",
                    *(fmt(h.loc[e, "error"], h.loc[e, "error_ci"]) for e in eps),
                    f"{h['max_rel_diff'].max():.1e}",
                ]
            )
        lines += [markdown_table(header, rows), ""]
    return "\n".join(lines)


def main(out: Path = RESULTS) -> None:
    """Run the experiment and write its tables and figures into ``out``."""
    t = table()
    text = markdown(t)
    write_table(out, "adversarial", t, text)
    figures.adversarial(t, Path(out) / "adversarial")
    print(text)


if __name__ == "__main__":
    main(out_dir(description=__doc__))
