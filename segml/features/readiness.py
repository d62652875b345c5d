"""Data-readiness check before training (docs/predictions.md "Data readiness").

For each target it measures history length, label balance, missingness, constant and ID-like
columns and single-feature leakage, and turns each finding into a :class:`~segml.errors.Problem`:
severity ``"error"`` blocks training, ``"warning"`` is only reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segml.config import ReadinessConfig
from segml.errors import DataError, Problem, ReadinessError

HIGH_MISSING_SHARE = 0.5
# Categories beyond this many levels are not target-mean encoded for the leakage scan: in-sample
# encoding of many small levels would fake a high AUC.
MAX_LEAKAGE_LEVELS = 50
# An AUC on fewer rows per class than this is too noisy to call anything a leak.
MIN_ROWS_PER_CLASS_FOR_AUC = 10
ID_LIKE_UNIQUE_SHARE = 0.95
ID_LIKE_MIN_ROWS = 20
AUC_SAMPLE_ROWS = 200_000


@dataclass
class ReadinessReport:
    """Readiness findings for one or more targets.

    ``targets`` maps each target name to its measurements (JSON-friendly dict); ``problems``
    holds every finding, blocking ones with severity ``"error"``.
    """

    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        """True when at least one finding must stop training."""
        return any(p.severity == "error" for p in self.problems)

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (for the report and MLflow)."""
        return {"blocking": self.blocking, "targets": self.targets,
                "problems": [p.to_dict() for p in self.problems]}

    def raise_if_blocking(self) -> None:
        """Raise :class:`ReadinessError` with one Problem per blocking finding."""
        errors = [p for p in self.problems if p.severity == "error"]
        if errors:
            raise ReadinessError(errors)


def combine_reports(reports: list[ReadinessReport]) -> ReadinessReport:
    """Merge per-target reports into one (later reports win on a repeated target name).

    Examples
    --------
    >>> a = ReadinessReport({"churn": {"positives": 3}}, [Problem("x", severity="warning")])
    >>> b = ReadinessReport({"purchase": {"positives": 9}}, [])
    >>> merged = combine_reports([a, b])
    >>> sorted(merged.targets), merged.blocking
    (['churn', 'purchase'], False)
    """
    merged = ReadinessReport()
    for report in reports:
        merged.targets.update(report.targets)
        merged.problems.extend(report.problems)
    return merged


