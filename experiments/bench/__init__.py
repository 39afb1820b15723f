"""Speed benchmarks of l1bench against scikit-learn, skglm, celer, PyTorch and NumPy (issue 7)."""
