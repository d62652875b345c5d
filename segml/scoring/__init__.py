"""Scoring customers: the composite scorer, its input encoding, the model state as data and
the audience lists."""

from segml.scoring.scorer import CustomerScorer, input_schema_of

__all__ = ["CustomerScorer", "input_schema_of"]
