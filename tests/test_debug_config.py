"""debug=default composed in-process: it wins over every experiment, the command line over it."""

import pytest
import yaml
from omegaconf import OmegaConf

from l1bench.config import validate

from conftest import CONFIGS, compose_config

pytestmark = pytest.mark.fast

DEBUG = CONFIGS / "debug"
EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))


def read(path):
    """A YAML file of the config tree, or {} where there is none."""
    return yaml.safe_load(path.read_text()) if path.is_file() else {}


def contains(outer: dict, inner: dict) -> bool:
    """Whether every key of ``inner`` (recursively) has the same value in ``outer``."""
    return all(
        contains(outer[k], v) if isinstance(v, dict) else outer.get(k) == v
        for k, v in inner.items()
    )


@pytest.mark.parametrize("experiment", [None, *EXPERIMENTS])
def test_debug_wins_over_each_experiment_and_validates(experiment):
    chosen = [f"experiment={experiment}"] if experiment else []
    plain = OmegaConf.to_container(compose_config(*chosen))
    cfg = compose_config(*chosen, "debug=default")
    composed = OmegaConf.to_container(cfg)
    assert contains(composed, read(DEBUG / "default.yaml"))
    dataset = composed["dataset"]["name"]
    assert contains(composed, read(DEBUG / "dataset" / f"default_{dataset}.yaml"))
    assert contains(composed, read(DEBUG / "experiment" / f"default_{experiment}.yaml"))
    assert set(composed["penalty"]) == set(plain["penalty"])  # no penalty added or dropped
    assert composed["dataset"]["params"].keys() == plain["dataset"]["params"].keys()
    validate(cfg)


def test_each_debug_file_names_a_dataset_or_experiment_config():
    for kind in ("dataset", "experiment"):
        for path in (DEBUG / kind).glob("*.yaml"):
            assert path.stem.startswith("default_"), path
            assert (CONFIGS / kind / f"{path.stem.removeprefix('default_')}.yaml").is_file(), path


def test_the_command_line_wins_over_debug():
    cfg = compose_config(
        "experiment=adversarial", "debug=default", "n_seeds=3", "penalty.l1.n_lambdas=7"
    )
    assert cfg.n_seeds == 3 and cfg.penalty.l1.n_lambdas == 7


def test_without_debug_nothing_changes():
    for experiment in EXPERIMENTS:
        cfg = compose_config(f"experiment={experiment}")
        assert cfg.n_seeds == read(CONFIGS / "experiment" / f"{experiment}.yaml").get("n_seeds", 1)
