"""Run outputs: tidy tables, the human summary, the manifest, and atomic writes.

A run directory holds

* ``fits.csv`` — one row per fit (penalty × strength × seed) with its diagnostics and errors;
* ``robustness.csv`` — one row per fit × noise model × level (the noise suite, test time);
* ``contamination.csv`` — one row per fit × contamination model × level × draw (training-set
  contamination: refits on corrupted training data, measured on the clean test set);
* ``coefs.npz`` — ``coef`` (n_fits, p) and ``intercept`` (n_fits,), row-aligned with fits.csv,
  plus ``feature_names``;
* ``summary.md`` — per penalty and strength, means over seeds with 95% t-intervals;
* ``manifest.json`` — everything that produced the numbers, with the tables' layout version
  (:data:`SCHEMA_VERSION`); written last, with ``status: complete``, so a run without it (or
  with another status: ``running``, ``failed``, ``interrupted``) is not a finished run.

A row of a per-fit table is identified by its non-measured columns (:func:`identity_columns`):
every column that is not in :data:`MEASURED_COLUMNS` or starts with one of
:data:`MEASURED_PREFIXES`, so a new grid axis is part of a fit's identity without a change here.

Every file is written to a temporary name in the same directory and renamed into place, so a
crash never leaves a half-written table under a final name. This module does not import jax.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import subprocess
import tempfile
import textwrap
import unicodedata
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from l1bench import cv

PACKAGES = (
    "l1bench",
    "jax",
    "jaxlib",
    "optax",
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "hydra-core",
    "omegaconf",
    "matplotlib",
)

# the layout of a run's tables and manifest; l1bench report warns when it merges runs whose
# versions differ (or that record none: written before the version was recorded)
SCHEMA_VERSION = 1

# config keys that do not change what a run computes: resume compares runs without them, a fit's
# identity in a merge leaves them out, and Hydra's override_dirname.exclude_keys lists them
NOT_RESULTS = ("resume", "progress", "compilation_cache")
# the keys that choose a job's seeds: a fit's identity takes its own seed from its row instead
SEED_KEYS = ("seed", "n_seeds")

# columns of the per-fit tables that hold a measured value (or a value derived from the data,
# such as lam = lam_ratio · lam_max); every other column identifies the fit
MEASURED_COLUMNS = frozenset(
    {
        "lam",
        "lam_ratio",
        "nnz",
        "sparsity",
        "objective",
        "gap",
        "rel_gap",
        "n_iter",
        "status",
        "clean_error",
        "clean_status",
        "excess_error",
        "error",
        "error_sd",
        "degradation",
    }
)
MEASURED_PREFIXES = ("train_", "test_", "cv_", "support_", "sparsity_", "error_", "objective_")
# columns a merge adds to every table (the run directory and its overrides)
MERGE_PREFIXES = ("run_dir", "override.")

# fit statuses averaged in the summaries; a fit with any other status (diverged, or one a solver
# adds) is left out of the means and counted
KEPT_STATUSES = ("converged", "max_iter")

# columns of the summary: the table that answers "what does sparsity cost, what does it buy"
# the value columns summarized when present, and their headers (cv_error's names its metric,
# :func:`cv_header`)
SUMMARY_VALUES = {
    "nnz": "nnz",
    "sparsity": "sparsity",
    "train_mse": "train MSE",
    "test_mse": "test MSE",
    "test_r2": "test R²",
    "train_accuracy": "train acc.",
    "test_accuracy": "test acc.",
    "test_log_loss": "test log-loss",
    "cv_error": "CV error",
}
# how the summaries name a metric of l1bench.metrics
METRIC_NAMES = {"mse": "MSE", "log_loss": "log-loss", "accuracy": "accuracy", "r2": "R²"}


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 run``, ``2 runs``: a count and its noun (``many``: the plural when not word + s)."""
    return f"{n} {word}" if n == 1 else f"{n} {many or word + 's'}"


def identity_columns(table: pd.DataFrame) -> list[str]:
    """The columns of a per-fit table that identify a fit (sorted): all but the measured ones
    (:data:`MEASURED_COLUMNS`, :data:`MEASURED_PREFIXES`) and those a merge adds."""
    return sorted(
        c
        for c in table.columns
        if c not in MEASURED_COLUMNS
        and not c.startswith(MEASURED_PREFIXES)
        and not c.startswith(MERGE_PREFIXES)
    )


