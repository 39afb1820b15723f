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
from scipy import stats

from l1bench import results

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
    assert "1 of this sweep's 2 jobs failed or did not finish" in res.stderr
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


def t_interval(values) -> float:
    v = np.asarray(values, float)
    return stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size)


def test_fits_two_jobs_share_and_a_copied_sweep_count_once(tmp_path):
    """seed=0,1 n_seeds=2 fits seed 1 in both jobs, and a copy of the sweep repeats them all:
    the merged tables hold each seed's fits once and the intervals are over distinct seeds."""
    sweep = tmp_path / "sweep"
    res = l1bench("-m", "penalty=l1", "seed=0,1", "n_seeds=2", *FAST, f"hydra.sweep.dir={sweep}")
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = pd.concat([pd.read_csv(j / "fits.csv") for j in job_dirs(sweep)])
    distinct = jobs.drop_duplicates(["seed", "lam_index"])
    n_seeds = distinct["seed"].nunique()
    assert len(jobs) == 4 * 3 and n_seeds == 3
    assert len(pd.read_csv(sweep / "fits.csv")) == len(distinct)  # the sweep's own report
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(sweep), str(copy)], check=True)
    out = tmp_path / "merged"
    res = l1bench("report", str(sweep), str(copy), "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "copy/" in res.stderr and "repeats sweep/" in res.stderr  # the warning names them
    merged = pd.read_csv(out / "fits.csv")
    assert len(merged) == len(distinct)
    summary = results.summarize(merged)
    assert (summary["n_seeds"] == n_seeds).all()
    by_lam = distinct.sort_values("seed").groupby("lam_index")["test_mse"]
    np.testing.assert_allclose(summary["test_mse_ci"], by_lam.apply(t_interval).to_numpy())
    assert f"of {n_seeds} distinct seeds" in (out / "summary.md").read_text()


def test_the_closing_report_covers_this_sweeps_jobs(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "penalty=l1", *FAST, f"hydra.sweep.dir={sweep}"]
    assert l1bench(*args, "seed=0,1").returncode == 0
    res = l1bench(*args, "seed=2")  # a later sweep into the same directory
    assert res.returncode == 0, res.stderr[-3000:]
    own = pd.read_csv(sweep / "fits.csv")
    assert set(own["seed"]) == {2} and len(own) == 3
    title = (sweep / "summary.md").read_text().splitlines()[0]
    assert "this sweep's 1 job (1 complete; 2 other run directories under" in title
    assert "this sweep's 1 job" in res.stdout + res.stderr
    out = tmp_path / "all"
    assert l1bench("report", str(sweep), "--out", str(out)).returncode == 0
    assert set(pd.read_csv(out / "fits.csv")["seed"]) == {0, 1, 2}


def status(job: Path):
    try:
        return json.loads((job / "manifest.json").read_text()).get("status")
    except (OSError, ValueError):
        return None


def test_ctrl_c_prints_one_line_and_resume_says_why_it_reruns(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "dataset=synthetic_sparse", "penalty=l1", "seed=0,1,2", "cv_folds=2"]
    args += ["noise=gaussian", f"hydra.sweep.dir={sweep}"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "l1bench", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    second = sweep / "cv_folds=2,dataset=synthetic_sparse,noise=gaussian,penalty=l1,seed=1"
    deadline = time.time() + 240
    while status(second) != "running" and time.time() < deadline:  # the second job started
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends the terminal's process group
    out, _ = proc.communicate(timeout=120)
    assert status(second) == "interrupted", out[-3000:]
    assert proc.returncode == 130
    assert "interrupted: 1 of 3 jobs complete; re-run with resume=true" in out
    assert "Traceback" not in out and len(out.splitlines()) < 30
    assert [status(j) for j in job_dirs(sweep)] == ["complete", "interrupted"]

    res = l1bench(*args, "resume=true")
    assert res.returncode == 0, res.stderr[-3000:]
    logs = res.stdout + res.stderr
    assert f"resume: running {second}: the earlier run's status is interrupted" in logs
    assert "seed=2: no earlier run in its directory" in logs
    assert logs.count("already complete and skipped") == 1
    assert "resume: 1 of this sweep's 3 jobs were already complete and skipped" in logs
    assert logs.count("jobs done") == 2  # the two jobs that ran; none for the skipped one
    assert [status(j) for j in job_dirs(sweep)] == ["complete"] * 3


@pytest.mark.parametrize(
    "manifest, overrides, composed, input_file, reason",
    [
        (None, ["seed=0"], {}, None, "no earlier run in its directory"),
        ({"status": "failed"}, ["seed=0"], {}, None, "the earlier run's status is failed"),
        ({}, ["seed=1"], {}, None, "overrides changed: seed=0 -> seed=1"),
        ({}, ["seed=0", "progress.mode=off"], {"resume": True}, None, None),
        ({}, ["seed=0"], {"cv_folds": 3}, None, "config changed: cv_folds: 5 -> 3"),
        ({}, ["seed=0"], {"penalty": {"l1": {}}}, None, "penalty.l1.n_lambdas: 20 -> '(absent)'"),
        ({}, ["seed=0"], {}, {"path": "d.csv", "sha256": "b" * 64}, "input file changed: d.csv"),
    ],
)
def test_resume_says_why_a_job_runs_again(
    tmp_path, manifest, overrides, composed, input_file, reason
):
    from l1bench.cli import rerun_reason

    base = {"cv_folds": 5, "penalty": {"l1": {"n_lambdas": 20}}}
    if manifest is not None:
        before = {
            "status": "complete",
            "overrides": ["seed=0"],
            "composed": base,
            "input_file": {"path": "d.csv", "sha256": "a" * 64},
            **manifest,
        }
        results.write_json_atomic(tmp_path / "manifest.json", before)
    got = rerun_reason(
        tmp_path,
        overrides,
        {**base, **composed},
        input_file or {"path": "d.csv", "sha256": "a" * 64},
    )
    assert got is None if reason is None else reason in got


def test_the_keys_that_do_not_change_results_are_those_hydra_leaves_out_of_job_names():
    from hydra import compose, initialize_config_dir

    from conftest import CONFIGS

    with initialize_config_dir(config_dir=str(CONFIGS), version_base=None):
        cfg = compose("config", return_hydra_config=True)
    exclude = cfg.hydra.job.config.override_dirname.exclude_keys
    assert {k.split(".")[0] for k in exclude if not k.startswith("hydra")} == set(
        results.NOT_RESULTS
    )
