"""Synthetic gate footage (clips/, demo.yaml, test.yaml) and its seeded generator (python -m data_samples.generate)."""

from data_samples.truth import load_truth

__all__ = ["load_truth"]
