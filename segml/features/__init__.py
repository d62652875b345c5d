"""Point-in-time features, labels and cutoffs (SPEC sections 2 and 4).

Example
-------
>>> import pandas as pd
>>> from segml.features import plan_cutoffs
>>> from segml.config import TimeConfig
>>> plan_cutoffs(pd.Timestamp("2025-06-30"), TimeConfig(training_cutoffs=1)).evaluation
Timestamp('2024-06-30 00:00:00')
"""

from segml.features.behaviour import FeatureSpec, build_features
from segml.features.labels import TrainingSet, make_labels, stack_training_set
from segml.features.timeline import CutoffPlan, data_end, data_start, plan_cutoffs

__all__ = [
    "CutoffPlan",
    "FeatureSpec",
    "TrainingSet",
    "build_features",
    "data_end",
    "data_start",
    "make_labels",
    "plan_cutoffs",
    "stack_training_set",
]
