"""Noise models: pure perturbations ``fn(key, X, y, params, level, **options) -> (X, y, params)``.

X is (n, p) test inputs, y (n,) targets, params a :mod:`l1bench.models` pytree and level a
(possibly traced) scalar, so levels × draws × fits vmap. Adding a noise model is one function in
the module of its kind plus one entry in ``NOISE_MODELS`` and one YAML in ``configs/noise/``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from l1bench.noise import adversarial, params, random


class NoiseModel(NamedTuple):
    """A registered noise model.

    Attributes:
      name: its key. target: ``inputs`` | ``labels`` | ``params`` | ``adversarial``.
      fn: the perturbation. options: accepted options and their defaults.
      random: whether draws differ (False for deterministic worst cases).
    """

    name: str
    target: str
    fn: Callable
    options: Mapping
    random: bool = True


NOISE_MODELS = {
    m.name: m
    for m in (
        NoiseModel("gaussian", "inputs", random.gaussian, {}),
        NoiseModel("uniform", "inputs", random.uniform, {}),
        NoiseModel("laplace", "inputs", random.laplace, {}),
        NoiseModel("student_t", "inputs", random.student_t, {"df": 3.0}),
        NoiseModel("feature_dropout", "inputs", random.feature_dropout, {"impute": "zero"}),
        NoiseModel("label_noise", "labels", random.label_noise, {}),
        NoiseModel("param_additive", "params", params.param_additive, {}),
        NoiseModel("param_multiplicative", "params", params.param_multiplicative, {}),
        NoiseModel(
            "adversarial_linf",
            "adversarial",
            adversarial.adversarial_linf,
            {"attack": "auto", "steps": 20, "restarts": 1, "step_size": None},
            random=False,
        ),
        NoiseModel(
            "adversarial_l2",
            "adversarial",
            adversarial.adversarial_l2,
            {"attack": "auto", "steps": 20, "restarts": 1, "step_size": None},
            random=False,
        ),
    )
}


class SuiteEntry(NamedTuple):
    """One noise model of a suite, checked: its levels and full options."""

    model: NoiseModel
    levels: tuple[float, ...]
    options: dict


def check_entry(
    name: str, spec: Mapping, *, task: str | None, depth: int, path: str = "noise.models"
) -> SuiteEntry:
    """Validate one suite entry ``{levels: [...], **options}``; raise ValueError naming the field.

    Args:
      name: the noise model's name. spec: its config node.
      task: the dataset's task (None before the data are loaded: task checks are skipped).
      depth: number of model layers (1 = no hidden layer).
    """
    if name not in NOISE_MODELS:
        raise ValueError(
            f"{path}.{name}: unknown noise model; choose from {', '.join(NOISE_MODELS)}"
        )
    model = NOISE_MODELS[name]
    spec = dict(spec or {})
    levels = spec.pop("levels", None)
    if not levels:
        raise ValueError(f"{path}.{name}.levels must be a non-empty list of levels >= 0")
    for lv in levels:
        if not isinstance(lv, (int, float)) or not lv >= 0 or lv != lv or lv == float("inf"):
            raise ValueError(f"{path}.{name}.levels contains {lv!r}; levels must be finite, >= 0")
    if name == "feature_dropout" or (name == "label_noise" and task not in ("regression", None)):
        if any(lv > 1 for lv in levels):
            raise ValueError(f"{path}.{name}.levels are probabilities here; each must be <= 1")
    unknown = [k for k in spec if k not in model.options]
    if unknown:
        allowed = ", ".join(model.options) or "none"
        raise ValueError(f"{path}.{name}: unknown option {', '.join(unknown)}; accepted: {allowed}")
    options = {**model.options, **spec}
    if name == "student_t" and not options["df"] > 2:
        raise ValueError(f"{path}.{name}.df={options['df']!r} must be > 2 (finite variance)")
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
                f"{path}.{name}.attack=exact is only available for models without "
                f"hidden layers on regression or binary tasks (task={task}, "
                f"{depth} layers); use attack=pgd or auto"
            )
        if int(options["steps"]) < 1 or int(options["restarts"]) < 1:
            raise ValueError(f"{path}.{name}: steps and restarts must be >= 1")
    return SuiteEntry(model, tuple(float(lv) for lv in levels), options)


def check_suite(models: Mapping, draws: int, *, task: str | None, depth: int) -> list[SuiteEntry]:
    """Validate a whole suite; ``draws`` must be >= 1 when the suite is not empty."""
    entries = [check_entry(k, v, task=task, depth=depth) for k, v in (models or {}).items()]
    if entries and draws < 1:
        raise ValueError(f"noise.draws={draws} must be >= 1")
    return entries
