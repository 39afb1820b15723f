"""scikit-learn's ``load_diabetes()``: 442 rows, 10 features, regression.

The data are the same for every seed; the seed changes only the train/test split.
"""

from __future__ import annotations

from sklearn import datasets as skd

from l1bench.data.loader import Loader
from l1bench.data.shipped import from_bunch
from l1bench.data.split import Raw


def load(seed: int) -> Raw:
    """scikit-learn's ``load_diabetes()``, the same for every seed."""
    del seed
    return from_bunch(skd.load_diabetes())


LOADER = Loader(load, task="regression", uses_seed=False, params=())
