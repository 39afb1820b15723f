"""l1bench report's merge: each fit once (copies, overlapping seed ranges, new grid axes),
distinct seeds in the summaries, the results-schema version check, and the summaries' labels.
No jax, no fits: the run directories are written here."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from l1bench import report, results

pytestmark = pytest.mark.fast

CONFIG = {"dataset": {"name": "diabetes"}, "cv_folds": 0, "seed": 0, "n_seeds": 2}
L = 3  # strengths per path


def seed_hash(seed: int) -> str:
    return f"data-of-seed-{seed}"


def fits_of(seed: int, **extra) -> pd.DataFrame:
    """A seed's fits: the same numbers wherever the seed is fitted."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "dataset": "diabetes",
            "task": "regression",
            "model": "linear",
            "solver": "convex",
            "penalty": "l1",
            "kind": "l1",
            "seed": seed,
            "lam_index": np.arange(L),
            "lam": 10.0 ** -np.arange(L),
            "dropout": np.nan,
            "nnz": np.arange(L),
            "sparsity": 1 - np.arange(L) / 10,
            "status": "converged",
            "test_mse": rng.random(L),
            **extra,
        }
    )


def write_run(path, seeds, config=CONFIG, hashes=None, version=results.SCHEMA_VERSION, **extra):
    fits = pd.concat([fits_of(s, **extra) for s in seeds], ignore_index=True)
    robust = fits.assign(
        noise="gaussian", level=0.5, metric="mse", clean_error=fits["test_mse"]
    ).assign(error=lambda t: t["clean_error"] + 1)
    results.write_csv_atomic(path / "fits.csv", fits)
    results.write_csv_atomic(path / "robustness.csv", robust)
    hashes = hashes or {str(s): seed_hash(s) for s in seeds}
    manifest = {
        "status": "complete",
        "config": {**config, "seed": seeds[0], "n_seeds": len(seeds)},
        "overrides": [f"seed={seeds[0]}"],
        "data": {"hash": "-".join(hashes.values()), "seed_hashes": hashes},
    }
    if version is not None:
        manifest["schema_version"] = version
    results.write_json_atomic(path / "manifest.json", manifest)
    return path


def t_interval(values) -> float:
    v = np.asarray(values, float)
    return stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size)


def test_a_copied_sweep_and_overlapping_seeds_are_merged_once(tmp_path):
    # seed=0,1 n_seeds=2: both jobs fit seed 1; the copy repeats all four of their seed fits
    for sweep in ("sweep", "copy"):
        write_run(tmp_path / sweep / "seed=0", [0, 1])
        write_run(tmp_path / sweep / "seed=1", [1, 2])
    merged = report.merge([tmp_path / "sweep", tmp_path / "copy"])
    fits = merged.tables["fits.csv"]
    distinct = sorted({0, 1, 2})
    assert len(fits) == len(distinct) * L
    assert sorted(set(fits["seed"])) == distinct
    assert len(merged.tables["robustness.csv"]) == len(distinct) * L
    # the first path's runs are kept: sweep/seed=1 repeats seed 1 of sweep/seed=0, the copy's
    # jobs repeat sweep/seed=0 (seeds 0, 1, and 1) and sweep/seed=1 (seed 2)
    assert sorted(w.split("): ")[1] for w in merged.warnings) == [
        "copy/seed=0 repeats sweep/seed=0 for seeds 0, 1",
        "copy/seed=1 repeats sweep/seed=0 for seed 1",
        "copy/seed=1 repeats sweep/seed=1 for seed 2",
        "sweep/seed=1 repeats sweep/seed=0 for seed 1",
    ]
    summary = results.summarize(fits)
    assert (summary["n_seeds"] == len(distinct)).all()
    want = [fits_of(s)["test_mse"].to_numpy() for s in distinct]  # (seeds, L)
    np.testing.assert_allclose(summary["test_mse"], np.mean(want, axis=0))
    np.testing.assert_allclose(
        summary["test_mse_ci"], [t_interval(col) for col in np.transpose(want)]
    )
    table, _ = results.robustness_summary(fits, merged.tables["robustness.csv"])
    assert (table["n_seeds"] == len(distinct)).all()


