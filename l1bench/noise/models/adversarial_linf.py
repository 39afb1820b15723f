"""Adversarial inputs: the worst case under ``‖δ_i‖∞ ≤ ℓ`` per test example."""

from __future__ import annotations

from l1bench.noise import adversarial
from l1bench.noise.spec import NoiseModel

adversarial_linf = adversarial.worst_case("linf")
adversarial_linf.__doc__ = """Worst case under ``‖δ_i‖∞ ≤ ℓ`` per example.

Exact for models without hidden layers on regression / binary tasks: ``δ = −ℓ·s·sign(w)``, the
absolute residual (regression) grows, or the margin (binary) shrinks, by ``ℓ‖w‖₁``. PGD
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
    name="adversarial_linf",
    target="adversarial",
    fn=adversarial_linf,
    options=dict(adversarial.OPTIONS),
    random=False,
    stages=("test",),
    outputs=adversarial.exact_outputs("linf"),
    description="worst case under ||delta||_inf <= level: exact (dual norm ||w||_1) "
    "without hidden layers, PGD otherwise",
    level="the radius of the ball, in the features' units (>= 0)",
    check=adversarial.check_options,
)
