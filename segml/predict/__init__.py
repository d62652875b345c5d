"""Predictions (SPEC section 4): LightGBM models, calibration, metrics, baselines and SHAP reasons.

Example
-------
>>> from segml.predict import BASELINES_BY_TARGET
>>> BASELINES_BY_TARGET["spend"]
('past_spend',)
"""

from segml.predict.baselines import BASELINES_BY_TARGET, fit_baselines, skip_reason
from segml.predict.calibration import Calibrator
from segml.predict.evaluate import (
    CVResult,
    EvaluationResult,
    cross_validate_target,
    evaluate_target,
)
from segml.predict.explain import (
    contributions,
    drivers_by_segment,
    explain_global,
    plot_beeswarm,
    plot_importance_bar,
    top_reasons,
)
from segml.predict.models import Predictor, fit_predictor, label_of

__all__ = [
    "BASELINES_BY_TARGET",
    "CVResult",
    "Calibrator",
    "EvaluationResult",
    "Predictor",
    "contributions",
    "cross_validate_target",
    "drivers_by_segment",
    "evaluate_target",
    "explain_global",
    "fit_baselines",
    "fit_predictor",
    "label_of",
    "plot_beeswarm",
    "plot_importance_bar",
    "skip_reason",
    "top_reasons",
]
