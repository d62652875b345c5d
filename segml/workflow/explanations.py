"""``segml.explain``: SHAP explanations of a trained model as :class:`shap.Explanation` objects.

The values come from segml's own exact implementation (the same numbers as ``shap``'s
``TreeExplainer`` for the boosters and ``LinearExplainer`` for the logistic regression, checked in
the tests, computed faster), so every ``shap.plots`` function takes them::

    exp = segml.explain(result, target="churn")        # the customers the run scored
    shap.plots.waterfall(exp[0])                       # one customer
    shap.plots.beeswarm(exp)                           # all of them

Example
-------
>>> import numpy as np, pandas as pd
>>> from segml.predict.models import Predictor
>>> X = pd.DataFrame({"recency_days": np.arange(300.0)})
>>> pred = Predictor(target="churn", n_estimators=5, seed=0).fit(X, (X.recency_days > 150) * 1.0)
>>> explain(pred, X.head(3)).values.shape
(3, 1)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segml.errors import Problem, SegmlError
from segml.targets import Target, as_target

if TYPE_CHECKING:
    import shap


def _scorer_and_features(model: Any, features: pd.DataFrame | None, tracking: Any
                         ) -> tuple[Any, pd.DataFrame | None]:
    """The composite scorer (or a bare predictor) behind ``model`` and the default features."""
    if getattr(model, "scorer", None) is not None and hasattr(model, "datasets"):  # a TrainResult
        default = getattr(model.datasets, "current_X", None)
        return model.scorer, features if features is not None else default
    if isinstance(model, str):
        from segml.tracking.model import load_scorer

        return load_scorer(model, tracking=tracking), features
    return model, features


def explain(model: Any, features: pd.DataFrame | None = None, target: str = "churn", *,
            max_rows: int | None = None, population: bool = True, seed: int = 0,
            tracking: Any = None) -> shap.Explanation:
    """SHAP values of one target's predictions, as a :class:`shap.Explanation`.

    Parameters
    ----------
    model : TrainResult, CustomerScorer, Predictor or str
        What :func:`segml.train` returned, a composite scorer, one fitted predictor, or a
        model URI (``result.model_uri``, ``models:/segml-customer@champion``).
    features : DataFrame, optional
        Feature rows indexed by customer id (or with a ``customer_id`` column), e.g. from
        :func:`segml.build_features`. Default for a TrainResult: the customers it scored.
    target : str
        ``churn``, ``purchase``, ``high_clv`` or ``spend``.
    max_rows : int, optional
        A seeded sample of at most this many rows (a beeswarm of 1,000 reads well).
    population : bool
        Only the customers the target applies to (churn: the active ones, as scoring does).

    Returns
    -------
    shap.Explanation
        ``values`` (rows x features) and ``base_values`` in margin space (log-odds; log of
        expected spend), ``data`` (the numbers the model reads), ``display_data`` (the values
        as given) and ``feature_names``.

    Raises
    ------
    SegmlError
        A target the model does not predict, or no features to explain.
    """
    from segml.predict.explain import explanation

    scorer, X = _scorer_and_features(model, features, tracking)
    predictors = getattr(scorer, "predictors", None)
    if predictors is None:  # a bare Predictor
        predictor, window, spec = scorer, None, scorer.target
    elif target in predictors:
        predictor, window = predictors[target], getattr(scorer, "activity_window_days", None)
        # the model's own target (a declared one included): the scorer's, else its predictor's
        own = scorer.targets() if hasattr(scorer, "targets") else {}
        spec = own.get(target, predictor.target)
    else:
        raise SegmlError([Problem(f"the model predicts {sorted(predictors)}, not {target!r}",
                                  key="target")])
    if X is None:
        raise SegmlError([Problem("give the feature rows to explain (features=...)",
                                  key="features")])
    if "customer_id" in X.columns:
        X = X.set_index("customer_id")
    if hasattr(scorer, "prepare"):
        X = scorer.prepare(X)  # categoricals on the training levels, columns in order
    X = explained_rows(X, spec, window if population else None, max_rows, seed)
    return explanation(predictor, X)


def population_of(X: pd.DataFrame, target: str | Target, activity_window_days: float | None
                  ) -> pd.DataFrame:
    """The rows of ``X`` the target applies to, as scoring applies it (churn: the customers
    active at the cutoff, :meth:`~segml.targets.Target.in_population`); every row when the
    target applies to all or there is no window (attributes mode).

    Example
    -------
    >>> X = pd.DataFrame({"recency_days": [3.0, 200.0, np.nan]}, index=["a", "b", "c"])
    >>> population_of(X, "churn", 180).index.tolist(), len(population_of(X, "purchase", 180))
    (['a'], 3)
    """
    if activity_window_days is None or "recency_days" not in X:
        return X
    applies = as_target(target).in_population(
        {"recency_days": X["recency_days"].to_numpy(dtype=float)}, len(X), activity_window_days)
    return X if applies is None else X[applies]


def explained_rows(X: pd.DataFrame, target: str | Target, activity_window_days: float | None,
                   max_rows: int | None, seed: int) -> pd.DataFrame:
    """The rows a target is explained on: its population (:func:`population_of`), then a seeded
    sample of at most ``max_rows`` of them (in their order). The report, its artifacts and
    :func:`explain` draw it the same way, so a target is never explained on customers it does
    not score.

    Example
    -------
    >>> X = pd.DataFrame({"recency_days": np.arange(0.0, 400.0, 2.0)})
    >>> len(explained_rows(X, "churn", 180, 50, 0)), len(explained_rows(X, "purchase", 180, 150, 0))
    (50, 150)
    >>> bool((explained_rows(X, "churn", 180, 50, 0)["recency_days"] < 180).all())
    True
    """
    X = population_of(X, target, activity_window_days)
    if max_rows is not None and len(X) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(X), max_rows, replace=False))
        X = X.iloc[keep]
    return X


__all__ = ["explain", "explained_rows", "population_of"]
