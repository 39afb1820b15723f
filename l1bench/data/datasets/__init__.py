"""The shipped datasets, one module each; the registry is discovered from them.

A module ``<name>.py`` here defines ``LOADER``, a :class:`~l1bench.data.loader.Loader` (its
``load(seed, **params) -> Raw`` and what the dataset is); the dataset is registered under the
module's name, and ``configs/dataset/<name>.yaml`` names it by
``_target_: l1bench.data.datasets.<name>.LOADER``. A new module is a new dataset: nothing else
lists them.
"""

from __future__ import annotations

import importlib
import pkgutil

from l1bench.data.loader import Loader


def discover() -> dict[str, Loader]:
    """``{name: LOADER}`` of every module in this package, in name order.

    Raises:
      TypeError: a module without a :class:`Loader` named ``LOADER``.
    """
    registry = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        loader = getattr(module, "LOADER", None)
        if not isinstance(loader, Loader):
            raise TypeError(f"{module.__name__}.LOADER must be a Loader, got {loader!r}")
        registry[info.name] = loader
    return registry
