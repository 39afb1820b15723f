"""One float64 evaluator: objective and duality gap of ANY linear / logistic solution.

Benchmarks compare solvers at the same certified quality, so every solution — l1bench's own, one
from scikit-learn, one from anywhere else — is scored here by the very formulas l1bench's exact
solvers stop on: :func:`l1bench.solvers.gaps.objective_and_gap` for linear regression and
the one of :mod:`l1bench.solvers.logistic` for binary / multinomial logistic regression (and
their ``_prepare``), so ``certify(solution of convex.solve)`` reproduces ``ConvexResult.gap`` to
rounding. Everything is computed in float64, whatever the precision of the solution.

**Intercepts.**

* Linear: the convex solver eliminates the intercept by centring, so its objective and gap are
  defined at the optimal intercept given ``w``, ``b*(w) = ȳ - x̄ᵀw``. The certificate does the
  same: ``objective``, ``gap`` and ``rel_gap`` are those of ``(w, b*(w))`` whatever intercept is
  given, and ``intercept_error = |b - b*(w)|`` says how far the given one is from it. As the
  centred residual is orthogonal to the constant, the objective at the given pair is exactly
  ``objective + intercept_error² / 2``, and ``gap + intercept_error² / 2`` is a valid duality gap
  for ``(w, b)`` itself (the centred dual point is feasible for the problem with an intercept).
* Logistic: the solver's gap is defined for any ``(W, b)`` (its dual point is first made
  feasible for the intercept constraint), so the given intercept is used as is;
  ``intercept_error`` is the largest entry of the gradient of the objective in ``b``, zero iff
  ``b`` is optimal given ``W``.
* Without an intercept the problem has no ``b``: it is ignored (taken as 0) and
  ``intercept_error = max |b|``.

``rel_gap`` is the solvers' stopping measure: ``gap / P(0)``, with ``P(0)`` the objective at
``w = 0`` (and the optimal intercept); when λ = 0 the gap is the largest entry of the gradient (a
KKT violation) and ``rel_gap`` that over its value at ``w = 0``.

Both functions are batched: ``coef`` may carry any leading axes (e.g. (P, L) of a grid), over
which ``intercept``, ``lam``, ``l1_ratio`` (and ``d``) broadcast; the batch is one ``vmap`` in one
jit-compiled call per design shape.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from l1bench.solvers import gaps, logistic

__all__ = ["Certificate", "certify_linear", "certify_logistic"]


class Certificate(NamedTuple):
    """The certified quality of a batch of solutions; every field has the batch's shape.

    Attributes:
      objective: primal objective (linear: at the optimal intercept given ``w``).
      gap: duality gap, absolute (KKT violation ``max |∇|`` when λ = 0); ≥ 0 up to rounding.
      rel_gap: ``gap / P(0)`` (when λ = 0: over the KKT violation at ``w = 0``).
      intercept_error: linear: ``|b - b*(w)|``; logistic: ``max_k |∂P/∂b_k|`` at the given
        ``(W, b)``; without an intercept: ``max |b|``.
    """

    objective: np.ndarray
    gap: np.ndarray
    rel_gap: np.ndarray
    intercept_error: np.ndarray


@partial(jax.jit, static_argnames=("fit_intercept", "use_gram"))
def _certify_linear(X, y, W, b, lam, l1_ratio, d, *, fit_intercept, use_gram):
    prob = gaps.prepare(X, y, fit_intercept, use_gram, bounds=False)
    kkt0 = gaps.kkt0(prob, use_gram)

    def one(w, b, lam, l1_ratio, d):
        mu, kappa = lam * l1_ratio, lam * (1.0 - l1_ratio)
        objective, gap, rel_gap = gaps.certificate(prob, w, mu, kappa, d, kkt0, use_gram)
        b_opt = prob.y_mean - w @ prob.x_mean  # 0 without an intercept
        return objective, gap, rel_gap, jnp.abs(b - b_opt)

    return jax.vmap(one)(W, b, lam, l1_ratio, d)


@partial(jax.jit, static_argnames=("n_classes", "fit_intercept"))
def _certify_logistic(X, y, W, b, lam, l1_ratio, *, n_classes, fit_intercept):
    binary = n_classes == 2
    prob = logistic.prepare(X, y, n_classes, fit_intercept)

    def one(W, b, lam, l1_ratio):
        mu, kappa = lam * l1_ratio, lam * (1.0 - l1_ratio)
        if fit_intercept:
            b_c, b_error = b + W @ prob.x_mean, jnp.zeros(())  # intercept for the centred X
        else:
            b_c, b_error = jnp.zeros_like(b), jnp.max(jnp.abs(b))
        objective, gap = logistic.objective_and_gap(prob, W, b_c, mu, kappa, binary, fit_intercept)
        if fit_intercept:
            Q = logistic.probs(logistic.logits(prob, W, b_c), binary)
            b_error = jnp.max(jnp.abs(jnp.mean(Q - prob.Y, axis=0)))
        rel_gap = gap / gaps.gap_scale((mu == 0) & (kappa == 0), prob.kkt0, prob.p0)
        return objective, gap, rel_gap, b_error

    return jax.vmap(one)(W, b, lam, l1_ratio)


def _batch(coef, n_trailing, *others):
    """Batch shape of ``coef`` and the other arguments broadcast to it, flattened."""
    batch = coef.shape[: coef.ndim - n_trailing]
    flat = [np.broadcast_to(np.asarray(a, np.float64), batch).reshape(-1) for a in others]
    return batch, coef.reshape((-1, *coef.shape[coef.ndim - n_trailing :])), flat


def certify_linear(
    X,
    y,
    coef,
    intercept,
    lam,
    l1_ratio,
    d=None,
    fit_intercept: bool = True,
    *,
    use_gram: bool | None = None,
) -> Certificate:
    """Objective and duality gap of linear-regression solutions, by :mod:`l1bench.solvers.gaps`.

    The problem (scikit-learn's ElasticNet objective with L2 weights ``d``):

    .. math::

       \\frac{1}{2n} \\|y - Xw - b\\|_2^2
         + \\lambda \\Big( \\alpha \\|w\\|_1 + \\frac{1-\\alpha}{2} \\sum_j d_j w_j^2 \\Big)

    Objective and gap are those at the optimal intercept given ``w`` (see the module docstring);
    ``intercept_error`` is ``|b - (ȳ - x̄ᵀw)|``.

    Args:
      X: (n, p) design. y: (n,) targets.
      coef: (..., p) coefficients, any leading batch axes.
      intercept: intercepts, broadcastable to the batch shape ``coef.shape[:-1]``.
      lam: λ, broadcastable to the batch shape. l1_ratio: α, likewise.
      d: L2 weights, broadcastable to (..., p); ``None`` for ones (marginalized dropout:
        ``d_j = mean_i X_ij²`` of the raw X, see :func:`dropout_weights`).
      fit_intercept: whether the problem has an unpenalized intercept.
      use_gram: evaluate through ``XᵀX`` (as ``convex.solve`` does when ``p <= n``, the default)
        or through ``X``.

    Returns:
      A :class:`Certificate` of numpy float64 arrays with the batch shape.
    """
    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.float64)
    coef = np.asarray(coef, np.float64)
    n, p = X.shape
    if coef.shape[-1:] != (p,):
        raise ValueError(f"coef must have shape (..., {p}), got {coef.shape}")
    batch, W, (b, lam, l1_ratio) = _batch(coef, 1, intercept, lam, l1_ratio)
    d = np.ones(p) if d is None else np.asarray(d, np.float64)
    d = np.broadcast_to(d, (*batch, p)).reshape(-1, p)
    use_gram = p <= n if use_gram is None else bool(use_gram)
    out = _certify_linear(
        X, y, W, b, lam, l1_ratio, d, fit_intercept=bool(fit_intercept), use_gram=use_gram
    )
    return Certificate(*(np.asarray(a).reshape(batch) for a in out))


def certify_logistic(
    X,
    y,
    coef,
    intercept,
    lam,
    l1_ratio,
    n_classes: int,
    fit_intercept: bool = True,
) -> Certificate:
    """Objective and duality gap of logistic-regression solutions, by :mod:`.logistic`.

    The problem (scikit-learn's ``LogisticRegression`` objective divided by ``n · C``):

    .. math::

       \\frac{1}{n} \\sum_i \\ell(y_i, W^\\top x_i + b)
         + \\lambda \\Big( \\alpha \\|W\\|_1 + \\frac{1-\\alpha}{2} \\|W\\|_F^2 \\Big)

    Args:
      X: (n, p) design. y: (n,) integer labels in ``0..n_classes-1``.
      coef: (..., p) for binary, (..., p, K) for multinomial (``n_classes = K >= 3``).
      intercept: broadcastable to (...) for binary, to (..., K) for multinomial.
      lam: λ, broadcastable to the batch shape. l1_ratio: α, likewise.
      n_classes: 2 for binary, K >= 3 for multinomial (the full K-column parametrization).
      fit_intercept: whether the problem has an unpenalized intercept.

    Returns:
      A :class:`Certificate` of numpy float64 arrays with the batch shape.
    """
    n_classes = int(n_classes)
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    X = np.asarray(X, np.float64)
    y = np.asarray(y)
    if y.size and (np.any(y != np.round(y)) or y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"y must hold integer labels in 0..{n_classes - 1}")
    coef = np.asarray(coef, np.float64)
    p = X.shape[1]
    binary = n_classes == 2
    trailing = (p,) if binary else (p, n_classes)
    if coef.shape[-len(trailing) :] != trailing:
        raise ValueError(
            f"coef must have shape (..., {', '.join(map(str, trailing))}), got {coef.shape}"
        )
    batch, W, (lam, l1_ratio) = _batch(coef, len(trailing), lam, l1_ratio)
    k = 1 if binary else n_classes
    b = np.broadcast_to(np.asarray(intercept, np.float64), (*batch, *trailing[1:]))
    b = b.reshape(-1, k)
    W = W[:, None, :] if binary else np.swapaxes(W, -1, -2)  # (B, K', p) as the solver stores it
    out = _certify_logistic(
        X,
        y.astype(np.int32),
        W,
        b,
        lam,
        l1_ratio,
        n_classes=n_classes,
        fit_intercept=bool(fit_intercept),
    )
    return Certificate(*(np.asarray(a).reshape(batch) for a in out))


def dropout_weights(X) -> np.ndarray:
    """L2 weights of marginalized dropout, ``d_j = mean_i X_ij²`` of the raw X; (..., p)."""
    X = np.asarray(X, np.float64)
    return np.mean(X * X, axis=-2)
