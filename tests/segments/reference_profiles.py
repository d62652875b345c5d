"""The frame-based profiles and drift reference as they were before they were computed from
additive statistics (:mod:`segml.segments.statistics`): kept verbatim (but for the unchanged
``near_copies`` and drift share helpers, imported) as the reference the
statistics path must reproduce (``tests/segments/test_statistics.py``). Not used by segml.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segml.segments.profiles import near_copies  # unchanged: read from segml, not copied
from segml.segments.rules import lapsed

V_TO_D = 1.6
MAX_D = 10.0  # effects are capped here (a split with no spread inside the groups is infinite)
REVENUE_COLUMNS = ("monetary_sum", "spend_365d")


def _numeric_columns(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if not isinstance(X[c].dtype, pd.CategoricalDtype)
            and X[c].dtype.kind in "biuf"]


def categorical_columns(X: pd.DataFrame) -> list[str]:
    """Columns of ``X`` holding categories or text (profiled by their levels, not averaged)."""
    return [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)
            or X[c].dtype.kind in "OSUT" or str(X[c].dtype) in ("str", "string")]


def segment_effects(X: pd.DataFrame, segments: pd.Series, max_levels: int = 20) -> pd.DataFrame:
    """Long table of effect sizes, segment versus rest: one row per (segment, feature).

    Columns: ``segment``, ``feature`` (``col`` or ``col=level``), ``kind`` (``numeric`` /
    ``categorical``), ``effect`` (signed d, or V), ``strength`` (for ranking), ``segment_value``,
    ``rest_value`` (means; for categories the level's share).

    Example
    -------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"x": [1.0, 2, 3, 10, 11, 12]})
    >>> e = segment_effects(X, pd.Series(["a", "a", "a", "b", "b", "b"]))
    >>> e.set_index("segment")["effect"].round(2).to_dict()
    {'a': -9.0, 'b': 9.0}
    """
    codes, uniques = pd.factorize(pd.Series(segments.to_numpy()), sort=True)
    frames = []
    num = _numeric_columns(X)
    if num:
        frames.append(_numeric_effects(X, num, codes, uniques))
    for col in categorical_columns(X):
        effects = _categorical_effects(X[col], col, codes, uniques, max_levels)
        if effects is not None:
            frames.append(effects)
    if not frames:
        return pd.DataFrame(columns=["segment", "feature", "kind", "effect", "strength",
                                     "segment_value", "rest_value"])
    return pd.concat(frames, ignore_index=True)


def _group_moments(x: np.ndarray, codes: np.ndarray, groups: int) -> tuple[np.ndarray, ...]:
    """Per group: count, sum and sum of squares of the non-missing values of ``x``."""
    present = ~np.isnan(x)
    at, v = codes[present], x[present]
    return (np.bincount(at, minlength=groups).astype(float),
            np.bincount(at, weights=v, minlength=groups),
            np.bincount(at, weights=v * v, minlength=groups))


def _numeric_effects(X: pd.DataFrame, num: list[str], codes: np.ndarray,
                     uniques: np.ndarray) -> pd.DataFrame:
    """Cohen's d of every numeric column, segment versus rest, from per-segment moments: one
    column at a time (a million customers never become a dense float copy of the frame)."""
    groups = len(uniques)
    cnt, s, q = (np.empty((groups, len(num))) for _ in range(3))
    mean, binary = np.empty(len(num)), np.zeros(len(num), dtype=bool)
    for j, col in enumerate(num):  # columns, not customers
        x = X[col].to_numpy(dtype=float, na_value=np.nan)
        known = x[~np.isnan(x)]
        mean[j] = known.mean() if known.size else np.nan
        binary[j] = bool(np.isin(known, (0.0, 1.0)).all() and np.unique(known).size == 2)
        cnt[:, j], s[:, j], q[:, j] = _group_moments(x - mean[j], codes, groups)
    rc, rs, rq = cnt.sum(axis=0) - cnt, s.sum(axis=0) - s, q.sum(axis=0) - q
    with np.errstate(divide="ignore", invalid="ignore"):
        mg = np.where(cnt > 0, s / cnt, np.nan)
        mr = np.where(rc > 0, rs / rc, np.nan)
        vg = np.where(cnt > 1, (q - cnt * mg ** 2) / (cnt - 1), np.nan)
        vr = np.where(rc > 1, (rq - rc * mr ** 2) / (rc - 1), np.nan)
        pooled = np.sqrt(np.clip(np.where(cnt + rc > 2, ((cnt - 1) * np.nan_to_num(vg)
                                                          + (rc - 1) * np.nan_to_num(vr))
                                          / (cnt + rc - 2), np.nan), 0, None))
        d = np.clip((mg - mr) / np.where(pooled > 1e-12, pooled, np.nan), -MAX_D, MAX_D)
    # no spread inside either group but different means (a yes/no column split exactly):
    # the largest reportable effect, not 0
    gap = mg - mr
    d = np.where(np.isnan(d), np.nan_to_num(np.sign(gap)) * MAX_D, d)
    d = np.where(np.abs(gap) > 1e-12, d, 0.0)
    long = pd.DataFrame({
        "segment": np.repeat(uniques, len(num)),
        "feature": np.tile(num, groups),
        "kind": np.where(np.tile(binary, groups), "binary", "numeric"),
        "effect": d.ravel(),
        "segment_value": (mg + mean).ravel(),
        "rest_value": (mr + mean).ravel(),
    })
    long["strength"] = long["effect"].abs()
    return long


def _level_codes(values: pd.Series, max_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the column of its level in the segment x level table, and the table's levels:
    the ``max_levels`` most frequent levels (ties by name), ``(other)`` for the rarer ones and
    ``(missing)``, sorted by name. Read from the categorical codes, never as a million strings."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        raw, names = values.cat.codes.to_numpy().astype(np.int64), values.cat.categories
    else:
        raw, names = pd.factorize(values)
    names = np.asarray(pd.Index(names).astype(str), dtype=object)
    counts = np.bincount(raw[raw >= 0], minlength=len(names))
    order = np.lexsort((names, -counts))
    top = order[:max_levels][counts[order[:max_levels]] > 0]
    rare = bool((counts > 0).sum() > top.size)
    levels = np.array(sorted([*names[top], *(["(other)"] if rare else []),
                              *(["(missing)"] if (raw < 0).any() else [])]), dtype=object)
    column = np.full(len(names) + 1, -1, dtype=np.int64)  # last slot: missing
    column[top] = np.searchsorted(levels, names[top])
    if rare:
        column[np.setdiff1d(np.arange(len(names)), top)] = np.searchsorted(levels, "(other)")
    if (raw < 0).any():
        column[-1] = np.searchsorted(levels, "(missing)")
    return column[np.where(raw < 0, len(names), raw)], levels


def _categorical_effects(values: pd.Series, col: str, codes: np.ndarray, uniques: np.ndarray,
                         max_levels: int) -> pd.DataFrame | None:
    """Cramer's V of segment membership x the levels of ``col``, with each segment's most
    over-represented level (None: fewer than two levels)."""
    level, levels = _level_codes(values, max_levels)
    if len(levels) < 2:
        return None
    n, width = len(values), len(levels)
    C = np.bincount(codes * width + level, minlength=len(uniques) * width).reshape(-1, width)
    C = C.astype(float)
    T = C.sum(axis=0)
    rows = C.sum(axis=1, keepdims=True)
    E_in = rows * T / n
    E_out = (n - rows) * T / n
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.nansum((C - E_in) ** 2 / E_in, axis=1) + np.nansum(
            ((T - C) - E_out) ** 2 / E_out, axis=1)
        V = np.sqrt(chi2 / n)
        share_in = C / rows
        share_out = (T - C) / np.maximum(n - rows, 1)
        lift = share_in / (T / n)
    best = np.nanargmax(np.where(np.isfinite(lift), lift, -np.inf), axis=1)
    pick = np.arange(len(best))
    return pd.DataFrame({
        "segment": uniques,
        "feature": [f"{col}={lv}" for lv in levels[best]],
        "kind": "categorical",
        "effect": V,
        "segment_value": share_in[pick, best],
        "rest_value": share_out[pick, best],
        "strength": V * V_TO_D,
    })


def top_effects(effects: pd.DataFrame, top_n: int,
                twins: dict[str, set[str]] | None = None) -> pd.DataFrame:
    """The ``top_n`` strongest effects per segment, skipping near copies of a stronger one."""
    ranked = effects.sort_values(["segment", "strength", "feature"],
                                 ascending=[True, False, True])
    if not twins:
        return ranked.groupby("segment").head(top_n)
    feature = ranked["feature"].to_numpy()
    keep = np.zeros(len(ranked), dtype=bool)
    for rows in ranked.groupby("segment", sort=False).indices.values():  # one per segment
        kept: list[str] = []
        for r in rows:
            if len(kept) >= top_n:
                break
            if not any(f in twins.get(feature[r], ()) for f in kept):
                kept.append(feature[r])
                keep[r] = True
    return ranked[keep]


def profile_segments(X: pd.DataFrame, segments: pd.Series, labels: pd.DataFrame | None = None,
                     min_profile_size: int = 50, top_n: int = 5) -> pd.DataFrame:
    """One row per segment (index ``segment``); see the module docstring for the columns.

    Example
    -------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"monetary_sum": [10.0, 30.0, 60.0]})
    >>> profile_segments(X, pd.Series(["a", "a", "b"]), min_profile_size=1)["revenue_share"].tolist()
    [0.4, 0.6]
    """
    seg = pd.Series(segments.to_numpy(), index=X.index, name="segment").astype(str)
    size = seg.value_counts().sort_index()
    small = size < min_profile_size
    out = pd.DataFrame(index=pd.Index(size.index, name="segment"))
    out["size"] = pd.array(size.where(~small).to_numpy(), dtype="Int64")
    out["share"] = (size / len(seg)).where(~small)
    out["suppressed"] = small.to_numpy()
    rev = next((c for c in REVENUE_COLUMNS if c in X.columns), None)
    if rev is not None:
        money = X[rev].astype(float)
        out["revenue_share"] = money.groupby(seg).sum() / money.sum()
    for name, col in (("aov", "monetary_mean"), ("frequency", "frequency"),
                      ("recency_days", "recency_days")):
        if col in X.columns:
            out[name] = X[col].astype(float).groupby(seg).mean()
    if "recency_days" in X.columns:
        out["lapsed_share"] = lapsed(X).groupby(seg).mean()  # the lifecycle rule's lapsed
    if labels is not None:
        lab = labels.reindex(X.index)
        for name, col in (("churn_rate", "churn"), ("purchase_rate", "purchase")):
            if col in lab.columns:
                out[name] = lab[col].astype(float).groupby(seg).mean()
    effects = segment_effects(X, seg)
    effects = effects[effects["segment"].isin(size.index[~small])]
    top = top_effects(effects, top_n, near_copies(X))
    out["top_features"] = pd.Series(
        {g: [f"{f} ({'+' if e >= 0 else ''}{e:.2f})" if k != "categorical" else f"{f} (V={e:.2f})"
             for f, e, k in zip(df["feature"], df["effect"], df["kind"], strict=True)]
         for g, df in top.groupby("segment")}, dtype=object)
    out["distinguishing"] = pd.Series(
        {g: df[["feature", "kind", "effect", "segment_value", "rest_value"]].to_dict("records")
         for g, df in top.groupby("segment")}, dtype=object)
    numeric = effects[effects["kind"] != "categorical"].pivot(index="segment", columns="feature",
                                                              values="effect")
    for name, cols in (("value_effect", (rev, "monetary_mean")),
                       ("frequency_effect", ("frequency", "orders_365d")),
                       ("recency_effect", ("recency_days",))):
        col = next((c for c in cols if c is not None and c in numeric.columns), None)
        out[name] = numeric[col] if col is not None else np.nan
    stats = [c for c in out.columns if c not in ("size", "suppressed")]
    for c in stats:
        if out[c].dtype == object:
            out[c] = [v if isinstance(v, list) else [] for v in out[c]]
            out.loc[small.to_numpy(), c] = pd.Series([[]] * int(small.sum()), dtype=object,
                                                     index=out.index[small.to_numpy()])
        else:
            out.loc[small.to_numpy(), c] = np.nan
    return out


def profile_hierarchy(X: pd.DataFrame, assignments: pd.DataFrame,
                      labels: pd.DataFrame | None = None, min_profile_size: int = 50,
                      top_n: int = 5) -> dict[int, pd.DataFrame]:
    """:func:`profile_segments` for every ``segment_level_<k>`` column: ``{k: profile}``.

    From the second level on, ``parent`` (the segment one level up) and ``refining`` (the
    distinguishing features against the siblings, as ``distinguishing``) are added.

    Example
    -------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"frequency": [1.0, 2, 3, 4]})
    >>> A = pd.DataFrame({"segment_level_1": ["1", "1", "2", "2"],
    ...                   "segment_level_2": ["1.1", "1.2", "2.1", "2.1"]})
    >>> P = profile_hierarchy(X, A, min_profile_size=1)
    >>> {k: list(v.index) for k, v in P.items()}
    {1: ['1', '2'], 2: ['1.1', '1.2', '2.1']}
    >>> P[2].loc["1.2", "refining"][0]["feature"], P[2].loc["2.1", "refining"]
    ('frequency', [])
    """
    levels = sorted(int(c.rsplit("_", 1)[1]) for c in assignments.columns
                    if c.startswith("segment_level_"))
    A = assignments if assignments.index.equals(X.index) else assignments.reindex(X.index)
    out = {}
    for pos, k in enumerate(levels):
        seg = A[f"segment_level_{k}"]
        profile = profile_segments(X, seg, labels, min_profile_size, top_n)
        if pos:
            parent = A[f"segment_level_{levels[pos - 1]}"].astype(str)
            profile.insert(profile.columns.get_loc("suppressed") + 1, "parent", pd.Series(
                parent.groupby(seg.astype(str).to_numpy()).first()).reindex(profile.index))
            profile["refining"] = _refining(X, seg.astype(str), parent, profile, min_profile_size,
                                            top_n)
            above = out[levels[pos - 1]]
            above["shared"] = _shared(X, parent, seg.astype(str), above, profile)
        out[k] = profile
    return out


def _shared(X: pd.DataFrame, parent: pd.Series, child: pd.Series, above: pd.DataFrame,
            below: pd.DataFrame) -> pd.Series:
    """Per segment: its distinguishing features that every described child shares (the same
    direction against everyone else): what its name may say without contradicting a child."""
    out = pd.Series([[] for _ in above.index], index=above.index, dtype=object)
    items = {p: [i["feature"] for i in above.loc[p, "distinguishing"]] for p in above.index}
    wanted = sorted({f for fs in items.values() for f in fs})
    if not wanted:
        return out
    # each feature as a number: a categorical level as its 0/1 indicator
    frame = pd.DataFrame({f: (_indicator(X[f.split("=", 1)[0]], f.split("=", 1)[1])
                              if "=" in f and f not in X.columns
                              else X[f].astype(float).to_numpy()) for f in wanted}, index=X.index)
    child_d = segment_effects(frame, child).pivot(index="segment", columns="feature",
                                                  values="effect")
    parent_d = segment_effects(frame, parent).pivot(index="segment", columns="feature",
                                                    values="effect")
    described = below.index[~below["suppressed"].to_numpy()]
    family = pd.Series(below["parent"].to_numpy(), index=below.index)
    for p, features in items.items():  # a few dozen segments x five features
        kids = [c for c in family.index[family.to_numpy() == p] if c in described]
        if not kids:
            out[p] = features
            continue
        sign = np.sign(parent_d.loc[p, features])
        agree = (np.sign(child_d.loc[kids, features]) == sign) & (child_d.loc[kids, features].abs()
                                                                  >= 0.2)
        out[p] = [f for f in features if bool(agree[f].all())]
    return out


def _indicator(values: pd.Series, level: str) -> np.ndarray:
    """1.0 where ``values`` reads ``level`` (as text), 0.0 elsewhere, NaN where missing;
    categories are compared by their codes, not as a million strings."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        hits = np.flatnonzero(values.cat.categories.astype(str) == level)
        return np.where(codes < 0, np.nan, np.isin(codes, hits).astype(float))
    return values.astype("string").eq(level).to_numpy(dtype=float, na_value=np.nan)


