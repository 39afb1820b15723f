"""scikit-learn's ``make_regression``: ``load(seed, **params)`` is exactly
``make_regression(**params, coef=True, random_state=seed)``, with its true coefficients."""

from __future__ import annotations

import numpy as np
from sklearn import datasets as skd

from l1bench.data.loader import Loader, keyword_params
from l1bench.data.split import Raw


def load(seed: int, **params) -> Raw:
    """scikit-learn's ``make_regression(**params, coef=True, random_state=seed)``."""
    X, y, coef = skd.make_regression(**params, coef=True, random_state=seed)
    coef = np.asarray(coef).reshape(-1) if np.ndim(y) == 1 else None  # sklearn squeezes p = 1
    return Raw(X, y, coef)


LOADER = Loader(
    load,
    task="regression",
    params=keyword_params(skd.make_regression),
    example={"n_samples": 40, "n_features": 5, "noise": 0.1},
)
