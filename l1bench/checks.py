"""Value checks shared by the config's validation: each raises :class:`ConfigError` naming
the field, the value and what is allowed."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class ConfigError(ValueError):
    """A config value is invalid; the message names the field and the allowed values."""


def choice(path: str, value: Any, allowed: tuple[str, ...]) -> None:
    """Refuse ``value`` unless it is one of ``allowed``; the error names ``path``."""
    if value not in allowed:
        raise ConfigError(f"{path}={value!r} is not allowed; choose one of {', '.join(allowed)}")


def positive(path: str, value: float, *, strict: bool = True) -> None:
    """Refuse ``value`` unless finite and > 0 (``strict=False``: ≥ 0); the error names ``path``."""
    ok = math.isfinite(value) and (value > 0 if strict else value >= 0)
    if not ok:
        bound = "> 0" if strict else ">= 0"
        raise ConfigError(f"{path}={value!r} must be a finite number {bound}")


def number_list(path: str, value: Any) -> list[float] | None:
    """``value`` as a list of floats: one number ``v`` is ``[v]``, ``None`` stays ``None``.

    Args:
      path: the field's dotted name, for messages.
      value: ``None``, a number, or a flat list or tuple of numbers.

    Returns:
      ``None`` or the numbers as a list of floats (an empty list stays empty).

    Raises:
      ConfigError: naming ``path`` when ``value`` or an entry of it is not a number (booleans,
        strings and nested lists are not).
    """
    if value is None:
        return None
    listed = isinstance(value, (list, tuple))
    items = list(value) if listed else [value]
    for i, v in enumerate(items):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)):
            where = f"{path}[{i}]" if listed else path
            raise ConfigError(
                f"{where}={v!r} is not a number; {path} takes a number or a list of numbers"
            )
    return [float(v) for v in items]
