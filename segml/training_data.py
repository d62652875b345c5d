"""Where the predictors' matrices come from: the time plan, the feature settings, the current
matrix and each target's training, evaluation and refit sets (stage 3, no MLflow).

Example
-------
>>> from segml.config import SegmlConfig
>>> data = build_datasets(tables, SegmlConfig())        # doctest: +SKIP
>>> data.training_set("churn").X.shape                    # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from segml.config import SegmlConfig
from segml.data.contract import Tables
from segml.targets import TARGETS
from segml.targets import target as target_of

Progress = Callable[[str], None]


def no_progress(_: str) -> None:
    """The default progress callback: says nothing."""
    return None


class FeatureFrames:
    """Feature matrices by cutoff, each built once and dropped after its last planned use.

    Several targets share cutoffs (e.g. 90-day churn and 30-day purchase both train at 90 and
    120 days before the end), so a matrix is kept while a later use is planned and released
    after, which bounds memory to the matrices still needed.
    """

    def __init__(self, tables: Tables, spec: Any, uses: dict[pd.Timestamp, int] | None = None):
        self.tables, self.spec = tables, spec
        self._uses = dict(uses or {})
        self._frames: dict[pd.Timestamp, pd.DataFrame] = {}
        self.seconds = 0.0  # spent building matrices (timed apart from the models)

    def __call__(self, cutoff: pd.Timestamp) -> pd.DataFrame:
        from segml.features import build_features

        frame = self._frames.get(cutoff)
        if frame is None:
            start = time.perf_counter()
            frame = build_features(self.tables, cutoff, self.spec)
            self.seconds += time.perf_counter() - start
        left = self._uses.get(cutoff, 0) - 1
        self._uses[cutoff] = left
        if left > 0:
            self._frames[cutoff] = frame
        else:
            self._frames.pop(cutoff, None)
        return frame


@dataclass
class Datasets:
    """Where the predictors' matrices come from, and the current ("now") feature matrix.

    Behavioural mode: the time plan (each target's cutoffs) and the feature matrices at them,
    built on demand (:meth:`training_set`, :meth:`evaluation_set`, :meth:`refit_set`). Attributes
    mode: the explicit labels of the customers in ``current_X``.
    """

    mode: str
    spec: Any
    data_end: pd.Timestamp | None
    current_X: pd.DataFrame
    tables: Tables | None = None
    config: SegmlConfig | None = None
    plan: Any = None
    labels: pd.DataFrame | None = None
    frames: FeatureFrames | None = None
    cutoffs: dict[str, Any] = field(default_factory=dict)

    def targets(self) -> list[str]:
        """The configured targets this data can train, in config order."""
        configured = self.config.models.targets if self.config is not None else list(TARGETS)
        if self.mode == "attributes":
            available = set(self.labels.columns) if self.labels is not None else set()
            return [t for t in configured if target_of(t).label_column in available]
        return [t for t in configured if t in self.plan.targets]

    def _stack(self, target: str, cutoffs: list[pd.Timestamp]):
        from segml.features import stack_training_set

        return stack_training_set(self.tables, cutoffs, self.spec, self.config.time, [target],
                                  features=self.frames,
                                  max_rows=self.config.models.max_train_rows,
                                  seed=self.config.seed)

    def training_set(self, target: str):
        """The stacked training cutoffs of ``target`` (features, labels, cutoff per row)."""
        return self._stack(target, self.plan.targets[target].train)

    def refit_set(self, target: str):
        """The stacked refit cutoffs of ``target``: the freshest complete label windows."""
        return self._stack(target, self.plan.targets[target].refit)

    def evaluation_set(self, target: str) -> tuple[pd.DataFrame, pd.Series]:
        """Features and labels at ``target``'s out-of-time evaluation cutoff."""
        from segml.features import make_labels

        cutoff = self.plan.targets[target].evaluation
        X = self.frames(cutoff)
        Y = make_labels(self.tables, cutoff, self.config.time, [target])
        return X, Y[target_of(target).label_column].reindex(X.index)


def build_datasets(tables: Tables, config: SegmlConfig) -> Datasets:
    """The time plan, the feature settings and the current matrix (stage 3).

    Behavioural mode: each configured target gets its own cutoffs (:mod:`segml.features.plan`);
    a target whose horizon does not fit the history is skipped (``plan.skipped``, a warning
    each), and the run stops only when none fits. The feature settings are learned at the
    earliest evaluation cutoff (no evaluation window informs them); the matrices at the other
    cutoffs are built when the predictors ask for them. Attributes mode: one matrix with the
    explicit labels.
    """
    from segml.features import FeatureSpec, build_features, data_start, make_labels
    from segml.features.plan import plan_targets
    from segml.features.timeline import data_end as end_of_data

    if tables.mode == "attributes":
        spec = FeatureSpec.fit(tables, None, config)
        X = build_features(tables, None, spec)
        Y = make_labels(tables, None, config.time)
        return Datasets("attributes", spec, None, X, tables, config, labels=Y)
    start = data_start(tables)
    plan = plan_targets(end_of_data(tables), config.time, list(config.models.targets),
                        start=start, min_history_days=config.readiness.min_history_days)
    spec = FeatureSpec.fit(tables, plan.spec_cutoff, config)
    uses: dict[pd.Timestamp, int] = {}
    for target_plan in plan.targets.values():
        for cutoff in (*target_plan.train, target_plan.evaluation, *target_plan.refit):
            uses[cutoff] = uses.get(cutoff, 0) + 1
    current_X = build_features(tables, plan.scoring, spec)
    return Datasets("behavioural", spec, plan.scoring, current_X, tables, config, plan=plan,
                    frames=FeatureFrames(tables, spec, uses), cutoffs=plan.to_dict())


__all__ = ["Datasets", "FeatureFrames", "Progress", "build_datasets", "no_progress"]
