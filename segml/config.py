"""Configuration as data: pydantic models loaded from YAML.

Every section forbids unknown keys; a loading error names the file, the dotted key and, for a
misspelt key, the closest valid one. The defaults of :class:`SegmlConfig` *are* the embedded demo
configuration (``configs/demo.yaml`` is their YAML rendering, checked in a test).

Example
-------
>>> from segml.config import SegmlConfig
>>> cfg = SegmlConfig()
>>> cfg.time.churn_horizon_days
90
"""

from __future__ import annotations

import difflib
import os
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from segml import config_checks
from segml.errors import ConfigError, Problem
from segml.targets import CLASSIFIERS, TARGET_NAMES

ATTRIBUTE_ROLES = (
    "demographic",
    "geographic",
    "firmographic",
    "technographic",
    "psychographic",
    "attitudinal",
)
#: The shallow, additive LightGBM candidate (segml.predict.candidates): stumps (an additive model,
#: like a GAM), L2 regularisation, strong column and some row subsampling, coarse bins. Chosen
#: among 8 generic settings by the mean 5-fold ROC AUC over three public tables (Telco, a telecom
#: churn export, an insurer's customers; docs/predictions.md), never on generated data; learning
#: rate 0.1 rather than the 0.05 that scored 0.0014 higher there: stumps need twice the rounds
#: at 0.05, and 2,000 of them cost 2 minutes per target at 300k rows.
SHALLOW_LGBM: dict[str, Any] = {
    "num_leaves": 2, "learning_rate": 0.1, "min_child_samples": 20, "lambda_l2": 5.0,
    "feature_fraction": 0.3, "bagging_fraction": 0.8, "bagging_freq": 1, "max_bin": 63,
    "n_estimators": 1000,
}
#: Targets an attributes-mode table can carry an explicit label column for (the classifiers).
LABEL_TARGETS = CLASSIFIERS
TargetName = Literal[TARGET_NAMES]  # every target of segml.targets
EpochUnit = Literal["s", "ms", "us", "ns"]
_FORMAT_HELP = ("strftime format of the {what} (e.g. '%d.%m.%Y %H:%M'); required when values "
                "read both day-first and month-first. None: ISO dates and unambiguous text.")
_UNIT_HELP = ("Unit of integer epoch {what} (s, ms, us, ns); integer values are refused "
              "without it.")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --------------------------------------------------------------------------------------- data
class CustomersTable(_Section):
    """Where the customers table is and which of its columns play which role."""

    path: str | None = Field(None, description="CSV or Parquet file; None with --data DIR.")
    customer_id: str = Field("customer_id", description="Column holding the customer id.")
    signup_date: str | None = Field("signup_date", description="Signup date column, if any.")
    signup_date_format: str | None = Field(None, description=_FORMAT_HELP.format(what="signup dates"))
    signup_date_unit: EpochUnit | None = Field(None, description=_UNIT_HELP.format(what="signup dates"))
    attributes: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "demographic": ["age", "gender"],
            "geographic": ["country", "region", "city"],
            "firmographic": ["industry", "company_size"],
            "technographic": ["device", "acquisition_channel"],
            "attitudinal": ["nps_score"],
        },
        description="Attribute columns by role (demographic, geographic, firmographic, "
        "technographic, psychographic, attitudinal).",
    )
    pii: list[str] = Field(
        default_factory=lambda: ["name", "email", "phone"],
        description="Columns never used as features, in profiles, logs or artifacts.",
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Explicit label columns by target (attributes mode), e.g. {churn: Churn}.",
    )
    positive_label: str | None = Field(
        None,
        description="Value counted as positive in explicit label columns when they are not "
        "boolean or 0/1 (e.g. 'Yes').",
    )
    optional_columns: bool = Field(
        True, description="Missing optional attribute columns are warnings, not errors."
    )

    _signup_format = field_validator("signup_date_format")(config_checks.check_timestamp_format)

    @model_validator(mode="after")
    def _known_roles(self) -> CustomersTable:
        unknown = sorted(set(self.attributes) - set(ATTRIBUTE_ROLES))
        if unknown:
            raise ValueError(
                f"unknown attribute role(s) {unknown}; valid roles: {list(ATTRIBUTE_ROLES)}"
            )
        bad_targets = sorted(set(self.labels) - set(LABEL_TARGETS))
        if bad_targets:
            raise ValueError(f"unknown label target(s) {bad_targets}; valid: {list(LABEL_TARGETS)}")
        return self

    def attribute_columns(self) -> list[str]:
        """All attribute columns in role order, PII removed."""
        pii = set(self.pii)
        return [c for role in ATTRIBUTE_ROLES for c in self.attributes.get(role, []) if c not in pii]


