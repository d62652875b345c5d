"""segml: customer segment discovery and prediction, tracked and served with MLflow.

The public API. Heavy modules (LightGBM, hdbscan, MLflow) are imported on first use, so
``import segml`` stays fast.

Example
-------
>>> import segml
>>> segml.load_config(None).tracking.registered_model_name
'segml-customer'
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from segml.config import SegmlConfig, load_config
from segml.errors import ConfigError, DataError, ReadinessError, SegmlError

try:
    __version__ = version("segml")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+local"

_LAZY = {
    "load_tables": "segml.data.contract",
    "validate_tables": "segml.data.contract",
    "make_customers": "segml.data.synthetic.datasets",
    "FeatureSpec": "segml.features",
    "build_features": "segml.features",
    "make_labels": "segml.features",
    "SegmentHierarchy": "segml.segments",
    "RuleSegmenter": "segml.segments",
    "train": "segml.workflow.train",
    "score": "segml.workflow.train",
    "audiences": "segml.scoring.audiences",
    "retrain": "segml.workflow.retrain",
    "CustomerScorer": "segml.scoring.scorer",
    "write_report": "segml.report",
    "explain": "segml.workflow.explanations",
}

__all__ = [
    "ConfigError",
    "DataError",
    "ReadinessError",
    "SegmlConfig",
    "SegmlError",
    "load_config",
    *_LAZY,
]


def __dir__() -> list[str]:
    """The public API (``dir(segml)``), not the helpers this module imports."""
    return sorted([*__all__, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'segml' has no attribute {name!r}")
