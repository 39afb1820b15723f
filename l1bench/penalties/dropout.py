"""Dropout on the inputs with rate p (inverted dropout), marginalized or stochastic.

Marginalized (linear regression): the expected squared loss adds
``(1/2) p/(1-p) Σ_j w_j² mean_i x_ij²``: the composite form with λ = p/(1-p), α = 0 and
d_j = mean_i x_ij² (the raw, uncentred second moment of feature j). Stochastic: Bernoulli masks
while training (the optax trainer); λ is 0 and the strengths are the rates.
"""

from dataclasses import dataclass

import numpy as np

from l1bench.penalties.base import Path, Penalty, Strengths, dropout_to_lam

MODES = ("marginalized", "stochastic")


@dataclass(frozen=True)
class Dropout(Penalty):
    """Strengths are the rates ``Strengths.dropout``, from the largest down."""

    def path(self, st: Strengths, X, y, **_) -> Path:
        S = X.shape[0]
        rates = np.sort(np.asarray(st.dropout, dtype=float))[::-1]
        lam = np.zeros_like(rates) if self.stochastic else dropout_to_lam(rates)
        return Path(np.broadcast_to(lam, (S, rates.size)), rates, np.full(S, np.nan))


def make(label: str, dropout_mode: str = "marginalized") -> Penalty:
    """Dropout under ``label``; ``dropout_mode``: ``marginalized`` | ``stochastic``."""
    if dropout_mode not in MODES:
        raise ValueError(f"dropout_mode={dropout_mode!r}; choose marginalized or stochastic")
    if dropout_mode == "stochastic":
        reasons = (
            ("convex", "stochastic dropout trains with Bernoulli masks (solver=optax)"),
            ("sklearn", "stochastic dropout trains with Bernoulli masks (solver=optax)"),
        )
        return Dropout(label, "dropout", l1_ratio=0.0, stochastic=True, unsupported=reasons)
    reasons = tuple(
        (
            task,
            "marginalized dropout is a weighted ridge for linear regression only; use "
            "dropout_mode=stochastic (the optax trainer) for classifiers",
        )
        for task in ("binary", "multiclass")
    )
    return Dropout(label, "dropout", l1_ratio=0.0, dropout_weighted=True, unsupported=reasons)
