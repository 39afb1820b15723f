"""Training-set contamination (train_noise suites): theory, rankings, random streams, checks.

References are computed here: the OLS excess-risk formula from the design matrices, σ² for
test-label noise, the outlier count round(ε·n), fold arrays from l1bench.cv on the corrupted
data. Monte-Carlo comparisons allow 3 standard errors estimated from the same sample.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from l1bench import cv, pipeline, report, results
from l1bench.config import ConfigError, validate
from l1bench.noise import NOISE_MODELS, check_entry, models_for, training

from conftest import compose_config

Z = 3.0  # Monte-Carlo standard errors allowed
OFF = ("noise=none", "train_noise=none")  # a run with only what a test adds


def _run(*overrides):
    cfg = validate(compose_config(*overrides))
    return cfg, pipeline.run(cfg)


def _design(X):
    """[X, 1]: the design with the intercept column."""
    return np.column_stack([X, np.ones(len(X))])


# ---------------------------------------------------------------- against theory


def test_ols_excess_mse_under_gaussian_label_noise_matches_theory():
    # y' = y + σZ on the training set; OLS (intercept fitted) refit, clean test MSE:
    # E[MSE' − MSE] = σ² tr(A_test (AᵀA)⁻¹ A_testᵀ) / n_test, A = [X_train, 1]
    sigma, draws = 100.0, 300
    cfg, out = _run(
        "dataset=diabetes",
        "penalty=none",
        "cv_folds=0",
        *OFF,
        f"+train_noise.regression.label_gaussian.levels=[0,{sigma}]",
        f"train_noise.draws={draws}",
    )
    data = pipeline.load(cfg)
    A, At = _design(data.X_train[0]), _design(data.X_test[0])
    theory = sigma**2 * np.trace(At @ np.linalg.solve(A.T @ A, At.T)) / len(At)
    c = out.contamination
    excess = c.loc[c["level"] == sigma, "excess_error"].to_numpy()
    assert len(excess) == draws and (c["status"] == "converged").all()
    se = excess.std(ddof=1) / np.sqrt(draws)
    assert abs(excess.mean() - theory) <= Z * se, (excess.mean(), theory, se)
    assert (c.loc[c["level"] == 0, "excess_error"] == 0).all()


def test_l1_degrades_less_than_ols_under_gross_outliers_on_every_seed():
    # 10% of the training labels replaced by N(ȳ, (10 sd y)²): at λ = 5 (about λ_max / 9) the
    # Lasso's clean-test MSE rises less than OLS's, paired on the same draws, for each seed
    _, out = _run(
        "dataset=diabetes",
        "penalty=[l1,none]",
        "penalty.l1.lam=[5.0]",
        "cv_folds=0",
        "n_seeds=5",
        *OFF,
        "+train_noise.regression.label_outliers.levels=[0.1]",
        "train_noise.draws=6",
    )
    per_seed = out.contamination.groupby(["seed", "penalty"])["excess_error"].mean().unstack()
    assert len(per_seed) == 5
    assert (per_seed["l1"] < per_seed["none"]).all(), per_seed
    assert (per_seed["none"] > 0).all()


def test_test_label_noise_adds_sigma_squared_to_every_fit():
    # on the test set y' = y + σZ: E[MSE'] = MSE + σ² whatever the fit, so it cannot rank them
    sigma, draws = 20.0, 40
    _, out = _run(
        "dataset=diabetes",
        "penalty=l1",
        "penalty.l1.n_lambdas=4",
        "cv_folds=0",
        "train_noise=none",
        "noise=label_noise",
        f"noise.models.label_noise.levels=[{sigma}]",
        f"noise.draws={draws}",
    )
    r = out.robustness
    excess = r["error"] - r["clean_error"]
    se = r["error_sd"] / np.sqrt(r["draws"])
    assert (abs(excess - sigma**2) <= Z * se).all(), (excess, se)


# ---------------------------------------------------------------- a default suite, end to end

SMALL = (
    "dataset=diabetes",
    "penalty=[l1,none]",
    "penalty.l1.lam=[10.0,1.0]",
    "cv_folds=3",
    "noise=none",
    "n_seeds=2",
    "train_noise.draws=2",
)


@pytest.fixture(scope="module")
def small():
    return _run(*SMALL)


def test_table_has_a_row_per_fit_model_level_and_draw(small):
    cfg, out = small
    c, fits = out.contamination, out.fits
    suite = cfg.train_noise.regression
    n_levels = sum(len(spec["levels"]) for spec in suite.values())
    assert len(c) == len(fits) * n_levels * cfg.train_noise.draws
    assert set(c["contamination"]) == set(suite)
    # every corrupted set cross-validates on its own: one pick per set and penalty
    picks = c.groupby(["seed", "penalty", "contamination", "level", "draw"])["cv_best"].sum()
    assert (picks == 1).all()
    info = out.info["contamination"]
    n_sets = sum(sum(lv > 0 for lv in spec["levels"]) for spec in suite.values())
    assert info["problems"] == 2 * n_sets * cfg.train_noise.draws
    assert info["folds"] == "drawn from each contaminated training set"


def test_level_zero_rows_are_the_clean_fit(small):
    _, out = small
    c, fits = out.contamination, out.fits
    zero = c[c["level"] == 0]
    keys = ["seed", "penalty", "lam_index"]
    merged = zero.merge(fits, on=keys, suffixes=("", "_fit"))
    assert len(merged) == len(zero)
    np.testing.assert_array_equal(merged["error"], merged["test_mse"])
    np.testing.assert_array_equal(merged["nnz"], merged["nnz_fit"])
    np.testing.assert_array_equal(merged["cv_best"], merged["cv_best_fit"])
    assert (zero["excess_error"] == 0).all()
    # and a corrupted refit is not the clean fit
    assert (c.loc[c["level"] > 0, "excess_error"] != 0).all()


def test_run_directory_and_report_hold_the_contamination_table(small, tmp_path):
    _, out = small
    text = pipeline.write(out, tmp_path / "run", {"overrides": []})
    assert "## Training-set contamination at the cross-validated λ" in text
    assert "## Training-set contamination along the path" in text
    written = pd.read_csv(tmp_path / "run" / "contamination.csv")
    assert len(written) == len(out.contamination)
    merged = report.write_report([tmp_path / "run"], tmp_path / "merged")
    assert len(merged.tables["contamination.csv"]) == len(out.contamination)
    assert "Training-set contamination" in (tmp_path / "merged" / "summary.md").read_text()


def test_same_config_gives_the_same_contamination_table(small):
    _, again = _run(*SMALL)
    pd.testing.assert_frame_equal(small[1].contamination, again.contamination)


def test_the_corrupted_sets_fit_in_one_call_and_cross_validate_on_their_own_folds(monkeypatch):
    calls = []
    real = pipeline.backends.fit

    def spy(grid, X, y, **kw):
        calls.append((np.array(X), np.array(y)))
        return real(grid, X, y, **kw)

    monkeypatch.setattr(pipeline.backends, "fit", spy)
    k, draws = 2, 2
    cfg, out = _run(
        "dataset=diabetes",
        "penalty=l1",
        "penalty.l1.lam=[1.0]",
        f"cv_folds={k}",
        *OFF,
        "+train_noise.regression.label_outliers.levels=[0,0.1,0.2]",
        f"train_noise.draws={draws}",
    )
    data = pipeline.load(cfg)
    entries = pipeline.train_suite(cfg, data)
    X, y, plan = training.contaminate(
        data.X_train, data.y_train, data.seeds, entries, draws, task="regression", n_classes=None
    )
    C = len(plan.level)
    assert C == 2 * draws  # levels 0.1 and 0.2; level 0 is the clean fit
    # fit, CV, then the S·C corrupted sets in one call and their S·C·K folds in one call
    assert [len(c[0]) for c in calls] == [1, k, C, C * k]
    np.testing.assert_array_equal(calls[2][1], y)
    folds = cv.make_folds(X, y, k, np.repeat(data.seeds, C))
    np.testing.assert_array_equal(calls[3][1], folds.y_train)
    np.testing.assert_array_equal(calls[3][0], folds.X_train)


def test_classification_flips_labels_and_reports_accuracy():
    cfg, out = _run(
        "dataset=breast_cancer",
        "model=logistic",
        "penalty=l1",
        "penalty.l1.n_lambdas=3",
        "cv_folds=0",
        "noise=none",
        "train_noise.draws=1",
    )
    c = out.contamination
    assert set(c["contamination"]) == {"label_flip"} and set(c["metric"]) == {"accuracy"}
    levels = cfg.train_noise.classification["label_flip"]["levels"]
    assert sorted(set(c["level"])) == sorted(levels)
    text, _ = results.run_summary(out.fits, None, "t", c)
    assert "Training-set contamination along the path" in text


# ---------------------------------------------------------------- the models, called directly

RNG = np.random.default_rng(0)
X0 = jnp.asarray(RNG.standard_normal((4000, 3)))
Y0 = jnp.asarray(50.0 + 20.0 * RNG.standard_normal(4000))
LABELS = jnp.asarray(RNG.integers(0, 3, 4000).astype(float))


def _apply(name, level, key=0, **options):
    m = NOISE_MODELS[name]
    y = LABELS if "binary" in m.supports else Y0
    X2, y2, _ = m.fn(jax.random.key(key), X0, y, None, level, n_classes=3, **options)
    return np.asarray(X2), np.asarray(y2), np.asarray(y)


@pytest.mark.parametrize("name", models_for("train"))
def test_every_training_model_leaves_the_data_unchanged_at_level_zero(name):
    X2, y2, y = _apply(name, 0.0)
    np.testing.assert_array_equal(X2, np.asarray(X0))
    np.testing.assert_array_equal(y2, y)


def test_outliers_replace_exactly_a_fraction_with_the_stated_draws():
    eps, scale = 0.1, 10.0
    _, y2, y = _apply("label_outliers", eps, scale=scale)
    changed = y2 != y
    assert changed.sum() == round(eps * len(y))
    wild = y2[changed]  # N(ȳ, (c sd y)²)
    sd = scale * y.std()
    assert abs(wild.mean() - y.mean()) <= Z * sd / np.sqrt(wild.size)
    assert abs(wild.std() / sd - 1) <= Z / np.sqrt(2 * wild.size)


def test_leverage_replaces_whole_rows_far_out():
    eps = 0.05
    X2, y2, y = _apply("leverage", eps, x_scale=10.0)
    rows = np.any(X2 != np.asarray(X0), axis=1)
    assert rows.sum() == round(eps * len(y))
    np.testing.assert_array_equal(rows, y2 != y)
    ratio = X2[rows].std(axis=0) / np.asarray(X0).std(axis=0)
    assert np.all(np.abs(ratio / 10.0 - 1) <= Z / np.sqrt(2 * rows.sum()))


def test_student_t_label_noise_has_std_level_times_sd():
    level = 0.5
    _, y2, y = _apply("label_student_t", level, relative=True, df=5.0)
    noise = y2 - y
    want = level * y.std()
    # Var of the sample variance of t_5 noise is large (kurtosis 9): a loose moment check
    assert abs(noise.mean()) <= Z * want / np.sqrt(noise.size)
    assert abs(noise.std() / want - 1) < 0.1


def test_flips_change_about_a_fraction_and_never_keep_the_class():
    eps = 0.2
    _, y2, y = _apply("label_flip", eps)
    flipped = y2 != y
    assert abs(flipped.mean() - eps) <= Z * np.sqrt(eps * (1 - eps) / y.size)
    assert set(np.unique(y2)) <= {0.0, 1.0, 2.0}


@pytest.mark.parametrize("name", ["label_gaussian", "label_student_t"])
def test_levels_of_one_draw_scale_one_sample(name):
    _, a, y = _apply(name, 0.5)
    _, b, _ = _apply(name, 1.5)
    np.testing.assert_allclose(
        b - y, 3.0 * (a - y), rtol=1e-12, atol=1e-12 * float(np.abs(y).max())
    )


@pytest.mark.parametrize("name", ["label_outliers", "leverage", "label_flip"])
def test_levels_of_one_draw_corrupt_nested_sets_with_the_same_values(name):
    Xa, a, y = _apply(name, 0.05)
    Xb, b, _ = _apply(name, 0.15)
    rows_a = (a != y) | np.any(Xa != np.asarray(X0), axis=1)
    rows_b = (b != y) | np.any(Xb != np.asarray(X0), axis=1)
    assert rows_a.sum() < rows_b.sum() and np.all(rows_b[rows_a])
    np.testing.assert_array_equal(a[rows_a], b[rows_a])
    np.testing.assert_array_equal(Xa[rows_a], Xb[rows_a])


def test_a_models_draws_do_not_depend_on_the_other_models_of_the_suite():
    one = check_entry(
        "label_gaussian", {"levels": [1.0]}, task="regression", depth=1, stage="train"
    )
    other = check_entry(
        "label_outliers", {"levels": [0.1]}, task="regression", depth=1, stage="train"
    )
    X, y = np.asarray(X0)[None, :50], np.asarray(Y0)[None, :50]
    alone = training.contaminate(X, y, [3], [one], 2, task="regression", n_classes=None)
    both = training.contaminate(X, y, [3], [other, one], 2, task="regression", n_classes=None)
    np.testing.assert_array_equal(alone[1], both[1][2:])


def test_the_default_suite_corrupts_training_labels_not_test_labels():
    cfg = validate(compose_config())
    assert "label_noise" not in cfg.noise.models
    suite = cfg.train_noise.regression
    assert {"label_gaussian", "label_student_t", "label_outliers", "leverage"} <= set(suite)
    assert set(cfg.train_noise.classification) == {"label_flip"}
    assert all(0.0 in spec["levels"] for spec in suite.values())  # the clean fit as level 0
    # test-label noise stays available
    assert "label_noise" in validate(compose_config("noise=label_noise")).noise.models


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "override,match",
    [
        ("+train_noise.regression.label_blur.levels=[0.1]", "regression.label_blur: unknown"),
        ("train_noise.regression.label_outliers.levels=[0,1.5]", "label_outliers.levels are prob"),
        ("train_noise.regression.label_gaussian.levels=[-1]", "label_gaussian.levels contains"),
        ("train_noise.regression.label_gaussian.levels=[0.5,0.5]", "levels repeats 0.5"),
        ("+train_noise.regression.label_flip.levels=[0.1]", "label_flip: not available for"),
        ("+train_noise.classification.leverage.levels=[0.1]", "leverage: not available for"),
        ("+noise.models.label_outliers.levels=[0.1]", "training-set contamination model"),
        ("+train_noise.regression.adversarial_linf.levels=[0.1]", "test-time perturbation"),
        ("train_noise.draws=0", "train_noise.draws=0 must be"),
        ("train_noise.regression.label_student_t.df=2", "label_student_t.df=2"),
        ("train_noise.regression.leverage.x_scale=0", "leverage.x_scale=0"),
        ("train_noise.regression.label_gaussian.relative=maybe", "relative='maybe'"),
        ("+train_noise.regression.label_outliers.bias=1", "unknown option bias"),
    ],
)
def test_bad_contamination_settings_are_config_errors_naming_the_field(override, match):
    with pytest.raises(ConfigError, match=match):
        validate(compose_config(override))


def test_a_wrong_task_message_names_the_models_that_fit_it():
    with pytest.raises(ConfigError) as err:
        validate(compose_config("+train_noise.regression.label_flip.levels=[0.1]"))
    for name in ("label_gaussian", "label_outliers", "leverage"):
        assert name in str(err.value)


def test_contamination_needs_a_test_set():
    cfg = validate(compose_config("dataset.test_size=0", "noise=none", "cv_folds=0"))
    with pytest.raises(ConfigError, match="train_noise=none"):
        pipeline.run(cfg)
