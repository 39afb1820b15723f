"""Option checks shared by several noise models, for their ``check`` callables.

Each raises ValueError with a message that starts with the option and its value and says what
is allowed (``"df=2 must be a number > 2 (finite variance)"``); :func:`l1bench.noise.check_entry`
puts the suite entry's path in front of it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping


def is_number(value) -> bool:
    """Whether ``value`` is a finite real number (not a bool)."""
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def positive(options: Mapping, key: str) -> None:
    """``options[key]`` is a finite number > 0 (a spread, a scale)."""
    value = options[key]
    if not (is_number(value) and value > 0):
        raise ValueError(f"{key}={value!r} must be a finite number > 0")


def finite(options: Mapping, key: str) -> None:
    """``options[key]`` is a finite number."""
    value = options[key]
    if not is_number(value):
        raise ValueError(f"{key}={value!r} must be a finite number")


def degrees_of_freedom(options: Mapping, key: str = "df") -> None:
    """``options[key]`` is a finite number > 2: the Student-t law has a finite variance, so a
    scaling makes its standard deviation the level."""
    value = options[key]
    if not (is_number(value) and value > 2):
        raise ValueError(f"{key}={value!r} must be a finite number > 2 (finite variance)")


def boolean(options: Mapping, key: str) -> None:
    """``options[key]`` is true or false."""
    value = options[key]
    if not isinstance(value, bool):
        raise ValueError(f"{key}={value!r}; choose true or false")


def choice(options: Mapping, key: str, allowed: tuple[str, ...]) -> None:
    """``options[key]`` is one of ``allowed``."""
    value = options[key]
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{key}={value!r}; choose one of {', '.join(allowed)}")


def count(options: Mapping, key: str) -> None:
    """``options[key]`` is an integer >= 1 (steps, restarts)."""
    value = options[key]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{key}={value!r} must be an integer >= 1")


def probabilities(levels) -> None:
    """Every level is <= 1 (a probability or a fraction)."""
    if any(lv > 1 for lv in levels):
        raise ValueError("levels are probabilities here; each must be <= 1")
