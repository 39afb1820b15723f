"""scikit-learn's ``make_classification``: ``load(seed, **params)`` is exactly
``make_classification(**params, random_state=seed)``; no true coefficients."""

from __future__ import annotations

from sklearn import datasets as skd

from l1bench.data.loader import Loader, keyword_params
from l1bench.data.split import Raw


def load(seed: int, **params) -> Raw:
    """scikit-learn's ``make_classification(**params, random_state=seed)``."""
    X, y = skd.make_classification(**params, random_state=seed)
    return Raw(X, y)


LOADER = Loader(
    load,
    task="classification",
    params=keyword_params(skd.make_classification),
    example={"n_samples": 40, "n_features": 6, "n_informative": 3},
)
