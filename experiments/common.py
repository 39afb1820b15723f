"""Helpers shared by the experiment scripts: compose a committed config, run, write results/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir

from l1bench import pipeline
from l1bench.config import Config, register_configs, validate
from l1bench.results import mean_ci, write_csv_atomic, write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def load_config(*overrides: str) -> Config:
    """Compose ``configs/config.yaml`` with overrides and validate it."""
    register_configs()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base=None):
        return validate(compose("config", overrides=list(overrides)))


def run(*overrides: str) -> pipeline.RunOutput:
    """Run the pipeline on a composed config."""
    return pipeline.run(load_config(*overrides))


def write_table(stem: str, table: pd.DataFrame, markdown: str) -> None:
    """Write ``results/<stem>.csv`` (full precision) and ``results/<stem>.md``."""
    write_csv_atomic(RESULTS / f"{stem}.csv", table)
    write_text_atomic(RESULTS / f"{stem}.md", markdown)


def aggregate(table: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    """Mean and 95% t-interval half-width (``<value>_ci``) of ``values`` over seeds per group."""
    rows = []
    for key, g in table.groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        for v in values:
            row[v], row[f"{v}_ci"] = mean_ci(g[v])
        row["n_seeds"] = int(g["seed"].nunique()) if "seed" in g else len(g)
        rows.append(row)
    return pd.DataFrame(rows)


def fmt(mean: float, ci: float | None = None, digits: int = 4) -> str:
    """``mean ± ci`` with ``digits`` significant digits (the interval with 2)."""
    if ci is None or not np.isfinite(ci):
        return f"{mean:.{digits}g}"
    return f"{mean:.{digits}g} ± {ci:.2g}"
