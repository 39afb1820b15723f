"""``l1bench.fit``: the grid and the fitting backends without Hydra, on arrays as given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from l1bench import progress
from l1bench.config import (
    MODELS,
    PRECISIONS,
    SOLVERS,
    Config,
    ConfigError,
    ModelConfig,
    PenaltyConfig,
    SolverConfig,
    check_combinations,
    check_penalty,
    choice,
    penalty_of,
    positive,
)
from l1bench.grid import Strengths, make_grid
from l1bench.solvers import backends
from l1bench.vocab import STATUS


class FitResult(NamedTuple):
    """One fit per strength, strongest first.

    Attributes:
      coef: (L, p) coefficients — (L, p, K) for K-class logistic regression; exact zeros where
        the L1 part zeroes a feature. None for MLPs (see ``params``).
      intercept: (L,) — (L, K) for K classes. None for MLPs.
      lam: (L,) strengths λ. dropout: (L,) dropout rates (NaN unless dropout).
      objective: (L,) the objective at the solution (for stochastic dropout its expectation
        under dropout; see ``objective_se``). gap: (L,) its duality gap (exact solvers)
        or relative KKT measure (optax).
      rel_gap: (L,) the quantity compared with ``tol``.
      n_iter: (L,) iterations. status: (L,) ``converged`` | ``max_iter`` | ``diverged`` |
        ``worse_than_zero`` (the objective is above the zero model's: weights 0, intercept fitted).
      params: the fitted models (:mod:`l1bench.models` layers, leading axis L).
      classes: the original class labels in index order (classification), else None.
      objective_se: (L,) the standard error of ``objective`` where it is a Monte-Carlo estimate
        (stochastic dropout without a marginalized form), else 0.
    """

    coef: np.ndarray | None
    intercept: np.ndarray | None
    lam: np.ndarray
    dropout: np.ndarray
    objective: np.ndarray
    gap: np.ndarray
    rel_gap: np.ndarray
    n_iter: np.ndarray
    status: tuple[str, ...]
    params: Any = None
    classes: tuple | None = None
    objective_se: np.ndarray | None = None


def _as_x(X) -> np.ndarray:
    if np.iscomplexobj(X):
        raise ValueError("X is complex; l1bench fits real data")
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"X must be a numeric array: {err}") from None
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"X is empty (shape {X.shape}): it has 0 rows; at least 2 are needed")
    if X.shape[0] < 2:
        raise ValueError(f"X has {X.shape[0]} row(s); at least 2 are needed")
    if X.shape[1] == 0:
        raise ValueError(f"X is empty (shape {X.shape}): it has no feature columns")
    bad = X.size - np.count_nonzero(np.isfinite(X))
    if bad:
        raise ValueError(f"X has {bad} NaN or infinite entries; l1bench fits finite data")
    return X


def _float_target(y) -> bool:
    """Whether ``y`` holds floating-point numbers.

    That is a float dtype (bfloat16 and the other ml_dtypes included) or an object array of
    floats only.
    """
    y = np.asarray(y)
    if y.dtype == object:
        return y.size > 0 and all(isinstance(v, (float, np.floating)) for v in y.flat)
    return bool(jax.numpy.issubdtype(y.dtype, jax.numpy.floating))


def _as_y(y, n: int, classification: bool, model: str):
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"y must be 1-D with {n} entries (rows of X), got {y.shape}")
    if not classification:
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError("y must be numeric for regression") from None
        if not np.all(np.isfinite(y)):
            raise ValueError("y has NaN or infinite entries; l1bench fits finite data")
        return y, None
    if np.issubdtype(y.dtype, np.floating) or np.issubdtype(y.dtype, np.complexfloating):
        if not np.all(np.isfinite(y)):
            raise ValueError("y has NaN or infinite labels; give one class label per sample")
        if np.any(y != np.round(y.real)):
            raise ValueError(
                "y holds non-integer numbers (continuous targets): classification needs class "
                "labels (integers, strings or booleans); use model=linear for regression"
            )
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        hint = (
            "; model=mlp reads a y of integers, strings or booleans as class labels (give "
            "floats for regression)"
            if model == "mlp"
            else ""
        )
        raise ValueError(
            f"classification needs at least 2 classes in y, got {classes.tolist()}{hint}"
        )
    return codes.astype(np.int64), tuple(classes.tolist())


def fit(
    X,
    y,
    *,
    model: str = "linear",
    penalty: str = "l1",
    lam: Sequence[float] | float | None = None,
    l1_ratio: float | None = None,
    dropout: Sequence[float] | float | None = None,
    dropout_mode: str = "auto",
    n_lambdas: int = 20,
    lambda_min_ratio: float = 1e-3,
    solver: str | None = None,
    tol: float | None = None,
    max_iter: int = 20000,
    fit_intercept: bool = True,
    precision: str = "float64",
    algorithm: str = "auto",
    hidden: Sequence[int] = (),
    activation: str = "relu",
    optimizer: str = "prox_grad",
    learning_rate: float = 1e-2,
    lr_schedule: str = "constant",
    steps: int = 1000,
    batch_size: int | None = None,
    seed: int = 0,
) -> FitResult:
    """Fit a penalized model along a path of strengths in one compiled call.

    The linear objective is scikit-learn's ElasticNet one (``lam`` is sklearn's ``alpha``)::

        1/(2n) ||y - Xw - b||² + lam * (l1_ratio * ||w||_1 + (1 - l1_ratio)/2 * ||w||²)

    with ``l1_ratio`` = 1 for ``penalty="l1"`` and 0 for ``"l2"``; ``model="logistic"`` puts the
    mean log-loss (binary, or multinomial for K > 2 classes; labels as given, e.g. strings) in
    place of the squared error, and ``model="mlp"`` trains a multilayer perceptron with the penalty
    on every layer's weights. ``penalty="dropout"`` with ``dropout_mode="marginalized"`` (linear
    regression) minimizes the exact expected loss under inverted input dropout with rate p,
    ``1/(2n) ||y - Xw - b||² + (1/2) p/(1-p) Σ_j w_j² mean_i x_ij²``; ``"stochastic"`` trains with
    Bernoulli masks (optax); ``"auto"`` picks marginalized where it is exact. X and y are used as
    given (no standardization). The model decides the task: ``linear`` is regression and
    ``logistic`` classification; ``mlp`` regresses a floating-point y (any float dtype, also
    when every value is integral or constant) and classifies any other y (integers, strings,
    booleans) as class labels.

    Args:
      X: (n_samples, n_features) design, at least 2 rows (as the CLI's datasets).
      y: (n_samples,) targets or class labels.
      model: ``linear`` | ``logistic`` | ``mlp``.
      penalty: ``none`` | ``l1`` | ``l2`` | ``elastic_net`` | ``dropout``.
      lam: strengths; if None, a path of ``n_lambdas`` values from lam_max down to
        ``lam_max * lambda_min_ratio``.
      l1_ratio: mix α for ``elastic_net`` (default 0.5).
      dropout: rate(s) p in [0, 1) for ``penalty="dropout"``.
      dropout_mode: ``auto`` | ``marginalized`` | ``stochastic``.
      solver: ``convex`` (exact; default for linear and logistic) | ``optax`` (default for mlp)
        | ``sklearn`` (scikit-learn reference).
      tol: exact solvers stop when the duality gap is at most ``tol · P(0)`` (default 1e-8); the
        optax trainer when its relative KKT measure is at most ``tol`` (default 1e-6).
      max_iter: iteration cap per strength (exact solvers).
      fit_intercept: fit an unpenalized intercept.
      precision: ``float64`` | ``float32``.
      algorithm: the convex solver's algorithm for linear models: ``auto`` (by regime; the
        default) | ``gram`` | ``design`` | ``working_set`` (``l1bench.solvers.convex.ALGORITHMS``).
      n_lambdas: number of strengths on the path when ``lam`` is None.
      lambda_min_ratio: the path's weakest strength as a fraction of lam_max.
      hidden: MLP hidden layer widths.
      activation: MLP nonlinearity: ``relu`` | ``tanh`` | ``gelu`` | ``sigmoid``.
      optimizer: the optax trainer's optimizer: ``prox_grad`` (the default: proximal gradient
        with a backtracking step starting at ``learning_rate``) | ``sgd`` | ``adam`` (fixed
        steps; see ``l1bench.solvers.trainer.train_grid``).
      learning_rate: the optax trainer's step (``prox_grad``: its first trial step).
      lr_schedule: ``constant`` | ``cosine``.
      steps: the optax trainer's number of steps.
      batch_size: the optax trainer's minibatch size (None: full batch).
      seed: seed of the trainer's random streams (init, minibatches, dropout masks).

    Returns:
      A :class:`FitResult`, one row per strength from strongest to weakest.

    Examples:
      >>> res = l1bench.fit(X, y, penalty="l1", lam=[1.0, 0.1])
      >>> res.coef.shape  # (2, n_features)
    """
    try:
        choice("model", model, MODELS)
        choice("precision", precision, PRECISIONS)
        if solver is None:
            solver = "optax" if model == "mlp" else "convex"
        choice("solver", solver, SOLVERS)
        if tol is None:
            tol = 1e-6 if solver == "optax" else 1e-8
        positive("tol", tol)
        if (
            isinstance(max_iter, bool)
            or not isinstance(max_iter, (int, np.integer))
            or max_iter < 1
        ):
            raise ConfigError(f"max_iter={max_iter!r} must be an integer >= 1")
        if not isinstance(fit_intercept, (bool, np.bool_)):
            raise ConfigError(f"fit_intercept={fit_intercept!r} must be True or False")
        if lam is not None and np.ndim(lam) > 1:
            raise ConfigError(
                f"lam must be a number or a 1-D list of numbers, got shape {np.shape(lam)}"
            )
        pen_cfg = PenaltyConfig(
            kind=penalty,
            l1_ratio=(0.5 if l1_ratio is None else l1_ratio)
            if penalty == "elastic_net"
            else l1_ratio,
            lam=None if lam is None else [float(v) for v in np.atleast_1d(lam)],
            n_lambdas=n_lambdas,
            lambda_min_ratio=lambda_min_ratio,
            dropout=None if dropout is None else [float(v) for v in np.atleast_1d(dropout)],
            dropout_mode=dropout_mode,
        )
        check_penalty("penalty", pen_cfg)
        solver_cfg = SolverConfig(
            name=solver,
            tol=tol,
            max_iter=max_iter,
            precision=precision,
            algorithm=algorithm,
            optimizer=optimizer,
            learning_rate=learning_rate,
            lr_schedule=lr_schedule,
            steps=steps,
            batch_size=batch_size,
        )
        model_cfg = ModelConfig(
            name=model, fit_intercept=fit_intercept, hidden=list(hidden), activation=activation
        )
        check_combinations(
            Config(
                seed=seed,
                cv_folds=0,
                penalty={"penalty": pen_cfg},
                model=model_cfg,
                solver=solver_cfg,
            )
        )
    except ConfigError as err:
        msg = str(err).replace("penalty.penalty.kind", "penalty")
        raise ValueError(msg.replace("penalty.penalty.", "")) from None
    X = _as_x(X)
    classification = model == "logistic" or (model == "mlp" and not _float_target(y))
    y, classes = _as_y(y, X.shape[0], classification, model)
    task = "regression" if classes is None else ("binary" if len(classes) == 2 else "multiclass")
    n_classes = None if classes is None else len(classes)
    pen = penalty_of(penalty, pen_cfg)
    strengths = Strengths(pen_cfg.lam, n_lambdas, lambda_min_ratio, pen_cfg.dropout)
    grid = make_grid(
        [pen],
        [strengths],
        X[None],
        y[None],
        [seed],
        fit_intercept=fit_intercept,
        task=task,
        n_classes=n_classes,
    )
    with progress.Stage(f"l1bench.fit: {penalty}, {grid.lam.shape[-1]} strengths"):
        out = backends.fit(
            grid,
            X[None],
            y[None],
            task=task,
            n_classes=n_classes,
            model=model_cfg,
            solver=solver_cfg,
        )
    keep = grid.valid[0]
    take = lambda a: np.asarray(a)[0, 0][keep]
    params = jax.tree_util.tree_map(take, out.params)
    coef = intercept = None
    if len(params) == 1:
        w, b = params[0]["w"], params[0]["b"]
        coef, intercept = (w[..., 0], b[..., 0]) if w.shape[-1] == 1 else (w, b)
    return FitResult(
        coef=coef,
        intercept=intercept,
        lam=grid.lam[0, 0][keep],
        dropout=grid.dropout[0][keep],
        objective=take(out.objective),
        gap=take(out.gap),
        rel_gap=take(out.rel_gap),
        n_iter=take(out.n_iter),
        status=tuple(STATUS[s] for s in take(out.status)),
        params=params,
        classes=classes,
        objective_se=take(out.objective_se),
    )
