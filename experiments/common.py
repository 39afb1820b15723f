"""Helpers shared by the experiment scripts: compose a committed config, run, write the tables
into an output directory (``--out DIR``, default the repository's results/)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
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


def out_dir(argv: Sequence[str] | None = None, *, description: str | None = None) -> Path:
    """The output directory of an experiment's command line: ``--out DIR``, else results/.

    Args:
      argv: the arguments (default ``sys.argv[1:]``).
      description: the ``--help`` text (the script's docstring).

    Returns:
      The directory the script writes into (created by the writes if missing).
    """
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        metavar="DIR",
        help="write the tables and figures into DIR (created if missing; default: results/)",
    )
    return parser.parse_args(argv).out


def write_csv(out: Path, stem: str, table: pd.DataFrame) -> None:
    """Write ``<out>/<stem>.csv`` (full precision)."""
    write_csv_atomic(Path(out) / f"{stem}.csv", table)


def write_table(out: Path, stem: str, table: pd.DataFrame, markdown: str) -> None:
    """Write ``<out>/<stem>.csv`` (full precision) and ``<out>/<stem>.md``."""
    write_csv(out, stem, table)
    write_text_atomic(Path(out) / f"{stem}.md", markdown)


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
