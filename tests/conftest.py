"""Shared fixtures: compose the real config tree with Hydra's compose API."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from l1bench.config import register_configs

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
register_configs()


def compose_config(*overrides: str):
    """Compose ``configs/config.yaml`` with overrides, as the CLI would."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base=None):
        return compose("config", overrides=list(overrides))


@pytest.fixture
def compose_cfg():
    return compose_config
