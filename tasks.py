#!/usr/bin/env python3
"""Set-up and everyday commands, needing nothing but python3.

    python3 tasks.py run [hydra overrides...]   # create/reuse .venv, install, run `l1bench`
    python3 tasks.py test                       # create/reuse .venv, install, CI's stages (below)
    python3 tasks.py test PYTEST_ARGS...        # create/reuse .venv, install, pytest PYTEST_ARGS
    python3 tasks.py wheels                     # .whl/: packages a GPU image lacks (device.sh)

`test` without arguments runs these stages in order and stops at the first that fails: ruff
check, ruff format --check, the docstring check (pydocstyle's Google convention on the public
API files pyproject.toml names), the fast tier of tests (FAST: the core, no subprocess, no
experiment), then the rest of the default selection (REST). The tiers are marker expressions
(markers in pyproject.toml: tests opt into `fast`; tests/conftest.py marks those that start
subprocesses `integration`).

The virtual environment lives in .venv and is reinstalled only when pyproject.toml or
constraints.txt change (their hash is stamped into .venv/.l1bench-installed).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".l1bench-installed"
EXTRAS = ".[test,launchers]"
LINTED = ("l1bench", "tests", "experiments", "tasks.py")
FAST = "fast and not slow and not integration"
REST = "not slow and (integration or not fast)"


def _sh(*cmd: str | Path) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True)


def setup() -> None:
    """Create .venv and install l1bench (editable) with its test extras, pinned by constraints."""
    digest = hashlib.sha256(
        b"".join((ROOT / f).read_bytes() for f in ("pyproject.toml", "constraints.txt"))
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    if not (BIN / "python").exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    py = BIN / "python"
    _sh(py, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _sh(py, "-m", "pip", "install", "--quiet", "-c", "constraints.txt", "-e", EXTRAS)
    STAMP.write_text(digest)


# l1bench's needs that the device machine's image lacks (pure Python; the rest is there)
DEVICE_WHEELS = ("hydra-core", "omegaconf", "antlr4-python3-runtime")
WHEELS = ROOT / ".whl"


def wheels() -> None:
    """Build wheels of DEVICE_WHEELS at their pinned versions into .whl/ (git-ignored)."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        pins[name.strip().lower().replace("_", "-")] = version.strip()
    specs = [f"{name}=={pins[name]}" for name in DEVICE_WHEELS]
    WHEELS.mkdir(exist_ok=True)
    for old in WHEELS.glob("*.whl"):
        old.unlink()
    _sh(BIN / "python", "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", WHEELS, *specs)


def test_stages(args: list[str]) -> list[tuple[str | Path, ...]]:
    """The commands of ``tasks.py test ARGS``: pytest ARGS alone, or CI's stages without ARGS."""
    pytest = (BIN / "python", "-m", "pytest")
    if args:
        return [(*pytest, *args)]
    return [
        (BIN / "ruff", "check", "--ignore", "D", *LINTED),
        (BIN / "ruff", "format", "--check", *LINTED),
        (BIN / "ruff", "check", "--select", "D", *LINTED),
        (*pytest, "-m", FAST),
        (*pytest, "-m", REST),
    ]


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "setup", "wheels"}:
        print(__doc__)
        return 2
    setup()
    command, rest = argv[0], argv[1:]
    try:
        if command == "run":
            _sh(BIN / "l1bench", *rest)
        elif command == "wheels":
            wheels()
        elif command == "test":
            for stage in test_stages(rest):
                _sh(*stage)
    except subprocess.CalledProcessError as err:
        return err.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
