"""A loss from the user's own package, run from the CLI (docs/extending.md, "A loss").

The loss ``c · ½ (o - y)²`` is not shipped. Minimizing ``c·F(w) + λ‖w‖₁`` is minimizing
``F(w) + (λ/c)‖w‖₁``, so the optax trainer's fits with it at strength λ must equal
scikit-learn's ``Lasso(alpha=λ/c)`` on the same training data, and differ from ``Lasso(alpha=λ)``
(a silent fallback to the squared loss fails).
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from sklearn.linear_model import Lasso

from l1bench.data import load_dataset

PACKAGE = '''
"""The squared loss scaled by a constant: scale * (o - y)² / 2."""

import dataclasses

from l1bench.losses import LOSSES

SQUARED = LOSSES["squared"]


def make(scale=1.0):
    def value_and_grad(Z, T):
        value, grad = SQUARED.value_and_grad(Z, T)
        return scale * value, scale * grad

    return dataclasses.replace(
        SQUARED,
        name="scaled_squared",
        example=lambda o, t: scale * SQUARED.example(o, t),
        value_and_grad=value_and_grad,
        curvature=scale * SQUARED.curvature,
        conjugate=lambda u, t: scale * SQUARED.conjugate(u / scale, t),
    )
'''

CONFIG = """
_target_: mylosses.scaled.make
params:
  scale: 4.0
"""


def test_the_guide_shows_this_code():
    guide = (Path(__file__).resolve().parents[1] / "docs" / "extending.md").read_text()
    section = guide.split("## A loss\n", 1)[1].split("\n## ", 1)[0]
    assert PACKAGE.strip() in section and CONFIG.strip() in section


@pytest.mark.integration
def test_a_scaled_squared_loss_from_a_user_package(tmp_path):
    pkg = tmp_path / "src" / "mylosses"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "scaled.py").write_text(textwrap.dedent(PACKAGE))
    configs = tmp_path / "myconfigs" / "loss"
    configs.mkdir(parents=True)
    (configs / "scaled.yaml").write_text(CONFIG)
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "src"), os.getcwd()])}
    cmd = [
        sys.executable,
        "-m",
        "l1bench",
        f"hydra.searchpath=[file://{tmp_path / 'myconfigs'}]",
        f"hydra.run.dir={run}",
        "loss=scaled",
        "solver=optax",
        "penalty=l1",
        "penalty.l1.lam=[0.4,0.1]",
        "dataset.params.n_samples=80",
        "dataset.params.n_features=8",
        "cv_folds=0",
        "noise=none",
        "train_noise=none",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr
    fits = pd.read_csv(run / "fits.csv")
    coef = np.load(run / "coefs.npz")["coef"]
    assert set(fits["solver"]) == {"optax"} and set(fits["status"]) == {"converged"}
    ds = OmegaConf.load(run / ".hydra" / "config.yaml").dataset
    data = load_dataset(ds.name, seeds=[0], params=dict(ds.params), test_size=ds.test_size)
    X, y = data.X_train[0], data.y_train[0]
    for lam, w in zip(fits["lam"], coef, strict=True):
        ref = Lasso(alpha=lam / 4.0, tol=1e-12, max_iter=100_000).fit(X, y).coef_
        np.testing.assert_allclose(w, ref, atol=1e-4)
        plain = Lasso(alpha=lam, tol=1e-12, max_iter=100_000).fit(X, y).coef_
        assert np.max(np.abs(plain - ref)) > 1e-2
