"""Configuration as data: pydantic models loaded from YAML.

Every section forbids unknown keys; a loading error names the file, the dotted key and, for a
misspelt key, the closest valid one. The defaults of :class:`SegmlConfig` declare none of the
user's columns beyond the data contract's role names; ``configs/demo.yaml`` is them plus the
synthetic columns' roles (``segml.data.synthetic.datasets.synthetic_config``, checked in a test).

The package, one concept a module:

* :mod:`~segml.config.section`: the base of every section (unknown keys forbidden), target names
* :mod:`~segml.config.data`: the tables and their column roles (``data``)
* :mod:`~segml.config.modelling`: ``time``, ``features``, ``segments``, ``models``, ``readiness``
* :mod:`~segml.config.operations`: ``tracking``, ``retrain``, ``predictive_segments``, ``audiences``
* :mod:`~segml.config.root`: :class:`SegmlConfig`, the whole configuration
* :mod:`~segml.config.problems`: validation errors as problems naming file and key
* :mod:`~segml.config.loading`: YAML in (:func:`load_config`) and out (:func:`dump_config`,
  :func:`flatten_config`)

Example
-------
>>> from segml.config import SegmlConfig
>>> cfg = SegmlConfig()
>>> cfg.time.churn_horizon_days
90
"""

from __future__ import annotations

from segml.config.data import (
    ATTRIBUTE_ROLES,
    LABEL_TARGETS,
    CustomersTable,
    DataConfig,
    EpochUnit,
    EventsTable,
    TransactionsTable,
)
from segml.config.loading import config_problems, dump_config, flatten_config, load_config
from segml.config.modelling import (
    SHALLOW_LGBM,
    FeaturesConfig,
    GuidedLevel,
    LifecycleThresholds,
    ModelsConfig,
    ReadinessConfig,
    SegmentsConfig,
    TimeConfig,
)
from segml.config.operations import (
    AudiencesConfig,
    OperatingPoint,
    PredictiveSegmentsConfig,
    RetrainConfig,
    TrackingConfig,
)
from segml.config.problems import unwrap_model, validation_problems
from segml.config.root import SegmlConfig
from segml.config.section import Section, TargetName

__all__ = [
    "ATTRIBUTE_ROLES",
    "LABEL_TARGETS",
    "SHALLOW_LGBM",
    "AudiencesConfig",
    "CustomersTable",
    "DataConfig",
    "EpochUnit",
    "EventsTable",
    "FeaturesConfig",
    "GuidedLevel",
    "LifecycleThresholds",
    "ModelsConfig",
    "OperatingPoint",
    "PredictiveSegmentsConfig",
    "ReadinessConfig",
    "RetrainConfig",
    "Section",
    "SegmentsConfig",
    "SegmlConfig",
    "TargetName",
    "TimeConfig",
    "TrackingConfig",
    "TransactionsTable",
    "config_problems",
    "dump_config",
    "flatten_config",
    "load_config",
    "unwrap_model",
    "validation_problems",
]
