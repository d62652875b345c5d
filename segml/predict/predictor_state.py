"""The fitted :class:`~segml.predict.models.Predictor` as data, and back.

:class:`PredictorState` (a mixin of the predictor) gives its part of the registered model's state
(:mod:`segml.scoring.state`): :meth:`~PredictorState.to_state` the parameters, the fitted plain
values, the booster as LightGBM's model string, the linear part's and the calibrator's arrays;
:meth:`~PredictorState.from_state` the predictor it describes, scoring exactly as the original.

Example
-------
>>> import numpy as np, pandas as pd
>>> from segml.predict.models import Predictor
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"recency_days": rng.exponential(60, 300)})
>>> y = pd.Series((X.recency_days > 60).astype(float))
>>> pred = Predictor(target="churn", n_estimators=20, seed=0).fit(X, y)
>>> again = Predictor.from_state(pred.to_state())
>>> bool((again.predict_value(X) == pred.predict_value(X)).all()), again.winner_ == pred.winner_
(True, True)
"""

from __future__ import annotations

from typing import Any, Self

import lightgbm as lgb
from sklearn.utils.validation import check_is_fitted

from segml.predict.calibration import Calibrator
from segml.predict.linear import LinearModel

#: Fitted attributes stored as they are in the model state (plain values).
_PLAIN_STATE = ("feature_names_", "categories_", "booster_feature_names_", "winner_",
                "candidate_scores_", "calibration_", "calibration_scores_", "best_iteration_",
                "params_", "n_rows_available_", "n_train_rows_", "refitted_", "validation_",
                "base_rate_")


def _plain_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else dict(v) if isinstance(v, dict) else v)
            for k, v in params.items()}


class PredictorState:
    """To and from the model state (the predictor's parameters and fitted attributes on
    ``self``)."""

    def to_state(self) -> dict[str, Any]:
        """The fitted predictor as data (:mod:`segml.scoring.state`): its parameters, the booster
        as LightGBM's model string, the linear part's and the calibrator's arrays. The
        baselines (``baselines_``, the evaluation's) are not part of it."""
        check_is_fitted(self, "weights_")
        fitted = {name: getattr(self, name) for name in _PLAIN_STATE if hasattr(self, name)}
        return {
            "params": _plain_params(self.get_params()),
            "fitted": fitted,
            "weights": list(self.weights_),
            "blend_parts": getattr(self, "blend_parts_", None),
            "booster": None if self.booster_ is None else self.booster_.model_to_string(),
            "linear": None if self.linear_ is None else self.linear_.to_state(),
            "calibrator": None if self.calibrator_ is None else self.calibrator_.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        """The predictor :meth:`to_state` described (scores identical to the original's)."""
        params = dict(state["params"])
        for name in ("candidates", "blend_parts"):
            if params.get(name) is not None:
                params[name] = tuple(params[name])
        out = cls(**params)
        for name, value in state["fitted"].items():
            setattr(out, name, value)
        out.weights_ = tuple(float(w) for w in state["weights"])
        if state["blend_parts"] is not None:
            out.blend_parts_ = tuple(state["blend_parts"])
        out.booster_ = (None if state["booster"] is None
                        else lgb.Booster(model_str=state["booster"]))
        out.linear_ = None if state["linear"] is None else LinearModel.from_state(state["linear"])
        out.calibrator_ = (None if state["calibrator"] is None
                           else Calibrator.from_state(state["calibrator"]))
        out.baselines_ = {}
        return out


__all__ = ["PredictorState"]