class TransactionsTable(_Section):
    path: str | None = None
    customer_id: str = "customer_id"
    timestamp: str = "timestamp"
    timestamp_format: str | None = Field(None, description=_FORMAT_HELP.format(what="timestamps"))
    timestamp_unit: EpochUnit | None = Field(None, description=_UNIT_HELP.format(what="timestamps"))
    amount: str = "amount"
    order_id: str | None = "order_id"
    quantity: str | None = "quantity"
    category: str | None = "category"
    product_id: str | None = None
    channel: str | None = "channel"

    _format = field_validator("timestamp_format")(config_checks.check_timestamp_format)


class EventsTable(_Section):
    path: str | None = None
    customer_id: str = "customer_id"
    timestamp: str = "timestamp"
    timestamp_format: str | None = Field(None, description=_FORMAT_HELP.format(what="timestamps"))
    timestamp_unit: EpochUnit | None = Field(None, description=_UNIT_HELP.format(what="timestamps"))
    event_type: str = "event_type"

    _format = field_validator("timestamp_format")(config_checks.check_timestamp_format)


class DataConfig(_Section):
    """The tables and their column roles (SPEC section 1)."""

    dir: str | None = Field(
        None,
        description="Folder in the layout `segml generate` writes; paths below override it.",
    )
    mode: Literal["auto", "behavioural", "attributes"] = Field(
        "auto",
        description="auto: behavioural when a transactions table exists, else attributes.",
    )
    customers: CustomersTable = Field(default_factory=CustomersTable)
    transactions: TransactionsTable | None = Field(default_factory=TransactionsTable)
    events: EventsTable | None = Field(default_factory=EventsTable)
    now: date | None = Field(
        None,
        description="Reference 'today' for the future-timestamp check; default: the real date.",
    )


# --------------------------------------------------------------------------------------- time
class TimeConfig(_Section):
    """Cutoffs and horizons (SPEC section 2)."""

    cutoff: date | None = Field(
        None,
        description="Scoring cutoff; default: the last transaction date in the data.",
    )
    activity_window_days: int = Field(
        180, gt=0, description="A customer is active at c if they purchased in (c - w, c]."
    )
    churn_horizon_days: int = Field(90, gt=0)
    purchase_horizon_days: int = Field(30, gt=0)
    clv_horizon_days: int = Field(365, gt=0)
    high_clv_quantile: float = Field(
        0.8, gt=0, lt=1, description="Future spend above this quantile is high CLV (top 20%)."
    )
    training_cutoffs: int = Field(
        3, ge=1, description="Number of earlier cutoffs stacked into each training set."
    )
    cutoff_step_days: int | None = Field(
        None,
        gt=0,
        description="Days between stacked training cutoffs; null: each target's own horizon, so "
        "the label windows of stacked cutoffs never overlap and the latest one is an honest "
        "validation window (overlapping windows let a flexible model recognise the same "
        "customers' outcomes and win validation it then loses out of time).",
    )


# ------------------------------------------------------------------------------------ features
class FeaturesConfig(_Section):
    trend_windows_days: list[int] = Field(default_factory=lambda: [30, 90, 365])
    max_categories: int = Field(
        12, ge=1, description="Most frequent categories/channels given a share column each."
    )
    event_types: list[str] | None = Field(
        None, description="Event types to count; None: every type seen in the data."
    )
    btyd: bool = Field(True, description="Fit BG/NBD and add P(alive) and expected purchases.")
    engine: Literal["duckdb", "pandas"] = "duckdb"

    _windows = field_validator("trend_windows_days")(config_checks.check_trend_windows)


# ------------------------------------------------------------------------------------ segments
class LifecycleThresholds(_Section):
    new_days: int = Field(90, gt=0, description="Tenure below this: new.")
    at_risk_days: int = Field(90, gt=0, description="No purchase for longer than this: at risk.")
    lapsed_days: int | None = Field(
        None,
        gt=0,
        description="No purchase for at least this many days: lapsed. null: "
        "time.activity_window_days, the only value allowed (churn is defined for customers "
        "active within that window, so lapsed customers get no churn probability).",
    )
    loyal_min_orders: int = Field(5, gt=0, description="Orders in the last year to be loyal.")


