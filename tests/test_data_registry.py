"""The dataset registry and its plug-in convention: every registered dataset, and a user's own
loader named by ``_target_``, loads the same way."""

import inspect
import re
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from l1bench.config import ConfigError, validate
from l1bench.data import DATASETS, DataError, Loader, Raw, load_dataset, loader_for
from l1bench.data.loader import RESERVED, as_loader

from conftest import CONFIGS, compose_config

pytestmark = pytest.mark.fast

NAMES = sorted(DATASETS)


def _file_settings(tmp_path):
    """A small csv for loaders that read a file: ``{path, target}``."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.standard_normal((24, 3)), columns=["a", "b", "c"])
    df["y"] = df["a"] - 2 * df["b"] + 0.1 * rng.standard_normal(24)
    f = tmp_path / "small.csv"
    df.to_csv(f, index=False)
    return {"path": str(f), "target": "y"}


def _small(name, tmp_path, **kwargs):
    """``load_dataset(name)`` at its loader's small example size."""
    loader = DATASETS[name]
    extra = _file_settings(tmp_path) if loader.reads_file else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # digits drops constant pixels with a warning
        return load_dataset(name, params=dict(loader.example), **extra, **kwargs)


def test_the_registry_is_every_module_of_the_datasets_package():
    import pkgutil

    import l1bench.data.datasets as package

    modules = {m.name for m in pkgutil.iter_modules(package.__path__)}
    assert set(DATASETS) == modules and len(modules) >= 1
    for name, loader in DATASETS.items():
        assert isinstance(loader, Loader), name
        assert next(iter(inspect.signature(loader.load).parameters)) == "seed", name


@pytest.mark.parametrize("name", NAMES)
def test_every_dataset_loads_small_finite_standardized_with_its_declared_task(name, tmp_path):
    d = _small(name, tmp_path, seeds=[0, 1])
    S, n_train, p = d.X_train.shape
    assert S == 2 and n_train >= 2 and p == len(d.feature_names) >= 1
    assert d.X_test.shape[0] == S and d.X_test.shape[1] >= 2 and d.X_test.shape[2] == p
    for a in (d.X_train, d.X_test, d.y_train, d.y_test):
        assert np.all(np.isfinite(a))
    np.testing.assert_allclose(d.X_train.mean(axis=1), 0, atol=1e-10)
    std = d.X_train.std(axis=1)
    assert np.all(np.isclose(std, 1, atol=1e-10) | (std == 0))  # 0: constant on the train part
    declared = DATASETS[name].task
    if declared == "regression":
        assert d.task == "regression" and d.classes is None
    elif declared == "classification":
        assert d.task == ("binary" if len(d.classes) == 2 else "multiclass")
        assert set(np.unique(d.y_train)) == set(range(len(d.classes)))


