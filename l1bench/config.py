"""Structured-config schemas, their registration with Hydra, and value validation.

Two layers catch bad configs at start-up, before any data is loaded:

* the dataclass schema below (registered as ``l1bench_schema``) rejects unknown keys and wrong
  types — a typo such as ``penalty.l1.lamda=0.1`` fails with OmegaConf's message naming the key;
* :func:`validate` checks values (choices, ranges, combinations) and raises :class:`ConfigError`
  naming the field, the value and what is allowed.

Stages never see an OmegaConf object: :func:`validate` returns plain, checked dataclasses.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, ValidationError

from l1bench.checks import ConfigError, choice, number_list, positive
from l1bench.plugin_config import check_loss, check_penalty, penalty_of
from l1bench.progress import MODES as PROGRESS_MODES

__all__ = [
    "Config",
    "ConfigError",
    "check_combinations",
    "check_penalty",
    "choice",
    "number_list",
    "penalty_of",
    "positive",
    "register_configs",
    "unknown_key",
    "validate",
]

MODELS = ("linear", "logistic", "mlp")
SOLVERS = ("convex", "optax", "sklearn")
OPTIMIZERS = ("prox_grad", "adam", "sgd")  # l1bench.solvers.trainer.OPTIMIZERS
LR_SCHEDULES = ("constant", "cosine")
ACTIVATIONS = ("relu", "tanh", "gelu", "sigmoid")
PRECISIONS = ("float64", "float32")
# solver=convex's algorithms for the pipeline's problems (l1bench.solvers.convex.ALGORITHMS; its
# gram_ws needs one design shared by every problem, which per-seed and per-fold splits are not)
CONVEX_ALGORITHMS = ("auto", "gram", "design", "working_set")
TASKS = ("auto", "regression", "classification")


@dataclass
class DatasetConfig:
    """Which data, how it is split and scaled (see ``l1bench.data.load_dataset``).

    ``_target_`` names the loader (a dotted path, resolved at start-up; null: the shipped
    dataset ``name``), called with the seed and ``params`` at run time (``_partial_: true``);
    ``name`` is the dataset's label in the tables.
    """

    _target_: str | None = None
    _partial_: bool = True
    name: str = MISSING
    params: dict[str, Any] = field(default_factory=dict)
    test_size: float = 0.25
    standardize: bool = True
    path: str | None = None
    target: str | None = None
    task: str = "auto"


@dataclass
class ModelConfig:
    """The model family and its shape."""

    name: str = "linear"
    fit_intercept: bool = True
    hidden: list[int] = field(default_factory=list)
    activation: str = "relu"


@dataclass
class PenaltyConfig:
    """One penalty of the comparison; the key it is stored under is its label in the tables.

    The family is scikit-learn's ElasticNet convention,
    ``lam * (l1_ratio * ||w||_1 + (1 - l1_ratio) / 2 * ||w||_2^2)``; ``kind`` fixes ``l1_ratio``
    for ``l1`` (1) and ``l2`` (0). Strengths are ``lam`` when given, else a geometric path of
    ``n_lambdas`` values from ``lam_max`` down to ``lam_max * lambda_min_ratio``. For ``dropout``
    the strengths are the rates in ``dropout``. ``lam`` and ``dropout`` take one number or a
    list of numbers (``lam=0.1`` is ``lam=[0.1]``); :func:`validate` returns them as lists of
    floats. ``dropout_mode=auto`` resolves to
    ``marginalized`` for linear regression with an exact solver and to ``stochastic`` otherwise.
    Stochastic dropout is always trained by the optax trainer (with the ``solver.optimizer``,
    ``learning_rate``, ``steps`` ... settings), also in a job whose other penalties use an exact
    solver; the ``solver`` column of fits.csv says which backend fitted each row.

    Which penalty: ``_target_``, the dotted path of a penalty factory
    ``make(label, **options) -> l1bench.penalties.Penalty`` (l1bench's, e.g.
    ``l1bench.penalties.l1.make``, or one in the user's own package), or ``kind``, the name of
    one l1bench ships (``l1bench.penalties.PENALTIES``). ``params`` holds a factory's own options
    (those other than ``l1_ratio`` and ``dropout_mode``).
    """

    _target_: str | None = None
    kind: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    l1_ratio: float | None = None
    lam: Any = None  # a number or a list of numbers (OmegaConf types cannot say "either")
    n_lambdas: int = 20
    lambda_min_ratio: float = 1e-3
    dropout: Any = None  # as lam
    dropout_mode: str = "auto"


@dataclass
class LossConfig:
    """The loss the fits minimize (``configs/loss/``): ``_target_`` names an
    ``l1bench.losses.Loss``, or a factory returning one called with ``params``; null: the
    task's own (squared, logistic, multinomial), which every solver fits. Another loss is fitted
    by ``solver=optax`` (:func:`l1bench.losses.resolve`)."""

    _target_: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class NoiseConfig:
    """Evaluation-time noise suite: ``models`` maps a noise model's name to ``{levels: [...],
    **options}``, or a label to ``{_target_: <dotted path of a NoiseModel>, levels: [...],
    **options}`` (see ``l1bench.noise``); ``draws`` random draws per level."""

    draws: int = 10
    models: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainNoiseConfig:
    """Corrupt the *training* data (see ``l1bench.noise.training``).

    Training-set contamination on the batch axis: ``regression`` (regression datasets) or
    ``classification`` (binary and multiclass ones) maps a noise model whose stages include
    ``train`` to ``{levels: [...], **options}``; every level > 0 of every model, ``draws``
    times, is one more corrupted training set per seed, refitted (and cross-validated on its
    own corrupted folds) in the job's compiled call and measured on the clean test set
    (``contamination.csv``). The suite of the other task is ignored.

    ``name`` / ``level`` / ``options``: one model at one level corrupting the training data of
    every fit of the job (``name`` null = off; ``options._target_`` names a model of your own);
    a contamination suite then starts from that corrupted data. Suite entries take
    ``_target_`` as in :class:`NoiseConfig`.
    """

    name: str | None = None
    level: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)
    draws: int = 2
    regression: dict[str, Any] = field(default_factory=dict)
    classification: dict[str, Any] = field(default_factory=dict)


@dataclass
class SolverConfig:
    """How fits are computed."""

    name: str = "convex"
    tol: float = 1e-8
    max_iter: int = 20000
    check_every: int = 10
    precision: str = "float64"
    algorithm: str = "auto"  # convex, linear models: auto (by regime) | gram | design | working_set
    # optax trainer only
    optimizer: str = "prox_grad"
    learning_rate: float = 1e-2
    lr_schedule: str = "constant"
    steps: int = 1000
    batch_size: int | None = None


@dataclass
class ProgressConfig:
    """How long work is reported (:mod:`l1bench.progress`)."""

    mode: str = "auto"  # auto | log | bar | off
    interval: float = 30.0  # seconds between log lines while a stage runs


@dataclass
class Config:
    """The root config (``configs/config.yaml`` composes onto this schema)."""

    seed: int = 0
    n_seeds: int = 1
    cv_folds: int = 5
    resume: bool = False
    shard: bool = True
    compilation_cache: str | None = "~/.cache/l1bench/jax"
    progress: ProgressConfig = field(default_factory=ProgressConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    penalty: dict[str, PenaltyConfig] = field(default_factory=dict)
    loss: LossConfig = field(default_factory=LossConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    train_noise: TrainNoiseConfig = field(default_factory=TrainNoiseConfig)
    solver: SolverConfig = field(default_factory=SolverConfig)


def register_configs() -> None:
    """Register the root schema with Hydra's ConfigStore as ``l1bench_schema``."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="l1bench_schema", node=Config)


