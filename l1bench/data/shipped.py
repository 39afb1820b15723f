"""The datasets scikit-learn ships; the seed changes only the train/test split."""

from __future__ import annotations

from sklearn import datasets as skd

from l1bench.data.split import Raw, ignores_seed


def _shipped(loader, task: str):
    @ignores_seed
    def load(seed: int) -> Raw:
        del seed
        bunch = loader()
        return Raw(bunch.data, bunch.target, None, task, tuple(map(str, bunch.feature_names)))

    load.__name__ = load.__qualname__ = loader.__name__.removeprefix("load_")
    load.__doc__ = f"scikit-learn's ``{loader.__name__}()`` ({task})."
    return load


diabetes = _shipped(skd.load_diabetes, "regression")
breast_cancer = _shipped(skd.load_breast_cancer, "classification")
digits = _shipped(skd.load_digits, "classification")
wine = _shipped(skd.load_wine, "classification")
iris = _shipped(skd.load_iris, "classification")
