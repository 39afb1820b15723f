"""Conformance of every registered noise model: each test iterates the registry, never a list.

For every model of :data:`l1bench.noise.NOISE_MODELS` (the modules of l1bench/noise/models/),
at every stage and on every task it declares: level 0 leaves X, y and the weights unchanged;
an additive model adds ``level`` times one sample drawn from the key alone, and the robustness
evaluation's quadratic form equals its direct evaluation; each option's check rejects a bad
value with a message naming the option and the value; the shipped YAMLs name the models by
``_target_``.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from omegaconf import OmegaConf

import l1bench.noise as noise_pkg
import l1bench.runtime  # noqa: F401  (turns on float64, as every l1bench entry point does)
from l1bench import models, robustness
from l1bench.noise import NOISE_MODELS, check_entry, check_model, load
from l1bench.noise.spec import NoiseModel

ROOT = Path(__file__).resolve().parents[1]
N, P, K = 40, 5, 3  # rows, features, classes of the multiclass data
# the config path of a suite at each stage, per task (train_noise has one suite per task kind)
SUITE_PATH = {
    ("test", "regression"): "noise.models",
    ("test", "binary"): "noise.models",
    ("test", "multiclass"): "noise.models",
    ("train", "regression"): "train_noise.regression",
    ("train", "binary"): "train_noise.classification",
    ("train", "multiclass"): "train_noise.classification",
}


def _cases(select=lambda m: True):
    """(name, stage, task) for every registered model, each stage and task it declares."""
    return [
        (name, stage, task)
        for name, m in NOISE_MODELS.items()
        if select(m)
        for stage in m.stages
        for task in m.supports
    ]


def _data(task, seed=0):
    """Inputs, targets (class indices as floats for classification) and K for ``task``."""
    rng = np.random.default_rng(seed)
    X = jnp.asarray(rng.standard_normal((N, P)) + 0.5)
    k = {"regression": 1, "binary": 2, "multiclass": K}[task]
    y = rng.standard_normal(N) if task == "regression" else rng.integers(0, k, N).astype(float)
    return X, jnp.asarray(y), k


def _params(task, hidden=()):
    out = K if task == "multiclass" else 1
    return models.init(jax.random.key(3), P, out, hidden=hidden)


def _same(a, b):
    return jax.tree_util.tree_all(
        jax.tree_util.tree_map(lambda u, v: bool(jnp.array_equal(u, v)), a, b)
    )


# ---------------------------------------------------------------- the registry


def test_the_registry_holds_every_module_of_the_models_package():
    files = sorted(p.stem for p in (ROOT / "l1bench/noise/models").glob("*.py"))
    assert sorted(NOISE_MODELS) == [f for f in files if f != "__init__"]
    for name, m in NOISE_MODELS.items():
        module = __import__(f"l1bench.noise.models.{name}", fromlist=["MODEL"])
        assert m is module.MODEL and m.name == name
        assert check_model(m, name) is m
        assert m.description and m.level, name  # its formula and what its levels are


@pytest.mark.parametrize("name", sorted(NOISE_MODELS))
def test_the_package_docstring_lists_every_model(name):
    table = [line.split()[0] for line in noise_pkg.__doc__.splitlines() if line.strip()]
    assert name in table


# ---------------------------------------------------------------- level 0


@pytest.mark.parametrize("name,stage,task", _cases())
def test_level_zero_leaves_the_data_and_the_weights_unchanged(name, stage, task):
    """At its stage (test: a fitted model's weights; train: None, as the contamination passes)
    and on each of its tasks, level 0 returns X, y and the weights unchanged: for the test
    stage with a linear model and an MLP (the adversarial models' exact and PGD paths), and
    the closed-form outputs, where a model has them, are the clean outputs."""
    m = NOISE_MODELS[name]
    X, y, k = _data(task)
    ctx = dict(task=task, n_classes=max(k, 2), activation="relu", train_mean=X.mean(axis=0))
    shapes = [_params(task), _params(task, hidden=(4,))] if stage == "test" else [None]
    for params in shapes:
        fn = jax.jit(lambda key, X, y, p: m.fn(key, X, y, p, 0.0, **ctx, **m.options))
        X2, y2, p2 = fn(jax.random.key(1), X, y, params)
        assert _same(X2, X) and _same(y2, y), (name, stage, task)
        assert params is None and p2 is None or _same(p2, params), (name, stage, task)
        closed = (
            None
            if m.outputs is None or params is None
            else m.outputs(jax.random.key(1), X, y, params, 0.0, **ctx, **m.options)
        )
        if closed is not None:
            clean = jax.vmap(lambda x: models.apply(params, x))(X)
            np.testing.assert_allclose(closed[0], clean, rtol=1e-13, atol=1e-13)
            assert _same(closed[1], y)


# ---------------------------------------------------------------- additive models

ADDITIVE = sorted(k for k, m in NOISE_MODELS.items() if m.additive)
TOUCHES = {"inputs": 0, "labels": 1, "params": 2}


@pytest.mark.parametrize("name", ADDITIVE)
def test_an_additive_model_adds_level_times_one_sample_of_the_key(name):
    """``target' = target + ℓ·E`` with E the perturbation of a zero target at level 1 (drawn
    from the key alone: the same for other data), what is not the target unchanged."""
    m = NOISE_MODELS[name]
    task = m.supports[0]
    X, y, k = _data(task)
    params = _params(task)
    key, level = jax.random.key(7), 0.37
    i = TOUCHES[m.target]
    zero = [jnp.zeros_like(X), jnp.zeros_like(y), jax.tree_util.tree_map(jnp.zeros_like, params)]
    E = m.fn(key, *zero, 1.0, task=task, **m.options)[i]
    data = (X, y, params)
    out = m.fn(key, *data, level, task=task, **m.options)
    want = jax.tree_util.tree_map(lambda a, e: a + level * e, data[i], E)
    if m.target == "params":  # biases are never perturbed
        want = tuple({**w, "b": p["b"]} for w, p in zip(want, params, strict=True))
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13), out[i], want
    )
    assert all(_same(out[j], data[j]) for j in range(3) if j != i)


@pytest.mark.parametrize("name", [k for k in ADDITIVE if {"test"} <= set(NOISE_MODELS[k].stages)])
def test_the_quadratic_form_equals_the_direct_evaluation_for_every_additive_model(name):
    """robustness.evaluate with method forced: the quadratic form (it runs) gives the direct
    path's MSE and R² to 1e-10 relative in float64, over two problems and four draws."""
    rng = np.random.default_rng(5)
    S, F, n, p = 2, 9, 60, 4
    W = rng.standard_normal((S, F, p)) * (rng.random((S, F, p)) < 0.7)
    W[:, -1] = 0.0  # a fit with w = 0 keeps its clean MSE at every level
    b = 0.1 * rng.standard_normal((S, F))
    X = rng.standard_normal((S, n, p)) + 0.3
    y = np.einsum("snp,sp->sn", X, W[:, 0]) + 0.2 * rng.standard_normal((S, n))
    params = ({"w": jnp.asarray(W)[..., None], "b": jnp.asarray(b)[..., None]},)
    entry = check_entry(name, {"levels": [0.0, 0.3, 1.5]}, task="regression", depth=1)
    args = (params, X, y, np.array([2, 11]), [entry])
    kw = dict(draws=4, task="regression")
    (direct,) = robustness.evaluate(*args, method="direct", **kw)
    (quad,) = robustness.evaluate(*args, method="quadratic", **kw)
    assert (direct.method, quad.method) == ("direct", "quadratic")
    for metric in ("mse", "r2"):
        d, q = direct.errors[metric], quad.errors[metric]
        assert q.shape == (S, F, 3, 4)
        np.testing.assert_allclose(q, d, rtol=1e-10, atol=1e-12, err_msg=f"{name} {metric}")
    assert not np.array_equal(direct.errors["mse"][:, :, 1], direct.errors["mse"][:, :, 0])


# ---------------------------------------------------------------- option checks


def _usable(m):
    """A stage and a task the model can be checked at."""
    return m.stages[0], m.supports[0]


@pytest.mark.parametrize("name,stage,task", _cases())
def test_the_defaults_pass_the_checks_everywhere_a_model_applies(name, stage, task):
    m = NOISE_MODELS[name]
    path = SUITE_PATH[stage, task]
    entry = check_entry(name, {"levels": [0.0, 0.5]}, task=task, depth=1, path=path, stage=stage)
    assert entry.model is m and entry.options == dict(m.options) and entry.levels == (0.0, 0.5)


def _bad_values(default):
    """Values no option may take: a word where none is allowed, and NaN where a number is."""
    numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
    return ["bogus"] + ([float("nan")] if numeric else [])


OPTION_CASES = [
    (name, option, bad)
    for name, m in NOISE_MODELS.items()
    for option, default in m.options.items()
    for bad in _bad_values(default)
]


@pytest.mark.parametrize("name,option,bad", OPTION_CASES)
def test_an_option_check_rejects_a_bad_value_naming_the_option_and_the_value(name, option, bad):
    m = NOISE_MODELS[name]
    stage, task = _usable(m)
    path = SUITE_PATH[stage, task]
    with pytest.raises(ValueError) as err:
        check_entry(
            name, {"levels": [0.1], option: bad}, task=task, depth=1, path=path, stage=stage
        )
    assert f"{path}.{name}.{option}={bad!r}" in str(err.value)


@pytest.mark.parametrize("name", sorted(NOISE_MODELS))
def test_an_unknown_option_and_a_bad_level_are_rejected_naming_them(name):
    m = NOISE_MODELS[name]
    stage, task = _usable(m)
    path = SUITE_PATH[stage, task]
    check = lambda spec: check_entry(name, spec, task=task, depth=1, path=path, stage=stage)
    with pytest.raises(ValueError, match=rf"{path}\.{name}: unknown option bogus_option"):
        check({"levels": [0.1], "bogus_option": 1})
    with pytest.raises(ValueError, match=rf"{path}\.{name}\.levels contains -0\.1"):
        check({"levels": [-0.1]})
    if m.fraction:
        with pytest.raises(ValueError, match=rf"{path}\.{name}\.levels are probabilities"):
            check({"levels": [1.5]})
    else:
        assert check({"levels": [1.5]}).levels == (1.5,)


# ---------------------------------------------------------------- the shipped YAMLs


def _entries(path):
    """The ``{key: node}`` suite entries of a configs/noise or configs/train_noise file."""
    cfg = OmegaConf.to_container(OmegaConf.load(path))
    if path.parent.name == "noise":
        return dict(cfg.get("models") or {})
    return {**(cfg.get("regression") or {}), **(cfg.get("classification") or {})}


YAMLS = sorted((ROOT / "configs/noise").glob("*.yaml")) + sorted(
    (ROOT / "configs/train_noise").glob("*.yaml")
)


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_yaml_names_its_models_by_target(path):
    for key, node in _entries(path).items():
        target = f"l1bench.noise.models.{key}.MODEL"
        assert node.get("_target_") == target, (path.name, key)
        assert load(target, path="_target_") is NOISE_MODELS[key]


@pytest.mark.parametrize("name", [k for k, m in NOISE_MODELS.items() if "test" in m.stages])
def test_every_test_stage_model_has_its_config_group_file(name):
    assert set(_entries(ROOT / f"configs/noise/{name}.yaml")) == {name}


def test_a_noise_model_object_is_accepted_as_its_own_target():
    """From Python, ``_target_`` may be the NoiseModel itself (what robustness.evaluate_fits
    passes for a checked entry); the entry's key labels it."""
    m = NOISE_MODELS["gaussian"]
    entry = check_entry("g2", {"_target_": m, "levels": [0.2]}, task="regression", depth=1)
    assert entry.model == m._replace(name="g2") and isinstance(entry.model, NoiseModel)


def test_a_relabelled_model_gives_the_errors_of_the_model_it_names():
    """evaluate_fits with ``("g2", levels, {"_target_": <gaussian's NoiseModel>})`` at the
    position of ``gaussian`` draws the same numbers (the key is the suite position's), so
    its errors are gaussian's; checked entries (SuiteEntry) are accepted as they are."""
    rng = np.random.default_rng(2)
    W, b = rng.standard_normal((3, P)), rng.standard_normal(3)
    batch = ({"w": jnp.asarray(W)[:, :, None], "b": jnp.asarray(b)[:, None]},)
    X, y = rng.standard_normal((N, P)), rng.standard_normal(N)
    kw = dict(task="regression", draws=3, key=4, method="direct")
    shipped = robustness.evaluate_fits(batch, X, y, suite=[("gaussian", [0.5])], **kw)
    target = NOISE_MODELS["gaussian"]
    mine = robustness.evaluate_fits(batch, X, y, suite=[("g2", [0.5], {"_target_": target})], **kw)
    entry = check_entry("g3", {"_target_": target, "levels": [0.5]}, task="regression", depth=1)
    checked = robustness.evaluate_fits(batch, X, y, suite=[entry], **kw)
    assert list(mine) == ["g2"] and list(checked) == ["g3"]
    np.testing.assert_array_equal(mine["g2"]["mse"], shipped["gaussian"]["mse"])
    np.testing.assert_array_equal(checked["g3"]["mse"], shipped["gaussian"]["mse"])
    mse = shipped["gaussian"]["mse"]  # (F, levels, draws)
    assert not np.array_equal(mse[..., 0], mse[..., 1])  # the draws differ: noise was drawn
