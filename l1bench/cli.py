"""The ``l1bench`` command: compose the config, run the pipeline, write the run directory.

``l1bench [overrides]`` runs one job (``-m`` for a Hydra multirun sweep). Bad configs and bad
data stop the job before anything is written, with a message naming the field.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from l1bench import pipeline
from l1bench.config import ConfigError, register_configs, validate
from l1bench.data import DataError

register_configs()
# jax logs a failed TPU probe at INFO on every start; Hydra would print it
logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)

# the config tree lives at the top of the checkout (l1bench is installed editable)
CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "configs")


@hydra.main(config_path=CONFIG_DIR, config_name="config", version_base=None)
def _job(cfg: DictConfig) -> None:
    try:
        config = validate(cfg)
        out = pipeline.run(config)
    except (ConfigError, DataError) as err:
        kind = "config" if isinstance(err, ConfigError) else "data"
        print(f"l1bench: {kind} error: {err}", file=sys.stderr)
        sys.exit(2)
    hc = HydraConfig.get()
    manifest = {
        "config": OmegaConf.to_container(cfg, resolve=True),
        "overrides": list(hc.overrides.task),
        "job": {"name": hc.job.name, "num": hc.job.get("num"), "mode": str(hc.mode)},
    }
    summary = pipeline.write(out, hc.runtime.output_dir, manifest)
    print(summary)
    print(f"results in {hc.runtime.output_dir}")


def main() -> None:
    """Console-script entry point."""
    _job()


if __name__ == "__main__":
    main()