class GuidedLevel(_Section):
    """A level placed above the discovered ones: an attribute or a rule segment column."""

    column: str = Field(..., description="Attribute column or rule column (e.g. lifecycle_stage).")
    max_values: int = Field(8, ge=1, description="Rarer values are pooled into 'Other'.")


class SegmentsConfig(_Section):
    """Discovered hierarchy and rule segments (SPEC section 3)."""

    features: list[str] | None = Field(
        None,
        description="Columns to cluster, e.g. [behavioural, region] ('behavioural': the "
        "behavioural core); None: the behavioural core, or every attribute (numeric, binary, "
        "categorical) when there are no transactions.",
    )
    sample_size: int = Field(20000, ge=100, description="Stratified sample HDBSCAN is fitted on.")
    min_cluster_size: int | None = Field(
        None,
        description="HDBSCAN min_cluster_size; None: 0.8 x the size floor (min_segment_share x sample, >= 10).",
    )
    min_samples: int = Field(5, ge=1, description="HDBSCAN min_samples (cost grows with it).")
    value_weight: float = Field(
        2.5,
        gt=0,
        description="Weight of the value columns (order value, days between purchases, spend) "
        "against the category/channel mixes in the clustering space; 1: all alike.",
    )
    categorical_weight: float = Field(
        1.0,
        gt=0,
        description="Weight of each categorical attribute (its one-hot levels together) in the "
        "clustering space; 1: as much as one numeric column, whatever its number of levels.",
    )
    leaf_method: Literal["auto", "hdbscan", "kmeans"] = Field(
        "auto",
        description="Where the leaf segments come from: auto = HDBSCAN, or k-means in the same "
        "space where HDBSCAN finds fewer than 3 clusters, calls over half the customers noise, or "
        "categorical and yes/no columns hold over half the space's variance.",
    )
    min_top_segments: int = Field(
        3, ge=1, description="Fewest top-level segments chosen automatically (when there are that many leaves)."
    )
    max_top_share: float = Field(
        0.6,
        gt=0,
        le=1,
        description="Largest share of customers one automatic top-level segment may hold, where the tree allows it.",
    )
    levels: int = Field(2, ge=1, le=5, description="Discovered levels including the leaves.")
    level_sizes: list[int] | None = Field(
        None, description="Segments per level above the leaves; None: automatic."
    )
    linkage: Literal["ward", "average", "complete"] = "ward"
    min_segment_size: int = Field(50, ge=1)
    min_segment_share: float = Field(0.01, ge=0, lt=1)
    max_segments_per_level: int = Field(12, ge=2)
    guided_levels: list[GuidedLevel] = Field(default_factory=list)
    min_profile_size: int = Field(50, ge=1)
    lifecycle: LifecycleThresholds = Field(default_factory=LifecycleThresholds)

    @field_validator("level_sizes")
    @classmethod
    def _level_sizes(cls, sizes: list[int] | None, info: ValidationInfo) -> list[int] | None:
        config_checks.check_level_sizes(sizes, info.data.get("levels", 5))
        return sizes

    @model_validator(mode="after")
    def _level_sizes_cap(self) -> SegmentsConfig:
        if self.level_sizes and max(self.level_sizes) > self.max_segments_per_level:
            raise ValueError(f"segments.level_sizes {self.level_sizes} exceeds "
                             f"max_segments_per_level ({self.max_segments_per_level})")
        return self