def _refining(X: pd.DataFrame, seg: pd.Series, parent: pd.Series, profile: pd.DataFrame,
              min_profile_size: int, top_n: int) -> pd.Series:
    """Per segment: its top distinguishing features against its siblings (``[]`` if none)."""
    out = pd.Series([[] for _ in profile.index], index=profile.index, dtype=object)
    twins = near_copies(X)
    # one pass per parent (a dozen at most), by position: no lookup of a million ids
    for rows in seg.groupby(parent.to_numpy()).indices.values():
        members = seg.iloc[rows]
        children = members.value_counts()
        if len(children) < 2:
            continue
        effects = top_effects(segment_effects(X.iloc[rows], members), top_n, twins)
        total = int(children.sum())
        for child, frame in effects.groupby("segment"):
            if bool(profile.loc[child, "suppressed"]) or total - children[child] < min_profile_size:
                continue
            out[child] = frame[["feature", "kind", "effect", "segment_value",
                                "rest_value"]].to_dict("records")
    return out


# ------------------------------------------------------------------ DriftReference.fit, verbatim
# the share helpers are unchanged in segml.monitor.drift: read from there, not copied
from segml.monitor.drift import (  # noqa: E402
    DriftReference,
    _categorical_shares,
    _numeric_shares,
    _text_counts,
)


