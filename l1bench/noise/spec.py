"""What a noise model is: the :class:`NoiseModel` record and the check of its fields.

Every shipped model is one module of :mod:`l1bench.noise.models` holding a ``MODEL``; a user's
model is a ``NoiseModel`` in their own package, named by ``_target_`` in a suite entry.
:func:`check_model` judges either before it is used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from l1bench.vocab import TASKS

TARGETS = ("inputs", "labels", "rows", "params", "adversarial")
STAGES = ("test", "train")
# keys of a suite entry that are not options of its model
RESERVED = ("levels", "_target_")


class NoiseModel(NamedTuple):
    """A noise model: its perturbation, its options and what its levels mean.

    Attributes:
      name: its key in :data:`l1bench.noise.NOISE_MODELS` (the name of its module in
        :mod:`l1bench.noise.models` and of its YAML in ``configs/noise/``); a suite entry
        that names it by ``_target_`` under another key is relabelled to that key.
      target: what it perturbs: ``inputs`` | ``labels`` | ``rows`` (inputs and labels of the
        same rows) | ``params`` | ``adversarial`` (inputs, chosen against the model).
      fn: the perturbation ``fn(key, X, y, params, level, *, task, **options) -> (X', y',
        params')``; it also accepts (and may ignore) the context keywords ``task``,
        ``activation``, ``n_classes`` and ``train_mean``.
      options: the options it accepts, with their defaults.
      random: whether draws differ (False for deterministic perturbations: one draw).
      additive: whether the perturbation is ``target + level·E`` with E drawn from the key
        alone (not from the data, the fit or the level), the rest returned unchanged; the
        robustness evaluation then computes every level of a draw from one E in closed form
        (the quadratic form of :mod:`l1bench.robustness`).
      outputs: optional ``outputs(key, X, y, params, level, **options) -> (outputs, y') |
        None``, the perturbed model's outputs in closed form without forming the perturbed
        inputs (None where it does not apply: the evaluation then applies the model to
        ``fn``'s inputs); the exact adversarial worst cases of linear models have one.
      description: its exact formula and scaling, one line.
      supports: the tasks it applies to, a subset of :data:`l1bench.vocab.TASKS`.
      stages: where it may be used, a subset of :data:`STAGES`: ``test`` (the evaluation suite,
        ``noise.models``) and ``train`` (``train_noise``).
      fraction: whether its levels are probabilities or fractions on every task (each must
        be <= 1); a bound that depends on the task belongs in ``check``.
      level: what a level is, one line (its unit and its range).
      check: optional ``check(options, *, levels, task, depth)`` raising ValueError for a bad
        option value or a level this model cannot take. ``options`` holds every option
        (defaults filled in), ``levels`` the entry's levels as floats, ``task`` the dataset's
        task or None before the data are loaded (skip what depends on it), ``depth`` the
        number of model layers. The message starts with the option and its value,
        ``"df=2 must be > 2"``, and says what is allowed: :func:`l1bench.noise.check_entry`
        puts the entry's path in front (``noise.models.student_t.df=2 must be > 2``).
    """

    name: str
    target: str
    fn: Callable
    options: Mapping
    random: bool = True
    additive: bool = False
    outputs: Callable | None = None
    description: str = ""
    supports: tuple[str, ...] = TASKS
    stages: tuple[str, ...] = STAGES
    fraction: bool = False
    level: str = ""
    check: Callable | None = None


def _subset(path: str, field: str, value, allowed: tuple[str, ...]) -> None:
    if (
        isinstance(value, (str, bytes))
        or not isinstance(value, (tuple, list))
        or not value
        or any(v not in allowed for v in value)
    ):
        raise ValueError(
            f"{path}.{field}={value!r} must be a non-empty tuple of {', '.join(allowed)}"
        )


def check_model(model: NoiseModel, path: str) -> NoiseModel:
    """``model`` if its fields make a usable noise model, else a ValueError naming the field.

    Args:
      model: the record to judge.
      path: what the message calls it (e.g. ``noise.models.mine._target_='mypkg.MODEL'``).

    Returns:
      ``model`` unchanged.

    Raises:
      ValueError: ``model`` is not a :class:`NoiseModel`, or a field is of the wrong kind: an
        empty name, a target not in :data:`TARGETS`, a ``fn`` / ``outputs`` / ``check`` that
        is not callable, options that are not a mapping of names (or that use a reserved key,
        ``levels`` or ``_target_``), stages or supports outside :data:`STAGES` /
        :data:`l1bench.vocab.TASKS`, a flag that is not a bool, or an adversarial model
        marked additive (its perturbation depends on the fit).
    """
    if not isinstance(model, NoiseModel):
        raise ValueError(
            f"{path} is a {type(model).__name__}, not a l1bench.noise.NoiseModel; point it at "
            f"a NoiseModel object, such as l1bench.noise.models.gaussian.MODEL"
        )
    if not isinstance(model.name, str) or not model.name:
        raise ValueError(f"{path}.name={model.name!r} must be a non-empty string")
    if model.target not in TARGETS:
        raise ValueError(f"{path}.target={model.target!r}; choose one of {', '.join(TARGETS)}")
    for field in ("fn", "outputs", "check"):
        value = getattr(model, field)
        if not callable(value) and not (field != "fn" and value is None):
            none = "" if field == "fn" else " or None"
            raise ValueError(f"{path}.{field}={value!r} must be a callable{none}")
    if not isinstance(model.options, Mapping) or not all(isinstance(k, str) for k in model.options):
        raise ValueError(f"{path}.options={model.options!r} must map option names to defaults")
    reserved = [k for k in model.options if k in RESERVED]
    if reserved:
        raise ValueError(f"{path}.options: {reserved[0]!r} is a suite entry's key, not an option")
    _subset(path, "stages", model.stages, STAGES)
    _subset(path, "supports", model.supports, TASKS)
    for field in ("random", "additive", "fraction"):
        if not isinstance(getattr(model, field), bool):
            raise ValueError(f"{path}.{field}={getattr(model, field)!r}; choose True or False")
    if model.additive and model.target == "adversarial":
        raise ValueError(
            f"{path}: additive=True needs noise drawn from the key alone; an adversarial "
            f"perturbation depends on the fit (target={model.target})"
        )
    return model
