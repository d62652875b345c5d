"""Rule segments: RFM scores and named RFM segments, lifecycle stage, NPS class, engagement level.

RFM scores are quintiles learned in ``fit`` (so new data is scored with the same edges): 5 is best,
i.e. the most recent (lowest ``recency_days``), the most frequent, the highest ``monetary_sum``.
A value equal to an edge takes the lower score (``F`` = 1 for the many one-order customers).
Missing values score 1 (worst).

Named RFM segments come from the common R versus FM grid, FM = round-half-up((F + M) / 2):

======  ===============  ==================  ==================  ===============  ===============
R \\ FM  1                2                   3                   4                5
======  ===============  ==================  ==================  ===============  ===============
5       New Customers    Potential Loyalist  Potential Loyalist  Champions        Champions
4       Promising        Potential Loyalist  Potential Loyalist  Loyal Customers  Champions
3       About To Sleep   About To Sleep      Need Attention      Loyal Customers  Loyal Customers
2       Hibernating      Hibernating         At Risk             At Risk          Can't Lose Them
1       Lost             Lost                At Risk             Can't Lose Them  Can't Lose Them
======  ===============  ==================  ==================  ===============  ===============

Lifecycle stage (first rule that holds, thresholds from
:class:`segml.config.LifecycleThresholds`): ``new`` if ``tenure_days < new_days``; ``lapsed`` if
``recency_days >= lapsed_days`` (no purchase within the activity window, default
``time.activity_window_days``) or no purchase; ``at risk`` if ``recency_days > at_risk_days``;
``loyal`` if orders in the last 365 days (``orders_365d``, else ``frequency``) >= loyal_min_orders;
else ``active``. NPS class: promoter 9-10, passive 7-8, detractor 0-6, missing -> ``unknown``.
Engagement level: tertiles (learned in ``fit``) of the total of the ``events_*_90d`` columns.
An output whose input columns are absent (attributes mode) is omitted.

Example
-------
>>> import pandas as pd
>>> X = pd.DataFrame({"recency_days": [5.0, 300], "frequency": [20.0, 1],
...                   "monetary_sum": [900.0, 10], "nps_score": [10.0, 3]},
...                  index=pd.Index(["a", "b"], name="customer_id"))
>>> R = RuleSegmenter().fit(X).transform(X)
>>> R[["rfm_score", "rfm_segment", "nps_class"]].to_dict("list")
{'rfm_score': ['555', '111'], 'rfm_segment': ['Champions', 'Lost'], 'nps_class': ['promoter', 'detractor']}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from segml.config import LifecycleThresholds, TimeConfig

RFM_GRID: dict[int, list[str]] = {
    5: ["New Customers", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"],
    4: ["Promising", "Potential Loyalist", "Potential Loyalist", "Loyal Customers", "Champions"],
    3: ["About To Sleep", "About To Sleep", "Need Attention", "Loyal Customers", "Loyal Customers"],
    2: ["Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"],
    1: ["Lost", "Lost", "At Risk", "Can't Lose Them", "Can't Lose Them"],
}
RFM_SEGMENTS = ["Champions", "Loyal Customers", "Potential Loyalist", "New Customers", "Promising",
                "Need Attention", "About To Sleep", "At Risk", "Can't Lose Them", "Hibernating",
                "Lost"]
LIFECYCLE_STAGES = ["new", "active", "loyal", "at risk", "lapsed"]
NPS_CLASSES = ["promoter", "passive", "detractor", "unknown"]
ENGAGEMENT_LEVELS = ["low", "medium", "high"]
_ACTIVITY_WINDOW_DAYS = TimeConfig.model_fields["activity_window_days"].default
RULE_COLUMNS = ("rfm_segment", "lifecycle_stage", "nps_class", "engagement_level")
_CATEGORIES = {"rfm_segment": RFM_SEGMENTS, "lifecycle_stage": LIFECYCLE_STAGES,
               "nps_class": NPS_CLASSES, "engagement_level": ENGAGEMENT_LEVELS}


def rfm_segment_name(r: np.ndarray, f: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Named RFM segment from integer R, F, M scores 1-5 (vectorised lookup in :data:`RFM_GRID`).

    Example
    -------
    >>> import numpy as np
    >>> rfm_segment_name(np.array([5, 1]), np.array([5, 5]), np.array([4, 5])).tolist()
    ['Champions', "Can't Lose Them"]
    """
    table = np.array([RFM_GRID[s] for s in (1, 2, 3, 4, 5)], dtype=object)
    fm = np.floor((np.asarray(f) + np.asarray(m) + 1) / 2).astype(int)
    return table[np.asarray(r, dtype=int) - 1, fm - 1]


