"""The data layer: exact sklearn data, seeded splits, train-only scaling, clear errors."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets as skd
from sklearn.model_selection import train_test_split

from l1bench.data import DATASETS, DataError, load_dataset


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
    d = load_dataset(
        "synthetic_sparse_classification",
        seeds=[0],
        params=dict(n_samples=4000, n_features=10, k=3),
        test_size=0,
    )
    assert d.task == "binary" and d.classes == (0, 1)
    assert np.count_nonzero(d.true_coef[0]) == 3


@pytest.mark.parametrize(
    "name,task",
    [
        ("diabetes", "regression"),
        ("breast_cancer", "binary"),
        ("digits", "multiclass"),
        ("wine", "multiclass"),
        ("iris", "multiclass"),
    ],
)
def test_shipped_datasets_load_with_their_task(name, task):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # digits has constant pixels, dropped with a warning
        d = load_dataset(name, seeds=[0])
    assert d.task == task
    assert np.all(np.isfinite(d.X_train)) and d.X_train.shape[-1] == len(d.feature_names)


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


def _csv(tmp_path, df, name="bad.csv"):
    f = tmp_path / name
    df.to_csv(f, index=False)
    return str(f)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda t: dict(name="nope"), "unknown dataset 'nope'.*synthetic_sparse"),
        (lambda t: dict(name="make_regression", params={"n_sample": 5}), "n_sample.*accepted"),
        (lambda t: dict(name="make_regression", params={"random_state": 5}), "random_state"),
        (lambda t: dict(name="make_regression", params={"n_samples": -3}), "make_regression"),
        (lambda t: dict(name="diabetes", params={"n_samples": 5}), "takes no params"),
        (lambda t: dict(name="diabetes", seeds=[]), "seeds"),
        (lambda t: dict(name="diabetes", seeds=[-1]), "seeds"),
        (lambda t: dict(name="diabetes", test_size=1.0), "test_size"),
        (lambda t: dict(name="diabetes", task="ranking"), "task"),
        (lambda t: dict(name="file"), "dataset.path"),
        (lambda t: dict(name="file", path=str(t / "missing.csv"), target="y"), "no such file"),
        (lambda t: dict(name="file", path=str(t / "x.xlsx"), target="y"), "unsupported suffix"),
        (
            lambda t: dict(
                name="file",
                target="y",
                path=_csv(t, pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [1.0, 0, 1, 0]})),
            ),
            "target column 'y' not found; columns are a, b",
        ),
        (
            lambda t: dict(
                name="file",
                target="y",
                path=_csv(t, pd.DataFrame({"a": [1.0, np.nan, 3, 4, 5], "y": [1.0, 2, 3, 4, 5.5]})),
            ),
            "NaN or infinite values in columns 0",
        ),
        (
            lambda t: dict(
                name="file",
                target="y",
                path=_csv(t, pd.DataFrame({"a": ["u", "v", "w", "x"], "y": [1.0, 2, 3, 4.5]})),
            ),
            "non-numeric feature columns a",
        ),
        (
            lambda t: dict(
                name="file",
                target="y",
                path=_csv(t, pd.DataFrame({"a": [1.0, 1, 1, 1], "y": [1.0, 2, 3, 4.5]})),
            ),
            "every feature is constant",
        ),
        (
            lambda t: dict(
                name="file",
                target="y",
                path=_csv(t, pd.DataFrame({"a": [1.0, 2, 3], "y": [1.5, 2, 3]})),
            ),
            "too few for test_size",
        ),
        (
            lambda t: dict(
                name="file",
                target="y",
                task="classification",
                path=_csv(t, pd.DataFrame({"a": np.arange(8.0), "y": ["k"] * 8})),
            ),
            "at least 2 classes",
        ),
        (
            lambda t: dict(
                name="file",
                target="y",
                path=_csv(t, pd.DataFrame({"a": np.arange(8.0), "y": [0, 0, 0, 0, 0, 0, 0, 1]})),
            ),
            "stratified split needs every class",
        ),
        (
            lambda t: dict(
                name="file",
                target="y",
                path=_csv(
                    t, pd.DataFrame({"a": np.arange(8.0), "y": [1.5, np.inf, 2, 3, 4, 5, 6, 7]})
                ),
            ),
            "target has 1 NaN or infinite",
        ),
        (
            lambda t: dict(name="file", target="y", path=_csv(t, pd.DataFrame(columns=["a", "y"]))),
            "no rows",
        ),
    ],
)
def test_bad_data_gets_a_clear_error(tmp_path, make, match):
    kwargs = make(tmp_path)
    kwargs.setdefault("seeds", [0])
    name = kwargs.pop("name")
    with pytest.raises(DataError, match=match):
        load_dataset(name, **kwargs)


def test_every_registered_dataset_has_a_config():
    from conftest import CONFIGS

    configs = {p.stem for p in (CONFIGS / "dataset").glob("*.yaml")}
    assert set(DATASETS) <= configs