def unknown_key(key: str) -> str | None:
    """If the dotted ``key`` is not in the schema, a message naming it and the keys taken there.

    ``None`` when the key is known, or lies under a free mapping (``dataset.params``,
    ``noise.models``, ``train_noise.options``, ``train_noise.regression``, ...) whose entries
    the later checks judge. A penalty's
    label (``penalty.<label>``) is free; the keys under it are :class:`PenaltyConfig`'s.
    """
    parts = key.split(".")
    if parts[0] == "hydra":
        return None  # Hydra's own settings
    cls, i = Config, 0
    while i < len(parts):
        fields = typing.get_type_hints(cls)
        if parts[i] not in fields:
            where = ".".join(parts[:i]) or "the root config"
            return f"{key} is not a config key; {where} takes {', '.join(fields)}"
        kind = fields[parts[i]]
        if typing.get_origin(kind) is dict and dataclasses.is_dataclass(typing.get_args(kind)[1]):
            cls, i = typing.get_args(kind)[1], i + 2  # a free label, then that dataclass's keys
        elif dataclasses.is_dataclass(kind):
            cls, i = kind, i + 1
        else:
            return None
    return None


def _schema_merge(plain: dict) -> Config:
    """``plain`` on the schema, with OmegaConf's key and type errors as :class:`ConfigError`."""
    unknown = sorted(set(plain) - set(Config.__dataclass_fields__))
    if unknown:
        raise ConfigError(unknown_key(unknown[0]))
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), plain))
    except ConfigKeyError as err:
        raise ConfigError(unknown_key(err.full_key) or str(err)) from None
    except ValidationError as err:
        raise ConfigError(f"{err.full_key}: {err.msg}") from None