def kept(table: pd.DataFrame) -> pd.Series:
    """Which rows' fits enter the means: status in :data:`KEPT_STATUSES`."""
    return table["status"].isin(KEPT_STATUSES)


# ------------------------------------------------------------------------------------------
# atomic writes
# ------------------------------------------------------------------------------------------


# the files a run owns (besides manifest.json): cleared when a job starts, so that a rerun into
# the same directory never leaves an earlier run's table beside its own (or beside a failure)
RUN_FILES = (
    "fits.csv",
    "robustness.csv",
    "contamination.csv",
    "coefs.npz",
    "summary.md",
    "summary.tex",
)
# the process's umask, read once (os.umask can only be read by setting it): mkstemp creates
# 0600 files, and results are chmod-ed to what a plain open() would give (0666 & ~umask)
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def clear_run_files(run_dir: Path) -> list[str]:
    """Remove the :data:`RUN_FILES` present in ``run_dir``; returns the names removed."""
    removed = []
    for name in RUN_FILES:
        f = Path(run_dir) / name
        if f.is_file():
            f.unlink()
            removed.append(name)
    return removed


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and a rename.

    The file gets the permissions a plain ``open(path, "w")`` would (``0666 & ~umask``), not
    the temporary file's 0600: runs on a shared file system stay readable by the group.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Atomic text write (UTF-8)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_csv_atomic(path: Path, table: pd.DataFrame) -> None:
    """Atomic CSV write; floats keep full precision (``repr``) so reruns compare byte for byte."""
    write_text_atomic(path, table.to_csv(index=False, float_format="%.17g", lineterminator="\n"))