def check_readiness(
    features: pd.DataFrame,
    labels: pd.DataFrame | pd.Series,
    *,
    target: str,
    config: ReadinessConfig,
    history_days: float | None = None,
    cutoff: pd.Timestamp | None = None,
    max_timestamp: pd.Timestamp | None = None,
    point_in_time: set[str] | frozenset[str] = frozenset(),
) -> ReadinessReport:
    """Check that ``features`` and the ``target`` labels are fit for training.

    Parameters
    ----------
    features : DataFrame
        One row per customer (index ``customer_id``).
    labels : DataFrame or Series
        Labels indexed by ``customer_id``; a DataFrame must hold a ``target`` column. NaN labels
        (e.g. churn of customers not active at the cutoff) are left out. A label that is not
        0/1 (e.g. ``future_spend``) is read as positive when > 0.
    target : str
        Target name, used in every message.
    config : ReadinessConfig
        Thresholds.
    history_days : float, optional
        Days of history before the cutoff; not checked when None.
    cutoff, max_timestamp : Timestamp, optional
        A ``max_timestamp`` after ``cutoff`` (data from the future) blocks.
    point_in_time : set of str
        Columns segml computed itself from rows at or before the cutoff (recency, BG/NBD, ...):
        they cannot leak by construction, so a very strong one is reported as a warning, not as
        suspected leakage, and their missing values mean "never happened" (no warning). Leakage
        and missingness are reported for the columns the user brought (attributes).

    Returns
    -------
    ReadinessReport

    Notes
    -----
    Leakage: per feature, ROC AUC against the label from average ranks (ties count half),
    max(auc, 1 - auc), on the rows where the feature is present; for a feature with missing
    values the missing indicator is scored too. Categorical/string features with at most
    ``MAX_LEAKAGE_LEVELS`` levels are target-mean encoded (in sample); others are skipped.
    Above ``AUC_SAMPLE_ROWS`` labelled rows the AUCs come from a seeded random sample of that
    size. ID-like and constant columns are reported but not scanned for leakage.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"spend": rng.normal(size=400)})
    >>> y = pd.Series((rng.random(400) < 0.3).astype(float), name="churn")
    >>> report = check_readiness(X, y, target="churn", config=ReadinessConfig(), history_days=365)
    >>> report.blocking, report.targets["churn"]["positives"] > 50
    (False, True)
    """
    y = _label_series(labels, target)
    y = y.reindex(features.index) if not y.index.equals(features.index) else y
    known = y.notna().to_numpy()
    X = features.loc[known]
    positive = (y.to_numpy()[known] > 0)
    n_pos = int(positive.sum())
    n_neg = int(known.sum()) - n_pos

    missing = features.isna().mean() if len(features) else pd.Series(0.0, index=features.columns)
    constant = _constant_columns(features, missing)
    id_like = _id_like_columns(features)
    scan = X.drop(columns=id_like + constant)
    if len(scan) > AUC_SAMPLE_ROWS:
        # A 200k-row sample pins an AUC to about +-0.002, ample for a 0.95 threshold, and
        # keeps the per-column ranking cheap at millions of customers.
        rows = np.random.default_rng(0).choice(len(scan), AUC_SAMPLE_ROWS, replace=False)
        scan, positive_scan = scan.iloc[np.sort(rows)], positive[np.sort(rows)]
    else:
        positive_scan = positive
    auc = _leakage_auc(scan, positive_scan)
    strong = {c: a for c, a in auc.items() if a > config.leakage_auc}
    leaks = {c: a for c, a in strong.items() if c.removesuffix(" (missing)") not in point_in_time}
    dominant = {c: a for c, a in strong.items() if c not in leaks}

    problems = _problems(target, config, n_pos, n_neg, history_days, cutoff, max_timestamp,
                         missing, constant, id_like, leaks, y[known].nunique(), dominant,
                         point_in_time)
    summary = {
        "history_days": None if history_days is None else float(history_days),
        "rows": int(len(features)),
        "labelled_rows": int(known.sum()),
        "positives": n_pos,
        "negatives": n_neg,
        "label_rate": float(n_pos / (n_pos + n_neg)) if n_pos + n_neg else None,
        "missing_share": {str(c): float(v) for c, v in missing.items()},
        "constant_columns": constant,
        "id_like_columns": id_like,
        "leakage_auc": {str(c): float(v) for c, v in auc.items()},
        "leakage_suspects": sorted(str(c) for c in leaks),
        "cutoff": None if cutoff is None else pd.Timestamp(cutoff).isoformat(),
        "max_timestamp": None if max_timestamp is None else pd.Timestamp(max_timestamp).isoformat(),
    }
    return ReadinessReport({target: summary}, problems)


def _label_series(labels: pd.DataFrame | pd.Series, target: str) -> pd.Series:
    if isinstance(labels, pd.DataFrame):
        if target not in labels.columns:
            raise DataError([Problem(f"no label column for target '{target}'", table="labels",
                                     column=target)])
        labels = labels[target]
    try:
        return labels.astype("float64")
    except (TypeError, ValueError) as exc:
        raise DataError([Problem(f"labels of target '{target}' are not numeric ({exc})",
                                 table="labels", column=target)]) from exc


def _constant_columns(features: pd.DataFrame, missing: pd.Series) -> list[str]:
    """Columns with a single value (a missing value counts as a value of its own)."""
    numeric = features.select_dtypes(include=["number", "bool"]).astype("float64")
    # min == max is far cheaper than hashing a million floats per column.
    same = (numeric.min() == numeric.max()) & (missing[numeric.columns] == 0)
    out = set(same.index[same]) | set(missing.index[missing == 1])
    others = features.columns.difference(numeric.columns)
    out |= {c for c in others if features[c].nunique(dropna=False) <= 1}
    return [str(c) for c in features.columns if c in out]


def _id_like_columns(features: pd.DataFrame) -> list[str]:
    """Integer or string-like columns with (almost) one distinct value per row."""
    out = []
    for col in features.columns:  # a loop over columns, not rows
        s = features[col]
        kind_ok = (pd.api.types.is_integer_dtype(s) or pd.api.types.is_string_dtype(s)
                   or isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object)
        present = int(s.notna().sum())
        if (kind_ok and present >= ID_LIKE_MIN_ROWS
                and s.nunique() >= ID_LIKE_UNIQUE_SHARE * present):
            out.append(str(col))
    return out


