"""Evaluation against references outside the engine (ground truth, exact optima)."""