def write_npz_atomic(path: Path, **arrays) -> None:
    """Atomic ``np.savez`` of the given arrays."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes_atomic(path, buf.getvalue())


def read_manifest(run_dir: Path) -> dict | None:
    """The run's manifest, or None when it is missing or unreadable."""
    try:
        return json.loads((Path(run_dir) / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def write_json_atomic(path: Path, obj) -> None:
    """Atomic JSON write, keys sorted, non-finite floats as null-safe strings via ``default``."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


# ------------------------------------------------------------------------------------------
# summaries
# ------------------------------------------------------------------------------------------


def mean_ci(values: pd.Series) -> tuple[float, float]:
    """Mean and half-width of a 95% Student-t interval (NaN half-width for fewer than 2 values)."""
    v = values.dropna().to_numpy(dtype=float)
    if v.size == 0:
        return float("nan"), float("nan")
    if v.size == 1:
        return float(v[0]), float("nan")
    half = stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size)
    return float(v.mean()), float(half)


def group_keys(fits: pd.DataFrame) -> list[str]:
    """What distinguishes one summary row from another: everything but the seed.

    dataset, model, task and any swept ``override.*`` column (seed overrides aside) that takes
    more than one value in the table, then the penalty and the strength index along its path.
    """
    keys = []
    for c in ("dataset", "model", *[c for c in fits.columns if c.startswith("override.")]):
        shadowed = c.startswith("override.") and c.removeprefix("override.") in fits.columns
        if (
            c in fits.columns
            and c not in SEED_OVERRIDES
            and not shadowed
            and fits[c].nunique(dropna=False) > 1
        ):
            keys.append(c)
    return [*keys, "penalty", "lam_index"]


SEED_OVERRIDES = ("override.seed", "override.n_seeds", "override.penalty")


def summarize(fits: pd.DataFrame, selected: bool = False) -> pd.DataFrame:
    """Aggregate fits over seeds: one row per configuration, penalty and strength index (with
    ``selected``: per configuration and penalty, over the fits cross-validation picked).

    Fits whose status is not in :data:`KEPT_STATUSES` (diverged ones, say) are left out of the
    means and counted in ``n_excluded``; fits that stopped at their iteration cap
    (``max_iter``, the normal end of fixed-epoch training) are kept, and counted by status in
    the summary's header. ``n_seeds`` counts the distinct seeds of the kept fits and ``n_fits``
    the kept fits (more than ``n_seeds`` only when the merged runs hold several fits of one
    seed). ``cv_best`` / ``cv_1se`` count the distinct seeds whose cross-validation picked the
    strength.
    """
    values = [c for c in SUMMARY_VALUES if c in fits.columns]
    keys = group_keys(fits)
    if selected:
        fits, keys = fits[fits["cv_best"].astype(bool)], keys[:-1]
    rows = []
    for key, g in fits.groupby(keys, sort=False, dropna=False):
        ok = g[kept(g)]
        row = dict(zip(keys, key, strict=True))
        row.update(
            {
                "lam": float(g["lam"].mean()),
                "dropout": float(g["dropout"].mean()),
                "n_seeds": int(ok["seed"].nunique()),
                "n_fits": int(len(ok)),
                "n_excluded": int(len(g) - len(ok)),
            }
        )
        if "lam_index" in row:
            row["lam_index"] = int(row["lam_index"])
        for col in values:
            row[col], row[f"{col}_ci"] = mean_ci(ok[col])
        for col in ("cv_best", "cv_1se"):
            if col in g.columns and not selected:
                row[col] = int(g.loc[g[col].astype(bool), "seed"].nunique())
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(x: float, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    return f"{x:.{digits}g}"


def _cell(mean: float, half: float) -> str:
    return _fmt(mean) if not np.isfinite(half) else f"{_fmt(mean)} ± {_fmt(half, 2)}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def cv_header(fits: pd.DataFrame) -> str:
    """The name of the ``cv_error`` column: ``CV MSE``, ``CV log-loss``, or both by task."""
    names = {METRIC_NAMES[cv.METRIC[t]]: t for t in dict.fromkeys(fits["task"])}
    if len(names) == 1:
        return f"CV {next(iter(names))}"
    return "CV error (" + ", ".join(f"{m}: {t}" for m, t in names.items()) + ")"


def seeds_cell(row: dict) -> str:
    """A summary row's seed count, with its fits when they are more and the excluded ones."""
    text = str(row["n_seeds"])
    if row["n_fits"] != row["n_seeds"]:
        text += f" ({row['n_fits']} fits)"
    if row["n_excluded"]:
        text += f" ({row['n_excluded']} excluded)"
    return text


def fits_table(fits: pd.DataFrame, selected: bool = False) -> str:
    """The fit summary (:func:`summarize`) as a Markdown table."""
    summary = summarize(fits, selected)
    values = [c for c in SUMMARY_VALUES if c in summary.columns]
    picks = "cv_best" in summary.columns
    extra = [k for k in group_keys(fits) if k not in ("penalty", "lam_index")]
    names = {**SUMMARY_VALUES, "cv_error": cv_header(fits)} if "cv_error" in values else None
    header = [
        *(k.removeprefix("override.") for k in extra),
        "penalty",
        "λ",
        "dropout",
        *((names or SUMMARY_VALUES)[c] for c in values),
        "seeds",
    ]
    header += ["CV picks (seeds: best / 1se)"] if picks else []
    rows = []
    for r in summary.to_dict("records"):
        row = [str(r[k]) for k in extra] + [r["penalty"], _fmt(r["lam"]), _fmt(r["dropout"])]
        row += [_cell(r[c], r[f"{c}_ci"]) for c in values]
        row.append(seeds_cell(r))
        if picks:
            row.append(f"{r['cv_best']} / {r['cv_1se']}" if r["cv_best"] or r["cv_1se"] else "")
        rows.append(row)
    return markdown_table(header, rows)


def status_counts(fits: pd.DataFrame) -> str:
    """``converged: 60, max_iter: 6``: the fits per status."""
    counts = fits["status"].value_counts().to_dict()
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))


def summary_markdown(fits: pd.DataFrame, title: str) -> str:
    """The fit summary of one run (or of merged runs), per strength, with its heading."""
    cv_text = ""
    if "cv_error" in fits.columns:
        cv_text = (
            f" {cv_header(fits)} is the mean validation error over the folds; CV picks counts "
            "the seeds whose cross-validation picked the strength, by the best mean error and "
            "by the one-standard-error rule."
        )
    n_seeds = plural(int(fits["seed"].nunique()), "distinct seed")
    parts = [
        f"# {title}",
        "",
        f"{plural(len(fits), 'fit')} of {n_seeds} ({status_counts(fits)}). Means over seeds ± "
        f"95% t-interval of the fits whose status is {' or '.join(KEPT_STATUSES)} (others are "
        "excluded and counted); sparsity is the fraction of exactly-zero weights; λ is the "
        "mean of the seeds' own strengths at that point of the path (each seed's path starts "
        f"at its own λ_max).{cv_text}",
        "",
        fits_table(fits),
        "",
    ]
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------
# manifest
# ------------------------------------------------------------------------------------------


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that produce l1bench's numbers."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state(path: Path | None = None) -> dict[str, object]:
    """Commit and dirty flag of the git checkout holding ``path`` (None outside a checkout)."""
    cwd = Path(path or Path(__file__).resolve().parent)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(dirty.strip())}


