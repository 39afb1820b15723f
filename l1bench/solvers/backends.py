"""Dispatch a grid to the backend that fits each penalty, and return one uniform result.

=========================  ==============================================================
model × solver             backend
=========================  ==============================================================
linear × convex            :mod:`l1bench.solvers.convex` (FISTA, duality gap)
logistic × convex          :mod:`l1bench.solvers.logistic` (FISTA, duality gap)
linear/logistic × sklearn  :mod:`l1bench.solvers.reference` (scikit-learn, gap certified here)
any × optax, mlp           :mod:`l1bench.solvers.trainer` (optax, prox-L1, stochastic dropout)
=========================  ==============================================================

Penalties with stochastic dropout always go to the optax trainer, so one job can compare exact
L1/L2/elastic-net fits with trained dropout fits. Each backend runs its part of the grid as one
compiled call; the parts are put back together along the penalty axis.

Every fit, whichever backend made it, is then held against the zero model (all weights 0, the
intercept fitted; :func:`zero_objective`): a fit whose objective is above it is not a solution
of its problem, and its status becomes ``worse_than_zero`` (:func:`mark_worse_than_zero`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from l1bench.grid import Grid, subgrid
from l1bench.losses import for_task
from l1bench.vocab import STATUS


class FitOutput(NamedTuple):
    """Fits of a grid, leading axes (S, P, L), whichever backend produced them.

    Attributes:
      params: :mod:`l1bench.models` layers, leaves with leading axes (S, P, L).
      objective: (S, P, L). gap: (S, P, L) duality gap (exact backends) or the trainer's relative
        KKT measure. rel_gap: (S, P, L) the stopping measure. n_iter, status: (S, P, L).
      solver: (P,) the backend of each penalty (``convex``, ``sklearn`` or ``optax``).
      objective_se: (S, P, L) the standard error of ``objective`` where it is a Monte-Carlo
        estimate (stochastic dropout in a model without a marginalized form), else 0.
    """

    params: Any
    objective: np.ndarray
    gap: np.ndarray
    rel_gap: np.ndarray
    n_iter: np.ndarray
    status: np.ndarray
    solver: tuple[str, ...]
    objective_se: np.ndarray | None = None


def is_trained(penalty, model, solver) -> bool:
    """Whether the optax trainer fits ``penalty`` (stochastic dropout, solver=optax or an MLP);
    otherwise an exact solver does (:func:`fit`)."""
    return penalty.stochastic or solver.name == "optax" or model.name == "mlp"


def routes(grid: Grid, model, solver) -> tuple[list[int], list[int]]:
    """``(exact, trained)``: the indices of ``grid``'s penalties an exact solver fits and those
    the optax trainer fits (:func:`is_trained`)."""
    trained = [i for i, p in enumerate(grid.penalties) if is_trained(p, model, solver)]
    return [i for i in range(len(grid.penalties)) if i not in trained], trained


def _linear_params(coef: np.ndarray, intercept: np.ndarray, multiclass: bool):
    if multiclass:
        return ({"w": coef, "b": intercept},)
    return ({"w": coef[..., None], "b": intercept[..., None]},)


def _exact(grid: Grid, X, y, *, task, n_classes, model, solver, timings, info) -> FitOutput:
    kw = dict(
        fit_intercept=model.fit_intercept, tol=solver.tol, max_iter=solver.max_iter, timings=timings
    )
    if solver.name == "sklearn":
        from l1bench.solvers import reference

        out = reference.solve(grid, X, y, task=task, n_classes=n_classes, **kw)
        info["sklearn"] = {"algorithm": "scikit-learn enet_path / Ridge / LogisticRegression"}
    elif task == "regression":
        from l1bench.solvers import convex

        info["convex"] = {}
        out = convex.solve(
            grid,
            X,
            y,
            check_every=solver.check_every,
            precision=solver.precision,
            algorithm=solver.algorithm,
            info=info["convex"],
            **kw,
        )
    else:
        from l1bench.solvers import logistic

        out = logistic.solve(
            grid,
            X,
            y,
            n_classes=n_classes,
            check_every=solver.check_every,
            precision=solver.precision,
            **kw,
        )
        info["convex"] = {"algorithm": "logistic FISTA (l1bench.solvers.logistic)"}
    params = _linear_params(out.coef, out.intercept, task == "multiclass")
    return FitOutput(
        params,
        out.objective,
        out.gap,
        out.rel_gap,
        out.n_iter,
        out.status,
        (solver.name,) * len(grid.penalties),
        np.zeros_like(out.objective),
    )


def _trained(
    grid: Grid, X, y, *, task, n_classes, model, solver, timings, info, loss=None
) -> FitOutput:
    from l1bench.solvers import trainer

    info["optax"] = {"algorithm": f"optax {solver.optimizer} training (l1bench.solvers.trainer)"}

    rates = np.where(np.isnan(grid.dropout), 0.0, grid.dropout)
    rates = np.where([[p.stochastic] for p in grid.penalties], rates, 0.0)
    exact_tol = solver.name != "optax"  # exact solvers' tol (1e-8) is not a trainer's tol
    out = trainer.train_grid(
        X,
        y,
        task=task,
        hidden=tuple(model.hidden),
        activation=model.activation,
        lam=grid.lam,
        l1_ratio=np.array([p.l1_ratio for p in grid.penalties]),
        dropout=rates,
        seeds=grid.seeds,
        optimizer=solver.optimizer,
        learning_rate=solver.learning_rate,
        lr_schedule=solver.lr_schedule,
        steps=solver.steps,
        batch_size=solver.batch_size,
        fit_intercept=model.fit_intercept,
        tol=1e-6 if exact_tol else solver.tol,
        check_every=50 if exact_tol else solver.check_every,
        precision=solver.precision,
        n_classes=n_classes if task == "multiclass" else None,
        timings=timings,
        loss=loss,
    )
    return FitOutput(
        out.params,
        out.objective,
        out.kkt,
        out.kkt,
        out.n_iter,
        out.status,
        ("optax",) * len(grid.penalties),
        out.objective_se,
    )


def _concat(parts: list[tuple[np.ndarray, FitOutput]]) -> FitOutput:
    """Put per-backend outputs back in the grid's penalty order (axis 1)."""
    import jax

    order = np.argsort(np.concatenate([idx for idx, _ in parts]))
    outs = [o for _, o in parts]

    def cat(*leaves):
        return np.concatenate(leaves, axis=1)[:, order]

    params = jax.tree_util.tree_map(cat, *[o.params for o in outs])
    arrays = {
        f: cat(*[getattr(o, f) for o in outs])
        for f in ("objective", "gap", "rel_gap", "n_iter", "status", "objective_se")
    }
    solvers = sum((o.solver for o in outs), ())
    return FitOutput(params, solver=tuple(solvers[i] for i in order), **arrays)


