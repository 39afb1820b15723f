"""The config tree composes, every group option validates, and bad values name their field."""

import re
from dataclasses import fields

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigKeyError

from l1bench.config import (
    Config,
    ConfigError,
    DatasetConfig,
    PenaltyConfig,
    SolverConfig,
    unknown_key,
    validate,
)

from conftest import CONFIGS, compose_config

pytestmark = pytest.mark.fast

GROUPS = ["dataset", "model", "penalty", "noise", "solver", "experiment"]


def options(group):
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


def test_every_group_exists_with_options():
    for group in GROUPS:
        assert options(group), group


@pytest.mark.parametrize("group", GROUPS)
def test_every_option_composes_and_validates(group):
    for option in options(group):
        extra = {
            ("dataset", "file"): ["dataset.path=x.csv"],
            ("model", "mlp"): ["solver=optax"],
        }.get((group, option), [])
        cfg = validate(compose_config(f"{group}={option}", *extra))
        assert isinstance(cfg, Config)


def test_default_compares_four_penalties():
    cfg = validate(compose_config())
    assert list(cfg.penalty) == ["l1", "l2", "elastic_net", "dropout"]
    assert [p.kind for p in cfg.penalty.values()] == ["l1", "l2", "elastic_net", "dropout"]


def test_penalty_option_narrows_to_one():
    cfg = validate(compose_config("penalty=l1"))
    assert list(cfg.penalty) == ["l1"]


def test_seed_experiment_is_the_article():
    cfg = validate(compose_config("experiment=seed"))
    assert cfg.dataset.name == "make_regression"
    assert cfg.dataset.params == {"n_samples": 100, "n_features": 1, "noise": 0.1}
    assert cfg.penalty["l1"].lam == [0.1]
    assert cfg.dataset.test_size == 0 and cfg.dataset.standardize is False


def test_typo_fails_at_composition():
    with pytest.raises((ConfigCompositionException, ConfigKeyError), match="lamda"):
        compose_config("penalty.l1.lamda=0.1")


@pytest.mark.parametrize(
    "key,where,schema",
    [
        ("sed", "the root config", Config),
        ("solver.tol_typo", "solver", SolverConfig),
        ("penalty.my_l1.lamda", "penalty.my_l1", PenaltyConfig),
        ("dataset.n_samples", "dataset", DatasetConfig),
    ],
)
def test_unknown_key_names_the_keys_taken_there(key, where, schema):
    keys = ", ".join(f.name for f in fields(schema))
    assert unknown_key(key) == f"{key} is not a config key; {where} takes {keys}"


@pytest.mark.parametrize(
    "key",
    [
        "seed",
        "solver.tol",
        "penalty.any_label.lam",
        "dataset.params.n_samples",
        "noise.models.gaussian",
        "train_noise.options.p",
        "train_noise.regression.label_outliers.levels",
        "train_noise.classification.label_flip",
        "hydra.run.dir",
    ],
)
def test_known_and_free_keys_are_not_unknown(key):
    assert unknown_key(key) is None


@pytest.mark.parametrize(
    "override,key", [("+sed=3", "sed"), ("+solver.tol_typo=1", "solver.tol_typo")]
)
def test_an_appended_unknown_key_is_a_config_error(override, key):
    with pytest.raises(ConfigError, match=rf"^{key} is not a config key; .* takes "):
        validate(compose_config(override))


def test_wrong_type_fails_at_composition():
    with pytest.raises(ConfigCompositionException):
        compose_config("seed=abc")