def data_hash(*arrays: np.ndarray) -> str:
    """SHA-256 over the shapes, dtypes and bytes of the given arrays."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}{a.dtype}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def machine() -> dict[str, object]:
    """The host: platform, processor, CPU count, Python."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


# ------------------------------------------------------------------------------------------
# robustness versus sparsity
# ------------------------------------------------------------------------------------------


def _curve_area(levels: np.ndarray, errors: np.ndarray) -> float:
    """Mean error over the level range (trapezoid / range; the single value for one level)."""
    order = np.argsort(levels)
    levels, errors = levels[order], errors[order]
    if levels.size == 1 or levels[-1] == levels[0]:
        return float(errors.mean())
    return float(np.trapezoid(errors, levels) / (levels[-1] - levels[0]))


def robustness_per_fit(robust: pd.DataFrame) -> pd.DataFrame:
    """One row per fit, one column per noise model: the mean error over its level range."""
    keys = [
        c
        for c in robust.columns
        if c
        in (
            "dataset",
            "model",
            "penalty",
            "seed",
            "lam_index",
            "lam",
            "dropout",
            "nnz",
            "sparsity",
            "status",
            "clean_error",
            "metric",
        )
        or c.startswith("override.")
        or c == "run_dir"
    ]
    rows = []
    for key, g in robust.groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, key, strict=True))
        for name, h in g.groupby("noise", sort=False):
            row[name] = _curve_area(h["level"].to_numpy(float), h["error"].to_numpy(float))
            row[f"{name}_worst"] = (
                float(h["error"].max())
                if row.get("metric") != "accuracy"
                else float(h["error"].min())
            )
        rows.append(row)
    return pd.DataFrame(rows)


def robustness_summary(
    fits: pd.DataFrame, robust: pd.DataFrame, selected: bool = False
) -> tuple[pd.DataFrame, list[str]]:
    """Robustness-versus-sparsity: per penalty and strength (or, with ``selected``, per penalty
    at its cross-validated strength), sparsity, clean error and the error under each noise model
    (its mean over the level range, :func:`_curve_area`), aggregated over seeds as mean ± 95%
    t-interval.

    Returns:
      The table and the names of the noise columns.
    """
    per_fit = robustness_per_fit(robust)
    noises = list(dict.fromkeys(robust["noise"]))
    merge_on = [
        c
        for c in ("run_dir", "dataset", "model", "penalty", "seed", "lam_index")
        if c in per_fit.columns and c in fits.columns
    ]
    extra = [c for c in ("cv_best",) if c in fits.columns]
    per_fit = per_fit.merge(fits[merge_on + extra], on=merge_on, how="left")
    if selected:
        if "cv_best" not in per_fit.columns:
            return pd.DataFrame(), noises
        per_fit = per_fit[per_fit["cv_best"].astype(bool)]
    keys = [k for k in group_keys(per_fit) if not (selected and k == "lam_index")]
    rows = []
    for key, g in per_fit.groupby(keys, sort=False, dropna=False):
        ok = g[kept(g)]
        row = dict(zip(keys, key, strict=True))
        row.update(
            lam=float(ok["lam"].mean()) if len(ok) else np.nan,
            dropout=float(g["dropout"].mean()),
            n_seeds=int(ok["seed"].nunique()),
            n_fits=int(len(ok)),
            n_excluded=int(len(g) - len(ok)),
        )
        for col in ("nnz", "sparsity", "clean_error", *noises):
            row[col], row[f"{col}_ci"] = mean_ci(ok[col])
        rows.append(row)
    return pd.DataFrame(rows), noises


