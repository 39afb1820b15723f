"""Dispatch a grid to the backend that fits each penalty, and return one uniform result.

=========================  ==============================================================
model × solver             backend
=========================  ==============================================================
linear × convex            :mod:`l1bench.fit.convex` (FISTA, duality gap)
logistic × convex          :mod:`l1bench.fit.logistic` (FISTA, duality gap)
linear/logistic × sklearn  :mod:`l1bench.fit.reference` (scikit-learn, gap certified here)
any × optax, mlp           :mod:`l1bench.fit.trainer` (optax, prox-L1, stochastic dropout)
=========================  ==============================================================

Penalties with stochastic dropout always go to the optax trainer, so one job can compare exact
L1/L2/elastic-net fits with trained dropout fits. Each backend runs its part of the grid as one
compiled call; the parts are put back together along the penalty axis.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from l1bench.grid import Grid, subgrid


class FitOutput(NamedTuple):
    """Fits of a grid, leading axes (S, P, L), whichever backend produced them.

    Attributes:
      params: :mod:`l1bench.models` layers, leaves with leading axes (S, P, L).
      objective: (S, P, L). gap: (S, P, L) duality gap (exact backends) or the trainer's relative
        KKT measure. rel_gap: (S, P, L) the stopping measure. n_iter, status: (S, P, L).
      solver: (P,) the backend of each penalty (``convex``, ``sklearn`` or ``optax``).
    """

    params: Any
    objective: np.ndarray
    gap: np.ndarray
    rel_gap: np.ndarray
    n_iter: np.ndarray
    status: np.ndarray
    solver: tuple[str, ...]


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
        from l1bench.fit import reference

        out = reference.solve(grid, X, y, task=task, n_classes=n_classes, **kw)
        info["sklearn"] = {"algorithm": "scikit-learn enet_path / Ridge / LogisticRegression"}
    elif task == "regression":
        from l1bench.fit import convex

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
        from l1bench.fit import logistic

        out = logistic.solve(
            grid,
            X,
            y,
            n_classes=n_classes,
            check_every=solver.check_every,
            precision=solver.precision,
            **kw,
        )
        info["convex"] = {"algorithm": "logistic FISTA (l1bench.fit.logistic)"}
    params = _linear_params(out.coef, out.intercept, task == "multiclass")
    return FitOutput(
        params,
        out.objective,
        out.gap,
        out.rel_gap,
        out.n_iter,
        out.status,
        (solver.name,) * len(grid.penalties),
    )


def _trained(grid: Grid, X, y, *, task, n_classes, model, solver, timings, info) -> FitOutput:
    from l1bench.fit import trainer

    info["optax"] = {"algorithm": f"optax {solver.optimizer} training (l1bench.fit.trainer)"}

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
    )
    return FitOutput(
        out.params,
        out.objective,
        out.kkt,
        out.kkt,
        out.n_iter,
        out.status,
        ("optax",) * len(grid.penalties),
    )


def _concat(parts: list[tuple[np.ndarray, FitOutput]]) -> FitOutput:
    """Put per-backend outputs back in the grid's penalty order (axis 1)."""
    import jax

    order = np.argsort(np.concatenate([idx for idx, _ in parts]))
    outs = [o for _, o in parts]

    def cat(*leaves):
        return np.concatenate(leaves, axis=1)[:, order]

    params = jax.tree_util.tree_map(cat, *[o.params for o in outs])
    arrays = [
        cat(*[getattr(o, f) for o in outs])
        for f in ("objective", "gap", "rel_gap", "n_iter", "status")
    ]
    solvers = sum((o.solver for o in outs), ())
    return FitOutput(params, *arrays, tuple(solvers[i] for i in order))


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
        (e.g. ``info["convex"]["algorithm"]``, see ``l1bench.fit.convex.ALGORITHMS``).
    """
    exact, trained = routes(grid, model, solver)
    info = {} if info is None else info
    kw = dict(
        task=task, n_classes=n_classes, model=model, solver=solver, timings=timings, info=info
    )
    if model.name == "mlp" and task == "multiclass" and n_classes is None:
        raise ValueError("multiclass needs n_classes")
    parts = []
    if exact:
        parts.append((np.array(exact), _exact(subgrid(grid, exact), X, y, **kw)))
    if trained:
        parts.append((np.array(trained), _trained(subgrid(grid, trained), X, y, **kw)))
    if len(parts) == 1:
        return parts[0][1]
    return _concat(parts)
