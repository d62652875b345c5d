"""The sections of running segml: ``tracking`` (MLflow), ``retrain`` (promotion gates),
``predictive_segments`` (the value x risk grid) and ``audiences`` (operating points).

Example
-------
>>> from segml.config.operations import OperatingPoint
>>> OperatingPoint(top=0.1).label
'top 10%'
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, field_validator, model_validator

from segml.config import checks as config_checks
from segml.config.section import Section, TargetName


class TrackingConfig(Section):
    tracking_uri: str | None = Field(
        None, description="None: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the cwd."
    )
    experiment_name: str = "segml"
    registered_model_name: str = "segml-customer"

    _uri = field_validator("tracking_uri")(config_checks.check_tracking_uri)

    def resolved_uri(self) -> str:
        """The configured URI, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` here."""
        return self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db"


class RetrainConfig(Section):
    """Promotion gates for scheduled retraining (docs/mlflow.md)."""

    max_auc_drop: float = Field(
        0.01, ge=0, description="A target's ROC AUC may fall at most this much below the champion's."
    )
    max_ece: float = Field(
        0.1,
        gt=0,
        description="Out-of-time calibration error above this fails the gate (noisy below ~5k rows).",
    )
    max_spearman_drop: float = Field(0.02, ge=0, description="Spend model Spearman tolerance.")
    min_segment_stability: float = Field(
        0.8, ge=0, le=1, description="Share of customers keeping their leaf id after matching."
    )
    psi_warning: float = Field(0.25, gt=0, description="Feature PSI above this is reported.")
    lock_timeout_seconds: float = Field(
        0, ge=0, description="How long a retrain waits for another one holding the lock."
    )


# ------------------------------------------------------------------ predictive segments, audiences
def _bands(quantiles: list[float], names: list[str], axis: str) -> None:
    """Cut points strictly increasing inside (0, 1), one name more than cut points, no repeats."""
    if any(not 0 < q < 1 for q in quantiles) or any(
        b <= a for a, b in zip(quantiles, quantiles[1:], strict=False)
    ):
        raise ValueError(f"{axis}_quantiles must increase strictly inside (0, 1), got {quantiles}")
    if len(names) != len(quantiles) + 1:
        raise ValueError(f"{axis}_names needs {len(quantiles) + 1} names (one per band between "
                         f"the {len(quantiles)} {axis}_quantiles), got {len(names)}")
    if len(set(names)) != len(names) or not all(n.strip() for n in names):
        raise ValueError(f"{axis}_names must be distinct and non-empty, got {names}")


class PredictiveSegmentsConfig(Section):
    """Predictive segments: a value x risk grid on every scored customer (docs/segments.md)."""

    value_targets: list[TargetName] = Field(
        default_factory=lambda: ["spend", "high_clv"],
        description="Targets the value axis reads, in order of preference: the first one the "
        "run trained wins (predicted spend, else the high-CLV probability); empty: no value axis.",
    )
    risk_targets: list[TargetName] = Field(
        default_factory=lambda: ["churn"],
        description="Targets the risk axis reads (higher score = more risk), first trained one "
        "wins; empty: no risk axis.",
    )
    value_quantiles: list[float] = Field(
        default_factory=lambda: [0.5, 0.8],
        description="Cut points of the value bands as quantiles of the training population's "
        "value scores (learned at training time, stored in the model).",
    )
    value_names: list[str] = Field(
        default_factory=lambda: ["Low value", "Mid value", "High value"],
        description="One name per value band, lowest first.",
    )
    risk_quantiles: list[float] = Field(
        default_factory=lambda: [0.5, 0.8],
        description="Cut points of the risk bands as quantiles of the risk scores of the "
        "training customers the risk target applies to (churn: the active ones).",
    )
    risk_names: list[str] = Field(
        default_factory=lambda: ["stable", "cooling", "at risk"],
        description="One name per risk band, lowest risk first.",
    )
    outside_name: str = Field(
        "inactive",
        min_length=1,
        description="Risk cell of customers outside the risk target's population (churn: no "
        "purchase within time.activity_window_days), who have no risk score.",
    )

    @model_validator(mode="after")
    def _check_bands(self) -> PredictiveSegmentsConfig:
        _bands(self.value_quantiles, self.value_names, "value")
        _bands(self.risk_quantiles, self.risk_names, "risk")
        return self


class OperatingPoint(Section):
    """Where an audience list is cut: exactly one of ``top``, ``precision``, ``threshold``."""

    top: float | None = Field(
        None, gt=0, le=1,
        description="The top share of the target's population by score (0.1: top 10%).",
    )
    precision: float | None = Field(
        None, gt=0, le=1,
        description="The largest list whose precision on the evaluation window reaches this.",
    )
    threshold: float | None = Field(
        None, ge=0, le=1, description="Every customer whose probability is at least this."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> OperatingPoint:
        given = [k for k in ("top", "precision", "threshold") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("an operating point sets exactly one of top, precision, threshold"
                             f" (got {', '.join(given) or 'none'})")
        return self

    @property
    def label(self) -> str:
        """``top 10%``, ``precision >= 0.60`` or ``probability >= 0.50``."""
        if self.top is not None:
            return f"top {100 * self.top:g}%"
        if self.precision is not None:
            return f"precision >= {self.precision:.2f}"
        return f"probability >= {self.threshold:.2f}"


class AudiencesConfig(Section):
    """Audiences: "likely to ..." lists from the classifiers' scores (docs/predictions.md)."""

    operating_points: list[OperatingPoint] = Field(
        default_factory=lambda: [{"top": 0.1}, {"precision": 0.6}],
        validate_default=True,
        min_length=1,
        description="The first is what `segml audiences` uses without --top/--precision/"
        "--threshold; all are marked on the report's precision/recall curves.",
    )
    curve_points: int = Field(
        1000, ge=10,
        description="Points kept of each classifier's evaluation precision/recall curve, stored "
        "in the model (so `segml audiences` needs only the registered model).",
    )
    format: Literal["parquet", "csv"] = Field(
        "parquet", description="File format of `segml audiences` lists."
    )

