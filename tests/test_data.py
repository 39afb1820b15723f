"""The data layer: exact sklearn data, seeded splits, train-only scaling, clear errors."""

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets as skd
from sklearn.model_selection import train_test_split

from l1bench.data import DATASETS, DataError, load_dataset

pytestmark = pytest.mark.fast


def test_make_regression_is_exactly_sklearn():
    params = dict(n_samples=100, n_features=1, noise=0.1)
    d = load_dataset("make_regression", seeds=[0, 7], params=params, test_size=0, standardize=False)
    for i, seed in enumerate([0, 7]):
        X, y, coef = skd.make_regression(**params, random_state=seed, coef=True)
        np.testing.assert_array_equal(d.X_train[i], X)
        np.testing.assert_array_equal(d.y_train[i], y)
        np.testing.assert_array_equal(d.true_coef[i], np.atleast_1d(coef))
    assert d.X_test.shape == (2, 0, 1) and d.task == "regression"


def test_split_matches_sklearn_and_standardizes_on_train_only():
    d = load_dataset("diabetes", seeds=[3], test_size=0.25)
    X, y = skd.load_diabetes(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=3)
    mu, sd = Xtr.mean(0), Xtr.std(0)
    np.testing.assert_allclose(d.X_train[0], (Xtr - mu) / sd, atol=1e-12)
    np.testing.assert_allclose(d.X_test[0], (Xte - mu) / sd, atol=1e-12)
    np.testing.assert_array_equal(d.y_test[0], yte)
    np.testing.assert_allclose(d.X_train[0].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(d.X_train[0].std(0), 1, atol=1e-12)
    np.testing.assert_allclose(d.scale[0], sd)


def test_split_is_deterministic_per_seed_and_differs_across_seeds():
    a = load_dataset("wine", seeds=[0, 1])
    b = load_dataset("wine", seeds=[0, 1])
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train[0], a.X_train[1])
    # stratified: class proportions kept in both parts
    for part in (a.y_train[0], a.y_test[0]):
        assert set(np.unique(part)) == {0, 1, 2}


def test_synthetic_sparse_support_snr_and_correlation():
    d = load_dataset(
        "synthetic_sparse",
        seeds=[0],
        params=dict(n_samples=20000, n_features=20, k=4, rho=0.6, snr=3.0),
        test_size=0,
        standardize=False,
    )
    X, y, w = d.X_train[0], d.y_train[0], d.true_coef[0]
    assert np.count_nonzero(w) == 4 and set(np.abs(w[w != 0])) == {1.0}
    signal = X @ w
    assert np.var(signal) / np.var(y - signal) == pytest.approx(3.0, rel=0.05)
    neighbours = np.mean([np.corrcoef(X[:, j], X[:, j + 1])[0, 1] for j in range(19)])
    assert neighbours == pytest.approx(0.6, abs=0.02)


def test_synthetic_classification_labels_follow_the_model():
    params = dict(n_samples=20000, n_features=10, k=3, rho=0.3)
    d = load_dataset(
        "synthetic_sparse_classification", seeds=[0], params=params, test_size=0, standardize=False
    )
    assert d.task == "binary" and d.classes == (0, 1)
    X, y, w = d.X_train[0], d.y_train[0], d.true_coef[0]
    assert np.count_nonzero(w) == 3
    # P(y = 1 | x) = sigmoid(3 z), z = xᵀw / sqrt(wᵀΣw) ~ N(0, 1): the sign of xᵀw predicts y with
    # accuracy E[sigmoid(3 |z|)], computed here independently by Monte Carlo
    z = np.random.default_rng(99).standard_normal(200_000)
    expected = np.mean(1 / (1 + np.exp(-3 * np.abs(z))))
    assert np.mean(y == (X @ w > 0)) == pytest.approx(expected, abs=0.015)


