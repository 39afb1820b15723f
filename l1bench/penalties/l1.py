"""L1 (the Lasso): ``Ω(w) = λ ||w||_1``, scikit-learn's ``Lasso(alpha=λ)``."""

from l1bench.penalties.base import Penalty


def make(label: str) -> Penalty:
    """The Lasso penalty under ``label``."""
    return Penalty(label, "l1", l1_ratio=1.0)