def test_the_summary_header_counts_distinct_seeds(tmp_path):
    write_run(tmp_path / "a", [0, 1])
    write_run(tmp_path / "b", [1, 2])
    merged = report.write_report([tmp_path], tmp_path / "out")
    text = (tmp_path / "out" / "summary.md").read_text()
    assert "3 distinct seeds" in text and "fits merged once" in text
    assert len(merged.complete) == 2


@pytest.mark.parametrize(
    "second, duplicate",
    [
        ({}, True),
        ({"config": {**CONFIG, "progress": {"mode": "off"}, "resume": True}}, True),
        ({"config": {**CONFIG, "cv_folds": 5}}, False),  # another experiment
        ({"hashes": {"0": "other-data"}}, False),  # seed 0 of other data (an edited file)
        ({"contamination_level": 0.1}, False),  # a grid axis this module does not know
    ],
)
def test_a_fit_is_a_duplicate_only_with_the_same_config_seed_data_and_grid_point(
    tmp_path, second, duplicate
):
    extra = {"contamination_level": 0.0} if "contamination_level" in second else {}
    write_run(tmp_path / "a", [0], **extra)
    write_run(tmp_path / "b", [0], **second)
    fits = report.merge([tmp_path]).tables["fits.csv"]
    assert len(fits) == (1 if duplicate else 2) * L


def test_every_per_fit_table_is_merged_once(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "TABLES", (*report.TABLES, "contamination.csv"))
    for name in ("a", "b"):
        write_run(tmp_path / name, [0, 1])
        extra = fits_of(0).assign(contamination="gross", level=0.1, degradation=0.5)
        results.write_csv_atomic(tmp_path / name / "contamination.csv", extra)
    merged = report.merge([tmp_path])
    assert {k: len(v) for k, v in merged.tables.items()} == {
        "fits.csv": 2 * L,
        "robustness.csv": 2 * L,
        "contamination.csv": L,
    }


def test_identity_is_every_column_but_the_measured_ones():
    fits = fits_of(0, contamination_model="student_t", rel_gap=0.0, cv_error=1.0)
    fits = fits.assign(run_dir="x", **{"override.seed": 0})
    ident = results.identity_columns(fits)
    assert "contamination_model" in ident and {"seed", "lam_index", "penalty"} <= set(ident)
    assert not {"lam", "nnz", "status", "test_mse", "rel_gap", "cv_error"} & set(ident)
    assert not {"run_dir", "override.seed"} & set(ident)


def test_report_warns_about_schema_versions(tmp_path):
    write_run(tmp_path / "new", [0])
    write_run(tmp_path / "old", [1], version=None)
    warnings = report.merge([tmp_path]).warnings
    assert len(warnings) == 1 and "1 run record no results-schema version" in warnings[0]
    write_run(tmp_path / "newer", [2], version=results.SCHEMA_VERSION + 1)
    warnings = report.merge([tmp_path / "new", tmp_path / "newer"]).warnings
    assert warnings == [
        "the merged runs have different results-schema versions "
        f"(version {results.SCHEMA_VERSION}: 1 run, version {results.SCHEMA_VERSION + 1}: 1 run)"
    ]
    assert report.merge([tmp_path / "new"]).warnings == []


def test_a_report_of_one_run_is_grammatical(tmp_path):
    write_run(tmp_path / "a", [0])
    report.write_report([tmp_path / "a"], tmp_path / "out")
    title = (tmp_path / "out" / "summary.md").read_text().splitlines()[0]
    assert title == "# l1bench report — 1 complete run"


