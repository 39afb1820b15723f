"""Multirun sweeps: merged tables, launchers, resume after a kill, failed jobs, determinism."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FAST = ["cv_folds=0", "noise=gaussian", "noise.draws=2", "penalty.l1.n_lambdas=3"]


def l1bench(*args, timeout=300, **kw):
    cmd = [sys.executable, "-m", "l1bench", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def job_dirs(sweep: Path):
    return sorted(p.parent for p in sweep.rglob("manifest.json"))


@pytest.mark.parametrize("launcher", ["basic", "local", "submitit_local"])
def test_sweep_ends_with_one_merged_table(tmp_path, launcher):
    sweep = tmp_path / "sweep"
    res = l1bench(
        "-m",
        "penalty=l1",
        "seed=0,1",
        "dataset=diabetes,synthetic_sparse",
        *FAST,
        f"hydra/launcher={launcher}",
        f"hydra.sweep.dir={sweep}",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = job_dirs(sweep)
    assert len(jobs) == 4
    merged = pd.read_csv(sweep / "fits.csv")
    per_job = sum(len(pd.read_csv(j / "fits.csv")) for j in jobs)
    assert len(merged) == per_job == 4 * 3
    # swept keys line up as columns
    assert set(merged["override.seed"]) == {0, 1}
    assert set(merged["override.dataset"]) == {"diabetes", "synthetic_sparse"}
    rob = pd.read_csv(sweep / "robustness.csv")
    assert len(rob) == len(merged) * 4  # gaussian has 4 levels
    assert "diabetes" in (sweep / "summary.md").read_text()
    assert (sweep / "sweep_config.yaml").exists()
    # every job logs the sweep's progress when it ends; the last one sees all four done
    logs = res.stdout + res.stderr + "".join(p.read_text() for p in sweep.rglob("*.log"))
    assert "4/4 jobs done" in logs, logs[-2000:]


def test_killed_sweep_resumes_without_loss_or_duplication(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "penalty=l1", "seed=0,1,2,3", *FAST, f"hydra.sweep.dir={sweep}"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "l1bench", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 240
    while time.time() < deadline:  # kill once the first job is complete
        done = [
            j
            for j in job_dirs(sweep)
            if json.loads((j / "manifest.json").read_text()).get("status") == "complete"
        ]
        if done:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert done, "the first job never completed"
    first = done[0]
    started = json.loads((first / "manifest.json").read_text())["started"]
    assert not (sweep / "fits.csv").exists()  # the killed sweep never merged
    res = l1bench(*args, "resume=true")
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = job_dirs(sweep)
    assert len(jobs) == 4
    statuses = [json.loads((j / "manifest.json").read_text())["status"] for j in jobs]
    assert statuses == ["complete"] * 4
    assert json.loads((first / "manifest.json").read_text())["started"] == started  # skipped
    merged = pd.read_csv(sweep / "fits.csv")
    assert len(merged) == 4 * 3
    assert merged.groupby("override.seed").size().to_dict() == {0: 3, 1: 3, 2: 3, 3: 3}


def test_failed_job_is_listed_and_the_sweep_goes_on(tmp_path):
    sweep = tmp_path / "sweep"
    res = l1bench(
        "-m", "penalty=l1", "dataset.test_size=0.25,0.9999", *FAST, f"hydra.sweep.dir={sweep}"
    )
    # the sweep goes on, and its exit status says a job failed (scripts and CI can see it)
    assert res.returncode == 1, res.stderr[-3000:]
    assert "1 of 2 sweep jobs failed or did not finish" in res.stderr
    manifests = [json.loads((j / "manifest.json").read_text()) for j in job_dirs(sweep)]
    assert sorted(m["status"] for m in manifests) == ["complete", "failed"]
    failed = next(m for m in manifests if m["status"] == "failed")
    assert "test_size" in failed["error"]
    summary = (sweep / "summary.md").read_text()
    assert "Failed or unfinished runs" in summary and "test_size" in summary
    assert len(pd.read_csv(sweep / "fits.csv")) == 3


def test_same_config_gives_byte_identical_tables_sequential_or_parallel(tmp_path):
    runs = []
    for i, launcher in enumerate(["basic", "basic", "local"]):
        sweep = tmp_path / f"s{i}"
        res = l1bench(
            "-m",
            "penalty=l1,l2",
            "cv_folds=0",
            "noise=gaussian",
            "noise.draws=2",
            f"hydra/launcher={launcher}",
            f"hydra.sweep.dir={sweep}",
        )
        assert res.returncode == 0, res.stderr[-3000:]
        runs.append(
            {
                j.name: ((j / "fits.csv").read_bytes(), (j / "robustness.csv").read_bytes())
                for j in job_dirs(sweep)
            }
        )
    assert sorted(runs[0]) == [
        "cv_folds=0,noise.draws=2,noise=gaussian,penalty=l1",
        "cv_folds=0,noise.draws=2,noise=gaussian,penalty=l2",
    ]
    assert runs[0] == runs[1] == runs[2]


def test_report_merges_several_sweeps_and_rejects_missing_paths(tmp_path):
    for seed in (0, 1):
        res = l1bench(
            "-m", "penalty=l1", f"seed={seed}", *FAST, f"hydra.sweep.dir={tmp_path / f's{seed}'}"
        )
        assert res.returncode == 0, res.stderr[-3000:]
    out = tmp_path / "merged"
    res = l1bench("report", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert len(pd.read_csv(out / "fits.csv")) == 6
    bad = l1bench("report", str(tmp_path / "nope"))
    assert bad.returncode == 2 and "no such path" in bad.stderr
    (tmp_path / "empty").mkdir()
    none = l1bench("report", str(tmp_path / "empty"))
    assert none.returncode == 2 and "no run directories" in none.stderr
    assert not (tmp_path / "empty" / "summary.md").exists()


def test_report_of_regression_and_classification_runs_has_every_section(tmp_path):
    for name, overrides in (
        ("reg", ["dataset=diabetes"]),
        ("clf", ["dataset=breast_cancer", "model=logistic"]),
    ):
        res = l1bench(*overrides, "penalty=l1", *FAST, f"hydra.run.dir={tmp_path / 'runs' / name}")
        assert res.returncode == 0, res.stderr[-3000:]
    out = tmp_path / "merged"
    res = l1bench("report", str(tmp_path / "runs"), "--out", str(out))
    assert res.returncode == 0, res.stderr
    summary = (out / "summary.md").read_text()
    for section in (
        "Robustness versus sparsity (test mse)",
        "Robustness versus sparsity (test accuracy)",
        "## Fits",
    ):
        assert section in summary, summary
    assert "\\begin{tabular}" in (out / "summary.tex").read_text()


def test_resume_redoes_a_job_whose_data_file_changed(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "d.csv"
    X = rng.standard_normal((40, 3))
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": X @ [1.0, -2.0, 0.0] + 0.1}).to_csv(
        data, index=False
    )
    run = tmp_path / "run"
    args = ["dataset=file", f"dataset.path={data}", "dataset.target=y", "penalty=l1", *FAST]
    started = []
    for step in range(3):
        if step == 2:  # the same overrides, new contents
            df = pd.read_csv(data)
            df["y"] *= 2.0
            df.to_csv(data, index=False)
        res = l1bench(*args, f"hydra.run.dir={run}", "resume=true")
        assert res.returncode == 0, res.stderr[-3000:]
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["status"] == "complete"
        assert manifest["input_file"]["path"] == str(data.resolve())
        started.append((manifest["started"], manifest["input_file"]["sha256"]))
    assert started[1] == started[0]  # skipped: same overrides, config and file
    assert started[2][1] != started[0][1] and started[2][0] >= started[0][0]  # redone


def test_settings_that_do_not_change_results_keep_the_job_and_its_resume(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "penalty=l1", "seed=0,1", *FAST, f"hydra.sweep.dir={sweep}"]
    assert l1bench(*args).returncode == 0
    started = {
        j.name: json.loads((j / "manifest.json").read_text())["started"] for j in job_dirs(sweep)
    }
    res = l1bench(*args, "progress.mode=off", "compilation_cache=null", "resume=true")
    assert res.returncode == 0, res.stderr[-3000:]
    again = {
        j.name: json.loads((j / "manifest.json").read_text())["started"] for j in job_dirs(sweep)
    }
    assert again == started  # the same two directories, both skipped