# -------------------------------------------------------------------------------------- models
class ModelsConfig(_Section):
    targets: list[TargetName] = Field(
        default_factory=lambda: list(TARGET_NAMES),
        min_length=1,
        description="Targets to train (segml.targets); one whose horizon does not fit the "
        "history is skipped with a warning.",
    )
    n_estimators: int = Field(400, ge=1)
    learning_rate: float = Field(0.05, gt=0)
    num_leaves: int = Field(31, ge=2)
    max_depth: int = Field(
        12,
        ge=-1,
        description="Depth limit of the lgbm candidate's trees (-1: none). Paths through at most "
        "16 features keep the exact SHAP tables fast (reasons at 1k customers/s for any model); "
        "at 1M customers unlimited trees reached depth 19.",
    )
    min_child_samples: int = Field(20, ge=1)
    early_stopping_rounds: int = Field(50, ge=1)
    candidates: list[Literal["lgbm", "lgbm_shallow", "logreg", "blend"]] = Field(
        default_factory=lambda: ["lgbm", "lgbm_shallow", "logreg", "blend"],
        min_length=1,
        description="Models compared per target on held-out training rows; the best (ROC AUC, "
        "spend: Spearman) is registered. lgbm: the settings above; lgbm_shallow: "
        "shallow_params; logreg: logistic regression; blend: the better LightGBM and logreg "
        "averaged in log-odds. The regressor uses the LightGBM ones.",
    )
    shallow_params: dict[str, Any] = Field(
        default_factory=lambda: dict(SHALLOW_LGBM),
        description="LightGBM settings of the lgbm_shallow candidate (n_estimators among them).",
    )
    logreg_c: float = Field(1.0, gt=0, description="Inverse L2 strength of the logreg candidate.")
    candidate_max_rows: int | None = Field(
        100_000,
        ge=1000,
        description="The evaluation fit compares the candidates on at most this many training "
        "rows (a seeded sample stratified by cutoff and label); the registered refit trains on "
        "up to max_train_rows. null: max_train_rows.",
    )
    inner_folds: int = Field(
        3,
        ge=2,
        description="Held-out folds candidates and calibration are judged on without cutoffs "
        "(attributes mode; behavioural mode holds out the latest training cutoff).",
    )
    calibration: Literal["auto", "isotonic", "sigmoid", "none"] = Field(
        "auto",
        description="Probability calibration on held-out margins; auto: the method with the "
        "lowest cross-validated log loss there.",
    )
    cv_folds: int = Field(5, ge=2, description="Stratified folds in attributes mode.")
    tuning_trials: int = Field(0, ge=0, description="Random-search trials; 0 disables tuning.")
    max_bin: int = Field(
        255,
        ge=2,
        description="Histogram bins per numeric feature (LightGBM's default). 63 was measured no "
        "faster per round here and 0.002-0.003 ROC AUC worse; coarser bins regularise small data.",
    )
    max_train_rows: int | None = Field(
        300_000,
        ge=1000,
        description="Training rows above this (stacked cutoffs x customers) are cut to a seeded "
        "sample of this size, stratified by cutoff and label; null: use every row. The "
        "registered refit trains on up to this many.",
    )
    refit_max_rows: int = Field(
        200_000,
        ge=0,
        description="After early stopping, retrain on all rows (the validation slice too) with "
        "the best number of rounds when there are at most this many; above it one fit learns "
        "all but the held-out rows (two fits of that size would double the cost); 0: never.",
    )
    num_threads: int | None = Field(
        None,
        ge=1,
        description="LightGBM training threads; null: 1 below 100k rows (OpenMP overhead "
        "dominates), else min(4, CPU cores - 1): on a busy 2-core machine 2 threads train slower "
        "than 1.",
    )
    lgbm_params: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra LightGBM parameters, passed through unchanged (they win over the "
        "fields above).",
    )

    _lgbm = field_validator("lgbm_params")(config_checks.check_lgbm_params)


class ReadinessConfig(_Section):
    min_positives: int = Field(50, ge=1, description="Fewer positives than this blocks training.")
    recommended_positives: int = Field(500, ge=1, description="Fewer: a warning.")
    min_history_days: int = Field(90, ge=0)
    leakage_auc: float = Field(0.95, gt=0.5, le=1.0)


class TrackingConfig(_Section):
    tracking_uri: str | None = Field(
        None, description="None: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the cwd."
    )
    experiment_name: str = "segml"
    registered_model_name: str = "segml-customer"

    _uri = field_validator("tracking_uri")(config_checks.check_tracking_uri)

    def resolved_uri(self) -> str:
        """The configured URI, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` here."""
        return self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db"


class RetrainConfig(_Section):
    """Promotion gates for scheduled retraining (SPEC section 5)."""

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


class PredictiveSegmentsConfig(_Section):
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


class OperatingPoint(_Section):
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


class AudiencesConfig(_Section):
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


class SegmlConfig(_Section):
    """The whole configuration. Its defaults are the embedded demo configuration."""

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
            problems = config_problems(exc, source)
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

    def lifecycle_thresholds(self) -> LifecycleThresholds:
        """The lifecycle thresholds with ``lapsed_days`` resolved to the activity window."""
        lifecycle = self.segments.lifecycle
        if lifecycle.lapsed_days is None:
            return lifecycle.model_copy(update={"lapsed_days": self.time.activity_window_days})
        return lifecycle


