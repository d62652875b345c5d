"""The seeded synthetic generator with ground-truth segments."""

from segml.data.synthetic.generator import DIFFICULTIES, SyntheticData, make_customers

__all__ = ["DIFFICULTIES", "SyntheticData", "make_customers"]
