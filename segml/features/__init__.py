"""Point-in-time features, labels and cutoffs (docs/cutoffs.md and docs/predictions.md).

Example
-------
>>> import pandas as pd
>>> from segml.features import plan_targets
>>> from segml.config import TimeConfig
>>> plan = plan_targets(pd.Timestamp("2025-06-30"), TimeConfig(training_cutoffs=1), ["churn"])
>>> plan.targets["churn"].evaluation, plan.targets["churn"].fit_cutoff
(Timestamp('2025-04-01 00:00:00'), Timestamp('2025-04-01 00:00:00'))
"""

from segml.features.behaviour import FeatureSpec, build_features
from segml.features.labels import TrainingSet, make_labels, stack_sample, stack_training_set
from segml.features.plan import TargetPlan, TimePlan, plan_targets
from segml.features.timeline import data_end, data_start

__all__ = [
    "FeatureSpec",
    "TargetPlan",
    "TimePlan",
    "TrainingSet",
    "build_features",
    "data_end",
    "data_start",
    "make_labels",
    "plan_targets",
    "stack_sample",
    "stack_training_set",
]