# ------------------------------------------------------------------------------------- loading
def _closest_key(model: type[BaseModel], loc: tuple[Any, ...], key: str) -> str | None:
    """The valid key nearest to ``key`` in the section ``loc`` points into."""
    section: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or not (isinstance(section, type) and issubclass(section, BaseModel)):
            continue
        field = section.model_fields.get(part)
        if field is None:
            return None
        section = unwrap_model(field.annotation)
        if section is None:
            return None
    if not (isinstance(section, type) and issubclass(section, BaseModel)):
        return None
    match = difflib.get_close_matches(key, list(section.model_fields), n=1, cutoff=0.5)
    return match[0] if match else None


def unwrap_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = unwrap_model(arg)
        if found is not None:
            return found
    return None


def config_problems(error: ValidationError, source: str) -> list[Problem]:
    """Turn a pydantic error into one :class:`Problem` per bad key."""
    problems = []
    for err in error.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "<root>"
        if err["type"] == "extra_forbidden":
            hint = _closest_key(SegmlConfig, loc, str(loc[-1]))
            message = f"unknown key '{key}'" + (f" (did you mean '{hint}'?)" if hint else "")
        else:
            message = f"key '{key}': {err['msg']}"
        problems.append(Problem(message=message, file=source, key=key))
    return problems


def load_config(path: str | os.PathLike[str] | None = None, **overrides: Any) -> SegmlConfig:
    """Load a YAML config; ``None`` gives the embedded demo defaults.

    Parameters
    ----------
    path : str or Path, optional
        YAML file. Relative table paths inside it are resolved against the file's folder.
    **overrides
        Top-level sections or keys replacing what the file says (e.g. ``seed=7``).

    Raises
    ------
    ConfigError
        With one problem per unknown or invalid key, each naming the file and dotted key.

    Examples
    --------
    >>> cfg = load_config(None, seed=7)
    >>> cfg.seed
    7
    """
    raw: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        file = Path(path)
        if not file.is_file():
            raise ConfigError([Problem(message="config file not found", file=source)])
        loaded = _read_yaml(file, source)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError([Problem(message="top level must be a mapping", file=source)])
        raw = _resolve_paths(loaded, file.parent)
    raw.update(overrides)
    try:
        return SegmlConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(config_problems(exc, source)) from None


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, except that a date that does not exist (``2025-02-30``) stays text,
    so validation reports it under its key instead of the parser failing without one."""

    def construct_yaml_timestamp(self, node: Any) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _read_yaml(file: Path, source: str) -> Any:
    """The parsed YAML of ``file``; every way it can fail is one problem naming the file.

    The message gives the line and column, never the text there: a config line may hold a
    credential (a tracking URI with a password).
    """
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(f"not a text (UTF-8) file: undecodable byte at offset "
                                   f"{exc.start}; a config is YAML text", file=source)]) from None
    except OSError as exc:
        raise ConfigError([Problem(f"cannot read: {exc.strerror or type(exc).__name__}",
                                   file=source)]) from None
    if "\x00" in text:
        raise ConfigError([Problem("not a text file (it holds NUL bytes); a config is YAML text",
                                   file=source)])
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or "cannot be parsed"
        raise ConfigError([Problem(f"invalid YAML{where}: {what}", file=source)]) from None
    except (ValueError, OverflowError) as exc:  # e.g. `cutoff: 2025-02-30` (YAML reads dates)
        raise ConfigError([Problem(f"invalid value: {exc}", file=source)]) from None
    except RecursionError:
        raise ConfigError([Problem("invalid YAML: nested too deeply", file=source)]) from None


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    data = raw.get("data")
    if not isinstance(data, dict):
        return raw
    if isinstance(data.get("dir"), str) and not os.path.isabs(data["dir"]):
        data["dir"] = str((base / data["dir"]).resolve())
    for table in ("customers", "transactions", "events"):
        spec = data.get(table)
        if isinstance(spec, dict) and isinstance(spec.get("path"), str):
            if not os.path.isabs(spec["path"]):
                spec["path"] = str((base / spec["path"]).resolve())
    return raw


def dump_config(config: SegmlConfig) -> str:
    """YAML text of a config (``None`` values kept so every key is documented)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def flatten_config(config: SegmlConfig) -> dict[str, str]:
    """Dotted ``key -> value`` pairs, e.g. for MLflow params."""
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            flat[prefix] = str(value)

    walk("", config.model_dump(mode="json"))
    return flat
