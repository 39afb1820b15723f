"""The default run: four penalties under a noise suite, written as robustness tables."""

import numpy as np
import pandas as pd
import pytest

from l1bench import pipeline
from l1bench.config import ConfigError, validate

from conftest import compose_config

SMALL = (
    "n_seeds=2",
    "penalty.l1.n_lambdas=4",
    "penalty.l2.n_lambdas=4",
    "penalty.elastic_net.n_lambdas=4",
    "penalty.dropout.dropout=[0.1,0.5]",
    "noise.draws=3",
    "train_noise=none",
)


@pytest.fixture(scope="module")
def default_run():
    return pipeline.run(validate(compose_config(*SMALL)))


def test_default_run_compares_four_penalties_under_the_suite(default_run):
    rob = default_run.robustness
    assert set(rob["penalty"]) == {"l1", "l2", "elastic_net", "dropout"}
    assert {
        "gaussian",
        "adversarial_linf",
        "feature_dropout",
        "param_multiplicative",
        "student_t",
        "adversarial_l2",
    } == set(rob["noise"])
    # one row per fit x noise x level
    n_levels = rob.groupby("noise")["level"].nunique().sum()
    assert len(rob) == len(default_run.fits) * n_levels
    assert (rob.loc[rob["noise"].str.startswith("adversarial"), "draws"] == 1).all()


def test_adversarial_rows_equal_the_dual_norm_closed_form(default_run):
    cfg = validate(compose_config(*SMALL))
    data = pipeline.load(cfg)
    coef, intercept = pipeline.linear_coefficients(default_run.params)
    fits, rob = default_run.fits, default_run.robustness
    adv = rob[rob["noise"] == "adversarial_linf"]
    for i in range(0, len(fits), 7):
        row = fits.iloc[i]
        s = int(row["seed"]) - cfg.seed
        r = data.y_test[s] - data.X_test[s] @ coef[i] - intercept[i]
        for _, a in adv[
            (adv["penalty"] == row["penalty"])
            & (adv["seed"] == row["seed"])
            & (adv["lam_index"] == row["lam_index"])
        ].iterrows():
            closed = np.mean((np.abs(r) + a["level"] * np.abs(coef[i]).sum()) ** 2)
            assert a["error"] == pytest.approx(closed, rel=1e-10)


def test_summary_has_both_tables_and_latex(default_run, tmp_path):
    text = pipeline.write(default_run, tmp_path, {"overrides": []})
    assert "## Robustness versus sparsity" in text and "## Selected" in text
    tex = (tmp_path / "summary.tex").read_text()
    assert r"\toprule" in tex and r"\bottomrule" in tex
    rob = pd.read_csv(tmp_path / "robustness.csv")
    assert len(rob) == len(default_run.robustness)


def test_selected_table_has_one_row_per_penalty(default_run):
    from l1bench.results import robustness_summary

    table, noises = robustness_summary(default_run.fits, default_run.robustness, selected=True)
    assert sorted(table["penalty"]) == sorted(["l1", "l2", "elastic_net", "dropout"])
    assert (table["n_seeds"] == 2).all() and "adversarial_linf" in noises


def test_support_recovery_columns_on_a_known_support(default_run):
    f = default_run.fits
    assert {"support_precision", "support_recall", "support_f1"} <= set(f.columns)
    empty = f[(f["penalty"] == "l1") & (f["nnz"] == 0)]
    assert len(empty) and (empty["support_recall"] == 0).all()
    assert empty["support_precision"].isna().all()  # nothing selected: precision is 0/0


@pytest.mark.parametrize(
    "override,match",
    [
        ("noise.models.gaussian.levels=[-0.1]", "levels"),
        ("noise.draws=0", "draws"),
        ("+noise.models.blur.levels=[0.1]", "unknown noise model"),
        ("noise.models.adversarial_linf.attack=exact", "attack=exact"),
        ("+train_noise.name=adversarial_linf", "train_noise.name"),
    ],
)
def test_invalid_noise_settings_fail_at_start_up(override, match):
    extra = ("model=mlp", "solver=optax") if "attack=exact" in override else ()
    with pytest.raises(ConfigError, match=match):
        validate(compose_config(override, *extra))


def test_train_noise_corrupts_only_the_training_part():
    clean = validate(compose_config("penalty=l1", "cv_folds=0", "noise=none"))
    noisy = validate(
        compose_config(
            "penalty=l1",
            "cv_folds=0",
            "noise=none",
            "train_noise.name=gaussian",
            "train_noise.level=0.5",
        )
    )
    d0 = pipeline.load(clean)
    d1 = pipeline.corrupt_training_data(noisy, pipeline.load(noisy))
    np.testing.assert_array_equal(d0.X_test, d1.X_test)
    assert np.std(d1.X_train - d0.X_train) == pytest.approx(0.5, rel=0.05)
