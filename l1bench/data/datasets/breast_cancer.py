"""scikit-learn's ``load_breast_cancer()``: 569 rows, 30 features, 2 classes, classification.

The data are the same for every seed; the seed changes only the train/test split.
"""

from __future__ import annotations

from sklearn import datasets as skd

from l1bench.data.loader import Loader
from l1bench.data.shipped import from_bunch
from l1bench.data.split import Raw


def load(seed: int) -> Raw:
    """scikit-learn's ``load_breast_cancer()``, the same for every seed."""
    del seed
    return from_bunch(skd.load_breast_cancer())


LOADER = Loader(load, task="classification", uses_seed=False, params=())
