"""Matplotlib figures of the experiments, drawn from their tables only (never from live fits).

Every function takes the tidy table an experiment wrote to ``results/`` (a :class:`pandas.DataFrame`
read back from its CSV) and a path stem, and writes ``stem.png`` and ``stem.pdf``. Error bands are
the 95% Student-t interval of the mean over seeds (the ``*_ci`` half-widths of the tables), except
the phase transition, whose band is the 95% Wilson interval of a proportion. This module does not
import jax.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

PENALTY_STYLE = {
    "l1": {"color": "tab:blue", "label": "L1 (Lasso)"},
    "elastic_net": {"color": "tab:purple", "label": "elastic net (α = 0.5)"},
    "l2": {"color": "tab:orange", "label": "L2 (ridge)"},
    "dropout": {"color": "tab:green", "label": "Dropout"},
    "none": {"color": "tab:gray", "label": "no penalty"},
}

plt.rcParams.update(
    {
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "font.size": 9,
        "axes.titlesize": 9,
        "legend.fontsize": 8,
        "svg.hashsalt": "l1bench",
        "pdf.fonttype": 42,
    }
)


def save(fig, stem: str | Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` (no creation date, so reruns are comparable)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    fig.savefig(paths[0], bbox_inches="tight", metadata={"Software": None})
    fig.savefig(paths[1], bbox_inches="tight", metadata={"CreationDate": None, "Creator": None})
    plt.close(fig)
    return paths


def _style(penalty: str) -> dict:
    return PENALTY_STYLE.get(penalty, {"color": "black", "label": penalty})


def _band(ax, x, mean, ci, **style):
    x, mean, ci = (np.asarray(v, float) for v in (x, mean, ci))
    ci = np.nan_to_num(ci)
    ax.plot(x, mean, **style)
    ax.fill_between(x, mean - ci, mean + ci, color=style.get("color"), alpha=0.2, lw=0)


# ------------------------------------------------------------------------------------------
# robustness versus sparsity
# ------------------------------------------------------------------------------------------

PATH_PENALTIES = ("l1", "elastic_net")  # penalties whose path moves sparsity
DENSE_PENALTIES = ("l2", "dropout")  # always dense: drawn at their best strength


def robustness_sparsity(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Error under each noise model against sparsity along the λ path, one row per dataset.

    L1 and elastic net are curves over their λ path (x = mean fraction of exactly-zero
    coefficients); L2 and Dropout, dense at every strength, are horizontal lines at the strength
    with the lowest mean error for that panel's noise model (a best case for them).

    Args:
      table: ``results/robustness_sparsity.csv``: dataset, metric, penalty, lam_index,
        sparsity, noise, error, error_ci.
    """
    datasets = list(dict.fromkeys(table["dataset"]))
    noises = list(dict.fromkeys(table["noise"]))
    fig, axes = plt.subplots(
        len(datasets),
        len(noises),
        figsize=(2.3 * len(noises), 2.2 * len(datasets)),
        squeeze=False,
        constrained_layout=True,
    )
    for i, ds in enumerate(datasets):
        for j, nz in enumerate(noises):
            ax = axes[i, j]
            part = table[(table["dataset"] == ds) & (table["noise"] == nz)]
            for pen, g in part.groupby("penalty", sort=False):
                st = _style(pen)
                if pen in DENSE_PENALTIES:
                    best = g.loc[g["error"].idxmin()]
                    ax.axhline(best["error"], color=st["color"], ls="--", lw=1, label=st["label"])
                    ax.axhspan(
                        best["error"] - np.nan_to_num(best["error_ci"]),
                        best["error"] + np.nan_to_num(best["error_ci"]),
                        color=st["color"],
                        alpha=0.12,
                        lw=0,
                    )
                else:
                    g = g.sort_values("sparsity")
                    _band(
                        ax,
                        g["sparsity"],
                        g["error"],
                        g["error_ci"],
                        color=st["color"],
                        marker=".",
                        ms=3,
                        lw=1,
                        label=st["label"],
                    )
            metric = part["metric"].iloc[0] if len(part) else ""
            if i == 0:
                ax.set_title(nz.replace("_", " "))
            if j == 0:
                ax.set_ylabel(f"{ds}\ntest {metric}")
            if i == len(datasets) - 1:
                ax.set_xlabel("sparsity (fraction of zero coefs)")
            lo = part["error"].min()
            hi = part.groupby("penalty")["error"].min().max()
            span = max(hi - lo, 1e-12)
            ax.set_ylim(lo - 0.3 * span, hi + 2.5 * span)  # the interesting low-error region
            ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels))
    fig.suptitle(
        "Error under each noise model (mean over its level range) vs sparsity along the λ "
        "path; bands: 95% CI over seeds; dashed: dense penalties at their best strength"
    )
    return save(fig, stem)


