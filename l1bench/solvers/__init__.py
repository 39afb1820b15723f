"""The fitting backends: exact convex solvers, the scikit-learn reference and the optax trainer.

:mod:`l1bench.solvers.backends` routes each penalty of a grid to one of them. Importing the
package imports :mod:`l1bench.runtime`, which turns on ``jax_enable_x64``.
"""

from l1bench import runtime  # noqa: F401  (float64 before any solver traces)