def test_make_classification_is_exactly_sklearn_with_a_stratified_split():
    params = dict(n_samples=120, n_features=6, n_informative=3, n_classes=3)
    d = load_dataset("make_classification", seeds=[5], params=params, standardize=False)
    X, y = skd.make_classification(**params, random_state=5)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=5, stratify=y)
    np.testing.assert_array_equal(d.X_train[0], Xtr)
    np.testing.assert_array_equal(d.X_test[0], Xte)
    np.testing.assert_array_equal(d.y_test[0], yte)
    assert d.task == "multiclass" and d.classes == (0, 1, 2) and d.true_coef is None
    assert d.y_train.dtype == np.int64
    np.testing.assert_array_equal(d.scale, np.ones((1, 6)))
    np.testing.assert_array_equal(d.offset, np.zeros((1, 6)))


def test_generators_stack_one_replicate_per_seed():
    d = load_dataset("synthetic_sparse", seeds=[0, 1, 2], params=dict(n_samples=40, n_features=8))
    assert d.X_train.shape == (3, 30, 8) and d.X_test.shape == (3, 10, 8)
    assert d.y_train.shape == (3, 30) and d.true_coef.shape == (3, 8)
    assert d.scale.shape == d.offset.shape == (3, 8) and d.seeds == (0, 1, 2)
    assert not np.array_equal(d.true_coef[0], d.true_coef[1])  # each seed draws its own support
    again = load_dataset("synthetic_sparse", seeds=[1], params=dict(n_samples=40, n_features=8))
    np.testing.assert_array_equal(again.X_train[0], d.X_train[1])


def test_true_coef_is_in_the_original_feature_scale():
    d = load_dataset("make_regression", seeds=[0], params=dict(n_samples=50, n_features=3))
    X, y, coef = skd.make_regression(n_samples=50, n_features=3, coef=True, random_state=0)
    np.testing.assert_array_equal(d.true_coef[0], coef)
    # in the standardized scale the same model has coefficients coef * scale
    Xtr = d.X_train[0] * d.scale[0] + d.offset[0]
    np.testing.assert_allclose(Xtr @ coef, d.y_train[0], atol=1e-10)


def test_toeplitz_correlation_decays_as_rho_to_the_lag():
    params = dict(n_samples=20000, n_features=6, k=0, rho=0.7)
    d = load_dataset("synthetic_sparse", seeds=[3], params=params, test_size=0, standardize=False)
    corr = np.corrcoef(d.X_train[0].T)
    for lag in (1, 2, 3):
        assert np.mean(np.diagonal(corr, lag)) == pytest.approx(0.7**lag, abs=0.02)


def test_digits_drops_constant_pixels_with_a_warning():
    with pytest.warns(UserWarning, match="constant features"):
        d = load_dataset("digits", seeds=[0])
    X = skd.load_digits().data
    assert d.X_train.shape[-1] == int(np.sum(X.std(0) > 0))


def test_csv_with_string_labels(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.standard_normal((40, 3)), columns=["a", "b", "c"])
    df["label"] = np.where(df["a"] > 0, "yes", "no")
    f = tmp_path / "d.csv"
    df.to_csv(f, index=False)
    d = load_dataset("file", seeds=[0], path=str(f), target="label")
    assert d.task == "binary" and d.classes == ("no", "yes")
    assert d.feature_names == ("a", "b", "c")


@pytest.mark.parametrize(
    "y,task,expected",
    [
        (np.array([0.0, 1, 2, 1, 0, 2, 1, 0]), "auto", "multiclass"),  # integers, few values
        (np.array([0, 1] * 4), "auto", "binary"),
        (np.array([True, False] * 4), "auto", "binary"),  # booleans are labels
        (np.array([0.5, 1.5] * 4), "auto", "regression"),  # non-integer values
        (np.arange(16.0), "auto", "regression"),  # more than 10 distinct integers
        (np.array([0.5, 1.5] * 4), "classification", "binary"),  # override
        (np.array([0, 1] * 4), "regression", "regression"),  # override
    ],
)
def test_task_inference_rule_for_files(tmp_path, y, task, expected):
    n = y.size
    X = np.column_stack([np.arange(n, dtype=float), np.arange(n, dtype=float) ** 2])
    f = tmp_path / "d.npz"
    np.savez(f, X=X, y=y)
    d = load_dataset("file", seeds=[0], path=str(f), task=task, test_size=0.5)
    assert d.task == expected
    assert d.y_train.dtype == (np.float64 if expected == "regression" else np.int64)


