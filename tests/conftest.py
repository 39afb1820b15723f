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


@pytest.fixture(scope="module", autouse=True)
def _release_executables():
    """Free each module's compiled executables after it (XLA CPU executables hold hundreds of
    memory maps each; the whole suite's would pass Linux's limit, see runtime.release)."""
    yield
    from l1bench import runtime

    runtime.release()


@pytest.fixture
def compose_cfg():
    return compose_config
