"""User files: csv, parquet or npz, with a named target.

* ``.csv`` / ``.parquet``: a table; ``target`` names the target column, every other column is a
  feature and must be numeric (booleans count as numeric).
* ``.npz``: arrays ``X`` (n, p) and ``y`` (n,); or, with ``target``, arrays ``X`` and the array
  named by ``target``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SUFFIXES = (".csv", ".parquet", ".npz")


class FileProblem(ValueError):
    """A file cannot be read as a dataset (wrapped into DataError by the caller)."""


def _read_table(path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise FileProblem(f"{path} is empty") from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise FileProblem(f"{path} could not be read as {path.suffix[1:]}: {err}") from None
    except Exception as err:  # pyarrow raises its own error types for corrupt files
        raise FileProblem(f"{path} could not be read as {path.suffix[1:]}: {err}") from None


def load_file(path: str | Path | None, target: str | None):
    """Read a user file into ``(X, y, feature_names, y_is_numeric)``.

    Raises:
      FileProblem: naming what is wrong (missing file, suffix, target column, non-numeric
        feature columns, no rows, no features).
    """
    if path is None or str(path).strip() in ("", "???"):
        raise FileProblem("dataset.path is required for dataset=file")
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise FileProblem(
            f"{path}: unsupported suffix {path.suffix!r}; use one of {', '.join(SUFFIXES)}"
        )
    if not path.is_file():
        raise FileProblem(f"{path}: no such file")
    if path.suffix == ".npz":
        return _load_npz(path, target)
    table = _read_table(path)
    if target is None:
        raise FileProblem(
            f"{path}: dataset.target must name the target column; columns are "
            f"{', '.join(map(str, table.columns))}"
        )
    if target not in table.columns:
        raise FileProblem(
            f"{path}: target column {target!r} not found; columns are "
            f"{', '.join(map(str, table.columns))}"
        )
    if len(table) == 0:
        raise FileProblem(f"{path}: the file has no rows")
    features = table.drop(columns=[target])
    if features.shape[1] == 0:
        raise FileProblem(f"{path}: no feature columns besides the target {target!r}")
    bad = [
        str(c)
        for c in features.columns
        if not (
            pd.api.types.is_numeric_dtype(features[c]) or pd.api.types.is_bool_dtype(features[c])
        )
    ]
    if bad:
        raise FileProblem(
            f"{path}: non-numeric feature columns {', '.join(bad)}; encode them "
            "as numbers or drop them"
        )
    y = table[target]
    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    X = features.to_numpy(dtype=np.float64)
    y = y.to_numpy()
    return X, y, tuple(map(str, features.columns)), numeric


def _load_npz(path: Path, target: str | None):
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError) as err:
        raise FileProblem(f"{path} could not be read as npz: {err}") from None
    ykey = target or "y"
    missing = [k for k in ("X", ykey) if k not in arrays]
    if missing:
        raise FileProblem(
            f"{path}: arrays {', '.join(missing)} not found; the file holds "
            f"{', '.join(arrays) or 'no arrays'} (expected X and {ykey})"
        )
    X, y = arrays["X"], arrays[ykey]
    if X.ndim != 2:
        raise FileProblem(f"{path}: X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise FileProblem(f"{path}: X must be numeric, got dtype {X.dtype}")
    names = tuple(f"x{j}" for j in range(X.shape[1]))
    numeric = np.issubdtype(y.dtype, np.number) and y.dtype != bool
    return X.astype(np.float64), y, names, numeric
