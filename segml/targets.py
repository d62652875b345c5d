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

from collections.abc import Callable, Mapping, Sequence
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
    purchases_matching : callable, optional
        ``purchases_matching(filter, days)``: purchases in ``(c, c + days]`` whose transactions
        columns hold one of the filter's values (``{"category": ["toys"]}``; ``{}``: any).
    spend_matching : callable, optional
        ``spend_matching(filter, days)``: net amount of the matching transactions in
        ``(c, c + days]``.
    events_of : callable, optional
        ``events_of(types, days)``: events of those types in ``(c, c + days]``.
    column : callable, optional
        ``column(target)``: the target's label column of the customers table (declared
        ``column`` labels), as floats.
    """

    active: np.ndarray
    purchases: Callable[[int], np.ndarray]
    net_spend: Callable[[int], np.ndarray]
    high_clv_quantile: float = 0.8
    purchases_matching: Callable[[Mapping[str, Sequence[Any]], int], np.ndarray] | None = None
    spend_matching: Callable[[Mapping[str, Sequence[Any]], int], np.ndarray] | None = None
    events_of: Callable[[Sequence[Any], int], np.ndarray] | None = None
    column: Callable[[str], np.ndarray] | None = None


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
    #: A declared target's (config ``targets:``) definition as plain data: ``kind``,
    #: ``horizon_days``, ``label``, ``population``, ``description``, ``audience``; None for a
    #: built-in one. Its horizon is its own ``horizon_days`` (None: a column label, no horizon).
    definition: Mapping[str, Any] | None = None

    @property
    def is_classifier(self) -> bool:
        return self.kind == "classifier"

    @property
    def has_horizon(self) -> bool:
        """False for a column label: read as it stands, cross-validated, never planned."""
        return self.definition is None or self.definition.get("horizon_days") is not None

    @property
    def horizon_setting(self) -> str:
        """The config key holding the horizon (``time.churn_horizon_days``,
        ``targets.<name>.horizon_days``)."""
        return self.horizon_key if self.definition is not None else f"time.{self.horizon_key}"

    def horizon(self, time_cfg: Any) -> int:
        """The label horizon in days from a :class:`~segml.config.TimeConfig`: its
        ``horizon_key`` field (a declared target: its own ``horizon_days``). Read through
        :func:`segml.features.plan.target_horizons`, the one place horizons come from (the
        plan, the labels, the BTYD features)."""
        if self.definition is not None:
            if self.definition.get("horizon_days") is None:
                raise ValueError(f"target {self.name!r} reads a column and has no horizon")
            return int(self.definition["horizon_days"])
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


# ------------------------------------------------------------------------ declared targets
def declared_label(name: str, kind: str, label: Mapping[str, Any], population: str
                   ) -> LabelFunction:
    """The label function of a declared target (docs/targets.md): a column of the customers
    table, or matching purchases, events or spend in the horizon; a classifier's label is 1
    when the count or amount is above 0. ``population="active"``: NaN for the customers not
    active at the cutoff.

    Example
    -------
    >>> o = Outcomes(np.array([True, False]), lambda d: np.zeros(2), lambda d: np.zeros(2),
    ...              purchases_matching=lambda f, d: np.array([2.0, 1.0]))
    >>> declared_label("x", "classifier", {"purchases": {}}, "known")(o, 30).tolist()
    [1.0, 1.0]
    >>> declared_label("x", "regressor", {"purchases": {}}, "active")(o, 30).tolist()
    [2.0, nan]
    """
    (how, spec), = label.items()

    def read(outcomes: Outcomes, days: int) -> np.ndarray:
        if how == "column":
            values = outcomes.column(name)  # type: ignore[misc]
        elif how == "purchases":
            values = outcomes.purchases_matching(spec, days)  # type: ignore[misc]
        elif how == "events":
            values = outcomes.events_of([v for vs in spec.values() for v in vs], days)  # type: ignore[misc]
        else:
            values = np.clip(outcomes.spend_matching(spec, days), 0.0, None)  # type: ignore[misc]
        values = np.asarray(values, dtype="float64")
        if kind == "classifier" and how != "column":
            values = (values > 0).astype("float64")
        if population == "active":
            values = np.where(outcomes.active, values, np.nan)
        return values

    return read


def declared_target(name: str, definition: Mapping[str, Any]) -> Target:
    """The :class:`Target` of a declared entry (``definition``: the entry as plain data, as the
    config's ``targets.<name>`` dumps it and a model's state stores it).

    Example
    -------
    >>> t = declared_target("buys_toys", {"kind": "classifier", "horizon_days": 30,
    ...     "label": {"purchases": {"category": ["toys"]}}, "population": "known"})
    >>> t.output_column, t.reasons_column, t.horizon_setting, t.audience
    ('buys_toys_probability', 'buys_toys_reasons', 'targets.buys_toys.horizon_days', 'buys_toys')
    """
    kind = definition.get("kind", "classifier")
    population = definition.get("population", "known")
    label = {k: v for k, v in dict(definition["label"]).items() if v is not None}
    classifier = kind == "classifier"
    how = next(iter(label))
    return Target(
        name=name, kind=kind, horizon_key=f"targets.{name}.horizon_days", label_column=name,
        label=declared_label(name, kind, label, population), population=population,
        output_column=f"{name}_probability" if classifier else f"predicted_{name}",
        reasons_column=f"{name}_reasons" if classifier else None,
        headline_metric="roc_auc" if classifier else "spearman",
        gate_tolerance="max_auc_drop" if classifier else "max_spearman_drop",
        baselines=("recency", "logreg") if classifier else ("past_spend",),
        engagement_sign=1, profile_kpi=None,
        description=definition.get("description") or f"{how} label {label[how]}",
        audience=definition.get("audience") or (name if classifier else None),
        definition={"kind": kind, "horizon_days": definition.get("horizon_days"),
                    "label": label, "population": population,
                    "description": definition.get("description"),
                    "audience": definition.get("audience")},
    )


def targets_of(config: Any) -> dict[str, Target]:
    """The registry of a configuration: the built-in targets, then the ones its ``targets:``
    section declares (docs/targets.md), in declaration order.

    Example
    -------
    >>> from segml.config import SegmlConfig
    >>> cfg = SegmlConfig(targets={"upgrades": {"horizon_days": 60,
    ...                                         "label": {"events": {"type": ["upgrade"]}}}})
    >>> list(targets_of(cfg))
    ['churn', 'purchase', 'high_clv', 'spend', 'upgrades']
    """
    declared = getattr(config, "targets", None) or {}
    return {**TARGETS, **{name: declared_target(name, entry.model_dump(mode="json"))
                          for name, entry in declared.items()}}


def target(name: str) -> Target:
    """The built-in :class:`Target` called ``name`` (:data:`TARGETS`); a ValueError lists the
    built-in names otherwise. A declared target is never found by name: there is no
    process-wide list of them (a run's targets are ``targets_of(config)``, a model's its
    scorer's), so its :class:`Target` is passed along instead (:func:`as_target`).

    Example
    -------
    >>> target("purchase").output_column
    'purchase_probability'
    """
    try:
        return TARGETS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown target {name!r}; valid: {list(TARGETS)} (the built-in targets; a target "
            "declared under targets: in the config is passed as its Target, from "
            "segml.targets.targets_of(config))") from None


def as_target(spec: str | Target) -> Target:
    """``spec`` as a :class:`Target`: a Target as it is, a name looked up among the built-in
    targets (:func:`target`). What every function taking "a target" reads it through.

    Example
    -------
    >>> as_target("spend") is TARGETS["spend"]
    True
    >>> toys = declared_target("toys", {"horizon_days": 30, "label": {"purchases": {}}})
    >>> as_target(toys) is toys
    True
    """
    return spec if isinstance(spec, Target) else target(spec)


def target_name(spec: str | Target) -> str:
    """The name of a target given as a name or a :class:`Target` (metric names, messages)."""
    return spec.name if isinstance(spec, Target) else str(spec)


def label_columns() -> dict[str, str]:
    """Target name -> its label column (e.g. ``{"spend": "future_spend", ...}``)."""
    return {t.name: t.label_column for t in TARGETS.values()}


__all__ = ["CLASSIFIERS", "Outcomes", "TARGETS", "TARGET_NAMES", "Target", "as_target",
           "declared_label", "declared_target", "label_columns", "target", "target_name",
           "targets_of"]
