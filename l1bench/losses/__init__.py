"""Losses (datafits): the protocol (:mod:`l1bench.losses.base`) and one module per loss.

A loss module defines ``LOSS``, a :class:`~l1bench.losses.base.Loss`; :data:`LOSSES` maps each
module's name to it, found by listing this package, and :func:`for_task` picks the loss a task
is fitted with.

===========  ============  ===============================================
name         task          ℓ(o, y)
===========  ============  ===============================================
squared      regression    ½ (o - y)²
logistic     binary        log(1 + eᵒ) - y o
multinomial  multiclass    log Σ_k e^{o_k} - o_y
===========  ============  ===============================================
"""

from __future__ import annotations

import importlib
import pkgutil

from l1bench.losses.base import Loss

__all__ = ["LOSSES", "Loss", "for_task"]


def _discover() -> dict[str, Loss]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base" and not info.name.startswith("_"):
            found[info.name] = importlib.import_module(f"{__name__}.{info.name}").LOSS
    return dict(sorted(found.items()))


LOSSES: dict[str, Loss] = _discover()


def for_task(task: str) -> Loss:
    """The loss that fits ``task`` (``regression`` | ``binary`` | ``multiclass``)."""
    for loss in LOSSES.values():
        if loss.task == task:
            return loss
    tasks = ", ".join(sorted({loss.task for loss in LOSSES.values()}))
    raise ValueError(f"task={task!r} has no loss; choose one of {tasks}")
