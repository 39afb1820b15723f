"""Cross-validation: the same λ as scikit-learn's LassoCV on the same folds and grid."""

import numpy as np
import pytest
from sklearn.linear_model import LassoCV

from l1bench import cv, pipeline
from l1bench.config import validate

from conftest import compose_config


def test_fold_indices_partition_the_validated_rows():
    folds = cv.fold_indices(23, 4, seed=3)
    vals = np.concatenate([v for _, v in folds])
    assert len(vals) == len(set(vals)) == 20  # 3 remainder rows are always trained on
    for train, val in folds:
        assert len(train) == 18 and not set(train) & set(val)
    np.testing.assert_array_equal(folds[0][1], cv.fold_indices(23, 4, seed=3)[0][1])


def test_fold_count_is_checked():
    with pytest.raises(ValueError, match="cv_folds"):
        cv.fold_indices(5, 4, seed=0)


def test_one_se_rule_on_a_hand_made_curve():
    # 1 problem, 3 folds, 1 penalty, 4 strengths (strongest first)
    err = np.array([[5.0, 1.2, 1.0, 1.3], [5.0, 1.3, 1.4, 1.2], [5.0, 1.25, 1.0, 1.25]])
    sel = cv.select(err[None, :, None, :], np.ones((1, 4), bool))
    mean = err.mean(0)
    se = err.std(0, ddof=1) / np.sqrt(3)
    best = int(np.argmin(mean))
    assert sel.best[0, 0] == best == 2
    within = np.flatnonzero(mean <= mean[best] + se[best])
    assert sel.one_se[0, 0] == within.min() == 1  # a stronger λ within one SE of the best


def test_failed_folds_are_left_out_of_the_mean_and_the_standard_error():
    """A NaN fold (a diverged fit) counts in neither the mean nor the SE's sqrt(K): glmnet's
    rule over the folds that remain; one remaining fold gives SE 0, none a NaN mean."""
    rng = np.random.default_rng(0)
    err = rng.uniform(1.0, 2.0, (4, 5))
    err[2, 0] = np.nan
    err[1:, 3] = np.nan  # one fold left
    err[:, 4] = np.nan  # none left
    sel = cv.select(err[None, :, None, :], np.ones((1, 5), bool))
    for j in range(4):
        col = err[:, j][~np.isnan(err[:, j])]
        np.testing.assert_allclose(sel.mean[0, 0, j], col.mean(), rtol=1e-14)
        se = col.std(ddof=1) / np.sqrt(col.size) if col.size > 1 else 0.0
        np.testing.assert_allclose(sel.se[0, 0, j], se, rtol=1e-14, atol=0)
    assert np.isnan(sel.mean[0, 0, 4])
    assert sel.best[0, 0] != 4 and sel.one_se[0, 0] != 4


@pytest.mark.parametrize("dataset,seed", [("synthetic_sparse", 0), ("diabetes", 1)])
def test_cv_picks_the_same_lambda_as_lasso_cv(dataset, seed):
    cfg = validate(
        compose_config(
            f"dataset={dataset}",
            "penalty=l1",
            f"seed={seed}",
            "cv_folds=5",
            "penalty.l1.n_lambdas=30",
        )
    )
    out = pipeline.run(cfg)
    data = pipeline.load(cfg)
    X, y = data.X_train[0], data.y_train[0]
    lams = out.fits["lam"].to_numpy()
    ref = LassoCV(
        alphas=lams, cv=cv.fold_indices(len(y), 5, seed), tol=1e-10, max_iter=100_000
    ).fit(X, y)
    picked = out.fits.loc[out.fits["cv_best"], "lam"].item()
    assert picked == pytest.approx(ref.alpha_, rel=1e-12)
    # and the mean validation MSE curve itself agrees
    ref_curve = ref.mse_path_.mean(axis=1)  # sklearn orders alphas from largest to smallest
    np.testing.assert_allclose(out.fits["cv_error"], ref_curve, rtol=1e-5)
