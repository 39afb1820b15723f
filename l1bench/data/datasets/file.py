"""A user file: csv, parquet or npz, with a named target (see :mod:`l1bench.data.files`)."""

from __future__ import annotations

from pathlib import Path

from l1bench.data.files import read_file
from l1bench.data.loader import Loader, keyword_params
from l1bench.data.split import Raw


def load(seed: int, *, path: str | Path | None, target: str | None, header: bool = True) -> Raw:
    """The file ``dataset.path`` (its target ``dataset.target``), the same for every seed.

    Args:
      seed: unused; the file is the same for every seed.
      path: the file; its suffix picks the reader.
      target: the target column (tables) or array (npz, default ``y``).
      header: whether a csv's first row names its columns (``dataset.params.header``).
    """
    del seed
    return read_file(path, target, header)


LOADER = Loader(load, task="auto", uses_seed=False, params=keyword_params(load), reads_file=True)