@pytest.mark.parametrize("name", NAMES)
def test_every_dataset_is_reproducible_by_seed_and_uses_it_as_declared(name, tmp_path):
    kwargs = dict(seeds=[0, 1], test_size=0, standardize=False)
    a, b = _small(name, tmp_path, **kwargs), _small(name, tmp_path, **kwargs)
    for field in ("X_train", "y_train", "X_test", "y_test", "scale", "offset"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.feature_names == b.feature_names and a.classes == b.classes
    # without a split the rows are the loader's own: a loader that ignores the seed gives the
    # same rows to every seed, one that uses it draws new data
    same = np.array_equal(a.X_train[0], a.X_train[1])
    assert same is not DATASETS[name].uses_seed


@pytest.mark.parametrize("name", NAMES)
def test_every_dataset_has_a_config_naming_its_loader(name):
    spec = yaml.safe_load((CONFIGS / "dataset" / f"{name}.yaml").read_text())
    assert spec["_target_"] == f"l1bench.data.datasets.{name}.LOADER"
    assert spec["_partial_"] is True and spec["name"] == name
    cfg = validate(
        compose_config(f"dataset={name}", "dataset.path=x.csv")
        if name == "file"
        else compose_config(f"dataset={name}")
    )
    assert loader_for(cfg.dataset.name, cfg.dataset._target_) is DATASETS[name]


@pytest.mark.parametrize("name", NAMES)
def test_every_dataset_declares_params_its_loader_takes(name):
    loader = DATASETS[name]
    assert loader.params is None or not set(loader.params) & set(RESERVED)
    if loader.params is not None:
        assert set(loader.example) <= set(loader.params)
    sig = inspect.signature(loader.load).parameters
    assert loader.reads_file == ("path" in sig and "target" in sig)


def _user_module(tmp_path, monkeypatch, source):
    """A module of ``source`` on ``sys.path``, named after the test (so never one cached)."""
    name = "userdata_" + re.sub(r"\W", "_", tmp_path.name)
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


LINEAR = """
    import numpy as np
    from l1bench.data import Raw

    W = np.array([1.0, -2.0, 0.5])

    def load(seed, n_samples=30):
        X = np.random.default_rng(seed).standard_normal((n_samples, 3))
        return Raw(X, X @ W, W, "regression")
"""


def test_a_user_function_named_by_its_dotted_path_loads_like_a_shipped_dataset(
    tmp_path, monkeypatch
):
    module = _user_module(tmp_path, monkeypatch, LINEAR)
    d = load_dataset(
        "mine",
        seeds=[4],
        params={"n_samples": 20},
        test_size=0,
        standardize=False,
        loader=f"{module}.load",
    )
    X = np.random.default_rng(4).standard_normal((20, 3))
    w = np.array([1.0, -2.0, 0.5])
    np.testing.assert_array_equal(d.X_train[0], X)
    np.testing.assert_array_equal(d.y_train[0], X @ w)
    np.testing.assert_array_equal(d.true_coef[0], w)
    assert d.name == "mine" and d.task == "regression"
    with pytest.raises(DataError, match="dataset mine: unknown params n; accepted params: n_samp"):
        load_dataset("mine", seeds=[0], params={"n": 5}, loader=f"{module}.load")


def test_a_plain_function_is_described_by_its_signature():
    def load(seed, *, a=1, b=2.0):
        return Raw(np.eye(3), np.arange(3.0))

    def any_params(seed, **params):
        return Raw(np.eye(3), np.arange(3.0))

    def from_a_file(seed, path, target):
        return Raw(np.eye(3), np.arange(3.0))

    described = as_loader(load)
    assert described.params == ("a", "b") and described.uses_seed and described.task == "auto"
    assert not described.reads_file and as_loader(from_a_file).reads_file
    assert as_loader(any_params).params is None
    assert as_loader(described) is described
    with pytest.raises(TypeError, match="not callable"):
        as_loader(3)


def test_the_task_is_the_argument_else_the_declared_one_else_the_raws_else_inferred():
    X = np.arange(40.0).reshape(20, 2) ** [1, 2]
    y = np.arange(20) % 2  # integer labels, few values: inferred as classes

    def raw_task(task):
        return lambda seed: Raw(X, y, None, task)

    def task_of(loader, task="auto"):
        return load_dataset("t", seeds=[0], loader=loader, task=task, test_size=0.5).task

    assert task_of(raw_task("auto")) == "binary"
    assert task_of(raw_task("regression")) == "regression"
    assert task_of(Loader(raw_task("regression"), task="classification")) == "binary"
    assert task_of(Loader(raw_task("auto"), task="classification"), "regression") == "regression"


def test_a_loader_that_ignores_the_seed_is_called_once():
    calls = []

    def load(seed):
        calls.append(seed)
        return Raw(np.arange(20.0).reshape(10, 2) ** [1, 2], np.arange(10.0), task="regression")

    load_dataset("once", seeds=[0, 1, 2], loader=Loader(load, uses_seed=False))
    assert calls == [0]
    load_dataset("each", seeds=[0, 1, 2], loader=load)
    assert calls == [0, 0, 1, 2]


def test_a_loader_returning_something_else_than_raw_is_named():
    with pytest.raises(DataError, match="dataset odd: its loader returned a tuple; a loader "):
        load_dataset("odd", seeds=[0], loader=lambda seed: (np.eye(3), np.arange(3.0)))


@pytest.mark.parametrize(
    "target,match",
    [
        (
            "nonexistent_pkg_zz.load",
            r"dataset._target_='nonexistent_pkg_zz.load' cannot be "
            r"imported: .*No module named 'nonexistent_pkg_zz'.*PYTHONPATH",
        ),
        ("l1bench.data.datasets.nope.LOADER", "cannot be imported: .*l1bench.data.datasets.nope"),
        ("l1bench.data.split.HUGE", r"dataset._target_='l1bench.data.split.HUGE' is not a loader"),
        ("", "must be a dotted path"),
        ("mine_zz.broken.load", "cannot be imported: .*No module named 'not_installed_zz'"),
    ],
)
def test_a_target_that_cannot_be_imported_or_called_names_the_field(
    tmp_path, monkeypatch, target, match
):
    package = tmp_path / "mine_zz"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "broken.py").write_text("import not_installed_zz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(DataError, match=match):
        loader_for("mine", target)
    with pytest.raises(ConfigError, match=match):
        validate(compose_config(f"dataset._target_={target}" if target else "dataset._target_=''"))


def test_a_user_target_is_resolved_at_start_up(tmp_path, monkeypatch):
    module = _user_module(tmp_path, monkeypatch, LINEAR)
    cfg = validate(compose_config(f"dataset._target_={module}.load", "dataset.name=mine"))
    assert loader_for(cfg.dataset.name, cfg.dataset._target_).load.__module__ == module


def test_a_name_override_that_leaves_another_datasets_loader_is_refused():
    with pytest.raises(
        ConfigError,
        match="dataset.name='diabetes' is a shipped dataset but "
        r".*synthetic_sparse.*choose the dataset with dataset=diabetes",
    ):
        validate(compose_config("dataset.name=diabetes"))
    cfg = validate(compose_config("dataset=diabetes", "dataset.name=my_diabetes"))
    assert loader_for(cfg.dataset.name, cfg.dataset._target_) is DATASETS["diabetes"]


def test_a_config_without_target_is_the_shipped_dataset_of_its_name():
    cfg = validate(compose_config("dataset=iris", "dataset._target_=null"))
    assert cfg.dataset._target_ is None
    assert loader_for(cfg.dataset.name, cfg.dataset._target_) is DATASETS["iris"]
    with pytest.raises(ConfigError, match="unknown dataset 'nope'; choose one of"):
        validate(compose_config("dataset._target_=null", "dataset.name=nope"))


def test_partial_must_be_true():
    with pytest.raises(ConfigError, match="dataset._partial_=False must be true"):
        validate(compose_config("dataset._partial_=false"))


def test_a_loader_declares_a_known_task():
    with pytest.raises(ValueError, match="Loader.task='ranking'; choose one of regression"):
        Loader(lambda seed: None, task="ranking")
    with pytest.raises(TypeError, match="Loader.load=3 is not callable"):
        Loader(3)
