"""User files: csv, parquet or npz, with a named target.

* ``.csv`` / ``.parquet``: a table; ``target`` names the target column, every other column is a
  feature and must be numeric (booleans count as numeric).
* ``.npz``: arrays ``X`` (n, p) and ``y`` (n,); or, with ``target``, arrays ``X`` and the array
  named by ``target``.

Task inference (``task="auto"``, see :func:`infer_task`): a target that is not numeric
(strings, booleans, mixed objects) is classification; a numeric target whose values are all
integers and take at most ``MAX_CLASSES_AUTO`` (10) distinct values is classification; any other
numeric target (non-integer values, or more than 10 distinct integers) is regression. Give
``task="regression"`` or ``task="classification"`` to override it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from l1bench.data.split import DataError, Raw

SUFFIXES = (".csv", ".parquet", ".npz")
MAX_CLASSES_AUTO = 10


def infer_task(y: np.ndarray) -> str:
    """``classification`` or ``regression`` for a target of unknown task (rule above)."""
    if y.dtype.kind not in "iuf":
        return "classification"
    values = y[np.isfinite(y)] if y.dtype.kind == "f" else y
    integral = bool(np.all(values == np.round(values)))
    few = np.unique(values).size <= MAX_CLASSES_AUTO
    return "classification" if integral and few else "regression"


def _problem(message: str) -> DataError:
    return DataError(f"dataset file: {message}")


def _read_table(path: Path, header: bool = True) -> pd.DataFrame:
    """Read a csv or parquet table; a csv's raw header is kept (pandas renames duplicates).
    ``header=False``: a csv whose first row is data; its columns are named 0, 1, ..."""
    try:
        if path.suffix == ".csv" and not header:
            table = pd.read_csv(path, header=None)
            table.columns = [str(j) for j in range(table.shape[1])]
            return table
        if path.suffix == ".csv":
            table = pd.read_csv(path)
            header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
            raw = [str(c) for c in header.iloc[0]] if len(header) else []
            if len(raw) == table.shape[1]:  # an empty name keeps pandas' "Unnamed: j"
                table.columns = [r or str(c) for r, c in zip(raw, table.columns, strict=True)]
            return table
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise _problem(f"{path} is empty") from None
    except Exception as err:  # parsers (pandas, pyarrow) raise many error types on bad bytes
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise _problem(f"{path} could not be read as {path.suffix[1:]}: {reason}") from None


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _bool_with_gaps(column: pd.Series) -> bool:
    """True/False cells and missing ones (pandas reads such a column as objects)."""
    present = column.dropna()
    return (
        column.dtype == object
        and len(present) < len(column)
        and len(present) > 0
        and bool(present.map(lambda v: isinstance(v, (bool, np.bool_))).all())
    )


def _target_array(column: pd.Series) -> np.ndarray:
    """Numeric targets become float64 (missing → NaN), booleans bool, anything else object."""
    if pd.api.types.is_bool_dtype(column):
        if column.isna().any():
            return column.to_numpy(dtype=object)
        return column.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    return column.to_numpy(dtype=object)


def _position(target: str, n_columns: int) -> str | None:
    """A headerless csv's target position (``"3"``; ``"-1"`` is the last column) as its column
    name, or None when ``target`` is not a position of the table."""
    try:
        j = int(str(target))
    except ValueError:
        return None
    return str(j % n_columns) if -n_columns <= j < n_columns else None


def read_file(path: str | Path | None, target: str | None, header: bool = True) -> Raw:
    """Read a user file (csv, parquet, npz) into a :class:`~l1bench.data.split.Raw`.

    Args:
      path: the file; its suffix picks the reader.
      target: the target column (tables) or array (npz, default ``y``). In a csv read with
        ``header=False`` the column's position: ``0`` is the first, ``-1`` the last.
      header: whether a csv's first row names its columns (``dataset.params.header``). With
        ``False`` every row is data and the columns are named by position, 0, 1, ...

    Raises:
      DataError: naming what is wrong (missing file, suffix, target column, non-numeric
        feature columns, no rows, no features).
    """
    if path is None or str(path).strip() in ("", "???"):
        raise _problem("dataset.path is required for dataset=file (a .csv, .parquet or .npz)")
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise _problem(
            f"{path}: unsupported suffix {path.suffix!r}; use one of {', '.join(SUFFIXES)}"
        )
    if not isinstance(header, (bool, np.bool_)):
        raise _problem(f"params.header={header!r} must be true or false")
    if not header and path.suffix != ".csv":
        raise _problem(
            f"{path}: params.header=false is for csv files; a {path.suffix} file names its "
            "columns (arrays) itself"
        )
    if not path.is_file():
        raise _problem(f"{path}: no such file")
    if path.suffix == ".npz":
        return _load_npz(path, target)
    table = _read_table(path, bool(header))
    columns = [str(c) for c in table.columns]
    if target is None:
        what = "the target column's position (0, ..., -1)" if not header else "the target column"
        raise _problem(f"{path}: dataset.target must name {what}; columns are {', '.join(columns)}")
    if not header:
        position = _position(target, len(columns))
        if position is None:
            raise _problem(
                f"{path}: with params.header=false, dataset.target={target!r} must be a column "
                f"position from {-len(columns)} to {len(columns) - 1}"
            )
        target = position
    if str(target) not in columns:
        hint = ""
        if path.suffix == ".csv" and all(_is_number(c) for c in columns):
            hint = (
                "; every column name is a number, so the file may have no header row: give "
                "dataset.params.header=false and the target's position as dataset.target"
            )
        raise _problem(
            f"{path}: target column {target!r} not found; columns are {', '.join(columns)}{hint}"
        )
    if len(set(columns)) != len(columns):
        dup = sorted({c for c in columns if columns.count(c) > 1})
        raise _problem(f"{path}: duplicated column names {', '.join(dup)}; names must be unique")
    table.columns = columns
    if len(table) == 0:
        raise _problem(f"{path}: the file has no rows")
    features = table.drop(columns=[str(target)])
    if features.shape[1] == 0:
        raise _problem(f"{path}: no feature columns besides the target {target!r}")
    gaps = [c for c in features.columns if _bool_with_gaps(features[c])]
    if gaps:
        raise _problem(
            f"{path}: boolean feature columns {', '.join(gaps)} have missing cells; fill them "
            "(or impute them) before fitting"
        )
    bad = [c for c in features.columns if not _is_numeric(features[c])]
    if bad:
        raise _problem(
            f"{path}: non-numeric feature columns {', '.join(bad)}; encode them as numbers or "
            "drop them"
        )
    _warn_suspect_columns(path, columns, features, bool(header))
    X = features.to_numpy(dtype=np.float64, na_value=np.nan)
    y = _target_array(table[str(target)])
    return Raw(X, y, None, "auto", tuple(features.columns), str(target))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _warn_suspect_columns(
    path: Path, columns: list[str], features: pd.DataFrame, header: bool
) -> None:
    """Warn of a csv whose first row looks like data (every column name a number: the file may
    have no header, and its first row was read as one) and of a saved pandas index (a column
    ``Unnamed: j`` counting 0..n-1), which would be fitted as a feature."""
    if header and path.suffix == ".csv" and all(_is_number(c) for c in columns):
        warnings.warn(
            f"{path}: every column name is a number ({', '.join(columns[:3])}, ...): if the file "
            "has no header row, its first row was read as one; give dataset.params.header=false "
            "(and the target's position as dataset.target) or add a header naming the columns",
            stacklevel=2,
        )
    for c in features.columns:
        col = features[c]
        if (
            c.startswith("Unnamed:")
            and col.dtype.kind in "iu"
            and col.tolist() == list(range(len(col)))
        ):
            warnings.warn(
                f"{path}: column {c!r} counts 0..{len(col) - 1}, like a saved pandas index "
                "(to_csv without index=False); it is fitted as a feature unless you drop it",
                stacklevel=2,
            )


def _load_npz(path: Path, target: str | None) -> Raw:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as err:  # zipfile, numpy format and pickle refusals: many error types
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise _problem(f"{path} could not be read as npz: {reason}") from None
    ykey = target or "y"
    missing = [k for k in ("X", ykey) if k not in arrays]
    if missing:
        raise _problem(
            f"{path}: arrays {', '.join(missing)} not found; the file holds "
            f"{', '.join(arrays) or 'no arrays'} (expected X and {ykey})"
        )
    X, y = arrays["X"], arrays[ykey]
    if X.ndim != 2:
        raise _problem(f"{path}: X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise _problem(f"{path}: X must be numeric, got dtype {X.dtype}")
    if y.dtype.kind not in "biufUS":
        raise _problem(f"{path}: array {ykey!r} must hold numbers or strings, got {y.dtype}")
    return Raw(X.astype(np.float64), y, None, "auto", None, ykey)
