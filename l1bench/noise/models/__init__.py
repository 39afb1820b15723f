"""The shipped noise models, one module each; :func:`discover` builds the registry from them.

Each module ``l1bench/noise/models/<name>.py`` defines its perturbation function, its option
checks and ``MODEL``, the :class:`~l1bench.noise.NoiseModel` named ``<name>``;
``configs/noise/<name>.yaml`` (or a ``train_noise`` suite) names it by
``_target_: l1bench.noise.models.<name>.MODEL``. A module added here joins
:data:`l1bench.noise.NOISE_MODELS`, and the conformance tests, without any list being edited.
"""

from __future__ import annotations

import importlib
import pkgutil

from l1bench.noise.spec import NoiseModel, check_model


def discover(package: str = __name__) -> dict[str, NoiseModel]:
    """The ``MODEL`` of every module of ``package``, by name, in module-name order.

    Args:
      package: a package's dotted name (default: this one, the shipped models).

    Returns:
      ``{name: model}``.

    Raises:
      ValueError: a module without a ``MODEL``, one whose ``MODEL`` is not a valid
        :class:`~l1bench.noise.NoiseModel` (:func:`~l1bench.noise.spec.check_model`), or one
        whose model's name is not the module's.
    """
    found = {}
    modules = pkgutil.iter_modules(importlib.import_module(package).__path__)
    for info in sorted(modules, key=lambda m: m.name):
        where = f"{package}.{info.name}"
        module = importlib.import_module(where)
        if not hasattr(module, "MODEL"):
            raise ValueError(f"{where} defines no MODEL (the module's NoiseModel)")
        model = check_model(module.MODEL, f"{where}.MODEL")
        if model.name != info.name:
            raise ValueError(
                f"{where}.MODEL.name={model.name!r}; a shipped model is named as its module "
                f"({info.name!r})"
            )
        found[model.name] = model
    return found