@pytest.mark.parametrize(
    "override,field",
    [
        ("seed=-1", "seed"),
        ("n_seeds=0", "n_seeds"),
        ("dataset.test_size=1.5", "dataset.test_size"),
        ("dataset.task=ranking", "dataset.task"),
        ("solver.precision=float16", "solver.precision"),
        ("solver.tol=0", "solver.tol"),
        ("solver.max_iter=0", "solver.max_iter"),
        ("penalty.elastic_net.l1_ratio=2", "penalty.elastic_net.l1_ratio"),
        ("penalty.l1.lam=[-1.0]", "penalty.l1.lam[0]"),
        ("penalty.l1.lam=[0.5,-1.0]", "penalty.l1.lam[1]=-1.0"),
        ("penalty.l1.lam=[]", "penalty.l1.lam"),
        ("penalty.l1.n_lambdas=0", "penalty.l1.n_lambdas"),
        ("penalty.l1.lambda_min_ratio=0", "penalty.l1.lambda_min_ratio"),
        ("penalty.dropout.dropout=[1.0]", "penalty.dropout.dropout"),
        ("penalty.dropout.dropout_mode=gaussian", "penalty.dropout.dropout_mode"),
        ("model=mlp", "model=mlp needs solver=optax"),
        ("model.hidden=[4]", "model.hidden"),
        ("cv_folds=1", "cv_folds"),
        ("solver=optax penalty.dropout.dropout_mode=marginalized", "marginalized"),
        ("solver=optax solver.optimizer=rmsprop", "solver.optimizer"),
        ("solver=optax solver.learning_rate=-1", "solver.learning_rate"),
        ("penalty.l1.kind=l3", "penalty.l1.kind"),
        ("loss=logistic", "loss._target_=l1bench.losses.logistic.LOSS is a binary loss"),
        ("penalty.l1._target_=nowhere.make", "penalty.l1._target_='nowhere.make' cannot be"),
        ("penalty.l1.kind=l2", "penalty.l1.kind='l2' is not allowed; choose one of l1"),
        ("+penalty.l1.params.gamma=3", "penalty.l1.params is for penalties from a user's own"),
        ("loss._target_=nowhere.LOSS", "loss._target_='nowhere.LOSS' cannot be imported"),
        ("penalty.l1.l1_ratio=0.5", "penalty.l1.l1_ratio"),
        ("solver.algorithm=newton", "solver.algorithm"),
        ("solver.algorithm=gram_ws", "auto, gram, design, working_set"),
        ("solver=optax solver.algorithm=gram", "solver.algorithm"),
        ("model=logistic solver.algorithm=design", "solver.algorithm"),
    ],
)
def test_bad_values_name_the_field_and_choices(override, field):
    with pytest.raises(ConfigError, match=re.escape(field)):
        validate(compose_config(*override.split()))


@pytest.mark.parametrize(
    "overrides,mode",
    [
        ((), "marginalized"),
        (("solver=optax",), "stochastic"),
        (("model=logistic",), "stochastic"),
        (("model=mlp", "solver=optax"), "stochastic"),
    ],
)
def test_dropout_mode_auto_resolves_by_model_and_solver(overrides, mode):
    assert validate(compose_config(*overrides)).penalty["dropout"].dropout_mode == mode


def test_choice_errors_list_allowed_values():
    with pytest.raises(ConfigError, match="float64, float32"):
        validate(compose_config("solver.precision=half"))


@pytest.mark.parametrize(
    "overrides,label,field,value",
    [
        (("penalty=l1", "penalty.l1.lam=0.1"), "l1", "lam", [0.1]),
        (("penalty=l2", "penalty.l2.lam=2"), "l2", "lam", [2.0]),
        (("penalty=l1", "penalty.l1.lam=[1,0.1]"), "l1", "lam", [1.0, 0.1]),
        (("penalty=dropout", "penalty.dropout.dropout=0.3"), "dropout", "dropout", [0.3]),
    ],
)
def test_a_scalar_strength_on_the_command_line_is_a_one_point_list(overrides, label, field, value):
    cfg = validate(compose_config(*overrides))
    assert getattr(cfg.penalty[label], field) == value


def test_a_scalar_strength_in_yaml_is_a_one_point_list(tmp_path):
    (tmp_path / "penalty").mkdir()
    (tmp_path / "penalty" / "scalar.yaml").write_text(
        "scalar_l1:\n  kind: l1\n  lam: 0.05\nscalar_dropout:\n  kind: dropout\n  dropout: 0.2\n"
    )
    cfg = validate(compose_config(f"hydra.searchpath=[file://{tmp_path}]", "penalty=scalar"))
    assert cfg.penalty["scalar_l1"].lam == [0.05]
    assert cfg.penalty["scalar_dropout"].dropout == [0.2]


@pytest.mark.parametrize(
    "override,field",
    [
        ("penalty.l1.lam=abc", "penalty.l1.lam='abc' is not a number"),
        ("penalty.l1.lam=true", "penalty.l1.lam=True is not a number"),
        ("penalty.l1.lam=[0.1,[0.2]]", "penalty.l1.lam[1]=[0.2] is not a number"),
        ("penalty.l1.lam=-0.1", "penalty.l1.lam[0]=-0.1 must be a finite number >= 0"),
    ],
)
def test_a_strength_that_is_not_a_number_names_the_field(override, field):
    with pytest.raises(ConfigError, match=re.escape(field)):
        validate(compose_config("penalty=l1", override))
