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
from collections.abc import Mapping

from l1bench import targets
from l1bench.losses.base import Loss

__all__ = ["LOSSES", "Loss", "for_task", "resolve"]


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


def resolve(target: str, params: Mapping | None = None) -> Loss:
    """The loss at the dotted path ``target``: a :class:`Loss`, or a factory returning one
    (called with ``params``).

    Raises:
      ValueError: naming ``_target_`` or ``params`` when it cannot be imported, is neither, or
        the factory refuses its params.
    """
    obj = targets.load(target)
    params = dict(params or {})
    if isinstance(obj, Loss):
        if params:
            raise ValueError(f"params: {target} is a Loss, not a factory; it takes no params")
        return obj
    if not callable(obj):
        raise ValueError(f"_target_={target!r} is neither an l1bench.losses.Loss nor a factory")
    try:
        loss = obj(**params)
    except (TypeError, ValueError) as err:
        raise ValueError(f"params: {target}({params}) failed: {err}") from err
    if not isinstance(loss, Loss):
        raise ValueError(f"_target_={target!r} returned {type(loss).__name__}, not a Loss")
    return loss