def test_the_report_of_one_sweep_covers_its_runs_and_says_so(tmp_path):
    runs = [write_run(tmp_path / f"seed={s}", [s]) for s in range(3)]
    mine = [report.read_run(runs[2])]
    merged = report.write_report([tmp_path], tmp_path, sweep=mine)
    assert set(merged.tables["fits.csv"]["seed"]) == {2}
    title = (tmp_path / "summary.md").read_text().splitlines()[0]
    assert "this sweep's 1 job (1 complete; 2 other run directories under" in title
    assert json.loads((runs[0] / "manifest.json").read_text())["status"] == "complete"


@pytest.mark.parametrize(
    "tasks, header",
    [
        (["regression"], "CV MSE"),
        (["binary", "multiclass"], "CV log-loss"),
        (["regression", "binary"], "CV error (MSE: regression, log-loss: binary)"),
    ],
)
def test_the_cv_column_names_its_metric(tasks, header):
    fits = pd.concat([fits_of(s).assign(task=t, cv_error=1.0) for s, t in enumerate(tasks)])
    assert results.cv_header(fits) == header
    assert f"| {header} |" in results.summary_markdown(fits, "Fits")


def test_cv_picks_count_distinct_seeds_and_say_so(tmp_path):
    fits = pd.concat([fits_of(s) for s in range(3)], ignore_index=True)
    fits["cv_best"] = fits["lam_index"] == fits["seed"].clip(upper=1)  # seeds 1, 2 pick 1
    fits["cv_1se"] = fits["lam_index"] == 0
    table = results.fits_table(fits)
    header, _, *rows = table.splitlines()
    assert header.endswith("| CV picks (seeds: best / 1se) |")
    picks = [r.split("|")[-2].strip() for r in rows]
    n_best = [
        int(fits.loc[fits["cv_best"] & (fits["lam_index"] == i), "seed"].nunique())
        for i in range(L)
    ]
    assert picks == ["1 / 3", f"{n_best[1]} / 0", ""]


def test_latex_summaries_are_ascii():
    text = "test R² ± 0.1 at λ — λ_max × 2 ≤ 3 % & #_ café ∂"
    tex = results.tex_escape(text)
    assert tex.isascii()
    assert "R$^2$" in tex and r"$\pm$" in tex and r"\%" in tex and r"\_" in tex and "cafe" in tex


def test_any_status_but_converged_and_max_iter_is_left_out_and_counted(tmp_path):
    fits = pd.concat([fits_of(s) for s in range(3)], ignore_index=True)
    fits.loc[fits["seed"] == 0, "status"] = "max_iter"
    fits.loc[fits["seed"] == 2, "status"] = "worse_than_zero"  # a status a solver may add
    summary = results.summarize(fits)
    kept = fits[fits["seed"] < 2]
    np.testing.assert_allclose(summary["test_mse"], kept.groupby("lam_index")["test_mse"].mean())
    assert (summary["n_seeds"] == 2).all() and (summary["n_excluded"] == 1).all()
    text = results.console_summary(fits, None, "run", tmp_path)
    assert f"warning: {L} fits with status worse_than_zero: left out of the means" in text


def test_contamination_tables_identify_a_refit_by_its_grid_axes_only():
    """The contamination table's measured columns (the refit's and the clean fit's errors and
    statuses) are not part of a fit's identity; its axes (model, level, draw) are."""
    table = pd.DataFrame(
        columns=[
            "dataset",
            "penalty",
            "seed",
            "lam_index",
            "lam",
            "contamination",
            "level",
            "draw",
            "metric",
            "nnz",
            "sparsity",
            "status",
            "error",
            "error_r2",
            "cv_best",
            "cv_1se",
            "clean_error",
            "clean_status",
            "excess_error",
            "degradation",
        ]
    )
    ids = set(results.identity_columns(table))
    assert {"contamination", "level", "draw", "seed", "penalty", "lam_index"} <= ids
    assert not ids & {"clean_status", "excess_error", "clean_error", "error", "status"}
