"""The squared loss ℓ(o, y) = ½ (o - y)² (linear regression; scikit-learn's Lasso/ElasticNet)."""

import numpy as np

from l1bench.losses.base import Loss, column


def _example(o, t):
    return 0.5 * (t[0] - o[0]) ** 2


def _value_and_grad(Z, T):
    r = Z - T
    return 0.5 * r[..., 0, :] ** 2, r


def _conjugate(u, t):
    return 0.5 * u[0] ** 2 + u[0] * t[0]


def _zero_intercept(T, fit_intercept):
    return np.array([T[0].mean()]) if fit_intercept else np.zeros(1)


LOSS = Loss(
    name="squared",
    task="regression",
    encode=column,
    example=_example,
    value_and_grad=_value_and_grad,
    curvature=1.0,
    conjugate=_conjugate,
    zero_intercept=_zero_intercept,
)
