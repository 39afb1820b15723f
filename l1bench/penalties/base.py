r"""The penalty protocol: what a solver may ask of a penalty, and nothing else.

Every penalty l1bench fits with its exact solvers has the composite form

.. math::

   \Omega(w) = \lambda \Big( \alpha\, g(w) + \frac{1 - \alpha}{2} \sum_j d_j w_j^2 \Big)

with strength λ (traced: one compiled call runs a whole path), mix α (``l1_ratio``, traced: the
penalties of one call are a vmapped axis), L2 weights ``d`` (1, or the second moments of the
features for marginalized dropout) and a **gauge** g: a separable, convex, positively
homogeneous function (``|w|`` for the L1 family). The gauge is static: it fixes the proximal
step and the duality-gap formulas, so penalties that share a gauge run in one compiled call and
penalties with different gauges in separate calls of the same job.

A :class:`Gauge` supplies its per-coordinate terms, its dual norm and its proximal step; with
those the solvers compute the penalty's value, its prox (per-coordinate steps included), λ_max
for any loss and the Fenchel duality gap (a conjugate always exists for this form). A
:class:`Penalty` adds its label, mix, weights and what it supports, declared with a reason.
Importing this module imports :mod:`l1bench.runtime` (which turns on ``jax_enable_x64``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from l1bench import runtime  # noqa: F401  (float64: λ_max is computed through the gauge in JAX)

# ridge paths start at lam_max computed as if l1_ratio were this (glmnet's convention for alpha=0)
RIDGE_PATH_L1_RATIO = 1e-3

# the objective kinds a penalty may declare; ``separable``: loss(Xw + b) + Ω(w), solved by
# proximal steps. ``coupled``: the penalty enters the loss itself (adversarial training's
# worst-case loss couples the residual and ‖w‖_*) and has no prox: only the trainer fits it.
OBJECTIVES = ("separable", "coupled")
# how a solver measures optimality for the penalty: a duality gap (a conjugate exists) or the
# distance of -∇loss to the penalty's subdifferential (KKT; nonconvex penalties)
OPTIMALITY = ("duality_gap", "subdifferential")


def soft_threshold(w, threshold):
    """Proximal operator of ``threshold * ||w||_1``: exact zeros where ``|w| <= threshold``."""
    return jnp.sign(w) * jnp.maximum(jnp.abs(w) - threshold, 0.0)


def _max_abs(v):
    return jnp.max(jnp.abs(v))


@dataclass(frozen=True)
class Gauge:
    """The nonsmooth part g of a penalty: separable, convex and positively homogeneous.

    Static in every compiled solver (it is hashable); its functions are pure and elementwise
    where stated, so they apply to a vector, a (p, K) multinomial coefficient matrix or a batch.

    Attributes:
      name: its name in error messages and manifests.
      terms: ``terms(w)``: g_j(w_j) elementwise (``inf`` outside g's domain).
      dual_norm: ``dual_norm(v)``: g°(v) = the smallest t with v ∈ t·∂g(0), over all entries
        (``max |v|`` for L1). ``w = 0`` is optimal exactly when g°(-∇loss(0)) ≤ λα.
      shrink: ``shrink(v, t)``: the prox of t·g at v, t ≥ 0 broadcasting per coordinate
        (soft-thresholding for L1).
    """

    name: str
    terms: Callable
    dual_norm: Callable
    shrink: Callable

    def norm(self, w):
        """g(w) = Σ_j g_j(w_j)."""
        return jnp.sum(self.terms(w))


L1 = Gauge("l1", jnp.abs, _max_abs, soft_threshold)


class Strengths(NamedTuple):
    """How one penalty's strengths are given (one of ``lam`` or ``dropout``, or a path)."""

    lam: Sequence[float] | None = None
    n_lambdas: int = 20
    lambda_min_ratio: float = 1e-3
    dropout: Sequence[float] | None = None


class Path(NamedTuple):
    """One penalty's strengths on S problems.

    ``lam`` (S, L), ``rates`` (L,) dropout rates (NaN for other penalties) and ``lam_max`` (S,)
    (NaN where strengths were given).
    """

    lam: np.ndarray
    rates: np.ndarray
    lam_max: np.ndarray


def _geometric(lam_max: float, n_lambdas: int, ratio: float) -> np.ndarray:
    if n_lambdas == 1:
        return np.array([lam_max])
    return lam_max * np.geomspace(1.0, ratio, n_lambdas)


def zero_model_gradient(X, y, fit_intercept: bool, task: str, n_classes: int | None = None):
    """``-∇loss`` at ``w = 0`` (with the intercept at its optimum): (p,) or (p, K).

    Regression (loss ``||y - Xw - b||²/(2n)``): ``Xᵀ(y - ȳ)/n`` (uncentred without an
    intercept). Classification (mean log-loss): ``Xᵀ(Y - p̂)/n`` with ``Y`` the labels (one
    column for binary, one-hot for K > 2) and ``p̂`` the intercept-only fit: the class
    frequencies with an intercept, else 1/2 or 1/K.
    """
    return _correlation(X, y, fit_intercept, task, n_classes) / np.shape(X)[0]


def _correlation(X, y, fit_intercept, task, n_classes):
    """The gradient of :func:`zero_model_gradient` times n."""
    X = np.asarray(X, dtype=float)
    if task == "regression":
        y = np.asarray(y, dtype=float)
        if fit_intercept:
            X = X - X.mean(axis=0)
            y = y - y.mean()
        return y @ X
    y = np.asarray(y).astype(int)
    k = 2 if task == "binary" else int(n_classes if n_classes is not None else y.max() + 1)
    Y = y[:, None].astype(float) if k == 2 else np.eye(k)[y]
    prior = Y.mean(axis=0) if fit_intercept else np.full(Y.shape[1], 0.5 if k == 2 else 1.0 / k)
    return ((Y - prior).T @ X).T


@dataclass(frozen=True)
class Penalty:
    """A penalty as every solver sees it: the composite form above, one gauge, its support.

    Attributes:
      label: the name in the tables (the config key, e.g. ``"l1"``).
      kind: the registered name of the penalty (``l1``, ``elastic_net``, ...; a user's own).
      l1_ratio: α, the share of λ on the gauge.
      dropout_weighted: the L2 part uses d_j = mean_i x_ij² (marginalized dropout).
      stochastic: dropout by Bernoulli masks during training (optax trainer); λ is then 0 and
        the strengths are the rates.
      gauge: the nonsmooth part g (static in the compiled solvers).
      objective: ``separable`` | ``coupled`` (:data:`OBJECTIVES`).
      optimality: ``duality_gap`` | ``subdifferential`` (:data:`OPTIMALITY`).
      unsupported: ``((where, reason), ...)``: tasks (``regression``, ``binary``,
        ``multiclass``) or solvers (``convex``, ``working_set``, ``sklearn``, ``optax``) that
        cannot fit it, each with the reason shown to the user.
    """

    label: str
    kind: str
    l1_ratio: float = 1.0
    dropout_weighted: bool = False
    stochastic: bool = False
    gauge: Gauge = L1
    objective: str = "separable"
    optimality: str = "duality_gap"
    unsupported: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self):
        """Check ``l1_ratio``, ``objective`` and ``optimality`` against their allowed values."""
        if not 0.0 <= self.l1_ratio <= 1.0:
            raise ValueError(f"penalty {self.label!r}: l1_ratio={self.l1_ratio!r} is not in [0, 1]")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"penalty {self.label!r}: objective must be one of {OBJECTIVES}")
        if self.optimality not in OPTIMALITY:
            raise ValueError(f"penalty {self.label!r}: optimality must be one of {OPTIMALITY}")

    def split(self, lam):
        """``(μ, κ) = (λα, λ(1 - α))``: the gauge's and the ridge's weights at strength λ."""
        return lam * self.l1_ratio, lam * (1.0 - self.l1_ratio)

    def value(self, w, lam, d=1.0):
        """Ω(w) at strength ``lam`` with L2 weights ``d`` (broadcast against ``w``)."""
        mu, kappa = self.split(lam)
        return mu * self.gauge.norm(w) + 0.5 * kappa * jnp.sum(d * w * w)

    def prox(self, z, step, lam, d=1.0):
        """argmin_x ½ Σ_j (x_j - z_j)² / step_j + Ω(x): ``step`` a scalar or per coordinate."""
        mu, kappa = self.split(lam)
        return self.gauge.shrink(z, step * mu) / (1.0 + step * kappa * d)

    def step_bound(self, lam):
        """The largest step for which :meth:`prox` is the proximal operator (convex: ∞)."""
        del lam
        return jnp.inf

    def lam_max(self, X, y, fit_intercept: bool, task: str = "regression", n_classes=None):
        """Smallest λ with ``w = 0`` optimal: ``g°(-∇loss(0)) / α`` (α floored at 1e-3)."""
        corr = _correlation(X, y, fit_intercept, task, n_classes)
        scale = float(np.asarray(self.gauge.dual_norm(jnp.asarray(corr))))
        return scale / (np.shape(X)[0] * max(self.l1_ratio, RIDGE_PATH_L1_RATIO))

    def path(self, st: Strengths, X, y, *, fit_intercept, task, n_classes) -> Path:
        """Strengths on S problems (X (S, n, p), y (S, n)).

        Explicit ones sorted from strongest to weakest, else ``n_lambdas`` geometric values from
        each problem's λ_max down.
        """
        S = X.shape[0]
        if st.lam is not None:
            lam = np.sort(np.asarray(st.lam, dtype=float))[::-1]
            return Path(np.broadcast_to(lam, (S, lam.size)), np.full(lam.size, np.nan), _nans(S))
        lmax = np.array(
            [self.lam_max(X[s], y[s], fit_intercept, task, n_classes) for s in range(S)]
        )
        lam = np.stack([_geometric(m, st.n_lambdas, st.lambda_min_ratio) for m in lmax])
        return Path(lam, np.full(st.n_lambdas, np.nan), lmax)

    def supports(self, task: str | None = None, solver: str | None = None) -> str | None:
        """Why this penalty cannot be fitted for ``task`` by ``solver``; None where it can."""
        reasons = dict(self.unsupported)
        for where in (task, solver):
            if where in reasons:
                return f"penalty {self.label!r} ({self.kind}): {reasons[where]}"
        return None


def _nans(S: int) -> np.ndarray:
    return np.full(S, np.nan)


def dropout_to_lam(rate):
    """Strength λ = p / (1 - p) of the weighted ridge equivalent to input dropout with rate p."""
    return rate / (1.0 - rate)


# the solvers whose kernels are written for the L1 gauge alone (they soft-threshold and take
# max |·| directly); a penalty with another gauge declares them unsupported with this reason
L1_ONLY = ("working_set", "sklearn", "optax")
L1_ONLY_REASON = "its gauge is not L1, and this solver's kernels are written for the L1 gauge"


def other_gauge_unsupported() -> tuple[tuple[str, str], ...]:
    """The ``unsupported`` pairs of a penalty whose gauge is not L1.

    solver=convex fits it: FISTA for linear regression (``gram``, ``design``, ``gram_ws``) and
    the logistic solver for classifiers.
    """
    return tuple((where, L1_ONLY_REASON) for where in L1_ONLY)
