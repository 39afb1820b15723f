"""Hydra callback: snapshot the sweep's config at the start, log progress as jobs end, merge
this sweep's runs at the end.

Hydra's callbacks receive no job results, so the progress line and the merge read what the
jobs left on disk (:mod:`l1bench.report`); failed jobs are listed, not dropped. When a sweep
starts, ``sweep_progress.json`` records its id and its number of jobs (counted from the
sweep's overrides). Each job, in whatever process or machine the launcher ran it, writes a
record of itself under ``.sweep_jobs/<sweep id>/`` when it ends (its run directory, status and
whether resume skipped it) and logs ``done / total``; a job resume skips logs nothing. The
closing report merges the jobs of this sweep only (a directory can hold earlier sweeps' jobs:
``l1bench report DIR`` merges everything under it), says so, prints the merged headline and
says once how many jobs resume skipped.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("l1bench")

PROGRESS_FILE = "sweep_progress.json"
JOBS_DIR = ".sweep_jobs"  # one folder per sweep id, one record per job
SKIPPED = "skipped"  # what the job function returns when resume skips the job
# the last sweep's outcome in this process, for the command's exit status (``l1bench.cli``)
LAST_SWEEP: dict[str, Any] = {}
# the sweep running in this process (dir, id, n_jobs), for an interrupt's message
SWEEP: dict[str, Any] = {}


def count_jobs(overrides: list[str]) -> int | None:
    """Jobs a basic sweep of ``overrides`` launches (None when they cannot be counted here)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
        return len(BasicSweeper.split_arguments(parsed, None)[0])
    except Exception:  # glob or range sweeps need the config tree; report without a total
        return None


def sweep_state(sweep_dir: Path) -> dict:
    """The sweep's ``sweep_progress.json`` (``n_jobs``, ``started``, ``id``), or empty values."""
    try:
        return json.loads((Path(sweep_dir) / PROGRESS_FILE).read_text())
    except (OSError, ValueError):
        return {"n_jobs": None, "started": None, "id": "unknown"}


def sweep_jobs(sweep_dir: Path, sweep_id: str) -> list[dict]:
    """The records of the sweep's jobs that ended (``run_dir``, ``status``, ``skipped``)."""
    folder = Path(sweep_dir) / JOBS_DIR / str(sweep_id)
    jobs = []
    for f in sorted(folder.glob("*.json")):
        try:
            jobs.append(json.loads(f.read_text()))
        except (OSError, ValueError):
            continue
    return jobs


def job_states(jobs: list[dict]) -> tuple[int, int, int]:
    """``(finished, failed, skipped)`` among a sweep's job records."""
    failed = sum(j["status"] != "complete" for j in jobs)
    return len(jobs), failed, sum(bool(j.get("skipped")) for j in jobs)


class ReportCallback(Callback):
    """Writes ``sweep_config.yaml`` when a sweep starts, a record per job as it ends, and the
    merged report of this sweep's jobs when it ends."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        from l1bench.results import write_text_atomic

        plain = OmegaConf.to_container(config, resolve=False)
        plain.pop("hydra", None)
        write_text_atomic(sweep_dir / "sweep_config.yaml", OmegaConf.to_yaml(plain))
        n_jobs = count_jobs(list(config.hydra.overrides.task))
        state = {"n_jobs": n_jobs, "started": time.time(), "id": uuid.uuid4().hex}
        write_text_atomic(sweep_dir / PROGRESS_FILE, json.dumps(state))
        SWEEP.clear()
        SWEEP.update(dir=str(sweep_dir), id=state["id"], n_jobs=n_jobs)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        from hydra.core.hydra_config import HydraConfig
        from hydra.core.utils import JobStatus
        from hydra.types import RunMode

        from l1bench.progress import sweep_line
        from l1bench.results import read_manifest, write_json_atomic

        hc = HydraConfig.get()
        if hc.mode != RunMode.MULTIRUN:
            return
        sweep_dir = Path(hc.sweep.dir)
        state = sweep_state(sweep_dir)
        run_dir = Path(hc.runtime.output_dir)
        skipped = job_return.status == JobStatus.COMPLETED and job_return.return_value == SKIPPED
        record = {
            "run_dir": str(run_dir.resolve()),
            "status": (read_manifest(run_dir) or {}).get("status", "no manifest"),
            "skipped": skipped,
        }
        write_json_atomic(sweep_dir / JOBS_DIR / state["id"] / f"{hc.job.num}.json", record)
        if skipped:  # on_multirun_end says once how many were
            return
        done, failed, n_skipped = job_states(sweep_jobs(sweep_dir, state["id"]))
        elapsed = time.time() - (state.get("started") or time.time())
        log.info(sweep_line(done, state.get("n_jobs"), failed, elapsed, n_skipped))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from l1bench.report import read_run, write_report
        from l1bench.results import console_summary, plural

        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = sweep_jobs(sweep_dir, sweep_state(sweep_dir)["id"])
        runs = [read_run(p) for p in sorted({j["run_dir"] for j in jobs})]
        merged = write_report([sweep_dir], sweep_dir, sweep=runs)
        LAST_SWEEP.update(
            dir=str(sweep_dir), complete=len(merged.complete), incomplete=len(merged.incomplete)
        )
        skipped = sum(bool(j.get("skipped")) for j in jobs)
        if skipped:
            log.info(
                "resume: %d of this sweep's %s were already complete and skipped",
                skipped,
                plural(len(runs), "job"),
            )
        fits = merged.tables.get("fits.csv")
        if fits is not None and len(fits):
            title = f"sweep {sweep_dir}, this sweep's {plural(len(runs), 'job')}"
            robust = merged.tables.get("robustness.csv")
            print(console_summary(fits, robust, title, sweep_dir, merged.warnings))
        log.info(
            "sweep report: this sweep's %s: %d complete (%s), %d failed or unfinished -> %s",
            plural(len(runs), "job"),
            len(merged.complete),
            plural(0 if fits is None else len(fits), "fit"),
            len(merged.incomplete),
            sweep_dir,
        )
