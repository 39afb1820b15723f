"""A noise model from outside l1bench: docs/extending.md's *A noise model*, followed literally.

The guide's code blocks are read from docs/extending.md: its module and its YAML are written
into tmp_path (nothing in l1bench names them), and its command line runs the CLI in a
subprocess with the package on PYTHONPATH and the config directory on hydra.searchpath,
and the robustness table's rows for the new model are checked against the model's formula
computed here from the run's coefficients and the dataset's test split. Bad ``_target_``
values are checked at start-up, in-process.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from l1bench import pipeline
from l1bench.config import ConfigError, validate
from l1bench.noise import check_suite

from conftest import compose_config

ROOT = Path(__file__).resolve().parents[1]


def _guide():
    """The code blocks of docs/extending.md's *A noise model*: ``{language: text}``."""
    text = (ROOT / "docs" / "extending.md").read_text()
    section = text.split("\n## A noise model\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"```(\w+)\n(.*?)```", section, re.S))


GUIDE = _guide()
MODULE, YAML = GUIDE["python"], GUIDE["yaml"]


def _guide_args(root):
    """The guide's command line after ``l1bench``, its config directory under ``root``."""
    words = shlex.split(GUIDE["bash"].replace("\\\n", " "))
    args = words[words.index("l1bench") + 1 :]
    return [a.replace("file://$PWD/", f"file://{root}/") for a in args]


def _write_plugin(root):
    (root / "mypkg").mkdir()
    (root / "mypkg" / "__init__.py").write_text("")
    (root / "mypkg" / "drift.py").write_text(MODULE)
    (root / "myconfigs" / "noise").mkdir(parents=True)
    (root / "myconfigs" / "noise" / "input_shift.yaml").write_text(YAML)


@pytest.mark.integration
def test_a_noise_model_from_a_users_package_runs_in_the_cli(tmp_path):
    _write_plugin(tmp_path)
    run_dir = tmp_path / "run"
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{tmp_path}:{env.get('PYTHONPATH', '')}".rstrip(":")
    args = _guide_args(tmp_path)
    assert f"hydra.searchpath=[file://{tmp_path}/myconfigs]" in args and "noise=input_shift" in args
    cmd = [sys.executable, "-m", "l1bench", f"hydra.run.dir={run_dir}", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr

    rob = pd.read_csv(run_dir / "robustness.csv")
    fits = pd.read_csv(run_dir / "fits.csv")
    coefs = np.load(run_dir / "coefs.npz")
    assert set(rob["noise"]) == {"input_shift"}
    entry = OmegaConf.create(YAML).models.input_shift
    assert sorted(set(rob["level"])) == sorted(entry.levels)
    assert (rob["draws"] == 1).all()  # random=False: one draw
    assert len(rob) == len(entry.levels) * len(fits)

    # the model's formula, here: MSE of fit f at level l is mean((y - (X + c l) w_f - b_f)^2)
    same_data = [a for a in args if not a.startswith(("hydra.", "noise="))]
    data = pipeline.load(validate(compose_config(*same_data, "noise=none")))
    X, y = data.X_test[0], data.y_test[0]
    key = ["penalty", "seed", "lam_index"]
    fits = fits.assign(_row=np.arange(len(fits)))
    rows = rob.merge(fits[[*key, "_row"]], on=key, validate="many_to_one")
    coef, intercept = coefs["coef"][rows["_row"]], coefs["intercept"][rows["_row"]]
    clean = np.mean((y[None] - coef @ X.T - intercept[:, None]) ** 2, axis=1)
    np.testing.assert_allclose(rows["clean_error"], clean, rtol=1e-9)
    shifted = X[None] + entry.offset * rows["level"].to_numpy()[:, None, None]
    pred = np.einsum("rnp,rp->rn", shifted, coef) + intercept[:, None]
    want = np.mean((y[None] - pred) ** 2, axis=1)
    np.testing.assert_allclose(rows["error"], want, rtol=1e-9)
    # a fit with nonzero weights moves with the shift, a zero fit does not
    moved = np.abs(coef.sum(axis=1)) > 1e-8
    assert moved.any() and (rows["error"][moved] != rows["clean_error"][moved]).all()


@pytest.mark.parametrize(
    "target,match",
    [
        (
            "nopkg_xyz.drift.MODEL",
            r"noise\.models\.mine\._target_='nopkg_xyz\.drift\.MODEL' cannot",
        ),
        ("mypkg.drift.input_shift", r"_target_='mypkg\.drift\.input_shift' is a function, not a"),
        ("mypkg.drift.BROKEN", r"_target_='mypkg\.drift\.BROKEN'\.target='pixels'; choose one of"),
    ],
)
def test_a_bad_target_is_a_config_error_naming_the_field(tmp_path, monkeypatch, target, match):
    _write_plugin(tmp_path)
    (tmp_path / "mypkg" / "drift.py").write_text(
        MODULE + "\nBROKEN = MODEL._replace(target='pixels')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match=match):
        validate(
            compose_config(f"+noise.models.mine._target_={target}", "+noise.models.mine.levels=[1]")
        )


def test_a_users_model_is_checked_by_its_own_check_and_labelled_by_its_key(tmp_path, monkeypatch):
    _write_plugin(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    base = [
        "noise=none",
        "noise.draws=1",
        "+noise.models.drift._target_=mypkg.drift.MODEL",
        "+noise.models.drift.levels=[1]",
    ]
    with pytest.raises(ConfigError, match=r"noise\.models\.drift\.offset='far' must be a number"):
        validate(compose_config(*base, "+noise.models.drift.offset=far"))
    with pytest.raises(ConfigError, match=r"noise\.models\.drift: a training-set contamination"):
        validate(
            compose_config(
                "+noise.models.drift._target_=l1bench.noise.models.label_outliers.MODEL",
                "+noise.models.drift.levels=[0.1]",
            )
        )
    cfg = validate(compose_config(*base, "+noise.models.drift.offset=2"))
    (entry,) = check_suite(cfg.noise.models, cfg.noise.draws, task="regression", depth=1)
    assert entry.model.name == "drift" and entry.options == {"offset": 2}
    assert entry.model.fn.__module__ == "mypkg.drift"


def test_train_noise_name_takes_a_target_in_its_options():
    """``train_noise.name`` labels a model given by ``train_noise.options._target_``; a target
    that cannot be imported is an error naming it."""
    base = ["train_noise=none", "train_noise.name=wild", "train_noise.level=0.1"]
    target = "l1bench.noise.models.label_outliers.MODEL"
    cfg = validate(compose_config(*base, f"+train_noise.options._target_={target}"))
    data = pipeline.load(cfg)
    corrupted = pipeline.corrupt_training_data(cfg, data)
    changed = corrupted.y_train[0] != data.y_train[0]  # label_outliers: round(0.1 n) labels
    assert changed.sum() == round(0.1 * data.y_train.shape[1])
    np.testing.assert_array_equal(corrupted.X_train, data.X_train)
    with pytest.raises(ConfigError, match=r"train_noise\.wild\._target_='nopkg_xyz\.MODEL'"):
        validate(compose_config(*base, "+train_noise.options._target_=nopkg_xyz.MODEL"))
