"""What a dataset is: :class:`Loader`, its loading function and its declared properties.

A dataset config names its loader by ``_target_``: a :class:`Loader` (every shipped dataset,
``l1bench.data.datasets.<name>.LOADER``) or a plain function ``load(seed, **params) -> Raw``,
which :func:`as_loader` describes from its signature and leaves the task to the
:class:`~l1bench.data.split.Raw` it returns.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from l1bench.data.split import Raw

# the arguments a loader receives from l1bench itself, never from the user's dataset.params
RESERVED = ("seed", "random_state", "coef", "path", "target")
# a declared task; ``auto`` leaves it to the Raw a load returns (then to the target's values)
TASKS = ("regression", "classification", "auto")


@dataclass(frozen=True, eq=False)
class Loader:
    """A dataset: how to load one draw of it and what it is.

    Attributes:
      load: ``load(seed, **params) -> Raw``; a loader that reads a file also takes ``path``
        and ``target`` keyword arguments (``dataset.path``, ``dataset.target``).
      task: ``regression`` | ``classification`` | ``auto`` (``auto``: the Raw's task, and when
        that is ``auto`` too, inferred from the target as for files). ``dataset.task``
        overrides it.
      uses_seed: whether the data depend on the seed; ``False`` loads once per job and the seed
        only draws the train/test split.
      params: the keyword parameters ``dataset.params`` may give, or ``None`` for any (the loader
        checks them itself).
      reads_file: whether ``load`` takes ``path`` and ``target``.
      example: ``dataset.params`` for a small, quick load (the registry's tests use them).
    """

    load: Callable[..., Raw]
    task: str = "auto"
    uses_seed: bool = True
    params: tuple[str, ...] | None = None
    reads_file: bool = False
    example: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        """Check that ``load`` is callable and ``task`` is one of :data:`TASKS`."""
        if not callable(self.load):
            raise TypeError(f"Loader.load={self.load!r} is not callable")
        if self.task not in TASKS:
            raise ValueError(f"Loader.task={self.task!r}; choose one of {', '.join(TASKS)}")

    def __call__(self, seed: int, **params) -> Raw:
        """One draw: ``load(seed, **params)``."""
        return self.load(seed, **params)


def keyword_params(fn: Callable) -> tuple[str, ...] | None:
    """The keyword names ``fn`` takes from ``dataset.params`` (not :data:`RESERVED`).

    None when it takes ``**kwargs``. ``inspect.signature`` follows ``__wrapped__``.
    """
    parameters = inspect.signature(fn).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return tuple(
        p.name
        for p in parameters
        if p.name not in RESERVED
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    )


def takes_file(fn: Callable) -> bool:
    """Whether ``fn`` takes a ``path`` keyword argument (a loader that reads a file)."""
    return "path" in inspect.signature(fn).parameters


def as_loader(obj: Any) -> Loader:
    """``obj`` as a :class:`Loader`.

    Itself, or a plain function described by its signature (task ``auto``: the Raw's own; the
    data depend on the seed).

    Raises:
      TypeError: when ``obj`` is not callable.
    """
    if isinstance(obj, Loader):
        return obj
    if not callable(obj):
        raise TypeError(f"{obj!r} of type {type(obj).__name__} is not callable")
    return Loader(obj, params=keyword_params(obj), reads_file=takes_file(obj))