def _encode_for_auc(X: pd.DataFrame, positive: np.ndarray) -> pd.DataFrame:
    """Numeric view of the features: numbers as float, low-cardinality categories target-mean."""
    cols = {}
    y = pd.Series(positive.astype("float64"), index=X.index)
    for col in X.columns:
        s = X[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            cols[col] = s.astype("float64")
        elif s.nunique() <= MAX_LEAKAGE_LEVELS:
            keys = s.astype("object")
            cols[col] = y.groupby(keys, dropna=True).transform("mean").where(s.notna())
    return pd.DataFrame(cols, index=X.index)


def _leakage_auc(X: pd.DataFrame, positive: np.ndarray) -> dict[str, float]:
    """max(AUC, 1 - AUC) per column (and per missing indicator), vectorised over columns."""
    if X.shape[1] == 0 or positive.all() or not positive.any():
        return {}
    encoded = _encode_for_auc(X, positive)
    miss = encoded.isna()
    with_missing = miss.columns[miss.any() & ~miss.all()]
    indicators = miss[with_missing].astype("float64").add_suffix(" (missing)")
    scored = pd.concat([encoded, indicators], axis=1)
    values = scored.to_numpy(dtype="float64")
    present = ~np.isnan(values)
    # Ranks are taken among present rows only, so the AUC ignores rows where a value is missing.
    ranks = scored.rank(axis=0, method="average").to_numpy()
    pos = positive[:, None] & present
    n_pos = pos.sum(axis=0)
    n_neg = present.sum(axis=0) - n_pos
    rank_sum = np.where(pos, ranks, 0.0).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    enough = (n_pos >= MIN_ROWS_PER_CLASS_FOR_AUC) & (n_neg >= MIN_ROWS_PER_CLASS_FOR_AUC)
    auc = np.maximum(auc, 1 - auc)
    return {str(c): float(a) for c, a, ok in zip(scored.columns, auc, enough, strict=True) if ok}


def _problems(target, config, n_pos, n_neg, history_days, cutoff, max_timestamp, missing,
              constant, id_like, leaks, label_levels, dominant=None,
              point_in_time=frozenset()) -> list[Problem]:
    problems: list[Problem] = []

    def add(message: str, severity: str = "error", **where: str) -> None:
        problems.append(Problem(f"target '{target}': {message}", severity=severity, **where))

    if label_levels <= 1:
        add(f"the label is constant ({n_pos} positives, {n_neg} negatives)", table="labels",
            column=target)
    for name, count in (("positives", n_pos), ("negatives", n_neg)):
        if count < config.min_positives:
            add(f"only {count} {name}, at least {config.min_positives} needed", table="labels",
                column=target)
        elif count < config.recommended_positives:
            add(f"only {count} {name}, {config.recommended_positives} or more recommended",
                "warning", table="labels", column=target)
    if history_days is not None and history_days < config.min_history_days:
        add(f"{history_days:g} days of history, at least {config.min_history_days} needed",
            column="timestamp")
    if cutoff is not None and max_timestamp is not None and (
        pd.Timestamp(max_timestamp) > pd.Timestamp(cutoff)
    ):
        add(f"a timestamp ({pd.Timestamp(max_timestamp)}) is after the cutoff "
            f"({pd.Timestamp(cutoff)}): features may see the future", column="timestamp")
    for col, auc in sorted((dominant or {}).items()):
        add(f"'{col}' alone predicts the label with ROC AUC {auc:.3f}: a strong, point-in-time "
            "feature (computed before the cutoff), not leakage", "warning", table="features",
            column=col.removesuffix(" (missing)"))
    for col, auc in sorted(leaks.items()):
        base = col.removesuffix(" (missing)")
        what = "being missing" if base != col else "alone"
        add(f"suspected leakage: '{base}' {what} predicts the label with ROC AUC {auc:.3f} "
            f"(> {config.leakage_auc})", table="features", column=base)
    for col, share in missing.items():
        # segml's own "days since ..." features are missing by design for what never happened
        if share > HIGH_MISSING_SHARE and str(col) not in point_in_time:
            add(f"{share:.0%} of values missing", "warning", table="features", column=str(col))
    for col in constant:
        add("constant column carries no information", "warning", table="features", column=col)
    for col in id_like:
        add("looks like an identifier (one distinct value per row)", "warning",
            table="features", column=col)
    return problems
