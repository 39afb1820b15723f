"""The datasets scikit-learn ships, as a :class:`~l1bench.data.split.Raw` (their own modules are
``l1bench.data.datasets.<name>``); the seed changes only the train/test split."""

from __future__ import annotations

from sklearn.utils import Bunch

from l1bench.data.split import Raw


def from_bunch(bunch: Bunch) -> Raw:
    """A scikit-learn ``Bunch`` (``data``, ``target``, ``feature_names``) as a Raw; the task is
    the loader's declared one."""
    return Raw(bunch.data, bunch.target, None, "auto", tuple(map(str, bunch.feature_names)))
