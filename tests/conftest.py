"""Shared fixtures (the real config tree through Hydra's compose API) and the test tiers.

Tiers (tasks.py's FAST and REST): a test module that imports :mod:`subprocess` starts the CLI,
an experiment or a worker in a subprocess, so all its tests are marked ``integration`` here;
``fast`` (the core, opted into by module or by test) and ``slow`` are marked in the test files.
Outside ``integration`` a test that starts a Python interpreter fails, naming the mark it
lacks, so the fast tier cannot grow a subprocess unnoticed.
"""

import os
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
from hydra import compose, initialize_config_dir

from l1bench.config import register_configs

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
register_configs()


def compose_config(*overrides: str):
    """Compose ``configs/config.yaml`` with overrides, as the CLI would."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base=None):
        return compose("config", overrides=list(overrides))


def starts_subprocesses(module: ModuleType) -> bool:
    """Whether a test module imported :mod:`subprocess` or names from it."""
    names = (subprocess, subprocess.run, subprocess.Popen, subprocess.check_output)
    return any(v is name for v in vars(module).values() for name in names)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Mark every test of a module that starts subprocesses ``integration`` (before ``-m``)."""
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and starts_subprocesses(module):
            item.add_marker(pytest.mark.integration)


def runs_python(args) -> bool:
    """Whether a :class:`subprocess.Popen` command line starts a Python interpreter."""
    first = args if isinstance(args, (str, bytes, os.PathLike)) else next(iter(args), "")
    words = os.fsdecode(first).split()
    return bool(words) and os.path.basename(words[0]).startswith(("python", "l1bench"))


class GuardedPopen(subprocess.Popen):
    """:class:`subprocess.Popen` that refuses a Python interpreter (see the module docstring)."""

    def __init__(self, args, *rest, **kwargs):
        if runs_python(args):
            raise AssertionError(
                f"this test starts {args!r} in a subprocess: mark it @pytest.mark.integration "
                "(tests/conftest.py marks every test of a module that imports subprocess)"
            )
        super().__init__(args, *rest, **kwargs)


@pytest.fixture(autouse=True)
def _no_interpreter_outside_integration(request, monkeypatch):
    """Outside ``integration``, :class:`GuardedPopen` stands in for :class:`subprocess.Popen`."""
    if request.node.get_closest_marker("integration") is None:
        monkeypatch.setattr(subprocess, "Popen", GuardedPopen)


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
