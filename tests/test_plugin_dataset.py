"""A dataset from outside l1bench, following docs/extending.md's "A dataset" literally: the
section's files are written into a temporary directory, its command is run there, and the fits
table is checked against the data the loader draws, recomputed here."""

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.model_selection import train_test_split

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "extending.md"


def guide_section(title: str = "A dataset") -> str:
    """The text of the guide's ``## {title}`` section."""
    text = GUIDE.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def guide_files(section: str) -> dict[str, str]:
    """``{path: contents}`` of the section's fenced blocks introduced by a line `` `path`: ``."""
    pattern = re.compile(r"^`([^`\s]+)`:\n\n```\w*\n(.*?)^```$", re.M | re.S)
    return dict(pattern.findall(section))


def guide_command(section: str) -> str:
    """The section's one ``bash`` block: the command line it tells the user to run."""
    (block,) = re.findall(r"^```bash\n(.*?)^```$", section, re.M | re.S)
    (line,) = [ln for ln in block.splitlines() if ln.strip()]
    return line


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The guide's files written into a fresh directory and its command run there."""
    where = tmp_path_factory.mktemp("user")
    section = guide_section()
    files = guide_files(section)
    assert {"mypkg/linear.py", "myconfigs/dataset/mine.yaml"} <= set(files)
    (where / "mypkg").mkdir()
    (where / "mypkg" / "__init__.py").write_text("")  # "an empty mypkg/__init__.py"
    for name, text in files.items():
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(text)
    words = shlex.split(guide_command(section).replace("$PWD", str(where)))
    env_words = [w for w in words if re.fullmatch(r"[A-Z_]+=.*", w)]
    args = words[len(env_words) :]
    assert args[0] == "l1bench" and env_words == ["PYTHONPATH=."]
    env = dict(os.environ)
    # "." as the guide says; then this checkout, so the subprocess runs the l1bench under test
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(where), str(REPO), env.get("PYTHONPATH")) if p
    )
    cmd = [sys.executable, "-m", "l1bench", *args[1:]]
    cmd += [f"hydra.run.dir={where / 'run'}", "progress.mode=off"]
    proc = subprocess.run(cmd, cwd=where, env=env, capture_output=True, text=True, timeout=600)
    return where, args[1:], proc


def _user_loader(where: Path):
    spec = importlib.util.spec_from_file_location("guide_linear", where / "mypkg" / "linear.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.integration
def test_the_guides_dataset_runs_and_its_fits_reflect_the_data(run):
    where, args, proc = run
    assert proc.returncode == 0, proc.stderr[-3000:]
    overrides = dict(a.split("=", 1) for a in args)
    fits = pd.read_csv(where / "run" / "fits.csv")
    assert set(fits["dataset"]) == {"mine"} and set(fits["task"]) == {"regression"}
    assert len(fits) == int(overrides["penalty.l1.n_lambdas"])

    # the data the run saw, drawn here from the user's loader and split as l1bench documents
    config = yaml.safe_load((where / "myconfigs" / "dataset" / "mine.yaml").read_text())
    module = _user_loader(where)
    raw = module.load(0, **config["params"])
    X_train, X_test, y_train, y_test = train_test_split(
        raw.X, raw.y, test_size=config["test_size"], random_state=0
    )
    weakest = int(fits["lam"].idxmin())
    # noiseless data: the weakest strength's test error is ~0 next to the target's variance
    assert fits.loc[weakest, "test_mse"] < 1e-4 * np.var(y_test)
    assert fits.loc[weakest, "test_mse"] < fits.loc[int(fits["lam"].idxmax()), "test_mse"]
    assert fits.loc[weakest, "nnz"] == 3 and fits.loc[weakest, "support_recall"] == 1
    # on standardized features the model y = X W has coefficients W * std(X_train)
    coefs = np.load(where / "run" / "coefs.npz")
    assert tuple(coefs["feature_names"]) == raw.feature_names
    np.testing.assert_allclose(coefs["coef"][weakest], module.W * X_train.std(0), atol=0.02)

    robustness = pd.read_csv(where / "run" / "robustness.csv")
    assert set(robustness["dataset"]) == {"mine"} and "gaussian" in set(robustness["noise"])