def drift_fit(
    features: pd.DataFrame,
    *,
    segments: pd.Series | None = None,
    scores: pd.DataFrame | None = None,
    n_bins: int = 10,
) -> dict:
    """Summarise the training features, segment shares and score distributions."""
    ref = DriftReference()
    quantiles = np.linspace(0, 1, n_bins + 1)[1:-1]
    for column in features.columns:
        values = features[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            edges = np.unique(np.nanquantile(values.to_numpy(dtype=float, na_value=np.nan), quantiles)) if values.notna().any() else np.array([])
            ref.numeric_edges[column] = edges.tolist()
            ref.numeric_shares[column] = _numeric_shares(values, edges).tolist()
        else:
            levels = _text_counts(values).index[:30].tolist()
            ref.categorical_levels[column] = [str(v) for v in levels]
            ref.categorical_shares[column] = _categorical_shares(values, levels).tolist()
    if segments is not None:
        ref.segment_shares = {
            str(k): float(v) for k, v in segments.value_counts(normalize=True).items()
        }
    if scores is not None:
        edges = np.linspace(0, 1, n_bins + 1)[1:-1]
        for column in scores.columns:
            col_edges = edges if scores[column].between(0, 1).all() else np.unique(
                np.nanquantile(scores[column].to_numpy(dtype=float), quantiles)
            )
            ref.score_edges[column] = col_edges.tolist()
            ref.score_shares[column] = _numeric_shares(scores[column], col_edges).tolist()
    return ref.to_dict()
