"""What a prediction target *is*, defined once (docs/cutoffs.md and docs/predictions.md).

Every other module reads the targets from :data:`TARGETS`: the config's allowed names, the label
columns, the time plan's horizons, the models (classifier or regressor), the baselines, the
metrics and gates, the scorer's output columns and the populations scoring applies them to.
Adding a target is one :class:`Target` entry here plus its label function
(``docs/dev/targets.md``).

A label function receives the :class:`Outcomes` of the customers known at a cutoff (what each of
them did around it) and the target's horizon in days, and returns one float per customer: the
label, or NaN where the target is not defined for that customer (outside its population, e.g.
churn of a customer who was not active at the cutoff).

Example
-------
>>> [t.name for t in TARGETS.values()]
['churn', 'purchase', 'high_clv', 'spend']
>>> churn = target("churn")
>>> churn.kind, churn.horizon_key, churn.label_column, churn.output_column, churn.population
('classifier', 'churn_horizon_days', 'churn', 'churn_probability', 'active')
>>> target("spend").headline_metric, target("spend").reasons_column is None
('spearman', True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np


@dataclass(frozen=True)
class Outcomes:
    """What each customer known at a cutoff ``c`` did around it (one entry per customer).

    Attributes
    ----------
    active : ndarray of bool
        At least one purchase in ``(c - activity_window_days, c]``.
    purchases : callable
        ``purchases(days)``: number of purchases (positive amounts) in ``(c, c + days]``.
    net_spend : callable
        ``net_spend(days)``: purchases minus returns in ``(c, c + days]``.
    high_clv_quantile : float
        The share of customers *not* counted as high value (``time.high_clv_quantile``).
    """

    active: np.ndarray
    purchases: Callable[[int], np.ndarray]
    net_spend: Callable[[int], np.ndarray]
    high_clv_quantile: float = 0.8


LabelFunction = Callable[[Outcomes, int], np.ndarray]


def churn_label(outcomes: Outcomes, days: int) -> np.ndarray:
    """1 when an active customer makes no purchase in the horizon, 0 when they do, NaN when the
    customer was not active at the cutoff (churn is undefined for them).

    Example
    -------
    >>> o = Outcomes(np.array([True, True, False]), lambda d: np.array([0, 2, 1]),
    ...              lambda d: np.zeros(3))
    >>> churn_label(o, 90).tolist()
    [1.0, 0.0, nan]
    """
    return np.where(outcomes.active, (outcomes.purchases(days) == 0).astype("float64"), np.nan)


def purchase_label(outcomes: Outcomes, days: int) -> np.ndarray:
    """1 when the customer makes at least one purchase in the horizon."""
    return (outcomes.purchases(days) > 0).astype("float64")


def spend_label(outcomes: Outcomes, days: int) -> np.ndarray:
    """Net amount spent in the horizon, clipped at 0 (returns never make it negative)."""
    return np.clip(outcomes.net_spend(days), 0.0, None)


def high_clv_label(outcomes: Outcomes, days: int) -> np.ndarray:
    """1 when the future spend is strictly above the ``high_clv_quantile`` of everyone's and
    above 0 (ties at the threshold and non-spenders are never high value).

    Example
    -------
    >>> o = Outcomes(np.ones(4, bool), lambda d: np.ones(4), lambda d: np.array([0, 5, 9, 30.0]),
    ...              high_clv_quantile=0.5)
    >>> high_clv_label(o, 365).tolist()
    [0.0, 0.0, 1.0, 1.0]
    """
    spend = spend_label(outcomes, days)
    threshold = float(np.quantile(spend, outcomes.high_clv_quantile)) if spend.size else 0.0
    return ((spend > threshold) & (spend > 0)).astype("float64")


@dataclass(frozen=True)
class Target:
    """One prediction target.

    Attributes
    ----------
    name : str
        As used in configs, metric names (``<name>_roc_auc``) and tags (``fit_cutoff_<name>``).
    kind : {"classifier", "regressor"}
        A calibrated probability, or an amount (Tweedie regression).
    horizon_key : str
        The :class:`~segml.config.TimeConfig` field holding the label horizon in days.
    label_column : str
        The column of the labels frame (``make_labels``) holding the label.
    label : callable
        ``label(outcomes, horizon_days) -> ndarray`` (see :class:`Outcomes`).
    population : {"known", "active"}
        Who the target applies to at a cutoff: every customer known then, or only those active
        (a purchase within ``time.activity_window_days``). Scoring gives the others no value.
    output_column : str
        The scorer's output column (batch and served).
    reasons_column : str or None
        The column of the top SHAP reasons, None when the target has none.
    headline_metric : str
        The metric gates and summaries compare (``roc_auc`` or ``spearman``).
    gate_tolerance : str
        The :class:`~segml.config.RetrainConfig` field bounding the headline metric's drop.
    baselines : tuple of str
        Baselines evaluated beside the model (:mod:`segml.predict.baselines`).
    engagement_sign : int
        +1 when engaged customers (recent, frequent, high spend) are more often positive,
        -1 when less often (churn); heuristic baselines read it.
    profile_kpi : tuple of (str, str) or None
        ``(column, label)`` of the segment-profile KPI the predictions give (e.g. the expected
        churn rate), None for no KPI.
    description : str
        One line for people.
    audience : str or None
        The name of the list of customers most likely to be positive (``likely to churn``),
        for classifiers (``segml audiences``); None: the target's name.
    """

    name: str
    kind: Literal["classifier", "regressor"]
    horizon_key: str
    label_column: str
    label: LabelFunction
    population: Literal["known", "active"]
    output_column: str
    reasons_column: str | None
    headline_metric: str
    gate_tolerance: str
    baselines: tuple[str, ...]
    engagement_sign: int
    profile_kpi: tuple[str, str] | None
    description: str
    audience: str | None = None

    @property
    def is_classifier(self) -> bool:
        return self.kind == "classifier"

    def horizon(self, time_cfg: Any) -> int:
        """The label horizon in days from a :class:`~segml.config.TimeConfig`: its
        ``horizon_key`` field. Read through :func:`segml.features.plan.target_horizons`, the
        one place horizons come from (the plan, the labels, the BTYD features)."""
        try:
            return int(getattr(time_cfg, self.horizon_key))
        except AttributeError:
            raise ValueError(f"target {self.name!r} reads its horizon from time."
                             f"{self.horizon_key}, which the time settings do not have") from None

    def in_population(self, columns: Mapping[str, np.ndarray], n: int,
                      activity_window_days: float | None) -> np.ndarray | None:
        """Boolean mask of the customers the target applies to, from their feature columns at
        the scoring cutoff (None: everyone).

        ``active`` reads ``recency_days`` (days since the last purchase, NaN for none): active
        means a purchase strictly within the activity window, as the labels define it.

        Example
        -------
        >>> target("churn").in_population({"recency_days": np.array([3.0, 200.0, np.nan])}, 3,
        ...                               180).tolist()
        [True, False, False]
        >>> target("purchase").in_population({}, 3, 180) is None
        True
        """
        if self.population == "known" or activity_window_days is None:
            return None
        recency = columns.get("recency_days")
        if recency is None:  # attributes mode: no purchases to be active by
            return None
        with np.errstate(invalid="ignore"):
            return np.asarray(recency, dtype=np.float64) < float(activity_window_days)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            name="churn", kind="classifier", horizon_key="churn_horizon_days",
            label_column="churn", label=churn_label, population="active",
            output_column="churn_probability", reasons_column="churn_reasons",
            headline_metric="roc_auc", gate_tolerance="max_auc_drop",
            baselines=("recency", "logreg", "bgnbd"), engagement_sign=-1,
            profile_kpi=("churn_rate", "expected churn"),
            description="an active customer makes no purchase within the horizon",
            audience="likely to churn",
        ),
        Target(
            name="purchase", kind="classifier", horizon_key="purchase_horizon_days",
            label_column="purchase", label=purchase_label, population="known",
            output_column="purchase_probability", reasons_column="purchase_reasons",
            headline_metric="roc_auc", gate_tolerance="max_auc_drop",
            baselines=("recency", "logreg", "bgnbd"), engagement_sign=1,
            profile_kpi=("purchase_rate", "expected purchase"),
            description="at least one purchase within the horizon",
            audience="likely to buy",
        ),
        Target(
            name="high_clv", kind="classifier", horizon_key="clv_horizon_days",
            label_column="high_clv", label=high_clv_label, population="known",
            output_column="high_clv_probability", reasons_column="high_clv_reasons",
            headline_metric="roc_auc", gate_tolerance="max_auc_drop",
            baselines=("recency", "logreg", "past_spend"), engagement_sign=1,
            profile_kpi=None,
            description="future spend within the horizon in the top (1 - high_clv_quantile)",
            audience="likely to become high value",
        ),
        Target(
            name="spend", kind="regressor", horizon_key="clv_horizon_days",
            label_column="future_spend", label=spend_label, population="known",
            output_column="predicted_spend", reasons_column=None,
            headline_metric="spearman", gate_tolerance="max_spearman_drop",
            baselines=("past_spend",), engagement_sign=1, profile_kpi=None,
            description="net amount spent within the horizon",
        ),
    )
}
TARGET_NAMES: tuple[str, ...] = tuple(TARGETS)
CLASSIFIERS: tuple[str, ...] = tuple(t.name for t in TARGETS.values() if t.is_classifier)


def target(name: str) -> Target:
    """The :class:`Target` called ``name``; a ValueError lists the valid names otherwise.

    Example
    -------
    >>> target("purchase").output_column
    'purchase_probability'
    """
    try:
        return TARGETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown target {name!r}; valid: {list(TARGETS)}") from None


def label_columns() -> dict[str, str]:
    """Target name -> its label column (e.g. ``{"spend": "future_spend", ...}``)."""
    return {t.name: t.label_column for t in TARGETS.values()}


__all__ = ["CLASSIFIERS", "Outcomes", "TARGETS", "TARGET_NAMES", "Target", "label_columns",
           "target"]
