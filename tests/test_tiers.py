"""The test tiers of ``tasks.py test``: stages, marker expressions and the subprocess guard."""

import itertools
import sys
from pathlib import Path
from types import ModuleType

import pytest

import tasks

from conftest import runs_python, starts_subprocesses

pytestmark = pytest.mark.fast

MARKERS = ("slow", "integration", "fast")


def marked(expression: str, marks: set[str]) -> bool:
    """Whether a test with ``marks`` is selected by ``-m expression`` (and / or / not of names)."""
    return eval(expression, {"__builtins__": {}}, {m: m in marks for m in MARKERS})


@pytest.mark.parametrize(
    "marks",
    [set(c) for r in range(len(MARKERS) + 1) for c in itertools.combinations(MARKERS, r)],
    ids=str,
)
def test_fast_and_rest_split_the_default_selection(marks):
    default = marked("not slow", marks)
    assert marked(tasks.FAST, marks) + marked(tasks.REST, marks) == default
    assert marked(tasks.FAST, marks) == (marks == {"fast"})


def test_stages_without_args_lint_then_fast_then_rest():
    stages = [tuple(map(str, stage)) for stage in tasks.test_stages([])]
    assert [s[1:3] for s in stages[:3]] == [
        ("check", "--ignore"),
        ("format", "--check"),
        ("check", "--select"),
    ]
    for stage in stages[:3]:
        assert stage[-len(tasks.LINTED) :] == tasks.LINTED
    assert stages[3][-3:] == ("pytest", "-m", tasks.FAST)
    assert stages[4][-3:] == ("pytest", "-m", tasks.REST)
    assert len(stages) == 5


def test_stages_with_args_are_pytest_alone():
    (stage,) = tasks.test_stages(["tests/test_config.py", "-x"])
    assert tuple(map(str, stage)) == (str(tasks.BIN / "python"), "-m", "pytest", *stage[3:])
    assert stage[3:] == ("tests/test_config.py", "-x")


def test_a_module_importing_subprocess_is_integration():
    import subprocess

    plain, whole, one_name = ModuleType("plain"), ModuleType("whole"), ModuleType("one_name")
    plain.sys = sys
    whole.subprocess = subprocess
    one_name.run = subprocess.run
    assert [starts_subprocesses(m) for m in (plain, whole, one_name)] == [False, True, True]


@pytest.mark.parametrize(
    "args, python",
    [
        ([sys.executable, "-m", "l1bench"], True),
        ((Path(sys.executable), "-c", "pass"), True),
        ("python3 -c pass", True),
        (["l1bench", "report", "runs"], True),
        (["git", "rev-parse", "HEAD"], False),
        ("git status", False),
        ([], False),
    ],
)
def test_runs_python_reads_the_program_of_any_command_line(args, python):
    assert runs_python(args) is python


def test_outside_integration_a_python_subprocess_fails_and_others_run(request):
    import subprocess  # here, not at the top: a module that imports it is integration

    assert request.node.get_closest_marker("integration") is None
    with pytest.raises(AssertionError, match="mark it @pytest.mark.integration"):
        subprocess.run([sys.executable, "-c", "pass"])
    with pytest.raises(AssertionError, match="mark it @pytest.mark.integration"):
        subprocess.run("python3 -c pass", shell=True)
    assert subprocess.run(["git", "--version"], capture_output=True).returncode == 0