def robustness_table(table: pd.DataFrame, noises: list[str], metric: str) -> str:
    """A robustness-versus-sparsity table (:func:`robustness_summary`) as a Markdown table."""
    extra = [
        k
        for k in table.columns
        if k.startswith("override.") or k in ("dataset", "model") and table[k].nunique() > 1
    ]
    header = [
        *(k.removeprefix("override.") for k in extra),
        "penalty",
        "λ",
        "dropout",
        "nnz",
        "sparsity",
        f"clean {metric}",
        *noises,
        "seeds",
    ]
    rows = []
    for r in table.to_dict("records"):
        rows.append(
            [str(r[k]) for k in extra]
            + [
                r["penalty"],
                _fmt(r["lam"]),
                _fmt(r["dropout"]),
                _cell(r["nnz"], r["nnz_ci"]),
                _cell(r["sparsity"], r["sparsity_ci"]),
                _cell(r["clean_error"], r["clean_error_ci"]),
                *(_cell(r[n], r[f"{n}_ci"]) for n in noises),
                seeds_cell(r),
            ]
        )
    return markdown_table(header, rows)


def robustness_markdown(table: pd.DataFrame, noises: list[str], metric: str, title: str) -> str:
    """The robustness-versus-sparsity table in Markdown, with its heading and caption."""
    if table.empty:
        return ""
    return "\n".join(
        [
            f"## {title}",
            "",
            f"Test {metric} without noise and under each noise "
            f"model (its mean over the level range: the area under the error-versus-level curve "
            f"over the range, trapezoids; one level: that level); means over seeds ± 95% "
            f"t-interval. λ and dropout are means of the seeds' own values (each seed's path "
            f"starts at its own λ_max, and cross-validation picks a strength per seed).",
            "",
            robustness_table(table, noises, metric),
            "",
        ]
    )


# LaTeX for the characters the summaries use; every other non-ASCII character is replaced by its
# ASCII decomposition (or ``?``), so summary.tex compiles with a plain pdflatex
TEX = {
    "\\": r"\textbackslash{}",
    "_": r"\_",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "$": r"\$",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "λ": r"$\lambda$",
    "α": r"$\alpha$",
    "σ": r"$\sigma$",
    "ε": r"$\varepsilon$",
    "θ": r"$\theta$",
    "²": r"$^2$",
    "×": r"$\times$",
    "·": r"$\cdot$",
    "≤": r"$\leq$",
    "≥": r"$\geq$",
    "→": r"$\to$",
    "–": "--",
    "—": "---",
    "…": r"\ldots{}",
}


def tex_escape(text: str) -> str:
    """``text`` as ASCII LaTeX: :data:`TEX` for its special and known characters, the ASCII
    decomposition (NFKD) of any other, else ``?``."""
    out = []
    for ch in text:
        if ch in TEX:
            out.append(TEX[ch])
        elif ch.isascii():
            out.append(ch)
        else:
            out.append(unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode() or "?")
    return "".join(out)


# ------------------------------------------------------------------------------------------
# training-set contamination
# ------------------------------------------------------------------------------------------


def _averaged(table: pd.DataFrame) -> pd.Series:
    """Rows whose refit and clean fit both have an averaged status."""
    return table["status"].isin(KEPT_STATUSES) & table["clean_status"].isin(KEPT_STATUSES)


