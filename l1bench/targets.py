"""The object a config's ``_target_`` names: ``package.module.attribute``, imported."""

from __future__ import annotations

import importlib


def load(target: str) -> object:
    """The attribute ``target`` names, imported from its module.

    Raises:
      ValueError: ``_target_=...`` cannot be imported (the message says why, in one line).
    """
    module, _, name = target.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name) if module else None
    except (ImportError, AttributeError) as err:
        raise ValueError(f"_target_={target!r} cannot be imported: {err}") from err
