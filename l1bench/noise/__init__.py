"""Noise models: pure perturbations of the test inputs, labels or fitted weights, and of the
training data (training-set contamination, :mod:`l1bench.noise.training`).

Every noise model is one function with the uniform signature

.. code-block:: python

   fn(key, X, y, params, level, *, task, **options) -> (X', y', params')

with ``X`` (n, p) test inputs, ``y`` (n,) targets (class indices as floats for classification),
``params`` a :mod:`l1bench.models` pytree and ``level`` a (possibly traced) scalar, so that
levels × draws × fits vmap. What a model does not touch is returned unchanged. Besides its own
options, every fn accepts (and may ignore) the context keywords ``task``, ``activation``,
``n_classes`` and ``train_mean``.

=====================  ===========  ===========================================================
name                   target       perturbation (level ℓ)
=====================  ===========  ===========================================================
gaussian               inputs       X + ℓ·N(0, 1)                               (std ℓ)
uniform                inputs       X + U(−√3·ℓ, √3·ℓ)                          (std ℓ)
laplace                inputs       X + Laplace(0, ℓ/√2)                        (std ℓ)
student_t              inputs       X + ℓ·√((df−2)/df)·t_df, df > 2             (std ℓ)
feature_dropout        inputs       each entry missing w.p. ℓ; imputed 0 or the train mean
label_noise            labels       regression y + ℓ·N(0, 1); classes: w.p. ℓ another class
label_gaussian         labels       y + ℓ·s·N(0, 1), s = 1 or sd(y)              (train only)
label_student_t        labels       y + ℓ·s·√((df−2)/df)·t_df, s = 1 or sd(y)    (train only)
label_outliers         labels       a fraction ℓ of y replaced by N(ȳ, (c·sd(y))²) (train only)
leverage               rows         a fraction ℓ of rows (x, y) replaced by wild draws (train)
label_flip             labels       classes: w.p. ℓ another class                (train only)
param_additive         params       w + ℓ·N(0, 1) on every weight (biases untouched)
param_multiplicative   params       w·(1 + ℓ·N(0, 1)) on every weight (biases untouched)
adversarial_linf       adversarial  worst case under ‖δ‖∞ ≤ ℓ per example
adversarial_l2         adversarial  worst case under ‖δ‖₂ ≤ ℓ per example
=====================  ===========  ===========================================================

Every additive input noise is scaled so that ``level`` is its standard deviation per entry (the
data are standardized, so level 1 is noise as large as a feature's spread); the adversarial
budgets are radii; each model's ``level`` field says what its levels are. A model's ``stages``
say where it may be used: ``test`` (``noise.models``, the evaluation suite) and ``train``
(``train_noise``: the training data are corrupted, the fits refitted and measured on the clean
test set).

**The registry.** Each shipped model is one module ``l1bench/noise/models/<name>.py`` holding
its function, its option defaults, its own option checks (``check``) and its ``MODEL``, a
:class:`NoiseModel`; :data:`NOISE_MODELS` is built by discovering those modules
(:func:`l1bench.noise.models.discover`), so adding a shipped model is that one module plus
``configs/noise/<name>.yaml`` (for the test stage; a training-only model is listed in
``configs/train_noise/default.yaml`` when it belongs in the default suite), and the
conformance tests (``tests/test_noise_conformance.py``) cover it unedited. Shared machinery
lives in :mod:`~l1bench.noise.sampling` (Student-t and gamma variates, nested row sets, weight
perturbations), :mod:`~l1bench.noise.adversarial` (exact worst cases, PGD) and
:mod:`~l1bench.noise.checks` (option checks).

**A model of your own** lives in your own package: a module with a :class:`NoiseModel`, named
in a suite entry by ``_target_`` (its dotted path, resolved by Hydra's
``hydra.utils.get_object``)::

   noise:
     models:
       input_shift:
         _target_: mypkg.drift.MODEL
         levels: [0.5, 1.0]

The entry's key is its label in the tables. Without ``_target_`` the key names a shipped model.
Settings are validated once, outside jit, by :func:`check_entry` (at start-up, before the data
are loaded, and again for the dataset's task): a ``_target_`` that cannot be imported or is not
a valid :class:`NoiseModel` is an error naming the field. ``docs/extending.md`` (*A noise
model*) walks through it.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import NamedTuple

from l1bench.noise import checks
from l1bench.noise.models import discover
from l1bench.noise.spec import RESERVED, STAGES, TARGETS, NoiseModel, check_model

NOISE_MODELS: dict[str, NoiseModel] = discover()


class SuiteEntry(NamedTuple):
    """One noise model of a suite, checked: its levels and full options."""

    model: NoiseModel
    levels: tuple[float, ...]
    options: dict


def models_for(stage: str, task: str | None = None) -> list[str]:
    """The names of the shipped models usable at ``stage`` (``test`` | ``train``) on ``task``
    (any task when None)."""
    return [
        k
        for k, m in NOISE_MODELS.items()
        if stage in m.stages and (task is None or task in m.supports)
    ]


def load(target, *, path: str) -> NoiseModel:
    """The :class:`NoiseModel` at the dotted path ``target`` (``mypkg.module.MODEL``).

    Args:
      target: the ``_target_`` of a suite entry: a dotted path, or (from Python) the
        :class:`NoiseModel` itself.
      path: the field's config path, for messages (``noise.models.mine._target_``).

    Raises:
      ValueError: naming ``path``: ``target`` is not a dotted path, cannot be imported, or
        is not a valid :class:`NoiseModel` (:func:`~l1bench.noise.spec.check_model`).
    """
    if isinstance(target, NoiseModel):
        return check_model(target, path)
    if not isinstance(target, str) or not target.strip():
        raise ValueError(
            f"{path}={target!r} must be the dotted path of a NoiseModel, e.g. "
            f"l1bench.noise.models.gaussian.MODEL"
        )
    from hydra.utils import get_object

    try:
        obj = get_object(target)
    except Exception as err:  # Hydra wraps the import's own error
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"{path}={target!r} cannot be imported ({reason}); is its package on PYTHONPATH?"
        ) from None
    return check_model(obj, f"{path}={target!r}")


def resolve(name: str, spec: Mapping | None, *, path: str = "noise.models"):
    """The model of suite entry ``name`` and the entry without ``_target_``.

    With ``_target_`` the model is :func:`load`-ed from it and labelled ``name``; without,
    ``name`` is a shipped model (None when it is not one: :func:`check_entry` says so).

    Returns:
      ``(model or None, spec)``, ``spec`` a plain dict without ``_target_``.
    """
    spec = dict(spec or {})
    if "_target_" not in spec:
        return NOISE_MODELS.get(name), spec
    model = load(spec.pop("_target_"), path=f"{path}.{name}._target_")
    return (model if model.name == name else model._replace(name=name)), spec


def _check_usable(name, model, *, task, path, stage) -> NoiseModel:
    """``model`` if it exists and is usable at ``stage`` on ``task``, or a ValueError naming
    the shipped models that are."""
    if stage not in STAGES:
        raise ValueError(f"stage={stage!r}; choose one of {', '.join(STAGES)}")
    usable = ", ".join(models_for(stage, task))
    if model is None:
        raise ValueError(
            f"{path}.{name}: unknown noise model; choose from {usable}, or name a NoiseModel "
            f"of your own by {path}.{name}._target_"
        )
    if stage not in model.stages:
        where = (
            "a training-set contamination model (use it under train_noise.regression or "
            "train_noise.classification)"
            if stage == "test"
            else "a test-time perturbation, not a corruption of the training data"
        )
        raise ValueError(f"{path}.{name}: {where}; {path} takes {usable}")
    if task is not None and task not in model.supports:
        raise ValueError(
            f"{path}.{name}: not available for task={task!r} (it is for "
            f"{' and '.join(model.supports)} tasks); {path} takes {usable}"
        )
    return model


def _check_levels(name: str, levels, model: NoiseModel, *, path: str):
    if levels is None or isinstance(levels, (str, bytes)) or len(levels) == 0:
        raise ValueError(f"{path}.{name}.levels must be a non-empty list of levels >= 0")
    for lv in levels:
        if not (checks.is_number(lv) and float(lv) >= 0):
            raise ValueError(f"{path}.{name}.levels contains {lv!r}; levels must be finite, >= 0")
    repeated = sorted({float(lv) for lv in levels if list(levels).count(lv) > 1})
    if repeated:
        raise ValueError(f"{path}.{name}.levels repeats {repeated[0]!r}; give each level once")
    if model.fraction:
        try:
            checks.probabilities(levels)
        except ValueError as err:
            raise ValueError(f"{path}.{name}.{err}") from None
    return tuple(float(lv) for lv in levels)


def check_entry(
    name: str,
    spec: Mapping,
    *,
    task: str | None,
    depth: int,
    path: str = "noise.models",
    stage: str = "test",
) -> SuiteEntry:
    """Validate one suite entry ``{levels: [...], **options}``; raise ValueError naming the field.

    Args:
      name: the entry's key: a shipped model's name, or the label of the model its
        ``_target_`` names. spec: its config node.
      task: the dataset's task (None before the data are loaded: task checks are skipped).
      depth: number of model layers (1 = no hidden layer).
      path: the config path used in error messages.
      stage: ``test`` (an evaluation suite) or ``train`` (a training-set corruption): the
        model must list it in its ``stages``.

    Returns:
      The :class:`SuiteEntry` with float levels and every option filled in; its model is
      named ``name``.

    Raises:
      ValueError: a ``_target_`` that cannot be imported or is not a valid
        :class:`NoiseModel`; an unknown model or one not usable at ``stage`` or on ``task``
        (the message lists the usable ones); empty or negative or non-finite levels,
        probabilities or fractions above 1, an option the model does not take, or a value
        its ``check`` rejects (e.g. ``attack=exact`` needs a model without hidden layers on
        a regression or binary task).
    """
    model, spec = resolve(name, spec, path=path)
    model = _check_usable(name, model, task=task, path=path, stage=stage)
    levels = _check_levels(name, spec.pop("levels", None), model, path=path)
    unknown = [k for k in spec if k not in model.options]
    if unknown:
        allowed = ", ".join(model.options) or "none"
        raise ValueError(f"{path}.{name}: unknown option {', '.join(unknown)}; accepted: {allowed}")
    options = {**model.options, **spec}
    if model.check is not None:
        try:
            model.check(dict(options), levels=levels, task=task, depth=depth)
        except ValueError as err:
            raise ValueError(f"{path}.{name}.{err}") from None
    return SuiteEntry(model, levels, options)


def check_suite(
    models: Mapping,
    draws: int,
    *,
    task: str | None,
    depth: int,
    path: str = "noise.models",
    stage: str = "test",
) -> list[SuiteEntry]:
    """Validate a whole suite ``{name: {levels: [...], **options}}`` (see :func:`check_entry`).

    ``draws`` must be an integer >= 1 when the suite is not empty; its config key is the
    sibling of ``path`` (``noise.draws`` for ``noise.models``, ``train_noise.draws`` for
    ``train_noise.regression``).
    """
    entries = [
        check_entry(k, v, task=task, depth=depth, path=path, stage=stage)
        for k, v in (models or {}).items()
    ]
    if entries and (
        isinstance(draws, bool) or not isinstance(draws, numbers.Integral) or draws < 1
    ):
        raise ValueError(f"{path.rsplit('.', 1)[0]}.draws={draws!r} must be an integer >= 1")
    return entries


__all__ = [
    "NOISE_MODELS",
    "RESERVED",
    "STAGES",
    "TARGETS",
    "NoiseModel",
    "SuiteEntry",
    "check_entry",
    "check_model",
    "check_suite",
    "load",
    "models_for",
    "resolve",
]