@pytest.mark.parametrize("labels", [[1, 2], [-1, 1], [0.5, 1.5]])
def test_class_labels_of_a_file_are_kept_as_given(tmp_path, labels):
    """Integer labels stay integers in ``classes`` (a csv column reads as float when pandas
    sees NaN-free integers too; the manifest records the labels as the user wrote them)."""
    n = 12
    f = tmp_path / "d.csv"
    y = np.resize(labels, n)
    pd.DataFrame({"a": np.arange(n) % 5, "b": np.arange(n) ** 2 % 7, "y": y}).to_csv(f, index=False)
    d = load_dataset("file", seeds=[0], path=str(f), target="y", task="classification")
    assert list(d.classes) == labels
    assert all(type(c) is type(labels[0]) for c in d.classes)


def test_a_headerless_csv_and_a_saved_index_are_warned_of(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.standard_normal((10, 3)), columns=["a", "b", "y"])
    f = tmp_path / "noheader.csv"
    df.to_csv(f, index=False, header=False)
    first = f.read_text().splitlines()[0].split(",")
    with pytest.warns(UserWarning, match="every column name is a number"):
        d = load_dataset("file", seeds=[0], path=str(f), target=first[-1], test_size=0.3)
    assert d.X_train.shape[1] + d.X_test.shape[1] == 9  # the first row went to the header
    f = tmp_path / "index.csv"
    df.to_csv(f)  # with its index, as "Unnamed: 0"
    with pytest.warns(UserWarning, match="'Unnamed: 0' counts 0..9, like a saved pandas index"):
        d = load_dataset("file", seeds=[0], path=str(f), target="y", test_size=0.3)
    assert d.feature_names == ("Unnamed: 0", "a", "b")


@pytest.mark.parametrize("target", ["2", "-1", 2])
def test_a_headerless_csv_reads_every_row_with_the_target_by_position(tmp_path, target):
    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.standard_normal((12, 3)), columns=["a", "b", "y"])
    f = tmp_path / "noheader.csv"
    df.to_csv(f, index=False, header=False)
    d = load_dataset(
        "file",
        seeds=[0],
        path=str(f),
        target=target,
        params={"header": False},
        test_size=0,
        standardize=False,
        task="regression",
    )
    assert d.feature_names == ("0", "1")
    order = np.argsort(d.y_train[0])  # rows in any order: match them by the target
    np.testing.assert_array_equal(d.y_train[0][order], np.sort(df["y"].to_numpy()))
    want = df[["a", "b"]].to_numpy()[np.argsort(df["y"].to_numpy())]
    np.testing.assert_allclose(d.X_train[0][order], want, rtol=1e-15)


def test_a_headerless_csv_read_with_a_header_says_how_to_read_it(tmp_path):
    f = tmp_path / "noheader.csv"
    pd.DataFrame(np.arange(30.0).reshape(10, 3) % 7 + 0.5).to_csv(f, index=False, header=False)
    with pytest.raises(DataError, match=r"target column '-1' not found; .*params.header=false"):
        load_dataset("file", seeds=[0], path=str(f), target="-1")