def zero_objective(y, *, task: str, n_classes: int | None, fit_intercept: bool) -> np.ndarray:
    """The objective of the zero model (every weight 0, the intercept fitted), per problem.

    With every weight at 0 a model (an MLP too) predicts one constant, and the penalty is 0:

    * regression: ``½ mean (y - ȳ)²`` (``½ mean y²`` without an intercept);
    * binary: the entropy ``-(π log π + (1-π) log(1-π))`` of the share π of ones (log 2 without an
      intercept);
    * multiclass: the entropy ``-Σ_k π_k log π_k`` of the class shares (log K without one).

    Args:
      y: (S, n) targets, or class indices 0..K-1.
      task: ``regression`` | ``binary`` | ``multiclass``. n_classes: K (multiclass).
      fit_intercept: whether the model fits an intercept.

    Returns:
      (S,) the zero model's objective of each problem.
    """
    y = np.asarray(y, dtype=np.float64)
    if task == "regression":
        centre = y.mean(axis=-1, keepdims=True) if fit_intercept else 0.0
        return 0.5 * np.mean((y - centre) ** 2, axis=-1)
    k = 2 if task == "binary" else int(n_classes)
    if not fit_intercept:
        return np.full(y.shape[0], np.log(k))
    shares = np.stack([np.mean(y == c, axis=-1) for c in range(k)], axis=-1)
    logs = np.log(np.where(shares > 0, shares, 1.0))
    return -np.sum(shares * logs, axis=-1)


