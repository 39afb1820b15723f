"""Adversarial inputs: the worst case under ``‖δ_i‖₂ ≤ ℓ`` per test example."""

from __future__ import annotations

from l1bench.noise import adversarial
from l1bench.noise.spec import NoiseModel

adversarial_l2 = adversarial.worst_case("l2")
adversarial_l2.__doc__ = """Worst case under ``‖δ_i‖₂ ≤ ℓ`` per example.

Exact for models without hidden layers on regression / binary tasks: ``δ = −ℓ·s·w/‖w‖₂``, the
absolute residual (regression) grows, or the margin (binary) shrinks, by ``ℓ‖w‖₂``. PGD
otherwise (the machinery: :mod:`l1bench.noise.adversarial`).

Args:
  task: ``regression`` | ``binary`` | ``multiclass``. activation: the MLP's activation.
  attack: ``auto`` (exact where available, else PGD) | ``exact`` | ``pgd`` | ``fgsm``.
  steps: PGD steps. restarts: PGD runs (the first from the clean point), worst kept.
  step_size: PGD step; None means ``2.5·ℓ/steps``.

Returns:
  ``(X + Δ, y, params)``.

Raises:
  ValueError: ``attack=exact`` where there is no closed form, or an unknown attack.
"""

MODEL = NoiseModel(
    name="adversarial_l2",
    target="adversarial",
    fn=adversarial_l2,
    options=dict(adversarial.OPTIONS),
    random=False,
    stages=("test",),
    outputs=adversarial.exact_outputs("l2"),
    description="worst case under ||delta||_2 <= level: exact (dual norm ||w||_2) "
    "without hidden layers, PGD otherwise",
    level="the radius of the ball, in the features' units (>= 0)",
    check=adversarial.check_options,
)