@pytest.mark.parametrize(
    "name,target,params,match",
    [
        ("d.csv", "3", {"header": False}, "must be a column position from -3 to 2"),
        ("d.csv", "y", {"header": False}, "must be a column position"),
        ("d.csv", None, {"header": False}, "the target column's position"),
        ("d.csv", "y", {"header": "no"}, "params.header='no' must be true or false"),
        ("d.npz", "y", {"header": False}, "params.header=false is for csv files"),
    ],
)
def test_bad_header_settings_name_the_field(tmp_path, name, target, params, match):
    f = tmp_path / name
    X, y = np.arange(20.0).reshape(10, 2) % 7, np.arange(10.0)
    if name.endswith(".npz"):
        np.savez(f, X=X, y=y)
    else:
        pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y}).to_csv(f, index=False, header=False)
    with pytest.raises(DataError, match=match):
        load_dataset("file", seeds=[0], path=str(f), target=target, params=params)


def test_constant_file_columns_are_dropped_with_a_warning(tmp_path):
    df = pd.DataFrame({"a": np.arange(8.0), "const": 3.0, "b": np.arange(8.0) % 3, "y": 1.0})
    df["y"] = np.arange(8.0) * 0.5
    f = tmp_path / "d.csv"
    df.to_csv(f, index=False)
    with pytest.warns(UserWarning, match="dataset file: dropping constant features const"):
        d = load_dataset("file", seeds=[0, 1], path=str(f), target="y")
    assert d.feature_names == ("a", "b") and d.X_train.shape == (2, 6, 2)


def test_npz_with_a_named_target_array(tmp_path):
    f = tmp_path / "d.npz"
    X = np.random.default_rng(0).standard_normal((12, 2))
    np.savez(f, X=X, label=np.array(["cat", "dog", "emu"] * 4))
    d = load_dataset("file", seeds=[0], path=str(f), target="label", test_size=0.25)
    assert d.task == "multiclass" and d.classes == ("cat", "dog", "emu")
    assert d.y_train.shape == (1, 9) and set(d.y_test[0]) == {0, 1, 2}


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npz"])
def test_file_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 4))
    y = X @ np.array([1.0, 0, -2, 0.5]) + 0.1 * rng.standard_normal(30)
    f = tmp_path / f"d{suffix}"
    if suffix == ".npz":
        np.savez(f, X=X, y=y)
        target = None
    else:
        df = pd.DataFrame(X, columns=list("abcd")).assign(t=y)
        df.to_csv(f, index=False) if suffix == ".csv" else df.to_parquet(f)
        target = "t"
    d = load_dataset("file", seeds=[0], path=str(f), target=target, test_size=0, standardize=False)
    assert d.task == "regression"
    np.testing.assert_allclose(d.X_train[0], X)
    np.testing.assert_allclose(d.y_train[0], y)


def _csv(df):
    """A csv writer for the error cases: ``make(tmp_path)`` writes the table, returns its path."""

    def write(tmp_path):
        f = tmp_path / "bad.csv"
        df.to_csv(f, index=False)
        return str(f)

    return write


def _file(df, **kwargs):
    return lambda t: dict(name="file", path=_csv(df)(t), target="y", **kwargs)


