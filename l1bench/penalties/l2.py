"""L2 (ridge): ``Ω(w) = (λ/2) ||w||_2²``; its paths start at λ_max for α = 1e-3 (glmnet)."""

from l1bench.penalties.base import Penalty


def make(label: str) -> Penalty:
    """The ridge penalty under ``label``."""
    return Penalty(label, "l2", l1_ratio=0.0)
