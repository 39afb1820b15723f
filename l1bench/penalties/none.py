"""No penalty: ordinary least squares / unpenalized maximum likelihood, one fit per problem."""

from dataclasses import dataclass

import numpy as np

from l1bench.penalties.base import Path, Penalty, Strengths


@dataclass(frozen=True)
class NoPenalty(Penalty):
    """λ = 0 at one point; the solvers stop on the KKT violation (no useful dual bound)."""

    def path(self, st: Strengths, X, y, **_) -> Path:
        S = X.shape[0]
        return Path(np.zeros((S, 1)), np.full(1, np.nan), np.full(S, np.nan))


def make(label: str) -> Penalty:
    """No penalty, under ``label``."""
    return NoPenalty(label, "none", l1_ratio=1.0)
