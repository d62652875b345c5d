"""Predictions (docs/predictions.md): LightGBM models, calibration, metrics, baselines and SHAP reasons.

Example
-------
>>> from segml.predict import fit_baselines
>>> import pandas as pd
>>> sorted(fit_baselines("spend", pd.DataFrame({"spend_365d": [1.0, 3.0]}), [2.0, 6.0]))
['past_spend']
"""

from segml.predict.baselines import fit_baselines, skip_reason
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
    explanation,
    plot_beeswarm,
    plot_importance_bar,
    top_reasons,
)
from segml.predict.models import Predictor, fit_predictor, label_of

__all__ = [
    "CVResult",
    "Calibrator",
    "EvaluationResult",
    "Predictor",
    "contributions",
    "cross_validate_target",
    "drivers_by_segment",
    "evaluate_target",
    "explain_global",
    "explanation",
    "fit_baselines",
    "fit_predictor",
    "label_of",
    "plot_beeswarm",
    "plot_importance_bar",
    "skip_reason",
    "top_reasons",
]
