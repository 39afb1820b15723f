"""debug=default: every experiment config of configs/experiment/ runs through at a tiny size."""

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from conftest import CONFIGS

pytestmark = pytest.mark.integration

DEBUG = yaml.safe_load((CONFIGS / "debug" / "default.yaml").read_text())


def test_every_experiment_runs_in_one_debug_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    cmd = [
        sys.executable,
        "-m",
        "l1bench",
        "-m",
        "experiment=glob(*)",
        "debug=default",
        f"hydra.sweep.dir={sweep}",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    names = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))
    manifests = {}
    for path in sweep.rglob("manifest.json"):
        manifest = json.loads(path.read_text())
        (experiment,) = [o.split("=", 1)[1] for o in manifest["overrides"] if "experiment=" in o]
        manifests[experiment] = (path.parent, manifest)
    assert sorted(manifests) == names
    for name, (job, manifest) in manifests.items():
        assert manifest["status"] == "complete", name
        assert "debug=default" in manifest["overrides"], name
        config = manifest["config"]
        assert config["n_seeds"] == DEBUG["n_seeds"] and config["cv_folds"] == DEBUG["cv_folds"]
        assert config["solver"]["max_iter"] == DEBUG["solver"]["max_iter"], name
        fits = pd.read_csv(job / "fits.csv")
        assert len(fits) > 0, name
        # max_iter is small, but enough for the exact solvers on the tiny problems
        exact = fits[fits["solver"] == "convex"]
        assert (exact["status"] == "converged").all(), (name, exact["status"].tolist())
