"""Metrics of fitted linear models: sparsity and clean errors, batched over fits in one jit.

Sparsity counts *exact* zeros (the proximal L1 step produces them); nothing is thresholded.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class CleanErrors(NamedTuple):
    """Errors on unperturbed data, (S, F) each: problems × fits per problem."""

    mse: np.ndarray
    r2: np.ndarray


def nnz(coef: np.ndarray) -> np.ndarray:
    """Number of exactly nonzero coefficients along the last axis."""
    return np.count_nonzero(coef, axis=-1)


def sparsity(coef: np.ndarray) -> np.ndarray:
    """Fraction of coefficients that are exactly zero, along the last axis."""
    return 1.0 - nnz(coef) / coef.shape[-1]


@jax.jit
def _regression_errors(coef, intercept, X, y):
    pred = jnp.einsum("snp,sfp->sfn", X, coef, precision=jax.lax.Precision.HIGHEST)
    resid = y[:, None, :] - pred - intercept[..., None]
    mse = jnp.mean(resid * resid, axis=-1)
    var = jnp.var(y, axis=-1)[:, None]
    return mse, 1.0 - mse / jnp.where(var > 0, var, jnp.nan)


def regression_errors(coef, intercept, X, y) -> CleanErrors:
    """MSE and R² of every fit on its own problem's data.

    Args:
      coef: (S, F, p) coefficients. intercept: (S, F).
      X: (S, n, p) inputs. y: (S, n) targets; with n == 0 both errors are NaN.
    """
    S, F = intercept.shape
    if X.shape[1] == 0:
        nan = np.full((S, F), np.nan)
        return CleanErrors(nan, nan.copy())
    mse, r2 = jax.device_get(_regression_errors(coef, intercept, X, y))
    return CleanErrors(np.asarray(mse), np.asarray(r2))
