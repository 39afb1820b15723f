"""Elastic net: ``Ω(w) = λ (α ||w||_1 + (1 - α)/2 ||w||_2²)``, scikit-learn's ElasticNet."""

from l1bench.penalties.base import Penalty


def make(label: str, l1_ratio: float = 0.5) -> Penalty:
    """The elastic net with mix ``l1_ratio`` = α in [0, 1] under ``label``."""
    if (
        isinstance(l1_ratio, bool)
        or not isinstance(l1_ratio, int | float)
        or not 0 <= l1_ratio <= 1
    ):
        raise ValueError(f"l1_ratio={l1_ratio!r} must be a number in [0, 1]")
    return Penalty(label, "elastic_net", l1_ratio=float(l1_ratio))
