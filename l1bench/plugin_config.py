"""The config's plug-in entries as objects: a penalty's ``_target_`` or ``kind`` as a
:class:`l1bench.penalties.Penalty` (:func:`penalty_of`), the ``loss`` group's ``_target_`` as an
:class:`l1bench.losses.Loss`, each checked with errors that name the field.

The plug-in packages are imported inside the functions (they import JAX), so that reading a
config does not.
"""

from __future__ import annotations

import numpy as np

from l1bench.checks import ConfigError, choice, positive

DROPOUT_MODES = ("auto", "marginalized", "stochastic")


def _resolve_penalty(label: str, p) -> bool:
    """Set ``p.kind`` from ``p._target_`` where it names a shipped penalty; True for a user's
    own factory (whose options are checked by building it, :func:`penalty_of`)."""
    from l1bench import penalties

    path = f"penalty.{label}"
    shipped = {factory: kind for kind, factory in penalties.PENALTIES.items()}
    if p._target_ is None:
        if p.kind is None:
            raise ConfigError(
                f"{path} names no penalty: give _target_ (a penalty factory, e.g. "
                f"l1bench.penalties.l1.make) or kind (one of {', '.join(penalties.PENALTIES)})"
            )
        choice(f"{path}.kind", p.kind, tuple(penalties.PENALTIES))
        return False
    try:
        factory = penalties.resolve(p._target_)
    except ValueError as err:
        raise ConfigError(f"{path}.{err}") from None
    if factory not in shipped:
        if p.kind is not None:
            raise ConfigError(
                f"{path}.kind={p.kind!r} is for l1bench's own penalties; {path}._target_ "
                f"({p._target_}) names the penalty already: remove kind"
            )
        return True
    if p.kind is not None and p.kind != shipped[factory]:
        choice(f"{path}.kind", p.kind, (shipped[factory],))
    p.kind = shipped[factory]
    return False


def penalty_of(label: str, p):
    """The :class:`l1bench.penalties.Penalty` a validated penalty config names."""
    from l1bench import penalties

    path = f"penalty.{label}"
    factory = penalties.resolve(p._target_) if p._target_ else penalties.PENALTIES[p.kind]
    accepted = penalties.options_of(factory)
    options = dict(p.params)
    if p.l1_ratio is not None and "l1_ratio" not in accepted:
        raise ConfigError(f"{path}.l1_ratio is not an option of this penalty; remove it")
    for name in ("l1_ratio", "dropout_mode"):
        value = getattr(p, name)
        if value is not None and name in accepted and name not in options:
            options[name] = value
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(
            f"{path}.params.{unknown[0]} is not an option of {factory.__module__}."
            f"{factory.__name__}; it takes {', '.join(accepted) or 'none'}"
        )
    try:
        pen = factory(label, **options)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{path}: {err}") from None
    if not isinstance(pen, penalties.Penalty):
        raise ConfigError(
            f"{path}._target_ returned {type(pen).__name__}, not an l1bench.penalties.Penalty"
        )
    return pen


def check_penalty(label: str, p) -> None:
    path = f"penalty.{label}"
    if _resolve_penalty(label, p):
        _check_strengths(path, p)
        penalty_of(label, p)
        return
    if p.params:
        raise ConfigError(
            f"{path}.params is for penalties from a user's own factory (_target_); "
            f"kind={p.kind} takes its options as keys of {path}"
        )
    if p.kind == "elastic_net":
        if p.l1_ratio is None or not 0.0 <= p.l1_ratio <= 1.0:
            raise ConfigError(f"{path}.l1_ratio={p.l1_ratio!r} must be a number in [0, 1]")
    elif p.l1_ratio is not None:
        raise ConfigError(
            f"{path}.l1_ratio is only used by kind=elastic_net (kind={p.kind} fixes it); remove it"
        )
    if p.kind == "dropout":
        choice(f"{path}.dropout_mode", p.dropout_mode, DROPOUT_MODES)
        if not p.dropout:
            raise ConfigError(f"{path}.dropout must be a non-empty list of rates in [0, 1)")
        for rate in p.dropout:
            if not 0.0 <= rate < 1.0:
                raise ConfigError(f"{path}.dropout contains {rate!r}; every rate must be in [0, 1)")
        if p.lam is not None:
            raise ConfigError(f"{path}.lam is not used by kind=dropout; give rates in dropout")
        return
    if p.dropout is not None:
        raise ConfigError(f"{path}.dropout is only used by kind=dropout; remove it")
    if p.kind == "none":
        if p.lam is not None:
            raise ConfigError(f"{path}.lam is not used by kind=none (no penalty); remove it")
        return
    _check_strengths(path, p)


def _check_strengths(path: str, p) -> None:
    if p.dropout is not None:
        raise ConfigError(f"{path}.dropout is only used by kind=dropout; remove it")
    if p.lam is not None:
        if len(p.lam) == 0:
            raise ConfigError(f"{path}.lam is an empty list; give strengths >= 0 or null")
        for i, lam in enumerate(p.lam):
            positive(f"{path}.lam[{i}]", lam, strict=False)
    else:
        if isinstance(p.n_lambdas, bool) or not isinstance(p.n_lambdas, (int, np.integer)):
            raise ConfigError(f"{path}.n_lambdas={p.n_lambdas!r} must be an integer >= 1")
        if p.n_lambdas < 1:
            raise ConfigError(f"{path}.n_lambdas={p.n_lambdas} must be >= 1")
        if not 0.0 < p.lambda_min_ratio <= 1.0:
            raise ConfigError(f"{path}.lambda_min_ratio={p.lambda_min_ratio!r} must be in (0, 1]")


def check_loss(cfg) -> None:
    """Refuse a ``loss`` entry that cannot be imported, does not fit the model's task, or is
    not the task's own loss without ``solver=optax``."""
    from l1bench import losses

    if cfg.loss._target_ is None:
        return
    try:
        loss = losses.resolve(cfg.loss._target_, cfg.loss.params)
    except ValueError as err:
        raise ConfigError(f"loss.{err}") from None
    tasks = {"linear": ("regression",), "logistic": ("binary", "multiclass")}.get(cfg.model.name)
    if tasks is not None and loss.task not in tasks:
        raise ConfigError(
            f"loss._target_={cfg.loss._target_} is a {loss.task} loss; model={cfg.model.name} "
            f"fits {' or '.join(tasks)}"
        )
    native = losses.for_task(loss.task) == loss
    if not native and cfg.solver.name != "optax" and cfg.model.name != "mlp":
        raise ConfigError(
            f"loss._target_={cfg.loss._target_} is fitted by solver=optax only (solver="
            f"{cfg.solver.name} fits the task's own loss); add solver=optax"
        )
