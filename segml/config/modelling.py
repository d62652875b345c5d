"""The sections of the modelling pipeline: ``time`` (cutoffs, horizons), ``features``,
``segments`` (the discovered hierarchy, rule segments), ``models`` (the predictors and their
candidates) and ``readiness`` (what blocks training).

Example
-------
>>> from segml.config.modelling import TimeConfig
>>> TimeConfig().churn_horizon_days
90
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from segml.config import checks as config_checks
from segml.config.section import Section, TargetName
from segml.targets import TARGET_NAMES

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


# --------------------------------------------------------------------------------------- time
class TimeConfig(Section):
    """Cutoffs and horizons (docs/cutoffs.md)."""

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
class FeaturesConfig(Section):
    trend_windows_days: list[int] = Field(default_factory=lambda: [30, 90, 365])
    max_categories: int = Field(
        12, ge=1, description="Most frequent categories/channels given a share column each."
    )
    event_types: list[str] | None = Field(
        None, description="Event types to count; None: every type seen in the data."
    )
    btyd: bool = Field(True, description="Fit BG/NBD and add P(alive) and expected purchases.")

    _windows = field_validator("trend_windows_days")(config_checks.check_trend_windows)


# ------------------------------------------------------------------------------------ segments
class LifecycleThresholds(Section):
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


class GuidedLevel(Section):
    """A level placed above the discovered ones: an attribute or a rule segment column."""

    column: str = Field(..., description="Attribute column or rule column (e.g. lifecycle_stage).")
    max_values: int = Field(8, ge=1, description="Rarer values are pooled into 'Other'.")


class SegmentsConfig(Section):
    """Discovered hierarchy and rule segments (docs/segments.md)."""

    features: list[str] | None = Field(
        None,
        description="Columns to cluster, e.g. [behavioural, region] ('behavioural': the "
        "behavioural core); None: the behavioural core, or every attribute (numeric, binary, "
        "categorical) when there are no transactions.",
    )
    discovery_max_rows: int | None = Field(
        250_000,
        ge=100,
        description="Most customers the rule segments and the hierarchy are fitted on: above it, "
        "a seeded sample of that many customers (the smallest hash keys of their ids, the same "
        "customers on every engine); every customer is then placed, profiled and scored. None: "
        "fit on every customer. At least 100, like sample_size (docs/segments.md, \"Discovery on a sample\").",
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
    leaf_method: str = Field(
        "auto",
        min_length=1,
        description="Where the leaf segments come from: auto = HDBSCAN, or k-means in the same "
        "space where HDBSCAN finds fewer than 3 clusters, calls over half the customers noise, or "
        "categorical and yes/no columns hold over half the space's variance; hdbscan; kmeans; or "
        "a method registered with segml.segments.register_leaf_method (checked when the "
        "segments are fitted).",
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
class ModelsConfig(Section):
    targets: list[TargetName] = Field(
        default_factory=lambda: list(TARGET_NAMES),
        min_length=1,
        description="Targets to train: the built-in ones (churn, purchase, high_clv, spend) "
        "and those declared under targets (docs/targets.md); one whose horizon does not fit "
        "the history is skipped with a warning. Default: the built-in ones and every declared "
        "one.",
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
        description="Probability calibration on held-out margins; auto: of the methods within "
        "one standard error of the lowest cross-validated log loss there, the one with the "
        "lowest cross-validated calibration error (ECE).",
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
    max_eval_rows: int | None = Field(
        200_000,
        ge=1000,
        description="The out-of-time evaluation scores the model and its baselines on at most "
        "this many labelled customers of the evaluation cutoff (a seeded sample stratified by "
        "label, the same rows for all); ROC AUC's standard error at 200k rows is about 0.001. "
        "null: every labelled customer.",
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


class ReadinessConfig(Section):
    min_positives: int = Field(50, ge=1, description="Fewer positives than this blocks training.")
    recommended_positives: int = Field(500, ge=1, description="Fewer: a warning.")
    min_history_days: int = Field(90, ge=0)
    leakage_auc: float = Field(0.95, gt=0.5, le=1.0)

