"""l1bench: what L1, L2, elastic net and Dropout buy in robustness, and what sparsity costs.

The Python API fits without Hydra::

    import l1bench
    res = l1bench.fit(X, y, model="linear", penalty="l1", lam=[1.0, 0.1])
    res.coef  # (2, n_features)
"""

# imported eagerly: the function l1bench.fit must win over the subpackage l1bench.fit, which
# importing any backend binds to the same attribute
from l1bench.api import FitResult, fit

__all__ = ["FitResult", "fit"]
__version__ = "0.1.0"