# ------------------------------------------------------------------------------------------
# regularization path
# ------------------------------------------------------------------------------------------


def coefficient_path(path: pd.DataFrame, order: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Lasso coefficient paths against ``‖w‖₁ / max ‖w‖₁`` (as in Efron et al., 2004).

    Args:
      path: ``results/diabetes_path.csv``: lam, l1_fraction, feature, coef (long format).
      order: ``results/diabetes_path_order.csv``: rank, feature, l1_fraction at entry.
    """
    fig, ax = plt.subplots(figsize=(6.5, 4.2), constrained_layout=True)
    cmap = plt.get_cmap("tab10")
    features = list(dict.fromkeys(order["feature"]))
    for i, name in enumerate(features):
        g = path[path["feature"] == name].sort_values("l1_fraction")
        ax.plot(g["l1_fraction"], g["coef"], color=cmap(i % 10), lw=1.2)
        last = g.iloc[-1]
        ax.annotate(
            f"{name}",
            (last["l1_fraction"], last["coef"]),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
            color=cmap(i % 10),
        )
    for r in order.itertuples():
        ax.axvline(r.l1_fraction, color="gray", lw=0.5, ls=":")
        ax.annotate(
            str(r.rank),
            (r.l1_fraction, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(1, -9),
            textcoords="offset points",
            fontsize=6,
            color="gray",
        )
    ax.set_xlabel("‖w‖₁ / max‖w‖₁ along the path (dimensionless)")
    ax.set_ylabel("coefficient (units of y per unit-norm feature)")
    ax.set_title(
        "Lasso path on diabetes (features scaled to unit norm, as in LARS); "
        "dotted: entry of the k-th feature"
    )
    ax.grid(alpha=0.3)
    return save(fig, stem)


# ------------------------------------------------------------------------------------------
# phase transition
# ------------------------------------------------------------------------------------------


def phase_transition(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """P(exact support recovery) against n, one curve per (p, k), with n* = 2k·log(p−k).

    Args:
      table: ``results/phase_transition.csv``: p, k, n, n_star, p_success, ci_low, ci_high.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    cmap = plt.get_cmap("tab10")
    for i, ((p, k), g) in enumerate(table.groupby(["p", "k"], sort=False)):
        g = g.sort_values("n")
        c = cmap(i % 10)
        label = f"p = {p}, k = {k}"
        for ax, x in ((axes[0], g["n"]), (axes[1], g["n"] / g["n_star"])):
            ax.plot(x, g["p_success"], color=c, marker="o", ms=3, label=label)
            ax.fill_between(x, g["ci_low"], g["ci_high"], color=c, alpha=0.2, lw=0)
        axes[0].axvline(g["n_star"].iloc[0], color=c, ls="--", lw=1)
    axes[1].axvline(1.0, color="black", ls="--", lw=1)
    axes[0].set_xlabel("sample size n (rows)")
    axes[0].set_xscale("log")
    axes[1].set_xlabel("rescaled sample size θ = n / (2k·log(p − k))")
    for ax in axes:
        ax.set_ylabel("P(exact support recovery)")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right")
    axes[0].set_title("dashed: Wainwright's threshold n* = 2k·log(p − k)")
    axes[1].set_title("the same against θ; band: 95% Wilson interval over seeds")
    return save(fig, stem)


# ------------------------------------------------------------------------------------------
# adversarial robustness
# ------------------------------------------------------------------------------------------


def adversarial(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Worst-case L∞ test MSE against ε per penalty, with the dual-norm prediction overlaid.

    Args:
      table: ``results/adversarial.csv``: dataset, penalty, eps, error, error_ci, predicted.
    """
    datasets = list(dict.fromkeys(table["dataset"]))
    fig, axes = plt.subplots(
        1, len(datasets), figsize=(5 * len(datasets), 3.8), squeeze=False, constrained_layout=True
    )
    for ax, ds in zip(axes[0], datasets, strict=True):
        part = table[table["dataset"] == ds]
        for pen, g in part.groupby("penalty", sort=False):
            st = _style(pen)
            g = g.sort_values("eps")
            l1 = g["l1_norm"].iloc[0]
            _band(
                ax,
                g["eps"],
                g["error"],
                g["error_ci"],
                color=st["color"],
                lw=1.5,
                label=f"{st['label']} (‖w‖₁ = {l1:.3g})",
            )
            ax.plot(g["eps"], g["predicted"], color=st["color"], ls="none", marker="x", ms=5)
        ax.plot(
            [],
            [],
            color="black",
            ls="none",
            marker="x",
            label="dual-norm prediction mean((|r| + ε‖w‖₁)²)",
        )
        ax.set_xlabel("L∞ budget ε (units of a standardized feature)")
        ax.set_ylabel("worst-case test MSE (units of y²)")
        ax.set_title(f"{ds}: each penalty at its CV-selected strength; band 95% CI over seeds")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left")
    return save(fig, stem)


# ------------------------------------------------------------------------------------------
# dropout as adaptive regularization
# ------------------------------------------------------------------------------------------


def dropout_ridge(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Stochastic-dropout SGD fits against the marginalized (weighted-ridge) minimizer.

    Args:
      table: ``results/dropout_ridge.csv``: dropout, rel_dist(_ci), obj_stochastic(_ci),
        obj_marginalized(_ci), test_mse_stochastic(_ci), test_mse_marginalized(_ci).
    """
    t = table.sort_values("dropout")
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), constrained_layout=True)
    _band(axes[0], t["dropout"], t["rel_dist"], t["rel_dist_ci"], color="tab:green", marker="o")
    axes[0].set_ylabel("‖w_SGD − w_ridge‖₂ / ‖w_ridge‖₂ (dimensionless)")
    axes[0].set_title("coefficient distance")
    for col, label, c in (
        ("obj_marginalized", "weighted ridge (exact minimizer)", "tab:orange"),
        ("obj_stochastic", "stochastic dropout (SGD)", "tab:green"),
    ):
        _band(axes[1], t["dropout"], t[col], t[f"{col}_ci"], color=c, marker="o", label=label)
        mse = col.replace("obj", "test_mse")
        _band(axes[2], t["dropout"], t[mse], t[f"{mse}_ci"], color=c, marker="o", label=label)
    axes[1].set_ylabel("marginalized dropout objective (units of y²)")
    axes[1].set_title("objective (1/2n)‖y − Xw − b‖² + ½·p/(1−p)·Σⱼ wⱼ² mean xᵢⱼ²")
    axes[2].set_ylabel("test MSE (units of y²)")
    axes[2].set_title("test error")
    for ax in axes:
        ax.set_xlabel("dropout rate p")
        ax.grid(alpha=0.3)
    axes[1].legend()
    fig.suptitle("Dropout ≈ adaptive ridge (Wager, Wang & Liang, 2013); bands: 95% CI over seeds")
    return save(fig, stem)


