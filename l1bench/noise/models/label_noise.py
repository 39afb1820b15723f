"""Test-label noise: Gaussian on regression targets, flips to another class on class labels."""

from __future__ import annotations

from l1bench.noise import checks
from l1bench.noise.models.label_flip import label_flip
from l1bench.noise.models.label_gaussian import label_gaussian
from l1bench.noise.spec import NoiseModel


def label_noise(key, X, y, params, level, *, task="regression", n_classes=2, **_):
    """Label noise: Gaussian for regression, a flip to another class for class labels.

    * regression: ``y' = y + ℓ·Z``, ``Z ~ N(0, 1)`` (std ℓ, in the units of y; the
      :mod:`~l1bench.noise.models.label_gaussian` model with ``relative=False``);
    * classification (``binary`` | ``multiclass``, labels 0..K−1): each label is replaced with
      probability ℓ by a class drawn uniformly among the K − 1 *other* classes (the
      :mod:`~l1bench.noise.models.label_flip` model).

    On a test set neither can rank fits: for regression ``E[MSE'] = MSE + ℓ²`` for every fit
    (the noise is independent of the residual), and for classes ``E[acc'] = a(1 − ℓ) +
    (1 − a)·ℓ/(K − 1)``, a function of the clean accuracy a alone. Training-set contamination
    (``train_noise``, :mod:`l1bench.noise.training`) is what tells penalties apart.

    Args:
      task: ``regression`` | ``binary`` | ``multiclass``.
      n_classes: K (classification only).

    Returns:
      ``(X, y', params)``.
    """
    if task == "regression":
        return label_gaussian(key, X, y, params, level)
    return label_flip(key, X, y, params, level, n_classes=n_classes)


def check(options, *, levels, task, depth) -> None:
    """On a classification task the levels are probabilities (each <= 1); on regression and
    before the task is known, any level >= 0."""
    if task not in (None, "regression"):
        checks.probabilities(levels)


MODEL = NoiseModel(
    name="label_noise",
    target="labels",
    fn=label_noise,
    options={},
    description="regression y + level * N(0, 1); classification: with probability "
    "level a uniformly drawn other class",
    level="regression: the noise's standard deviation in the target's units (>= 0); "
    "classification: the probability that a label is replaced (0 to 1)",
    check=check,
)
