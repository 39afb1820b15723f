"""Penalties: the protocol (:mod:`l1bench.penalties.base`) and one module per shipped penalty.

A penalty module defines ``make(label, **options) -> Penalty``; :data:`PENALTIES` maps each
module's name to its ``make``, found by listing this package (a new module is registered by
being here). A config names a penalty by ``_target_`` (the dotted path of a ``make``, l1bench's
or a user's own: :func:`resolve`) or, for the shipped ones, by ``kind``.

=============  ==========================================================================
kind           Ω(w) (strength λ)
=============  ==========================================================================
l1             λ ||w||_1                                      (scikit-learn's Lasso)
l2             (λ/2) ||w||²                                   (ridge)
elastic_net    λ (α ||w||_1 + (1 - α)/2 ||w||²), α = l1_ratio (ElasticNet)
dropout        marginalized: (1/2) p/(1-p) Σ_j w_j² mean_i x_ij²; stochastic: masks
none           0
=============  ==========================================================================
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable

from l1bench import targets
from l1bench.penalties.base import (
    L1,
    RIDGE_PATH_L1_RATIO,
    Gauge,
    Path,
    Penalty,
    Strengths,
    dropout_to_lam,
    soft_threshold,
)

__all__ = [
    "L1",
    "PENALTIES",
    "RIDGE_PATH_L1_RATIO",
    "Gauge",
    "Path",
    "Penalty",
    "Strengths",
    "dropout_to_lam",
    "make_penalty",
    "options_of",
    "resolve",
    "soft_threshold",
]

_PROTOCOL = "base"


def _discover() -> dict[str, Callable[..., Penalty]]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == _PROTOCOL or info.name.startswith("_"):
            continue
        found[info.name] = importlib.import_module(f"{__name__}.{info.name}").make
    return dict(sorted(found.items()))


PENALTIES: dict[str, Callable[..., Penalty]] = _discover()


def resolve(target: str) -> Callable[..., Penalty]:
    """The penalty factory at the dotted path ``target`` (``package.module.make``).

    Raises:
      ValueError: it cannot be imported, or is not callable.
    """
    factory = targets.load(target)
    if not callable(factory):
        raise ValueError(f"_target_={target!r} is not a callable penalty factory")
    return factory


def options_of(factory: Callable[..., Penalty]) -> list[str]:
    """The options ``factory`` takes after the label (what a config may set for it)."""
    params = list(inspect.signature(factory).parameters)
    return params[1:]


def make_penalty(label: str, kind: str, l1_ratio: float | None = None, **options) -> Penalty:
    """The registered penalty ``kind`` under ``label``, with its options (``l1_ratio`` for
    ``elastic_net``, ``dropout_mode`` for ``dropout``); options ``kind`` does not take are
    ignored (the config's checks reject them where they were set by the user).
    """
    if kind not in PENALTIES:
        raise ValueError(f"unknown penalty kind {kind!r}; choose one of {', '.join(PENALTIES)}")
    factory = PENALTIES[kind]
    if l1_ratio is not None:
        options["l1_ratio"] = l1_ratio
    accepted = options_of(factory)
    given = {k: v for k, v in options.items() if k in accepted}
    return _checked(factory(label, **given), label)


def _checked(penalty, label: str) -> Penalty:
    if not isinstance(penalty, Penalty):
        kind = type(penalty).__name__
        raise ValueError(f"penalty {label!r}: its factory returned {kind}, not a Penalty")
    return penalty