# ------------------------------------------------------------------------------------------
# MLPs
# ------------------------------------------------------------------------------------------


def mlp(table: pd.DataFrame, selected: pd.DataFrame, stem: str | Path) -> list[Path]:
    """MLP accuracy under Gaussian noise and PGD, and accuracy under attack against sparsity.

    Args:
      table: ``results/mlp.csv``: penalty, lam_index, sparsity, noise, level, accuracy(_ci).
      selected: one row per penalty: its selected lam_index (see the experiment's rule).
    """
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    titles = {
        "gaussian": ("Gaussian input noise σ (units of a standardized pixel)", 0),
        "adversarial_linf": ("PGD L∞ budget ε (units of a standardized pixel)", 1),
    }
    for noise, (xlabel, j) in titles.items():
        ax = axes[j]
        for r in selected.itertuples():
            g = table[
                (table["penalty"] == r.penalty)
                & (table["lam_index"] == r.lam_index)
                & table["noise"].isin([noise, "clean"])
            ].sort_values("level")
            st = _style(r.penalty)
            _band(
                ax,
                g["level"],
                g["accuracy"],
                g["accuracy_ci"],
                color=st["color"],
                marker="o",
                ms=3,
                label=st["label"] + (f" ({r.strength})" if r.strength else ""),
            )
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test accuracy (fraction)")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower left")
    axes[0].set_title("Gaussian noise (selected strengths)")
    axes[1].set_title("PGD attack, 10 steps (selected strengths)")
    ax = axes[2]
    eps = sorted(table.loc[table["noise"] == "adversarial_linf", "level"].unique())
    mid = eps[len(eps) // 2]
    pgd = table[(table["noise"] == "adversarial_linf") & (table["level"] == mid)]
    for pen, g in pgd.groupby("penalty", sort=False):
        st = _style(pen)
        g = g.sort_values("sparsity")
        ax.errorbar(
            g["sparsity"],
            g["accuracy"],
            yerr=np.nan_to_num(g["accuracy_ci"]),
            color=st["color"],
            marker="o",
            ms=4,
            lw=1,
            capsize=2,
            label=st["label"],
        )
    ax.set_xlabel("sparsity (fraction of exactly-zero weights, all layers)")
    ax.set_ylabel(f"test accuracy under PGD, ε = {mid:g}")
    ax.set_title("every strength; error bars: 95% CI over seeds")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return save(fig, stem)


# ------------------------------------------------------------------------------------------
# training-set contamination
# ------------------------------------------------------------------------------------------

LEVEL_LABEL = {
    "label_gaussian": "label noise σ (units of y)",
    "label_student_t": "t₃ label noise std (units of sd y)",
    "label_outliers": "fraction of labels replaced by N(ȳ, (10 sd y)²)",
    "leverage": "fraction of rows replaced by leverage points",
    "label_flip": "label flip probability",
}


def contamination(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Excess test error against the contamination level, one panel per dataset and model,
    each penalty at its CV strength; the OLS theory σ²·tr(A_t (AᵀA)⁻¹ A_tᵀ)/n_t overlaid.

    Args:
      table: ``results/contamination.csv``: dataset, metric, contamination, level, penalty,
        excess, excess_ci, theory.
    """
    panels = list(dict.fromkeys(zip(table["dataset"], table["contamination"], strict=True)))
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False, constrained_layout=True
    )
    for ax, (ds, model) in zip(axes.ravel(), panels, strict=False):
        part = table[(table["dataset"] == ds) & (table["contamination"] == model)]
        for pen, g in part.groupby("penalty", sort=False):
            g = g.sort_values("level")
            st = _style(pen)
            _band(ax, g["level"], g["excess"], g["excess_ci"], color=st["color"], label=st["label"])
            if g["theory"].notna().any():
                ax.plot(g["level"], g["theory"], "k--", lw=1, label="OLS theory")
        ax.set_xlabel(LEVEL_LABEL.get(model, "level"))
        ax.set_ylabel(f"excess test {part['metric'].iloc[0]}")
        ax.set_title(f"{ds}: {model}")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left")
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    return save(fig, stem)