def contamination_path(contam: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Training-set contamination along each path: per penalty and strength, each model's
    excess test error over the clean fit at that strength, as its mean over the level range.

    Per seed and level the excess (``error − clean_error``) is averaged over the draws, then
    over the model's level range (:func:`_curve_area`: trapezoids / range); the table holds
    means over seeds ± 95% t-interval. Rows whose refit or clean fit has a status outside
    :data:`KEPT_STATUSES` are left out and counted in ``n_excluded``.

    Returns:
      The table and the contamination models' names.
    """
    models = list(dict.fromkeys(contam["contamination"]))
    keys = group_keys(contam)
    ok = contam[_averaged(contam)]
    per_level = (
        ok.groupby([*keys, "seed", "contamination", "level"], sort=False, dropna=False)[
            "excess_error"
        ]
        .mean()
        .reset_index()
    )
    area = {
        k: _curve_area(g["level"].to_numpy(float), g["excess_error"].to_numpy(float))
        for k, g in per_level.groupby([*keys, "seed", "contamination"], sort=False, dropna=False)
    }
    rows = []
    for key, g in contam.groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, key, strict=True))
        clean = g.drop_duplicates("seed")
        seeds = list(dict.fromkeys(clean["seed"]))
        row.update(lam=float(clean["lam"].mean()), n_seeds=len(seeds))
        row["n_excluded"] = int(len(g) - _averaged(g).sum())
        ok_clean = clean[clean["clean_status"].isin(KEPT_STATUSES)]
        row["clean_error"], row["clean_error_ci"] = mean_ci(ok_clean["clean_error"])
        for m in models:
            vals = pd.Series([area.get((*key, sd, m), np.nan) for sd in seeds], dtype=float)
            row[m], row[f"{m}_ci"] = mean_ci(vals)
        rows.append(row)
    return pd.DataFrame(rows), models


def _fit_keys(contam: pd.DataFrame, fits: pd.DataFrame) -> list[str]:
    """The columns that tie a contamination row to its fit's run, penalty and seed."""
    run = [c for c in contam.columns if c == "run_dir" or c.startswith("override.")]
    return [c for c in (*run, "dataset", "model", "penalty", "seed") if c in fits.columns]


def contamination_selected(fits: pd.DataFrame, contam: pd.DataFrame) -> pd.DataFrame:
    """Training-set contamination at the cross-validated strength, what a user would get.

    Per contamination model, level and penalty: the clean test error of each contaminated
    set's refit at the strength its own cross-validation (folds of the contaminated data)
    picked, minus the clean fit's at the strength the clean cross-validation picked
    (``excess``); per seed the mean over draws, then the mean over seeds ± 95% t-interval
    (``error`` likewise). Empty without cross-validation.
    """
    if "cv_best" not in contam.columns or "cv_best" not in fits.columns:
        return pd.DataFrame()
    on = _fit_keys(contam, fits)
    metric = f"test_{contam['metric'].iloc[0]}"
    clean = fits[fits["cv_best"].eq(True)][[*on, metric, "status"]]
    clean = clean.rename(columns={metric: "selected_clean", "status": "selected_status"})
    sel = contam[contam["cv_best"].eq(True)].merge(clean, on=on, how="inner")
    sel = sel[sel["status"].isin(KEPT_STATUSES) & sel["selected_status"].isin(KEPT_STATUSES)]
    sel = sel.assign(excess=sel["error"] - sel["selected_clean"])
    keys = [k for k in group_keys(contam) if k != "lam_index"]
    per_seed = (
        sel.groupby([*keys, "contamination", "level", "seed"], sort=False, dropna=False)[
            ["excess", "error"]
        ]
        .mean()
        .reset_index()
    )
    rows = []
    for key, g in per_seed.groupby([*keys, "contamination", "level"], sort=False, dropna=False):
        row = dict(zip([*keys, "contamination", "level"], key, strict=True))
        row["n_seeds"] = int(len(g))
        for col in ("excess", "error"):
            row[col], row[f"{col}_ci"] = mean_ci(g[col])
        rows.append(row)
    return pd.DataFrame(rows)


def _extra_keys(table: pd.DataFrame) -> list[str]:
    return [
        k
        for k in table.columns
        if k.startswith("override.") or k in ("dataset", "model") and table[k].nunique() > 1
    ]


def contamination_path_markdown(table: pd.DataFrame, models: list[str], metric: str, title: str):
    """The contamination-along-the-path table in Markdown ("" when empty)."""
    if table.empty:
        return ""
    extra = _extra_keys(table)
    header = [
        *(k.removeprefix("override.") for k in extra),
        "penalty",
        "λ",
        f"clean {metric}",
        *(f"{m} (excess)" for m in models),
        "seeds",
    ]
    rows = [
        [str(r[k]) for k in extra]
        + [r["penalty"], _fmt(r["lam"]), _cell(r["clean_error"], r["clean_error_ci"])]
        + [_cell(r[m], r[f"{m}_ci"]) for m in models]
        + [str(r["n_seeds"]) + (f" ({r['n_excluded']} refits excluded)" if r["n_excluded"] else "")]
        for r in table.to_dict("records")
    ]
    return "\n".join(
        [
            f"## {title}",
            "",
            f"Each training set corrupted by a contamination model (train_noise) is refitted at "
            f"every strength; the cells are the test {metric} of the refit (clean test data) "
            f"minus the clean fit's at the same strength, averaged over the draws and over the "
            f"model's level range (trapezoids; level 0 is the clean fit, excess 0); means over "
            f"seeds ± 95% t-interval. Refits whose status is not {' or '.join(KEPT_STATUSES)}"
            f" are excluded and counted.",
            "",
            markdown_table(header, rows),
            "",
        ]
    )


def contamination_selected_markdown(
    fits: pd.DataFrame, table: pd.DataFrame, metric: str, title: str
) -> str:
    """The contamination-at-the-cross-validated-λ table in Markdown: one row per model and
    level, one column per penalty ("" when empty)."""
    if table.empty:
        return ""
    extra = _extra_keys(table)
    penalties = list(dict.fromkeys(table["penalty"]))
    header = [
        *(k.removeprefix("override.") for k in extra),
        "contamination",
        "level",
        *penalties,
    ]
    picked = fits[fits["cv_best"].eq(True) & fits["status"].isin(KEPT_STATUSES)]
    rows = []
    groups = table.groupby(extra, sort=False, dropna=False) if extra else [((), table)]
    for run, part in groups:
        run = run if isinstance(run, tuple) else (run,)
        mine = picked
        for k, v in zip(extra, run, strict=True):
            mine = mine[mine[k].astype(str) == str(v)] if k in mine.columns else mine
        rows.append(
            [str(v) for v in run]
            + ["none (clean fit)", "0"]
            + [_cell(*mean_ci(mine.loc[mine["penalty"] == p, f"test_{metric}"])) for p in penalties]
        )
        for key, g in part[part["level"] > 0].groupby(
            ["contamination", "level"], sort=False, dropna=False
        ):
            by = g.set_index("penalty")
            cells = [
                _cell(by.at[p, "excess"], by.at[p, "excess_ci"]) if p in by.index else "–"
                for p in penalties
            ]
            rows.append([str(v) for v in run] + [str(key[0]), _fmt(key[1]), *cells])
    sign = "above 0 is worse" if metric != "accuracy" else "below 0 is worse"
    return "\n".join(
        [
            f"## {title}",
            "",
            f"What contamination costs a user who cross-validates: per contaminated training set "
            f"the test {metric} (clean test data) of the refit at the λ its own cross-validation "
            f"picked (folds drawn from the contaminated data), minus the clean fit's at the λ "
            f"the clean cross-validation picked ({sign}); means over draws, then over seeds ± "
            f"95% t-interval. The row *none (clean fit)* is the clean fit's test {metric} at its "
            f"cross-validated λ.",
            "",
            markdown_table(header, rows),
            "",
        ]
    )


def latex_table(header: list[str], rows: list[list[str]], caption: str) -> str:
    """A booktabs LaTeX table."""
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{" + "l" * 3 + "r" * (len(header) - 3) + "}",
        r"\toprule",
        " & ".join(tex_escape(h) for h in header) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(tex_escape(c) for c in r) + r" \\" for r in rows]
    lines += [
        r"\bottomrule",
        r"\end{tabular}",
        r"\caption{" + tex_escape(caption) + "}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def markdown_to_latex(md_table: str, caption: str) -> str:
    """Turn a Markdown table (as written by :func:`markdown_table`) into booktabs LaTeX."""
    lines = [ln for ln in md_table.splitlines() if ln.startswith("|")]
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    return latex_table(cells[0], [c for c in cells[2:]], caption)


SELECTED = "Selected: each penalty at its cross-validated λ"
# the most summary rows the console prints in one table (more: summary.md holds them)
CONSOLE_ROWS = 24


def headline(fits: pd.DataFrame, robust: pd.DataFrame | None) -> list[tuple[str, str, str]]:
    """The answer of a run or a merge: each penalty at the strength its cross-validation picked
    (``cv_best``, per seed), robust errors included when a noise suite ran (one table per
    metric), else the fit summary at that strength.

    Returns:
      ``[(name, caption, Markdown table)]``; empty without cross-validation.
    """
    if "cv_best" not in fits.columns:
        return []
    pick = f"picked per seed by the best mean {cv_header(fits)}"
    metrics = [] if robust is None or not len(robust) else list(dict.fromkeys(robust["metric"]))
    out = []
    for metric in metrics:  # a merge of regression and classification runs: one table each
        table, noises = robustness_summary(fits, robust[robust["metric"] == metric], True)
        if table.empty:
            continue
        name = SELECTED + (f" (test {metric})" if len(metrics) > 1 else "")
        caption = (
            f"λ {pick}; test {metric} without noise and under each noise model (its mean over "
            "the level range); means over seeds ± 95% t-interval."
        )
        out.append((name, caption, robustness_table(table, noises, metric)))
    if not metrics:
        caption = f"λ {pick}; means over seeds ± 95% t-interval."
        out.append((SELECTED, caption, fits_table(fits, selected=True)))
    return out


def run_summary(
    fits: pd.DataFrame,
    robust: pd.DataFrame | None,
    title: str,
    contamination: pd.DataFrame | None = None,
) -> tuple[str, str]:
    """The whole human summary of a run or a merge: (Markdown, LaTeX).

    Sections: the headline (:func:`headline`: each penalty at its cross-validated strength),
    the robustness-versus-sparsity table along each path, training-set contamination at the
    cross-validated strength and along each path, and the per-strength fit summary.
    """
    md, tex = [f"# {title}", ""], []

    def add(text: str, caption: str) -> None:
        if text:
            md.append(text)
            tex.append(markdown_to_latex(text, caption))

    for name, caption, table in headline(fits, robust):
        md.append(f"## {name}\n\n{caption}\n\n{table}\n")
        tex.append(markdown_to_latex(table, f"{name}. {caption}"))
    metrics = [] if robust is None or not len(robust) else list(dict.fromkeys(robust["metric"]))
    for metric in metrics:  # a merge of regression and classification runs: one set each
        name = "Robustness versus sparsity" + (f" (test {metric})" if len(metrics) > 1 else "")
        table, noises = robustness_summary(fits, robust[robust["metric"] == metric])
        add(robustness_markdown(table, noises, metric, name), f"{name} (test {metric}).")
    empty = contamination is None or not len(contamination)
    metrics = [] if empty else list(dict.fromkeys(contamination["metric"]))
    for metric in metrics:
        part = contamination[contamination["metric"] == metric]
        name = "Training-set contamination at the cross-validated λ"
        name += f" (test {metric})" if len(metrics) > 1 else ""
        text = contamination_selected_markdown(
            fits, contamination_selected(fits, part), metric, name
        )
        add(text, f"{name} (test {metric}).")
        name = "Training-set contamination along the path"
        name += f" (test {metric})" if len(metrics) > 1 else ""
        table, models = contamination_path(part)
        add(contamination_path_markdown(table, models, metric, name), f"{name} (test {metric}).")
    fit_md = summary_markdown(fits, "Fits")
    md.append("#" + fit_md)
    tex.append(markdown_to_latex(fit_md, "Fits: means over seeds."))
    return "\n".join(md), "\n".join(tex)


def excluded_warnings(fits: pd.DataFrame) -> list[str]:
    """One line per status outside :data:`KEPT_STATUSES`: how many fits the means leave out."""
    counts = fits.loc[~kept(fits), "status"].value_counts()
    return [
        f"{plural(int(n), 'fit')} with status {status}: left out of the means"
        for status, n in sorted(counts.items())
    ]


def console_summary(
    fits: pd.DataFrame,
    robust: pd.DataFrame | None,
    title: str,
    out_dir: Path,
    warnings: list[str] = (),
) -> str:
    """What a run (or a sweep's report) prints: its fits by status, the headline
    (:func:`headline`), the warnings and where the files are; the full tables stay in them.

    Without cross-validation there is no headline: the per-strength fit summary is printed
    when it has at most :data:`CONSOLE_ROWS` rows, and otherwise a line says where it is; so
    is a headline longer than that.
    """
    n_seeds = plural(int(fits["seed"].nunique()), "seed")
    lines = [f"{title}: {plural(len(fits), 'fit')} of {n_seeds} ({status_counts(fits)})"]
    heads = headline(fits, robust)
    if not heads:
        heads = [("Fits", "no cross-validation (cv_folds=0), so every strength", fits_table(fits))]
    for name, caption, table in heads:
        n_rows = table.count("\n") - 1
        if n_rows <= CONSOLE_ROWS:
            lines += ["", textwrap.fill(f"{name}: {caption}", 100), table]
        else:
            lines += ["", f"{name}: {plural(n_rows, 'row')}, in {Path(out_dir) / 'summary.md'}"]
    notes = [*warnings, *excluded_warnings(fits)]
    lines += ["", *(f"warning: {w}" for w in notes)] if notes else [""]
    names = [n for n in (*RUN_FILES, "manifest.json") if (Path(out_dir) / n).is_file()]
    lines.append(f"files in {out_dir}: {', '.join(names)} (summary.md: every table)")
    return "\n".join(lines)
