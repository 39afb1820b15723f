"""l1bench: what L1, L2, elastic net and Dropout buy in robustness, and what sparsity costs.

The Python API fits without Hydra::

    import l1bench
    res = l1bench.fit(X, y, model="linear", penalty="l1", lam=[1.0, 0.1])
    res.coef  # (2, n_features)

``import l1bench`` imports nothing else: :func:`fit` and :class:`FitResult` load
:mod:`l1bench.api` (and JAX) on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from l1bench.api import FitResult, fit

__all__ = ["FitResult", "fit"]
__version__ = "0.1.0"


def __getattr__(name: str):
    """Load :func:`fit` and :class:`FitResult` from :mod:`l1bench.api` on first use."""
    if name in __all__:
        from l1bench import api

        return getattr(api, name)
    raise AttributeError(f"module 'l1bench' has no attribute {name!r}")
