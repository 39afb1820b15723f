"""The Lasso path on diabetes and the order in which features enter, against LARS.

    python -m experiments.diabetes_path      # ~10 s on a 2-core CPU
    python -m experiments.diabetes_path --out /tmp/regen   # into another directory

Runs ``experiment=diabetes_path`` (300 strengths from λ_max down to 1e-4·λ_max, features as
shipped: centered, unit norm) and writes into results/ (or ``--out DIR``)

* diabetes_path.csv — the path, long format: lam_index, lam, l1_fraction
  (‖w‖₁ / max‖w‖₁ over the path), feature, coef;
* diabetes_path_order.{csv,md} — each feature's rank of entry (first λ, from the
  largest, where it is nonzero) by l1bench, next to the rank from scikit-learn's
  ``lars_path(X − mean, y − mean, method="lasso")``;
* diabetes_path.{png,pdf} — the coefficient paths.

tests/test_experiments.py checks the entry order against lars_path independently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.linear_model import lars_path

from experiments.common import RESULTS, out_dir, run, write_csv, write_table
from l1bench import figures
from l1bench.pipeline import linear_coefficients
from l1bench.results import markdown_table


def entry_order(coefs: np.ndarray, lams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features in order of first entry along a path sorted by decreasing λ.

    Args:
      coefs: (L, p) coefficients, strongest penalty first. lams: (L,) the strengths.

    Returns:
      The indices of the features that ever enter, in order of entry, and the λ at entry.
      Features entering at the same grid point are ordered by |coef| there (largest first).
    """
    nonzero = coefs != 0
    first = np.where(nonzero.any(axis=0), nonzero.argmax(axis=0), len(lams))
    entered = np.flatnonzero(first < len(lams))
    mag = np.abs(coefs[first[entered], entered])
    order = entered[np.lexsort((-mag, first[entered]))]
    return order, lams[first[order]]


def lars_order() -> tuple[list[str], np.ndarray]:
    """Entry order and entry α of scikit-learn's lars_path (method="lasso") on centered data."""
    data = load_diabetes()
    X = data.data - data.data.mean(axis=0)
    y = data.target - data.target.mean()
    alphas, active, coefs = lars_path(X, y, method="lasso")
    # a feature joins at the knot *before* the first one where its coefficient is nonzero
    joined = np.concatenate([alphas[:1], alphas[:-1]])
    order, at = entry_order(coefs.T, joined)
    return [data.feature_names[i] for i in order], at


def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    out = run("experiment=diabetes_path")
    coef, _ = linear_coefficients(out.params)
    coef = np.asarray(coef)
    lams = out.fits["lam"].to_numpy()
    l1 = np.abs(coef).sum(axis=1)
    names = list(out.feature_names)
    path = pd.DataFrame(
        {
            "lam_index": np.repeat(out.fits["lam_index"].to_numpy(), len(names)),
            "lam": np.repeat(lams, len(names)),
            "l1_fraction": np.repeat(l1 / l1.max(), len(names)),
            "feature": names * len(lams),
            "coef": coef.ravel(),
        }
    )
    order, at = entry_order(coef, lams)
    lars_names, lars_at = lars_order()
    l1_at = [float(l1[lams == a][0] / l1.max()) for a in at]
    order_table = pd.DataFrame(
        {
            "rank": np.arange(1, len(order) + 1),
            "feature": [names[i] for i in order],
            "lam_entry": at,
            "l1_fraction": l1_at,
            "feature_lars": lars_names + [""] * (len(order) - len(lars_names)),
            "alpha_entry_lars": list(lars_at) + [np.nan] * (len(order) - len(lars_names)),
        }
    )
    return path, order_table


def main(out: Path = RESULTS) -> None:
    """Run the experiment and write its tables and figure into ``out``."""
    path, order = tables()
    write_csv(out, "diabetes_path", path)
    same = (order["feature"] == order["feature_lars"]).all()
    rows = [
        [str(r.rank), r.feature, f"{r.lam_entry:.5g}", r.feature_lars, f"{r.alpha_entry_lars:.5g}"]
        for r in order.itertuples()
    ]
    text = (
        "# Lasso path on diabetes: order of entry\n\n"
        "Features as shipped by scikit-learn (centered, unit norm), 442 rows, intercept fitted. "
        "l1bench: the first of 300 geometric strengths (λ_max down to 1e-4·λ_max, duality gap ≤ "
        "1e-12·P(0)) at which a feature is nonzero; scikit-learn: the knot of "
        '`lars_path(method="lasso")` at which it joins the active set. '
        f"Same order for all {len(order)} features: **{'yes' if same else 'no'}**.\n\n"
        + markdown_table(
            ["rank", "feature (l1bench)", "λ at entry (grid)", "feature (lars_path)", "α at entry"],
            rows,
        )
        + "\n"
    )
    write_table(out, "diabetes_path_order", order, text)
    figures.coefficient_path(path, order, Path(out) / "diabetes_path")
    print(text)


if __name__ == "__main__":
    main(out_dir(description=__doc__))
