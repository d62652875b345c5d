"""Scoring customers: the composite scorer, its input encoding, the model state as data and
the audience lists."""

from segml.scoring.encoding import input_schema_of
from segml.scoring.scorer import CustomerScorer

__all__ = ["CustomerScorer", "input_schema_of"]
