"""Hydra callback: snapshot the sweep's config at the start, merge its runs at the end.

Hydra's ``on_multirun_end`` receives no job results, so the merge reads the job directories
from disk (:mod:`l1bench.report`); failed jobs are listed, not dropped.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("l1bench")


class ReportCallback(Callback):
    """Writes ``sweep_config.yaml`` when a sweep starts and the merged report when it ends."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        from l1bench.results import write_text_atomic

        plain = OmegaConf.to_container(config, resolve=False)
        plain.pop("hydra", None)
        write_text_atomic(sweep_dir / "sweep_config.yaml", OmegaConf.to_yaml(plain))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from l1bench.report import write_report

        sweep_dir = Path(config.hydra.sweep.dir)
        merged = write_report([sweep_dir], sweep_dir)
        n_rows = len(merged.tables.get("fits.csv", []))
        log.info(
            "sweep report: %d complete jobs (%d fits), %d failed or unfinished -> %s",
            len(merged.complete),
            n_rows,
            len(merged.incomplete),
            sweep_dir,
        )
