"""Robustness versus sparsity: L1, L2, elastic net and Dropout under every noise model.

    python -m experiments.robustness_sparsity     # ~2 min on a 2-core CPU

Runs ``experiment=robustness_sparsity`` on three datasets (synthetic_sparse; diabetes;
breast_cancer with model=logistic) and writes robustness_sparsity.{csv,md,png,pdf} into results/
(or ``--out DIR``).

Each fit's error under a noise model is the mean of its test error over that model's levels
(the area under the error-versus-level curve divided by the level range, as in l1bench's run
summaries); the table holds means over seeds with 95% t-intervals. Regression errors are MSE;
classification errors are the misclassification rate 1 − accuracy, so lower is better everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from experiments.common import RESULTS, aggregate, fmt, out_dir, run, write_table
from l1bench import figures
from l1bench.results import kept, markdown_table, robustness_per_fit

RUNS = {
    "synthetic_sparse": (),
    "diabetes": ("dataset=diabetes",),
    "breast_cancer": ("dataset=breast_cancer", "model=logistic"),
}


def per_fit(overrides: tuple[str, ...]) -> pd.DataFrame:
    """One row per (fit, noise model incl. ``clean``): sparsity and error (lower is better)."""
    out = run("experiment=robustness_sparsity", *overrides)
    print(f"{out.info['data']['name']}: {out.info['timings']['wall_s']:.1f} s", flush=True)
    wide = robustness_per_fit(out.robustness)
    noises = list(dict.fromkeys(out.robustness["noise"]))
    ids = ["dataset", "penalty", "seed", "lam_index", "lam", "dropout", "sparsity", "status"]
    long = wide.melt(
        id_vars=[*ids, "metric"],
        value_vars=["clean_error", *noises],
        var_name="noise",
        value_name="error",
    )
    long["noise"] = long["noise"].replace({"clean_error": "clean"})
    accuracy = long["metric"] == "accuracy"
    long.loc[accuracy, "error"] = 1.0 - long.loc[accuracy, "error"]
    long["metric"] = long["metric"].replace({"accuracy": "error rate", "mse": "MSE"})
    return long[kept(long)]


def table() -> pd.DataFrame:
    parts = []
    for overrides in RUNS.values():
        long = per_fit(overrides)
        keys = ["dataset", "metric", "penalty", "noise", "lam_index"]
        agg = aggregate(long, keys, ["lam", "dropout", "sparsity", "error"])
        parts.append(agg)
    out = pd.concat(parts, ignore_index=True)
    cols = [
        "dataset",
        "metric",
        "noise",
        "penalty",
        "lam_index",
        "lam",
        "dropout",
        "sparsity",
        "sparsity_ci",
        "error",
        "error_ci",
        "n_seeds",
    ]
    return out[cols]


def markdown(t: pd.DataFrame) -> str:
    """Per dataset and noise model: each penalty at its best strength for that noise model, and
    L1 at the sparsest strength within 10% of its best error."""
    lines = [
        "# Robustness versus sparsity",
        "",
        "Error under each noise model (mean over its levels; MSE for regression, error rate "
        "1 − accuracy for breast_cancer), mean ± 95% t-interval over seeds. *best*: the strength "
        "with the lowest mean error for that noise model (an oracle choice, the same for every "
        "penalty); *L1 sparse*: the sparsest L1 strength whose error is within 10% of L1's best. "
        "Full paths in robustness_sparsity.csv.",
        "",
    ]
    for ds, g in t.groupby("dataset", sort=False):
        lines += [f"## {ds} ({g['metric'].iloc[0]})", ""]
        pens = list(dict.fromkeys(g["penalty"]))
        header = ["noise", *(f"{p} best" for p in pens), "L1 sparse (sparsity)", "winner"]
        rows = []
        for nz, h in g.groupby("noise", sort=False):
            best = {p: h[h["penalty"] == p].loc[lambda d: d["error"].idxmin()] for p in pens}
            l1 = h[h["penalty"] == "l1"]
            ok = l1[l1["error"] <= 1.1 * best["l1"]["error"]]
            sparse = ok.loc[ok["sparsity"].idxmax()]
            winner = min(pens, key=lambda p: best[p]["error"])
            rows.append(
                [
                    nz,
                    *(fmt(best[p]["error"], best[p]["error_ci"]) for p in pens),
                    f"{fmt(sparse['error'], sparse['error_ci'])} ({sparse['sparsity']:.2f})",
                    winner,
                ]
            )
        lines += [markdown_table(header, rows), ""]
    return "\n".join(lines)


def main(out: Path = RESULTS) -> None:
    """Run the experiment and write its tables and figures into ``out``."""
    t = table()
    text = markdown(t)
    write_table(out, "robustness_sparsity", t, text)
    figures.robustness_sparsity(t, Path(out) / "robustness_sparsity")
    print(text)


if __name__ == "__main__":
    main(out_dir(description=__doc__))
