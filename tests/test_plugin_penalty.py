"""A penalty from the user's own package, run from the CLI (docs/extending.md, "A penalty").

The nonnegative Lasso (L1 with w ≥ 0) is not shipped. It is written here exactly as the guide
writes it, in a package outside l1bench, named by ``_target_`` in a YAML found through
``hydra.searchpath``, and checked against scikit-learn's ``Lasso(positive=True)`` on the same
training data, so a silent fallback to the plain Lasso fails.
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
"""The nonnegative Lasso: lam * ||w||_1 with every w_j >= 0."""

import jax.numpy as jnp

from l1bench.penalties import Gauge, Penalty
from l1bench.penalties.base import other_gauge_unsupported

NONNEGATIVE = Gauge(
    "nonnegative",
    terms=lambda w: jnp.where(w >= 0, w, jnp.inf),
    dual_norm=lambda v: jnp.maximum(jnp.max(v), 0.0),
    shrink=lambda v, t: jnp.maximum(v - t, 0.0),
)


def make(label):
    return Penalty(label, "nonneg_l1", gauge=NONNEGATIVE, unsupported=other_gauge_unsupported())
'''

CONFIG = """
nonneg:
  _target_: mypenalties.nonneg.make
  n_lambdas: 6
  lambda_min_ratio: 0.01
"""

DATASET = ["dataset.params.n_samples=80", "dataset.params.n_features=8", "dataset.params.k=4"]


def test_the_guide_shows_this_code():
    guide = (Path(__file__).resolve().parents[1] / "docs" / "extending.md").read_text()
    section = guide.split("## A penalty\n", 1)[1].split("\n## ", 1)[0]
    assert PACKAGE.strip() in section and CONFIG.strip() in section


@pytest.mark.integration
def test_a_nonnegative_lasso_from_a_user_package(tmp_path):
    pkg = tmp_path / "src" / "mypenalties"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "nonneg.py").write_text(textwrap.dedent(PACKAGE))
    configs = tmp_path / "myconfigs" / "penalty"
    configs.mkdir(parents=True)
    (configs / "nonneg.yaml").write_text(CONFIG)
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "src"), os.getcwd()])}
    cmd = [
        sys.executable,
        "-m",
        "l1bench",
        f"hydra.searchpath=[file://{tmp_path / 'myconfigs'}]",
        f"hydra.run.dir={run}",
        "penalty=nonneg",
        *DATASET,
        "cv_folds=0",
        "noise=gaussian",
        "noise.draws=2",
        "train_noise=none",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr
    fits = pd.read_csv(run / "fits.csv")
    coef = np.load(run / "coefs.npz")["coef"]
    assert set(fits["penalty"]) == {"nonneg"} and len(fits) == 6
    ds = OmegaConf.load(run / ".hydra" / "config.yaml").dataset
    data = load_dataset(ds.name, seeds=[0], params=dict(ds.params), test_size=ds.test_size)
    X, y = data.X_train[0], data.y_train[0]
    for lam, w in zip(fits["lam"], coef, strict=True):
        ref = Lasso(alpha=lam, positive=True, tol=1e-12, max_iter=100_000).fit(X, y).coef_
        np.testing.assert_allclose(w, ref, atol=1e-6)
    assert np.all(coef >= 0) and np.any(coef > 0)
    # the plain Lasso goes negative on these data: a fallback to L1 would fail the match above
    weakest = fits["lam"].min()
    assert np.any(Lasso(alpha=weakest, tol=1e-12, max_iter=100_000).fit(X, y).coef_ < -1e-3)