# --------------------------------------------------------------------------------------------
# Value validation
# --------------------------------------------------------------------------------------------


def validate(cfg: DictConfig | Config) -> Config:
    """Check every value of a composed config and return it as a plain :class:`Config`.

    Args:
      cfg: the composed config (a DictConfig from Hydra, or a Config).

    Returns:
      A :class:`Config` of plain dataclasses and Python values.

    Raises:
      ConfigError: naming the first invalid field, its value and the allowed values.
    """
    if isinstance(cfg, DictConfig):
        cfg = _schema_merge(OmegaConf.to_container(cfg, resolve=True))
    if cfg.seed < 0:
        raise ConfigError(f"seed={cfg.seed} must be an integer >= 0")
    if cfg.n_seeds < 1:
        raise ConfigError(f"n_seeds={cfg.n_seeds} must be an integer >= 1")
    if not 0.0 <= cfg.dataset.test_size < 1.0:
        raise ConfigError(f"dataset.test_size={cfg.dataset.test_size!r} must be in [0, 1)")
    choice("dataset.task", cfg.dataset.task, TASKS)
    _check_dataset(cfg.dataset)
    choice("model.name", cfg.model.name, MODELS)
    choice("solver.name", cfg.solver.name, SOLVERS)
    choice("solver.precision", cfg.solver.precision, PRECISIONS)
    choice("progress.mode", cfg.progress.mode, PROGRESS_MODES)
    positive("progress.interval", cfg.progress.interval)
    positive("solver.tol", cfg.solver.tol)
    if cfg.solver.max_iter < 1:
        raise ConfigError(f"solver.max_iter={cfg.solver.max_iter} must be >= 1")
    if cfg.solver.check_every < 1:
        raise ConfigError(f"solver.check_every={cfg.solver.check_every} must be >= 1")
    if not cfg.penalty:
        raise ConfigError(
            "penalty is empty; choose a penalty group option, e.g. penalty=l1 or penalty=compare"
        )
    for label, p in cfg.penalty.items():
        p.lam = number_list(f"penalty.{label}.lam", p.lam)
        p.dropout = number_list(f"penalty.{label}.dropout", p.dropout)
        check_penalty(label, p)
    check_combinations(cfg)
    _check_noise(cfg)
    return cfg


def _check_dataset(d: DatasetConfig) -> None:
    """The loader ``dataset._target_`` names can be imported and called (before any data)."""
    from l1bench.data import DataError, loader_for

    if d._partial_ is not True:
        raise ConfigError(
            f"dataset._partial_={d._partial_!r} must be true: l1bench calls the loader with the "
            "seed and dataset.params at run time"
        )
    try:
        loader_for(d.name, d._target_)
    except DataError as err:
        raise ConfigError(str(err)) from None