class RuleSegmenter(BaseEstimator):
    """RFM scores and segments, lifecycle stage, NPS class and engagement level per customer.

    Parameters
    ----------
    lifecycle : LifecycleThresholds, optional
        Lifecycle thresholds; None: the config defaults.
    nps_column : str
        Column holding the 0-10 NPS answer.

    Example
    -------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"tenure_days": [30.0, 400], "recency_days": [3.0, 200]})
    >>> RuleSegmenter().fit(X).transform(X)["lifecycle_stage"].tolist()
    ['new', 'lapsed']
    """

    def __init__(self, *, lifecycle: LifecycleThresholds | None = None,
                 nps_column: str = "nps_score"):
        self.lifecycle = lifecycle
        self.nps_column = nps_column

    @staticmethod
    def _event_columns(columns: object) -> list[str]:
        return [c for c in columns if isinstance(c, str) and c.startswith("events_")
                and c.endswith("_90d")]

    @staticmethod
    def _event_total(arrays: list[np.ndarray]) -> np.ndarray:
        """Sum of the ``events_*_90d`` counts per customer (missing counts as 0), column order."""
        total = np.zeros(len(arrays[0]), dtype=np.float64)
        for values in arrays:
            total = total + np.where(np.isnan(values), 0.0, values)
        return total

    @classmethod
    def _events(cls, X: pd.DataFrame) -> pd.Series | None:
        cols = cls._event_columns(X.columns)
        if not cols:
            return None
        arrays = [X[c].to_numpy(dtype=float, na_value=np.nan) for c in cols]
        return pd.Series(cls._event_total(arrays), index=X.index)

    def fit(self, X: pd.DataFrame, y: object = None) -> RuleSegmenter:
        """Learn the RFM quintile edges and the engagement tertiles."""
        q = [0.2, 0.4, 0.6, 0.8]
        self.rfm_edges_ = {
            c: np.nanquantile(X[c].to_numpy(dtype=float, na_value=np.nan), q)
            for c in ("recency_days", "frequency", "monetary_sum")
            if c in X.columns and X[c].notna().any()
        }
        events = self._events(X)
        self.engagement_edges_ = (
            None if events is None else np.quantile(events.to_numpy(), [1 / 3, 2 / 3])
        )
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def _score(self, values: np.ndarray, col: str, lower_is_better: bool) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        edges = self.rfm_edges_[col]
        above = (values[:, None] > edges[None, :]).sum(axis=1)
        score = 5 - above if lower_is_better else 1 + above
        return np.where(np.isnan(values), 1, score).astype(np.int8)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """One row per customer (index of ``X``) with the rule columns that ``X`` supports."""
        columns = {}
        for name in X.columns:
            if isinstance(name, str):
                series = X[name]
                numeric = (pd.api.types.is_numeric_dtype(series.dtype)
                           and not isinstance(series.dtype, pd.CategoricalDtype))
                columns[name] = (series.to_numpy(dtype=float, na_value=np.nan) if numeric
                                 else series)
        found = self.transform_arrays(columns, len(X))
        out = pd.DataFrame(index=X.index)
        for name, values in found.items():
            if name == "rfm_score":
                out[name] = pd.Series(values, index=X.index, dtype=object)
            elif name in _CATEGORIES:
                out[name] = pd.Categorical(values, categories=_CATEGORIES[name])
            else:
                out[name] = values
        return out

    def transform_arrays(self, columns: Mapping[str, Any], n: int) -> dict[str, np.ndarray]:
        """:meth:`transform` on plain arrays: ``columns`` maps a feature to its float values.

        Returns ``rfm_r``/``rfm_f``/``rfm_m`` (int8), ``rfm_score`` and the named columns as
        object arrays of strings. No pandas per call: this is what serving one customer uses.

        Example
        -------
        >>> import numpy as np, pandas as pd
        >>> X = pd.DataFrame({"tenure_days": [30.0, 400], "recency_days": [3.0, 200]})
        >>> rules = RuleSegmenter().fit(X)
        >>> rules.transform_arrays({"tenure_days": np.array([500.0]),
        ...                         "recency_days": np.array([10.0])}, 1)["lifecycle_stage"]
        array(['active'], dtype=object)
        """
        check_is_fitted(self, "rfm_edges_")
        out: dict[str, np.ndarray] = {}
        if len(self.rfm_edges_) == 3 and all(c in columns for c in self.rfm_edges_):
            r = self._score(columns["recency_days"], "recency_days", True)
            f = self._score(columns["frequency"], "frequency", False)
            m = self._score(columns["monetary_sum"], "monetary_sum", False)
            out["rfm_r"], out["rfm_f"], out["rfm_m"] = r, f, m
            out["rfm_score"] = (r.astype(int) * 100 + f * 10 + m).astype(str).astype(object)
            out["rfm_segment"] = rfm_segment_name(r, f, m)
        if "tenure_days" in columns and "recency_days" in columns:
            out["lifecycle_stage"] = self._lifecycle(columns, n)
        if self.nps_column in columns:
            nps = columns[self.nps_column]
            if not (isinstance(nps, np.ndarray) and nps.dtype == np.float64):
                nps = pd.to_numeric(pd.Series(nps).astype("string"), errors="coerce").to_numpy(
                    dtype=float, na_value=np.nan)
            out["nps_class"] = np.select([nps >= 9, nps >= 7, nps >= 0], NPS_CLASSES[:3],
                                         "unknown").astype(object)
        event_cols = self._event_columns(columns)
        if event_cols and self.engagement_edges_ is not None:
            e = self._event_total([np.asarray(columns[c], dtype=float) for c in event_cols])
            lo, hi = self.engagement_edges_
            out["engagement_level"] = np.select([e <= lo, e <= hi], ["low", "medium"],
                                                "high").astype(object)
        return out

    def to_state(self) -> dict[str, Any]:
        """The fitted edges as data (:mod:`segml.scoring.state`).

        Example
        -------
        >>> X = pd.DataFrame({"tenure_days": [30.0, 400], "recency_days": [3.0, 200]})
        >>> again = RuleSegmenter.from_state(RuleSegmenter().fit(X).to_state())
        >>> again.transform(X)["lifecycle_stage"].tolist()
        ['new', 'lapsed']
        """
        check_is_fitted(self, "rfm_edges_")
        return {"lifecycle": None if self.lifecycle is None else self.lifecycle.model_dump(),
                "nps_column": self.nps_column, "rfm_edges": dict(self.rfm_edges_),
                "engagement_edges": self.engagement_edges_,
                "feature_names_in": [str(c) for c in self.feature_names_in_]}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RuleSegmenter:
        """The segmenter :meth:`to_state` described."""
        lifecycle = state["lifecycle"]
        out = cls(lifecycle=None if lifecycle is None else LifecycleThresholds(**lifecycle),
                  nps_column=state["nps_column"])
        out.rfm_edges_ = {k: np.asarray(v, dtype=float) for k, v in state["rfm_edges"].items()}
        edges = state["engagement_edges"]
        out.engagement_edges_ = None if edges is None else np.asarray(edges, dtype=float)
        out.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
        return out

    def _lifecycle(self, columns: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        th = self.lifecycle if self.lifecycle is not None else LifecycleThresholds()
        # lapsed = not active: no purchase within the activity window (the churn population's
        # complement, so a lapsed customer never gets a churn probability)
        lapsed_days = th.lapsed_days if th.lapsed_days is not None else _ACTIVITY_WINDOW_DAYS
        tenure = np.asarray(columns["tenure_days"], dtype=float)
        recency = np.asarray(columns["recency_days"], dtype=float)
        orders_col = "orders_365d" if "orders_365d" in columns else (
            "frequency" if "frequency" in columns else None)
        orders = np.zeros(n)
        if orders_col is not None:
            orders = np.asarray(columns[orders_col], dtype=float)
            orders = np.where(np.isnan(orders), 0.0, orders)
        stage = np.select(
            [tenure < th.new_days, np.isnan(recency) | (recency >= lapsed_days),
             recency > th.at_risk_days, orders >= th.loyal_min_orders],
            ["new", "lapsed", "at risk", "loyal"],
            "active",
        )
        return stage.astype(object)


def lapsed(X: pd.DataFrame) -> pd.Series:
    """Customers the lifecycle rule calls ``lapsed`` (default thresholds): no order within the
    activity window (or none at all), unless new. A segment's mean recency hides this: a
    segment averaging 270 days since the last order may be half active, half long gone.

    Example
    -------
    >>> X = pd.DataFrame({"recency_days": [10.0, 400.0, np.nan], "tenure_days": [900.0] * 3})
    >>> lapsed(X).tolist()
    [False, True, True]
    """
    window = _ACTIVITY_WINDOW_DAYS
    new_days = LifecycleThresholds.model_fields["new_days"].default
    recency = X["recency_days"].astype(float)
    out = recency.isna() | (recency >= window)
    if "tenure_days" in X.columns:
        out &= ~(X["tenure_days"].astype(float) < new_days)
    return out
