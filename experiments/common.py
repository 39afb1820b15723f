"""Helpers shared by the experiment scripts: compose a committed config, run, write results/."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir

from l1bench import pipeline
from l1bench.config import Config, register_configs, validate

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