R = np.arange(8.0)
# (id, make(tmp_path) -> load_dataset kwargs, regex the DataError message must match)
ERROR_CASES = [
    ("unknown-name", lambda t: dict(name="nope"), "unknown dataset 'nope'.*synthetic_sparse"),
    (
        "unknown-param",
        lambda t: dict(name="make_regression", params={"n_sample": 5}),
        "make_regression: unknown params n_sample; accepted params: n_samples, n_features",
    ),
    (
        "reserved-param",
        lambda t: dict(name="make_regression", params={"random_state": 5}),
        "unknown params random_state",
    ),
    (
        "invalid-sklearn-param",
        lambda t: dict(name="make_regression", params={"n_samples": -3}),
        "make_regression: invalid params.*n_samples",
    ),
    (
        "invalid-sparse-param",
        lambda t: dict(name="synthetic_sparse", params={"k": 60}),
        "synthetic_sparse: invalid params.*k=60 must be between 0 and n_features=50",
    ),
    (
        "non-integer-sparse-param",
        lambda t: dict(name="synthetic_sparse", params={"n_samples": 10.5}),
        "n_samples=10.5 must be an integer",
    ),
    (
        "shipped-takes-no-params",
        lambda t: dict(name="diabetes", params={"n_samples": 5}),
        "diabetes: unknown params n_samples; accepted params: none",
    ),
    ("params-not-mapping", lambda t: dict(name="diabetes", params=[1]), "params must be a mapping"),
    (
        "path-for-generator",
        lambda t: dict(name="diabetes", path="x.csv"),
        "path and target are only used with dataset=file",
    ),
    ("empty-seeds", lambda t: dict(name="diabetes", seeds=[]), "seeds is empty"),
    ("negative-seed", lambda t: dict(name="diabetes", seeds=[-1]), "seeds must be integers >= 0"),
    ("float-seed", lambda t: dict(name="diabetes", seeds=[1.5]), r"seeds must be integers.*1\.5"),
    ("string-seeds", lambda t: dict(name="diabetes", seeds="01"), "seeds must be a list"),
    ("test-size-one", lambda t: dict(name="diabetes", test_size=1.0), r"test_size=1\.0.*\[0, 1\)"),
    ("test-size-negative", lambda t: dict(name="diabetes", test_size=-0.1), "test_size"),
    ("test-size-string", lambda t: dict(name="diabetes", test_size="0.2"), "test_size"),
    ("unknown-task", lambda t: dict(name="diabetes", task="ranking"), "task='ranking'; choose"),
    ("no-path", lambda t: dict(name="file"), "dataset.path is required"),
    (
        "missing-file",
        lambda t: dict(name="file", path=str(t / "missing.csv"), target="y"),
        "missing.csv: no such file",
    ),
    (
        "bad-suffix",
        lambda t: dict(name="file", path=str(t / "x.xlsx"), target="y"),
        "unsupported suffix '.xlsx'; use one of .csv, .parquet, .npz",
    ),
    (
        "missing-target",
        _file(pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [1.0, 0, 1, 0]})),
        "target column 'y' not found; columns are a, b",
    ),
    (
        "no-target-given",
        lambda t: dict(name="file", path=_csv(pd.DataFrame({"a": R, "b": R}))(t)),
        "dataset.target must name the target column; columns are a, b",
    ),
    (
        "nan-in-X",
        _file(pd.DataFrame({"a": R, "b": [1.0, np.nan, 3, np.inf, 5, 6, 7, 8], "y": R + 0.5})),
        "X has 2 NaN or infinite values in feature columns b",
    ),
    (
        "nan-in-regression-target",
        _file(pd.DataFrame({"a": R, "y": [1.5, np.inf, 2, 3, 4, 5, 6, 7]})),
        "target 'y' has 1 NaN or infinite values",
    ),
    (
        "nan-in-class-target",
        _file(pd.DataFrame({"a": R, "y": ["u", None, "v", "u", "v", "u", "v", "u"]})),
        "target 'y' has 1 missing labels",
    ),
    (
        "non-numeric-feature",
        _file(pd.DataFrame({"a": ["u", "v", "w", "x"], "b": R[:4], "y": [1.0, 2, 3, 4.5]})),
        "non-numeric feature columns a;",
    ),
    (
        "bool-feature-with-gaps",
        _file(pd.DataFrame({"a": [True, None, False, True], "b": R[:4], "y": [1.0, 2, 3, 4.5]})),
        "boolean feature columns a have missing cells",
    ),
    (
        "all-constant",
        _file(pd.DataFrame({"a": [1.0, 1, 1, 1], "b": [2.0] * 4, "y": [1.0, 2, 3, 4.5]})),
        r"every feature column is constant \(a, b\)",
    ),
    ("too-few-rows", _file(pd.DataFrame({"a": [1.0, 2, 3], "y": [1.5, 2, 3]})), "too few"),
    ("one-row", _file(pd.DataFrame({"a": [1.0], "b": [2.0], "y": [1.5]})), "1 row.*at least 2"),
    (
        "constant-regression-target",
        _file(pd.DataFrame({"a": R, "y": [2.5] * 8}), task="regression"),
        r"target 'y' is constant \(2\.5 in every row\)",
    ),
    (
        "overflowing-feature",
        _file(pd.DataFrame({"a": R, "big": R * 1e200, "y": R + 0.5})),
        "feature columns big hold values beyond",
    ),
    (
        "overflowing-target",
        _file(pd.DataFrame({"a": R, "y": R * 1e200 + 0.5}), task="regression"),
        "target 'y' holds values beyond",
    ),
    (
        "one-class",
        _file(pd.DataFrame({"a": R, "y": ["k"] * 8}), task="classification"),
        "target 'y': classification needs at least 2 classes",
    ),
    (
        "constant-float-target",  # integral floats are classes for task=auto: say it is constant
        _file(pd.DataFrame({"a": R, "y": [3.0] * 8})),
        r"target 'y' is constant \(3 in every row\): classification needs at least 2 classes, "
        "and a regression has nothing to fit",
    ),
    (
        "class-missing-from-a-part",
        _file(pd.DataFrame({"a": R, "y": [0, 0, 0, 0, 0, 0, 0, 1]})),
        "stratified split needs every class in both train and test",
    ),
    (
        "string-target-as-regression",
        _file(pd.DataFrame({"a": R, "y": list("abababab")}), task="regression"),
        "task=regression needs a numeric target",
    ),
    (
        "no-rows",
        lambda t: dict(name="file", target="y", path=_csv(pd.DataFrame(columns=["a", "y"]))(t)),
        "the file has no rows",
    ),
    (
        "no-feature-columns",
        _file(pd.DataFrame({"y": R})),
        "no feature columns besides the target 'y'",
    ),
    ("empty-file", lambda t: _empty(t, ".csv"), "is empty"),
    ("garbage-parquet", lambda t: _empty(t, ".parquet", b"not parquet"), "could not be read"),
    ("garbage-npz", lambda t: _empty(t, ".npz", b"PK junk"), "could not be read as npz"),
    ("npz-without-y", lambda t: _npz(t, X=np.ones((4, 2))), "arrays y not found; .* holds X"),
    ("npz-3d-X", lambda t: _npz(t, X=np.ones((4, 2, 2)), y=np.ones(4)), "X must be 2-D"),
    (
        "npz-length-mismatch",
        lambda t: _npz(t, X=np.eye(4), y=np.arange(5.0)),
        "target 'y' must be 1-D with one entry per row of X",
    ),
    ("npz-2d-y", lambda t: _npz(t, X=np.eye(4), y=np.eye(4)), "must be 1-D"),
    ("npz-zero-columns", lambda t: _npz(t, X=np.ones((4, 0)), y=np.ones(4)), "no feature columns"),
    ("npz-string-X", lambda t: _npz(t, X=np.full((4, 2), "a"), y=R[:4]), "X must be numeric"),
]


def _empty(tmp_path, suffix, blob=b""):
    f = tmp_path / f"bad{suffix}"
    f.write_bytes(blob)
    return dict(name="file", path=str(f), target="y")


def _npz(tmp_path, **arrays):
    f = tmp_path / "bad.npz"
    np.savez(f, **arrays)
    return dict(name="file", path=str(f))


@pytest.mark.parametrize(
    "make,match", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_bad_data_gets_a_clear_error(tmp_path, make, match):
    kwargs = make(tmp_path)
    kwargs.setdefault("seeds", [0])
    name = kwargs.pop("name")
    with pytest.raises(DataError, match=match) as err:
        load_dataset(name, **kwargs)
    if name in DATASETS:  # the message names the dataset
        assert f"dataset {name}" in str(err.value)


def test_the_data_layer_does_not_import_jax():
    import ast
    from pathlib import Path

    import l1bench.data

    for module in Path(l1bench.data.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] in ("jax", "jaxlib") for n in names), module.name
