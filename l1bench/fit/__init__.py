"""Fitting backends: ``convex`` (exact, duality gap)."""

import jax

# float64 by default: fits are checked against scikit-learn to tight tolerances. float32 runs
# cast their inputs (solver.precision=float32); the precision is recorded in the manifest.
jax.config.update("jax_enable_x64", True)