# the training suites and the task each is checked for before the data are loaded
TRAIN_SUITES = {"regression": "regression", "classification": "binary"}


def _check_noise(cfg: Config) -> None:
    """Noise settings, before any data is loaded (task-specific checks follow in the pipeline)."""
    from l1bench.noise import check_entry, check_suite, models_for

    depth = len(cfg.model.hidden) + 1
    try:
        check_suite(cfg.noise.models, cfg.noise.draws, task=None, depth=depth)
        tn = cfg.train_noise
        if tn.name is not None:
            if "_target_" not in tn.options and tn.name not in models_for("train"):
                raise ValueError(
                    f"train_noise.name={tn.name!r}; choose one of {', '.join(models_for('train'))}"
                )
            check_entry(
                tn.name,
                {"levels": [tn.level], **tn.options},
                task=None,
                depth=depth,
                path="train_noise",
                stage="train",
            )
        for key, task in TRAIN_SUITES.items():
            check_suite(
                getattr(tn, key),
                tn.draws,
                task=task,
                depth=depth,
                path=f"train_noise.{key}",
                stage="train",
            )
    except ValueError as err:
        raise ConfigError(str(err)) from None


def check_combinations(cfg: Config) -> None:
    """Model × solver × penalty combinations that cannot work, with the reason."""
    m, s = cfg.model, cfg.solver
    choice("model.activation", m.activation, ACTIVATIONS)
    if any(h < 1 for h in m.hidden):
        raise ConfigError(f"model.hidden={m.hidden} must hold layer widths >= 1")
    if m.name != "mlp" and m.hidden:
        raise ConfigError(f"model.hidden is for model=mlp (model={m.name} has no hidden layers)")
    if m.name == "mlp" and s.name != "optax":
        raise ConfigError(
            f"model=mlp needs solver=optax (solver={s.name} fits linear and logistic models only)"
        )
    choice("solver.algorithm", s.algorithm, CONVEX_ALGORITHMS)
    if s.algorithm != "auto" and (s.name != "convex" or m.name != "linear"):
        raise ConfigError(
            f"solver.algorithm={s.algorithm} chooses solver=convex's algorithm for model=linear "
            f"(got model={m.name}, solver={s.name}); leave it at auto"
        )
    if s.name == "optax":
        choice("solver.optimizer", s.optimizer, OPTIMIZERS)
        choice("solver.lr_schedule", s.lr_schedule, LR_SCHEDULES)
        positive("solver.learning_rate", s.learning_rate)
        if s.steps < 1:
            raise ConfigError(f"solver.steps={s.steps} must be >= 1")
        if s.batch_size is not None and s.batch_size < 1:
            raise ConfigError(f"solver.batch_size={s.batch_size} must be >= 1 or null")
    if cfg.cv_folds == 1 or cfg.cv_folds < 0:
        raise ConfigError(f"cv_folds={cfg.cv_folds} must be 0 (no cross-validation) or >= 2")
    for label, p in cfg.penalty.items():
        if p.kind != "dropout":
            continue
        if p.dropout_mode == "auto":
            exact = m.name == "linear" and s.name != "optax"
            p.dropout_mode = "marginalized" if exact else "stochastic"
        if p.dropout_mode == "marginalized" and (m.name != "linear" or s.name == "optax"):
            raise ConfigError(
                f"penalty.{label}.dropout_mode=marginalized is the exact expected loss of linear "
                f"regression, fitted by solver=convex or sklearn (got model={m.name}, "
                f"solver={s.name}); use dropout_mode=stochastic with solver=optax"
            )
    for label, p in cfg.penalty.items():
        pen = penalty_of(label, p)
        solver = "optax" if m.name == "mlp" or pen.stochastic else s.name
        # a classifier's task (binary or multiclass) is known with the data: backends.fit checks it
        reason = pen.supports("regression" if m.name == "linear" else None, solver)
        if reason:
            raise ConfigError(f"penalty.{label}: {reason}")
    check_loss(cfg)
