"""The whole configuration, :class:`SegmlConfig`: every section, with the checks that span
sections (lapsed customers are the inactive ones) and a validated ``--cutoff`` override.

Example
-------
>>> from segml.config.root import SegmlConfig
>>> SegmlConfig().lifecycle_thresholds().lapsed_days
180
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError, model_validator

from segml.config.data import DataConfig
from segml.config.modelling import (
    FeaturesConfig,
    LifecycleThresholds,
    ModelsConfig,
    ReadinessConfig,
    SegmentsConfig,
    TimeConfig,
)
from segml.config.operations import (
    AudiencesConfig,
    PredictiveSegmentsConfig,
    RetrainConfig,
    TrackingConfig,
)
from segml.config.problems import validation_problems
from segml.config.section import Section
from segml.config.targets import TargetEntry, check_target_names
from segml.errors import ConfigError, Problem

#: Columns the labels and the scorer's output hold besides the targets': a declared target may
#: not take one of these names (its label column is its name).
RESERVED_COLUMNS = ("customer_id", "is_active", "cutoff", "segment_path", "segment_id",
                    "rfm_segment", "lifecycle_stage", "predictive_segment", "p_alive",
                    "expected_next_purchase_date", "label")


class SegmlConfig(Section):
    """The whole configuration. Its defaults declare none of the user's columns (the demo's
    configuration, ``configs/demo.yaml``, adds the synthetic columns' roles)."""

    seed: int = 42
    data: DataConfig = Field(default_factory=DataConfig)
    time: TimeConfig = Field(default_factory=TimeConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    segments: SegmentsConfig = Field(default_factory=SegmentsConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    readiness: ReadinessConfig = Field(default_factory=ReadinessConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)
    predictive_segments: PredictiveSegmentsConfig = Field(
        default_factory=PredictiveSegmentsConfig,
        description="Value x risk cells on every scored customer (predictive_segment).")
    audiences: AudiencesConfig = Field(
        default_factory=AudiencesConfig,
        description="Operating points of the 'likely to ...' lists (segml audiences).")
    targets: dict[str, TargetEntry] = Field(
        default_factory=dict,
        description="Your own outcomes, by name (docs/targets.md): each reads its label from a "
        "customers column, or from purchases, events or spend within its horizon_days; "
        "trained beside the built-in ones (models.targets).",
    )

    def resolved_tracking_uri(self) -> str:
        return self.tracking.resolved_uri()

    def with_cutoff(self, cutoff: Any, source: str = "--cutoff") -> SegmlConfig:
        """A copy with ``time.cutoff`` set to ``cutoff``, validated like a config file's (a
        ``date``; ``model_copy(update=...)`` would store any value unchecked). A bad value is a
        :class:`ConfigError` naming ``time.cutoff`` and ``source``.

        Example
        -------
        >>> SegmlConfig().with_cutoff("2025-06-30").time.cutoff
        datetime.date(2025, 6, 30)
        """
        try:
            time = TimeConfig.model_validate({**self.time.model_dump(), "cutoff": cutoff})
        except ValidationError as exc:
            problems = validation_problems(exc, source, SegmlConfig)
            raise ConfigError([Problem(message=p.message.replace("key 'cutoff'",
                                                                 "key 'time.cutoff'"),
                                       file=source, key="time.cutoff") for p in problems]
                              ) from None
        return self.model_copy(update={"time": time})

    @model_validator(mode="after")
    def _lapsed_is_inactive(self) -> SegmlConfig:
        lapsed = self.segments.lifecycle.lapsed_days
        if lapsed is not None and lapsed != self.time.activity_window_days:
            raise ValueError(
                f"segments.lifecycle.lapsed_days ({lapsed}) differs from "
                f"time.activity_window_days ({self.time.activity_window_days}): a lapsed customer "
                "is one with no purchase in the activity window, where churn is undefined; set "
                "time.activity_window_days and leave lapsed_days null"
            )
        return self

    @model_validator(mode="after")
    def _known_targets(self) -> SegmlConfig:
        from segml.targets import TARGETS

        reserved = {*TARGETS, *(t.label_column for t in TARGETS.values()),
                    *(t.output_column for t in TARGETS.values()), *RESERVED_COLUMNS}
        check_target_names(list(self.targets), reserved)
        valid = [*TARGETS, *self.targets]
        if "targets" not in self.models.model_fields_set and self.targets:
            # declared targets are trained unless models.targets says otherwise
            self.models.targets = [*self.models.targets,
                                   *(t for t in self.targets if t not in self.models.targets)]
        for key, names in (("models.targets", self.models.targets),
                           ("predictive_segments.value_targets",
                            self.predictive_segments.value_targets),
                           ("predictive_segments.risk_targets",
                            self.predictive_segments.risk_targets)):
            unknown = [n for n in names if n not in valid]
            if unknown:
                raise ValueError(f"{key}: unknown target(s) {unknown}; valid: {valid} (the "
                                 "built-in ones and those declared under targets)")
        for name, column in self.data.customers.labels.items():
            if name in self.targets:
                raise ValueError(f"targets.{name} is also given a label column by "
                                 f"data.customers.labels ({column}); keep one")
        return self

    def lifecycle_thresholds(self) -> LifecycleThresholds:
        """The lifecycle thresholds with ``lapsed_days`` resolved to the activity window."""
        lifecycle = self.segments.lifecycle
        if lifecycle.lapsed_days is None:
            return lifecycle.model_copy(update={"lapsed_days": self.time.activity_window_days})
        return lifecycle

