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
``recency_days > lapsed_days`` or no purchase; ``at risk`` if ``recency_days > at_risk_days``;
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

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from segml.config import LifecycleThresholds

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
RULE_COLUMNS = ("rfm_segment", "lifecycle_stage", "nps_class", "engagement_level")


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

    def __init__(self, lifecycle: LifecycleThresholds | None = None, nps_column: str = "nps_score"):
        self.lifecycle = lifecycle
        self.nps_column = nps_column

    @staticmethod
    def _events(X: pd.DataFrame) -> pd.Series | None:
        cols = [c for c in X.columns if isinstance(c, str) and c.startswith("events_")
                and c.endswith("_90d")]
        if not cols:
            return None
        return X[cols].astype(float).fillna(0).sum(axis=1)

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

    def _score(self, X: pd.DataFrame, col: str, lower_is_better: bool) -> np.ndarray:
        values = X[col].to_numpy(dtype=float, na_value=np.nan)
        edges = self.rfm_edges_[col]
        above = (values[:, None] > edges[None, :]).sum(axis=1)
        score = 5 - above if lower_is_better else 1 + above
        return np.where(np.isnan(values), 1, score).astype(np.int8)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """One row per customer (index of ``X``) with the rule columns that ``X`` supports."""
        check_is_fitted(self, "rfm_edges_")
        out = pd.DataFrame(index=X.index)
        if len(self.rfm_edges_) == 3 and all(c in X.columns for c in self.rfm_edges_):
            r = self._score(X, "recency_days", True)
            f = self._score(X, "frequency", False)
            m = self._score(X, "monetary_sum", False)
            out["rfm_r"], out["rfm_f"], out["rfm_m"] = r, f, m
            out["rfm_score"] = pd.Series(
                (r.astype(int) * 100 + f * 10 + m).astype(str), index=X.index, dtype=object)
            out["rfm_segment"] = pd.Categorical(rfm_segment_name(r, f, m), categories=RFM_SEGMENTS)
        if "tenure_days" in X.columns and "recency_days" in X.columns:
            out["lifecycle_stage"] = self._lifecycle(X)
        if self.nps_column in X.columns:
            nps = pd.to_numeric(X[self.nps_column].astype("string"), errors="coerce").to_numpy(
                dtype=float, na_value=np.nan)
            cls = np.select([nps >= 9, nps >= 7, nps >= 0], NPS_CLASSES[:3], "unknown")
            out["nps_class"] = pd.Categorical(cls, categories=NPS_CLASSES)
        events = self._events(X)
        if events is not None and self.engagement_edges_ is not None:
            e = events.to_numpy()
            lo, hi = self.engagement_edges_
            level = np.select([e <= lo, e <= hi], ["low", "medium"], "high")
            out["engagement_level"] = pd.Categorical(level, categories=ENGAGEMENT_LEVELS)
        return out

    def _lifecycle(self, X: pd.DataFrame) -> pd.Categorical:
        th = self.lifecycle if self.lifecycle is not None else LifecycleThresholds()
        tenure = X["tenure_days"].to_numpy(dtype=float, na_value=np.nan)
        recency = X["recency_days"].to_numpy(dtype=float, na_value=np.nan)
        orders_col = "orders_365d" if "orders_365d" in X.columns else (
            "frequency" if "frequency" in X.columns else None)
        orders = (np.zeros(len(X)) if orders_col is None
                  else X[orders_col].to_numpy(dtype=float, na_value=0.0))
        stage = np.select(
            [tenure < th.new_days, np.isnan(recency) | (recency > th.lapsed_days),
             recency > th.at_risk_days, orders >= th.loyal_min_orders],
            ["new", "lapsed", "at risk", "loyal"],
            "active",
        )
        return pd.Categorical(stage, categories=LIFECYCLE_STAGES)