def mark_worse_than_zero(out: FitOutput, zero: np.ndarray, tol: float) -> FitOutput:
    """Status ``worse_than_zero`` for every fit not diverged whose objective is above the zero
    model's: ``objective - 3·objective_se > zero·(1 + tol)`` (``tol`` the solver's; for an
    exact solver a converged fit is within ``tol·P(0)`` of the optimum, so never above).

    Args:
      out: the fits, leading axes (S, P, L). zero: (S,) :func:`zero_objective`.
      tol: the relative tolerance (the solver's ``tol``).
    """
    se = 0.0 if out.objective_se is None else np.nan_to_num(out.objective_se)
    bound = zero[:, None, None] * (1.0 + tol)
    worse = (out.objective - 3.0 * se > bound) & (out.status != STATUS.index("diverged"))
    status = np.where(worse, STATUS.index("worse_than_zero"), out.status)
    return out._replace(status=status.astype(out.status.dtype))


def fit(
    grid: Grid,
    X,
    y,
    *,
    task: str,
    n_classes: int | None,
    model,
    solver,
    timings: dict | None = None,
    info: dict | None = None,
    loss=None,
) -> FitOutput:
    """Fit every point of ``grid`` on (S, n, p) designs with the backend each penalty needs.

    Args:
      grid: the grid (its S problems match X's first axis).
      X: (S, n, p) designs. y: (S, n) targets or class indices.
      task: ``regression`` | ``binary`` | ``multiclass``. n_classes: K (classification).
      model: a ``ModelConfig`` (name, fit_intercept, hidden, activation).
      solver: a ``SolverConfig``.
      timings: compile/fit seconds are added to it.
      info: if a dict, each backend that ran records under its name which algorithm it used
        (e.g. ``info["convex"]["algorithm"]``, see ``l1bench.solvers.convex.ALGORITHMS``).
      loss: an :class:`l1bench.losses.Loss` other than the task's own: the optax trainer fits
        every penalty with it (None: the task's own loss, every backend).
    """
    native = loss is None or for_task(task) == loss
    if not native and loss.task != task:
        raise ValueError(f"loss {loss.name!r} is for task={loss.task}, the data's is {task}")
    exact, trained = routes(grid, model, solver)
    if not native:
        exact, trained = [], list(range(len(grid.penalties)))
    for i, pen in enumerate(grid.penalties):
        reason = pen.supports(
            None if model.name == "mlp" else task, "optax" if i in trained else solver.name
        )
        if reason:
            raise ValueError(reason)
    info = {} if info is None else info
    kw = dict(
        task=task, n_classes=n_classes, model=model, solver=solver, timings=timings, info=info
    )
    trained_kw = dict(kw, loss=None if native else loss)
    if model.name == "mlp" and task == "multiclass" and n_classes is None:
        raise ValueError("multiclass needs n_classes")
    parts = []
    if exact:
        parts.append((np.array(exact), _exact(subgrid(grid, exact), X, y, **kw)))
    if trained:
        parts.append((np.array(trained), _trained(subgrid(grid, trained), X, y, **trained_kw)))
    out = parts[0][1] if len(parts) == 1 else _concat(parts)
    fi = model.fit_intercept
    if native:
        zero = zero_objective(y, task=task, n_classes=n_classes, fit_intercept=fi)
    else:
        n_out = n_classes if task == "multiclass" else 1
        zero = np.array([loss.zero_objective(ys, n_out=n_out, fit_intercept=fi) for ys in y])
    return mark_worse_than_zero(out, zero, solver.tol)
