"""Experiment scripts: run each as ``python -m experiments.NAME`` from the repository root."""
