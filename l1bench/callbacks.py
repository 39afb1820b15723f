"""Hydra callback: snapshot the sweep's config at the start, log progress as jobs end, merge
its runs at the end.

Hydra's callbacks receive no job results, so both the progress line and the merge read the job
directories from disk (:mod:`l1bench.report`); failed jobs are listed, not dropped. The number of
jobs is counted once at the start from the sweep's overrides (``sweep_progress.json``); each job,
in whatever process or machine the launcher ran it, then logs ``done / total`` when it ends.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("l1bench")

PROGRESS_FILE = "sweep_progress.json"
# the last sweep's outcome in this process, for the command's exit status (``l1bench.cli``)
LAST_SWEEP: dict[str, Any] = {}


def count_jobs(overrides: list[str]) -> int | None:
    """Jobs a basic sweep of ``overrides`` launches (None when they cannot be counted here)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
        return len(BasicSweeper.split_arguments(parsed, None)[0])
    except Exception:  # glob or range sweeps need the config tree; report without a total
        return None


def job_states(sweep_dir: Path) -> tuple[int, int]:
    """``(finished, failed)`` job directories under ``sweep_dir``, read from their manifests."""
    from l1bench.report import find_runs

    status = [run.manifest.get("status") for run in find_runs([sweep_dir])]
    return sum(s in ("complete", "failed") for s in status), status.count("failed")


class ReportCallback(Callback):
    """Writes ``sweep_config.yaml`` when a sweep starts and the merged report when it ends."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        from l1bench.results import write_text_atomic

        plain = OmegaConf.to_container(config, resolve=False)
        plain.pop("hydra", None)
        write_text_atomic(sweep_dir / "sweep_config.yaml", OmegaConf.to_yaml(plain))
        n_jobs = count_jobs(list(config.hydra.overrides.task))
        state = {"n_jobs": n_jobs, "started": time.time()}
        write_text_atomic(sweep_dir / PROGRESS_FILE, json.dumps(state))

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        from l1bench.progress import sweep_line

        hc = HydraConfig.get()
        if hc.mode != RunMode.MULTIRUN:
            return
        sweep_dir = Path(hc.sweep.dir)
        try:
            state = json.loads((sweep_dir / PROGRESS_FILE).read_text())
        except (OSError, ValueError):
            state = {"n_jobs": None, "started": None}
        done, failed = job_states(sweep_dir)
        started = state.get("started") or time.time()
        log.info(sweep_line(done, state.get("n_jobs"), failed, time.time() - started))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from l1bench.report import write_report

        sweep_dir = Path(config.hydra.sweep.dir)
        merged = write_report([sweep_dir], sweep_dir)
        n_rows = len(merged.tables.get("fits.csv", []))
        LAST_SWEEP.update(
            dir=str(sweep_dir), complete=len(merged.complete), incomplete=len(merged.incomplete)
        )
        log.info(
            "sweep report: %d complete jobs (%d fits), %d failed or unfinished -> %s",
            len(merged.complete),
            n_rows,
            len(merged.incomplete),
            sweep_dir,
        )
