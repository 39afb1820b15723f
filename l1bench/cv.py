"""K-fold cross-validation of the strength, with the folds on the batch axis.

For each seed the training rows are permuted with ``default_rng(seed)`` and cut into ``K`` folds
of ``m = n // K`` rows; the ``n - K·m`` remainder rows are always trained on, never validated, so
every fold problem has the same shape and all ``S·K`` of them fit in one compiled call. The folds
are explicit (:func:`fold_indices`), so scikit-learn's ``LassoCV(cv=...)`` can be given the very
same ones. Each fold is fitted on the seed's λ path (computed on the seed's whole training part,
as ``LassoCV`` does).

Selection follows glmnet: ``best`` is the strength with the smallest mean validation error over
folds, ``one_se`` the strongest one whose mean error is within one standard error
(``sd / sqrt(K)`` over the K folds; a fold whose fit failed, NaN, is left out of the mean,
the sd and K) of the best. This module does not import jax.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# the validation error the selection minimizes, per task: MSE as LassoCV, log-loss (the
# deviance) as glmnet
METRIC = {"regression": "mse", "binary": "log_loss", "multiclass": "log_loss"}


class Folds(NamedTuple):
    """Fold problems: (S·K, n_train, p) train and (S·K, m, p) validation arrays, seed-major."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray


class Selection(NamedTuple):
    """Cross-validation results per problem and penalty.

    Attributes:
      mean: (S, P, L) mean validation error over folds. se: (S, P, L) its standard error.
      best: (S, P) index of the best strength. one_se: (S, P) index of the one-SE strength.
    """

    mean: np.ndarray
    se: np.ndarray
    best: np.ndarray
    one_se: np.ndarray


def valid_fold_count(n: int, k: int) -> bool:
    """``2 <= k <= n // 2``: every fold validates at least 2 of the ``n`` rows."""
    return 2 <= k <= n // 2


def fold_indices(n: int, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(train_idx, val_idx)] * k`` for ``n`` rows (see the module docstring)."""
    if not valid_fold_count(n, k):
        raise ValueError(f"cv_folds={k} needs 2 <= K <= n_train/2 = {n // 2} (n_train={n})")
    perm = np.random.default_rng(seed).permutation(n)
    m = n // k
    out = []
    for i in range(k):
        val = np.sort(perm[i * m : (i + 1) * m])
        train = np.sort(np.setdiff1d(perm, val, assume_unique=True))
        out.append((train, val))
    return out


def make_folds(X: np.ndarray, y: np.ndarray, k: int, seeds) -> Folds:
    """Fold problems for every seed: X (S, n, p), y (S, n) → :class:`Folds` with S·K problems."""
    parts = [[], [], [], []]
    for s, seed in enumerate(seeds):
        for train, val in fold_indices(X.shape[1], k, int(seed)):
            for lst, arr in zip(
                parts, (X[s][train], y[s][train], X[s][val], y[s][val]), strict=True
            ):
                lst.append(arr)
    return Folds(*(np.stack(p) for p in parts))


def select(errors: np.ndarray, valid: np.ndarray, *, higher_is_better: bool = False) -> Selection:
    """Pick strengths from fold errors.

    Args:
      errors: (S, K, P, L) validation error of every fold fit (NaN for failed fits, which
        are left out of each strength's mean and standard error).
      valid: (P, L) False for padded path points (never selected).
      higher_is_better: for scores such as accuracy.
    """
    e = -errors if higher_is_better else errors
    # over the folds whose fit did not fail: mean, and sd / sqrt(count) (0 from one fold)
    ok = ~np.isnan(e)
    count = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, np.where(ok, e, 0.0).sum(axis=1) / count, np.nan)
        ss = np.where(ok, (e - mean[:, None]) ** 2, 0.0).sum(axis=1)
        se = np.where(count > 1, np.sqrt(ss / ((count - 1) * count)), 0.0)
    masked = np.where(valid[None], mean, np.inf)
    masked = np.where(np.isnan(masked), np.inf, masked)
    best = np.argmin(masked, axis=-1)
    take = lambda a, i: np.take_along_axis(a, i[..., None], axis=-1)[..., 0]
    threshold = take(masked, best) + take(se, best)
    within = masked <= threshold[..., None]
    one_se = np.argmax(within, axis=-1)  # the path is strongest first: first hit = strongest
    sign = -1.0 if higher_is_better else 1.0
    return Selection(sign * mean, se, best, one_se)
