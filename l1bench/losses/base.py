"""The loss (datafit) protocol: what a solver may ask of a loss.

A loss is the mean over n examples of a per-example loss ℓ(o, t) of the model's outputs o (m of
them: 1 for regression and binary classification, K for multinomial) against the encoded target
t (:meth:`Loss.encode`: the value, the 0/1 label, or a one-hot row). It supplies

* ``example(o, t)``: ℓ for one example (o, t of shape (m,));
* ``value_and_grad(Z, T)``: ℓ and ∂ℓ/∂o for many examples at once, outputs on axis -2 and
  examples on axis -1 (Z (..., m, n), T (m, n)): the form the trainer's stacked path runs;
* ``curvature``: a bound on the largest eigenvalue of ∇²_o ℓ over all o (1 for the squared
  loss, 1/4 logistic, 1/2 multinomial): proximal-gradient steps ``1 / (curvature · ||X||²)`` are
  safe;
* ``conjugate(u, t)``: ℓ*(u) = sup_o ⟨u, o⟩ - ℓ(o, t) for one example (``inf`` outside its
  domain), for Fenchel duality gaps: ℓ(o) + ℓ*(u) - ⟨u, o⟩ ≥ 0, with equality at u = ∂ℓ/∂o;
* ``zero_intercept(T, fit_intercept)``: the best constant output (the zero model's intercept,
  where fits start), and :meth:`Loss.zero_objective`, the zero model's mean loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from l1bench import runtime  # noqa: F401  (float64 before any loss is traced)


@dataclass(frozen=True)
class Loss:
    """A registered loss (see the module docstring for each function's contract).

    Attributes:
      name: its registry key (``squared``, ``logistic``, ``multinomial``, ...).
      task: the task it serves: ``regression`` | ``binary`` | ``multiclass``.
      encode: ``encode(y, n_out, dtype) -> T`` (n_out, n) targets from (n,) targets or labels.
      example: ``example(o, t)``: ℓ of one example.
      value_and_grad: ``value_and_grad(Z, T) -> (ℓ (..., n), ∂ℓ/∂o (..., m, n))``.
      curvature: sup over o of the largest eigenvalue of ∇²_o ℓ.
      conjugate: ``conjugate(u, t)``: ℓ*(u) for one example.
      zero_intercept: ``zero_intercept(T, fit_intercept) -> (m,)`` the best constant output
        (zeros without an intercept).
    """

    name: str
    task: str
    encode: Callable
    example: Callable
    value_and_grad: Callable
    curvature: float
    conjugate: Callable
    zero_intercept: Callable

    def value(self, Z, T):
        """The mean loss of outputs Z (..., m, n) against T (m, n)."""
        return jnp.mean(self.value_and_grad(Z, T)[0], axis=-1)

    def zero_objective(self, y, *, n_out: int, fit_intercept: bool) -> float:
        """The zero model's mean loss: every weight 0, the output the best constant."""
        T = self.encode(np.asarray(y), n_out)
        b = np.asarray(self.zero_intercept(T, fit_intercept))
        Z = np.broadcast_to(b[:, None], T.shape)
        return float(self.value(jnp.asarray(Z), jnp.asarray(T)))


def one_hot(y, n_out: int, dtype=jnp.float64):
    """(n_out, n) one-hot rows of integer labels y (n,) (numpy in, numpy out; traceable)."""
    xp = np if isinstance(y, np.ndarray) else jnp
    return (y[None, :] == xp.arange(n_out)[:, None]).astype(dtype)


def column(y, n_out: int, dtype=jnp.float64):
    """(1, n) targets as one row (numpy in, numpy out; traceable)."""
    del n_out
    return y[None, :].astype(dtype)


def fenchel_young(loss: Loss, o, t, u):
    """ℓ(o, t) + ℓ*(u, t) - ⟨u, o⟩ for one example: ≥ 0, and 0 exactly at u = ∂ℓ/∂o."""
    return loss.example(o, t) + loss.conjugate(u, t) - jnp.dot(u, o)


def output_gradient(loss: Loss, o, t):
    """∂ℓ/∂o of one example by :attr:`Loss.value_and_grad` (o, t of shape (m,))."""
    return loss.value_and_grad(o[:, None], t[:, None])[1][:, 0]


def example_hessian(loss: Loss, o, t):
    """∇²_o ℓ of one example, by automatic differentiation of :attr:`Loss.example`."""
    return jax.hessian(loss.example)(o, t)
