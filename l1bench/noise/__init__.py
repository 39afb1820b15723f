"""Noise models: pure perturbations of the test inputs, labels or fitted weights, and of the
training data (training-set contamination, :mod:`l1bench.noise.training`).

Every noise model is one function with the uniform signature

.. code-block:: python

   fn(key, X, y, params, level, *, task, **options) -> (X', y', params')

with ``X`` (n, p) test inputs, ``y`` (n,) targets (class indices as floats for classification),
``params`` a :mod:`l1bench.models` pytree and ``level`` a (possibly traced) scalar, so that
levels × draws × fits vmap. What a model does not touch is returned unchanged. Besides its own
options, every fn accepts (and may ignore) the context keywords ``task``, ``activation`` and
``n_classes``.

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
budgets are radii. A model's ``stages`` say where it may be used: ``test`` (``noise.models``,
the evaluation suite) and ``train`` (``train_noise``: the training data are corrupted, the
fits refitted and measured on the clean test set). Adding a noise model is one function in
the module of its kind (:mod:`~l1bench.noise.random`, :mod:`~l1bench.noise.adversarial`,
:mod:`~l1bench.noise.params`), one entry in :data:`NOISE_MODELS` and one YAML in
``configs/noise/`` (for the test stage; a training-only model is listed in
``configs/train_noise/default.yaml`` when it belongs in the default suite). Settings are
validated once, outside jit, by :func:`check_entry`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import NamedTuple

from l1bench.noise import adversarial, params, random
from l1bench.vocab import CLASSIFICATION, TASKS

TARGETS = ("inputs", "labels", "rows", "params", "adversarial")
STAGES = ("test", "train")


class NoiseModel(NamedTuple):
    """A registered noise model.

    Attributes:
      name: its key in :data:`NOISE_MODELS` and in ``configs/noise/``.
      target: what it perturbs: ``inputs`` | ``labels`` | ``rows`` (inputs and labels of the
        same rows) | ``params`` | ``adversarial`` (inputs, chosen against the model).
      fn: the perturbation ``fn(key, X, y, params, level, *, task, **options)``.
      options: the options it accepts, with their defaults.
      random: whether draws differ (False for the deterministic worst cases: one draw).
      additive: whether the perturbation is ``target + level·E`` with E drawn from the key
        alone (not from the data, the fit or the level), the rest returned unchanged; the
        robustness evaluation then computes every level of a draw from one E in closed form
        (:func:`l1bench.robustness._quadratic`).
      outputs: optional ``outputs(key, X, y, params, level, **options) -> (outputs, y') |
        None``, the perturbed model's outputs in closed form without forming the perturbed
        inputs (None where it does not apply: the evaluation then applies the model to
        ``fn``'s inputs); the exact adversarial worst cases of linear models have one.
      description: its exact formula and scaling, one line.
      supports: the tasks it applies to (every model here applies to every model shape; the
        closed-form adversarial attack is narrower, see :func:`adversarial.exact_available`).
      stages: where it may be used, a subset of :data:`STAGES`: ``test`` (the evaluation suite,
        ``noise.models``) and ``train`` (``train_noise``).
      fraction: whether its levels are probabilities or fractions (each must be <= 1).
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


_ATTACK_OPTIONS = {"attack": "auto", "steps": 20, "restarts": 1, "step_size": None}
REGRESSION = ("regression",)

NOISE_MODELS: dict[str, NoiseModel] = {
    m.name: m
    for m in (
        NoiseModel(
            "gaussian",
            "inputs",
            random.gaussian,
            {},
            additive=True,
            description="X + level * N(0, 1); std level",
        ),
        NoiseModel(
            "uniform",
            "inputs",
            random.uniform,
            {},
            additive=True,
            description="X + U(-sqrt(3) level, sqrt(3) level); std level",
        ),
        NoiseModel(
            "laplace",
            "inputs",
            random.laplace,
            {},
            additive=True,
            description="X + Laplace(0, level / sqrt(2)); std level",
        ),
        NoiseModel(
            "student_t",
            "inputs",
            random.student_t,
            {"df": 3.0},
            additive=True,
            description="X + level * sqrt((df - 2) / df) * t_df, df > 2; std level",
        ),
        NoiseModel(
            "feature_dropout",
            "inputs",
            random.feature_dropout,
            {"impute": "zero"},
            fraction=True,
            description="each entry missing with probability level, imputed by 0 or the training "
            "column mean",
        ),
        NoiseModel(
            "label_noise",
            "labels",
            random.label_noise,
            {},
            description="regression y + level * N(0, 1); classification: with probability "
            "level a uniformly drawn other class",
        ),
        NoiseModel(
            "label_gaussian",
            "labels",
            random.label_gaussian,
            {"relative": False},
            description="y + level * s * N(0, 1); s = 1 (level: std in the target's units) or, "
            "with relative=true, s = sd(y) of the clean training labels",
            supports=REGRESSION,
            stages=("train",),
        ),
        NoiseModel(
            "label_student_t",
            "labels",
            random.label_student_t,
            {"df": 3.0, "relative": False},
            description="y + level * s * sqrt((df - 2) / df) * t_df, df > 2; std level * s, s as "
            "for label_gaussian",
            supports=REGRESSION,
            stages=("train",),
        ),
        NoiseModel(
            "label_outliers",
            "labels",
            random.label_outliers,
            {"scale": 10.0},
            description="a fraction level of the labels replaced by draws from "
            "N(mean(y), (scale * sd(y))^2)",
            supports=REGRESSION,
            stages=("train",),
            fraction=True,
        ),
        NoiseModel(
            "leverage",
            "rows",
            random.leverage,
            {"scale": 10.0, "x_scale": 10.0},
            description="a fraction level of the rows replaced by bad leverage points: x from "
            "N(mean(x), diag(x_scale * sd(x))^2), y from N(mean(y), (scale * sd(y))^2)",
            supports=REGRESSION,
            stages=("train",),
            fraction=True,
        ),
        NoiseModel(
            "label_flip",
            "labels",
            random.label_flip,
            {},
            description="with probability level a label is replaced by a uniformly drawn other "
            "class",
            supports=CLASSIFICATION,
            stages=("train",),
            fraction=True,
        ),
        NoiseModel(
            "param_additive",
            "params",
            params.param_additive,
            {},
            additive=True,
            stages=("test",),
            description="w + level * N(0, 1) on every weight, biases untouched",
        ),
        NoiseModel(
            "param_multiplicative",
            "params",
            params.param_multiplicative,
            {},
            stages=("test",),
            description="w * (1 + level * N(0, 1)) on every weight, biases untouched",
        ),
        NoiseModel(
            "adversarial_linf",
            "adversarial",
            adversarial.adversarial_linf,
            dict(_ATTACK_OPTIONS),
            random=False,
            stages=("test",),
            outputs=adversarial.adversarial_linf_outputs,
            description="worst case under ||delta||_inf <= level: exact (dual norm ||w||_1) "
            "without hidden layers, PGD otherwise",
        ),
        NoiseModel(
            "adversarial_l2",
            "adversarial",
            adversarial.adversarial_l2,
            dict(_ATTACK_OPTIONS),
            random=False,
            stages=("test",),
            outputs=adversarial.adversarial_l2_outputs,
            description="worst case under ||delta||_2 <= level: exact (dual norm ||w||_2) "
            "without hidden layers, PGD otherwise",
        ),
    )
}


class SuiteEntry(NamedTuple):
    """One noise model of a suite, checked: its levels and full options."""

    model: NoiseModel
    levels: tuple[float, ...]
    options: dict


def _is_level(lv) -> bool:
    return (
        isinstance(lv, numbers.Real)
        and not isinstance(lv, bool)
        and math.isfinite(float(lv))
        and float(lv) >= 0
    )


def models_for(stage: str, task: str | None = None) -> list[str]:
    """The names of the models usable at ``stage`` (``test`` | ``train``) on ``task`` (any
    task when None)."""
    return [
        k
        for k, m in NOISE_MODELS.items()
        if stage in m.stages and (task is None or task in m.supports)
    ]


def _check_model(name: str, *, task: str | None, path: str, stage: str) -> NoiseModel:
    """The registered model ``name``, usable at ``stage`` on ``task``, or a ValueError naming
    the models that are."""
    if stage not in STAGES:
        raise ValueError(f"stage={stage!r}; choose one of {', '.join(STAGES)}")
    usable = ", ".join(models_for(stage, task))
    if name not in NOISE_MODELS:
        raise ValueError(f"{path}.{name}: unknown noise model; choose from {usable}")
    model = NOISE_MODELS[name]
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


def _check_levels(name: str, levels, model: NoiseModel, *, task: str | None, path: str):
    if levels is None or isinstance(levels, (str, bytes)) or len(levels) == 0:
        raise ValueError(f"{path}.{name}.levels must be a non-empty list of levels >= 0")
    for lv in levels:
        if not _is_level(lv):
            raise ValueError(f"{path}.{name}.levels contains {lv!r}; levels must be finite, >= 0")
    repeated = sorted({float(lv) for lv in levels if list(levels).count(lv) > 1})
    if repeated:
        raise ValueError(f"{path}.{name}.levels repeats {repeated[0]!r}; give each level once")
    fractions = model.fraction or (name == "label_noise" and task not in ("regression", None))
    if fractions and any(lv > 1 for lv in levels):
        raise ValueError(f"{path}.{name}.levels are probabilities here; each must be <= 1")
    return tuple(float(lv) for lv in levels)


_POSITIVE_OPTIONS = ("scale", "x_scale")  # spreads: finite and > 0 wherever a model takes them


def _check_options(name: str, options: dict, model: NoiseModel, *, task, depth, path) -> None:
    """Option values (the names are checked by :func:`check_entry`)."""
    if "df" in options and not options["df"] > 2:
        raise ValueError(f"{path}.{name}.df={options['df']!r} must be > 2 (finite variance)")
    for key in _POSITIVE_OPTIONS:
        if key in options and not (_is_level(options[key]) and options[key] > 0):
            raise ValueError(f"{path}.{name}.{key}={options[key]!r} must be a finite number > 0")
    if "relative" in options and not isinstance(options["relative"], bool):
        raise ValueError(f"{path}.{name}.relative={options['relative']!r}; choose true or false")
    if name == "feature_dropout" and options["impute"] not in ("zero", "mean"):
        raise ValueError(f"{path}.{name}.impute={options['impute']!r}; choose zero or mean")
    if model.target == "adversarial":
        if options["attack"] not in adversarial.ATTACKS:
            raise ValueError(
                f"{path}.{name}.attack={options['attack']!r}; choose one of "
                f"{', '.join(adversarial.ATTACKS)}"
            )
        possible = adversarial.exact_available(depth, task or "regression")
        if options["attack"] == "exact" and not possible:
            raise ValueError(
                f"{path}.{name}.attack=exact: no closed form for this budget here; it is only "
                f"available for models without hidden layers on regression or binary tasks "
                f"(task={task}, {depth} layers); use attack=pgd, fgsm or auto"
            )
        if int(options["steps"]) < 1 or int(options["restarts"]) < 1:
            raise ValueError(f"{path}.{name}: steps and restarts must be >= 1")
        if options["step_size"] is not None and not options["step_size"] > 0:
            raise ValueError(f"{path}.{name}.step_size={options['step_size']!r} must be > 0")


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
      name: the noise model's name. spec: its config node.
      task: the dataset's task (None before the data are loaded: task checks are skipped).
      depth: number of model layers (1 = no hidden layer).
      path: the config path used in error messages.
      stage: ``test`` (an evaluation suite) or ``train`` (a training-set corruption): the
        model must list it in its ``stages``.

    Returns:
      The :class:`SuiteEntry` with float levels and every option filled in.

    Raises:
      ValueError: an unknown model or one not usable at ``stage`` or on ``task`` (the message
        lists the usable ones), empty or negative or non-finite levels, probabilities or
        fractions above 1, an option the model does not take, a bad option value, or an
        attack the model cannot use (``attack=exact`` needs a model without hidden layers on
        a regression or binary task).
    """
    model = _check_model(name, task=task, path=path, stage=stage)
    spec = dict(spec or {})
    levels = _check_levels(name, spec.pop("levels", None), model, task=task, path=path)
    unknown = [k for k in spec if k not in model.options]
    if unknown:
        allowed = ", ".join(model.options) or "none"
        raise ValueError(f"{path}.{name}: unknown option {', '.join(unknown)}; accepted: {allowed}")
    options = {**model.options, **spec}
    _check_options(name, options, model, task=task, depth=depth, path=path)
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
