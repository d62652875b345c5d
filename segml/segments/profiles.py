"""Segment profiles: size, share, KPIs and the features that distinguish each segment.

Per segment (at every level of the hierarchy): ``size``, ``share``, ``revenue_share`` (of
``monetary_sum``, else ``spend_365d``), ``aov`` (mean ``monetary_mean``), mean ``frequency`` and
``recency_days``, ``lapsed_share`` (customers with no order within the activity window, the
lifecycle rule's ``lapsed``), ``churn_rate``/``purchase_rate`` when labels are given, and the top distinguishing
features with effect sizes, segment versus the rest of the customers:

* numeric feature: standardised mean difference (Cohen's d with the pooled standard deviation);
  a 0/1 column is reported as ``kind="binary"`` (its values are the shares of 1s);
* categorical feature: Cramer's V of the segment-membership x category table, reported with the
  most over-represented level (``region=North``).

A feature that is a near copy of a stronger one in the list (``|r| >= 0.9`` on up to 20,000
customers, e.g. minutes and their charge, a voicemail plan and the number of voicemail messages)
is left out of the top features: it would repeat it. Effects are ranked by strength: ``|d|`` for numbers and ``1.6 * V`` for categories (Cohen's
benchmarks: d 0.2 / 0.5 / 0.8 correspond to V 0.1 / 0.3 / 0.5). Everything is computed with
group-by sums, no loop over customers.

Everything is finished from additive statistics per segment cell
(:class:`~segml.segments.statistics.SegmentStatistics`): :func:`profile_hierarchy_from` needs no
rows, so a cluster sums the statistics of its partitions and profiles every customer;
:func:`profile_hierarchy` is the same finish over the statistics of one frame.

Below the top level, :func:`profile_hierarchy` adds ``parent`` and ``refining``: the distinguishing
features of a segment against its *siblings* (the rest of its parent), which is what a child's
name adds to its parent's (:mod:`segml.segments.naming`).

Privacy: a segment with fewer than ``min_profile_size`` customers is *suppressed*: its row says
``suppressed=True`` and carries no statistic, not even its size. ``refining`` is left empty where
the siblings together are under ``min_profile_size`` (it would describe them).

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> seg = pd.Series(np.repeat(["1", "2", "3"], [300, 200, 10]), name="segment_level_1")
>>> X = pd.DataFrame({"monetary_sum": np.where(seg == "1", 500.0, 50.0) + rng.normal(0, 5, 510),
...                   "frequency": rng.poisson(3, 510).astype(float)})
>>> p = profile_segments(X, seg, min_profile_size=50)
>>> p["suppressed"].tolist(), int(p["size"].isna().sum())
([False, False, True], 1)
>>> p.loc["1", "top_features"][0]
'monetary_sum (+...)'
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segml.segments.statistics import (
    MOMENTS,
    SegmentStatistics,
    categorical_columns,
    frame_means,
    numeric_columns,
)

V_TO_D = 1.6
MAX_D = 10.0  # effects are capped here (a split with no spread inside the groups is infinite)
REVENUE_COLUMNS = ("monetary_sum", "spend_365d")
_AT = {name: row for row, name in enumerate(MOMENTS)}  # rows of SegmentStatistics.moments


def segment_effects(X: pd.DataFrame, segments: pd.Series, max_levels: int = 20) -> pd.DataFrame:
    """Long table of effect sizes, segment versus rest: one row per (segment, feature).

    Columns: ``segment``, ``feature`` (``col`` or ``col=level``), ``kind`` (``numeric`` /
    ``categorical``), ``effect`` (signed d, or V), ``strength`` (for ranking), ``segment_value``,
    ``rest_value`` (means; for categories the level's share). The statistics of ``X`` per
    segment, centred on its means, then :func:`statistics_effects`.

    Example
    -------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"x": [1.0, 2, 3, 10, 11, 12]})
    >>> e = segment_effects(X, pd.Series(["a", "a", "a", "b", "b", "b"]))
    >>> e.set_index("segment")["effect"].round(2).to_dict()
    {'a': -9.0, 'b': 9.0}
    """
    codes, uniques = pd.factorize(pd.Series(np.asarray(segments)), sort=True)
    stats = SegmentStatistics.of(X, codes, frame_means(X))
    # the cells are the codes as text: each segment keeps its own label and the codes' order
    position = stats.cells.astype(np.int64)
    label = np.asarray(uniques, dtype=object)[position]
    frames = []
    for frame in _effects_frames(stats, max_levels):
        order = np.argsort(position[np.searchsorted(stats.cells, frame["segment"].to_numpy())],
                           kind="stable")
        frame = frame.iloc[order]
        frames.append(frame.assign(segment=label[np.searchsorted(stats.cells,
                                                                 frame["segment"].to_numpy())]))
    return _long(frames)


def statistics_effects(stats: SegmentStatistics, max_levels: int = 20) -> pd.DataFrame:
    """:func:`segment_effects` from statistics whose cells are the segments (each against all the
    other customers the statistics count).

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> X = pd.DataFrame({"x": [1.0, 2, 3, 10, 11, 12]})
    >>> stats = SegmentStatistics.of(X, np.array(["a", "a", "a", "b", "b", "b"]), {"x": 0.0})
    >>> statistics_effects(stats).set_index("segment")["effect"].round(2).to_dict()
    {'a': -9.0, 'b': 9.0}
    """
    return _long(_effects_frames(stats, max_levels))


def _effects_frames(stats: SegmentStatistics, max_levels: int) -> list[pd.DataFrame]:
    """The numeric effects, then those of each categorical column."""
    frames = []
    num = stats.columns_with("numeric", "flag")
    if num:
        frames.append(_numeric_effects(stats, num))
    for col in stats.columns_with("categorical"):
        effects = _categorical_effects(stats, col, max_levels)
        if effects is not None:
            frames.append(effects)
    return frames


def _long(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=["segment", "feature", "kind", "effect", "strength",
                                     "segment_value", "rest_value"])
    return pd.concat(frames, ignore_index=True)


def _others(values: np.ndarray, reduce: str) -> np.ndarray:
    """Per row, the minimum (``reduce="min"``) or maximum of ``values`` over the *other* rows,
    column by column (``inf``/``-inf`` where there is none)."""
    v = values if reduce == "min" else -values
    if len(v) < 2:
        out = np.full(v.shape, np.inf)
    else:
        order = np.argsort(v, axis=0, kind="stable")
        first = np.take_along_axis(v, order[:1], axis=0)
        second = np.take_along_axis(v, order[1:2], axis=0)
        out = np.where(np.arange(len(v))[:, None] == order[:1], second, first)
    return out if reduce == "min" else -out


def cohens_d(cnt: np.ndarray, s: np.ndarray, q: np.ndarray, low: np.ndarray, high: np.ndarray,
             shift: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cohen's d of each group (rows) against the other groups together, per column, from the
    non-missing count, shifted sum and sum of squares, minimum and maximum per group: ``(d, mean
    in, mean of the rest)``, the means shifted. A side with no spread has its exact mean and
    variance 0 whatever the shift (its minimum equals its maximum)."""
    rc, rs, rq = cnt.sum(axis=0) - cnt, s.sum(axis=0) - s, q.sum(axis=0) - q
    flat_in = (cnt > 0) & (low == high)
    flat_out = (rc > 0) & (_others(low, "min") == _others(high, "max"))
    with np.errstate(divide="ignore", invalid="ignore"):
        mg = np.where(cnt > 0, s / cnt, np.nan)
        mr = np.where(rc > 0, rs / rc, np.nan)
        vg = np.where(cnt > 1, (q - cnt * mg ** 2) / (cnt - 1), np.nan)
        vr = np.where(rc > 1, (rq - rc * mr ** 2) / (rc - 1), np.nan)
        mg = np.where(flat_in, low - shift, mg)
        mr = np.where(flat_out, _others(low, "min") - shift, mr)
        vg = np.where(flat_in & (cnt > 1), 0.0, vg)
        vr = np.where(flat_out & (rc > 1), 0.0, vr)
        pooled = np.sqrt(np.clip(np.where(cnt + rc > 2, ((cnt - 1) * np.nan_to_num(vg)
                                                          + (rc - 1) * np.nan_to_num(vr))
                                          / (cnt + rc - 2), np.nan), 0, None))
        d = np.clip((mg - mr) / np.where(pooled > 1e-12, pooled, np.nan), -MAX_D, MAX_D)
    # no spread inside either group but different means (a yes/no column split exactly):
    # the largest reportable effect, not 0
    gap = mg - mr
    d = np.where(np.isnan(d), np.nan_to_num(np.sign(gap)) * MAX_D, d)
    return np.where(np.abs(gap) > 1e-12, d, 0.0), mg, mr


def _numeric_effects(stats: SegmentStatistics, num: list[str]) -> pd.DataFrame:
    """Cohen's d of every numeric column, segment versus rest, from the per-segment moments."""
    groups = len(stats.cells)
    parts = {name: np.empty((groups, len(num))) for name in MOMENTS}
    shift, binary = np.empty(len(num)), np.zeros(len(num), dtype=bool)
    for j, col in enumerate(num):  # columns, not customers
        m = stats.moments[col]
        for i, name in enumerate(MOMENTS):
            parts[name][:, j] = m[i]
        shift[j] = stats.shift[col]
        n, zeros, ones = (m[_AT[r]].sum() for r in ("n", "zeros", "ones"))
        binary[j] = bool(n == zeros + ones and zeros > 0 and ones > 0)
    d, mg, mr = cohens_d(parts["n"], parts["sum"], parts["sumsq"], parts["low"], parts["high"],
                         shift)
    long = pd.DataFrame({
        "segment": np.repeat(stats.cells, len(num)),
        "feature": np.tile(np.asarray(num, dtype=object), groups),
        "kind": np.where(np.tile(binary, groups), "binary", "numeric"),
        "effect": d.ravel(),
        "segment_value": (mg + shift).ravel(),
        "rest_value": (mr + shift).ravel(),
    })
    long["strength"] = long["effect"].abs()
    return long


def _level_table(stats: SegmentStatistics, col: str, max_levels: int,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The segment x level table of ``col`` and its levels: the ``max_levels`` most frequent
    levels (ties by name), ``(other)`` for the rarer ones and ``(missing)``, sorted by name."""
    names, pairs, missing = stats.levels[col], stats.level_counts[col], stats.missing[col]
    counts = np.bincount(pairs[1], weights=pairs[2], minlength=len(names))
    order = np.lexsort((names, -counts)) if len(names) else np.zeros(0, dtype=np.int64)
    top = order[:max_levels][counts[order[:max_levels]] > 0]
    rare = bool((counts > 0).sum() > top.size)
    has_missing = bool(missing.sum() > 0)
    levels = np.array(sorted([*names[top], *(["(other)"] if rare else []),
                              *(["(missing)"] if has_missing else [])]), dtype=object)
    column = np.full(len(names), -1, dtype=np.int64)
    if rare:
        column[:] = np.searchsorted(levels, "(other)")
    column[top] = np.searchsorted(levels, names[top])
    width, groups = len(levels), len(stats.cells)
    table = np.bincount(pairs[0] * max(width, 1) + column[pairs[1]], weights=pairs[2],
                        minlength=groups * max(width, 1)).reshape(groups, max(width, 1))
    if has_missing:
        table[:, np.searchsorted(levels, "(missing)")] += missing
    return table[:, :width], levels


def _categorical_effects(stats: SegmentStatistics, col: str,
                         max_levels: int) -> pd.DataFrame | None:
    """Cramer's V of segment membership x the levels of ``col``, with each segment's most
    over-represented level (None: fewer than two levels)."""
    C, levels = _level_table(stats, col, max_levels)
    if len(levels) < 2:
        return None
    n = stats.customers
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
        "segment": stats.cells,
        "feature": [f"{col}={lv}" for lv in levels[best]],
        "kind": "categorical",
        "effect": V,
        "segment_value": share_in[pick, best],
        "rest_value": share_out[pick, best],
        "strength": V * V_TO_D,
    })


def near_copies(X: pd.DataFrame, threshold: float = 0.9, sample: int = 20_000,
                max_levels: int = 20) -> dict[str, set[str]]:
    """Feature -> the features it nearly copies (``|r| >= threshold``), on up to ``sample`` rows.

    Features are named as in :func:`segment_effects`: a numeric column by its name, a level of a
    categorical as ``column=level`` (its 0/1 indicator).

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> m = np.arange(50.0)
    >>> X = pd.DataFrame({"minutes": m, "charge": 0.17 * m, "other": m % 7,
    ...                   "plan": pd.Categorical(np.where(m > 0, "yes", "no"))})
    >>> near_copies(X)["charge"], near_copies(X)["plan=no"]
    ({'minutes'}, {'plan=yes'})
    """
    frame = X.iloc[:: max(1, len(X) // sample)]
    cols = {c: frame[c].astype(float) for c in numeric_columns(frame)}
    for c in categorical_columns(frame):
        text = frame[c].astype("string")
        for level in text.value_counts().index[:max_levels]:
            cols[f"{c}={level}"] = text.eq(level).astype(float)
    if len(cols) < 2:
        return {}
    with np.errstate(all="ignore"):
        corr = pd.DataFrame(cols).corr().abs().to_numpy()
    names = list(cols)
    hit = np.argwhere(np.triu(np.nan_to_num(corr) >= threshold, k=1))
    out: dict[str, set[str]] = {}
    for i, j in hit:  # pairs of near copies: a handful
        out.setdefault(names[i], set()).add(names[j])
        out.setdefault(names[j], set()).add(names[i])
    return out


def top_effects(effects: pd.DataFrame, top_n: int,
                twins: dict[str, set[str]] | None = None) -> pd.DataFrame:
    """The ``top_n`` strongest effects per segment, skipping near copies of a stronger one.

    Strengths equal to 9 decimals are a tie, broken by the feature's name: an exact copy of a
    column (a charge at a fixed rate of the minutes) differs from it only in the last bits of
    its sums, which depend on the order they were added in (rows, or parts of a cluster)."""
    ranked = (effects.assign(_rank=effects["strength"].astype(float).round(9))
              .sort_values(["segment", "_rank", "feature"], ascending=[True, False, True])
              .drop(columns="_rank"))
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
    stats = SegmentStatistics.of(X, seg.to_numpy(), frame_means(X))
    out = _profile(stats, min_profile_size, top_n, near_copies(X))
    return _with_rates(out, seg.to_numpy(), X.index, labels)


def _profile(stats: SegmentStatistics, min_profile_size: int, top_n: int,
             twins: dict[str, set[str]]) -> pd.DataFrame:
    """The profile of statistics whose cells are the segments (no label rates)."""
    size = pd.Series(stats.count, index=stats.cells)
    small = size < min_profile_size
    out = pd.DataFrame(index=pd.Index(stats.cells, name="segment"))
    out["size"] = pd.array(size.where(~small).to_numpy(), dtype="Int64")
    out["share"] = (size / stats.customers).where(~small)
    out["suppressed"] = small.to_numpy()
    numeric = stats.columns_with("numeric", "flag")
    rev = next((c for c in REVENUE_COLUMNS if c in stats.roles), None)
    if rev in numeric:
        money = stats.moments[rev][_AT["total"]]
        out["revenue_share"] = money / money.sum()
    for name, col in (("aov", "monetary_mean"), ("frequency", "frequency"),
                      ("recency_days", "recency_days")):
        if col in numeric:
            out[name] = stats.mean(col)
    if stats.lapsed is not None:
        out["lapsed_share"] = stats.lapsed / stats.count  # the lifecycle rule's lapsed
    effects = statistics_effects(stats)
    effects = effects[effects["segment"].isin(size.index[~small])]
    top = top_effects(effects, top_n, twins)
    out["top_features"] = pd.Series(
        {g: [f"{f} ({'+' if e >= 0 else ''}{e:.2f})" if k != "categorical" else f"{f} (V={e:.2f})"
             for f, e, k in zip(df["feature"], df["effect"], df["kind"], strict=True)]
         for g, df in top.groupby("segment")}, dtype=object)
    out["distinguishing"] = pd.Series(
        {g: df[["feature", "kind", "effect", "segment_value", "rest_value"]].to_dict("records")
         for g, df in top.groupby("segment")}, dtype=object)
    numeric_d = effects[effects["kind"] != "categorical"].pivot(index="segment",
                                                                columns="feature", values="effect")
    for name, cols in (("value_effect", (rev, "monetary_mean")),
                       ("frequency_effect", ("frequency", "orders_365d")),
                       ("recency_effect", ("recency_days",))):
        col = next((c for c in cols if c is not None and c in numeric_d.columns), None)
        out[name] = numeric_d[col] if col is not None else np.nan
    stats_columns = [c for c in out.columns if c not in ("size", "suppressed")]
    for c in stats_columns:
        if out[c].dtype == object:
            out[c] = [v if isinstance(v, list) else [] for v in out[c]]
            out.loc[small.to_numpy(), c] = pd.Series([[]] * int(small.sum()), dtype=object,
                                                     index=out.index[small.to_numpy()])
        else:
            out.loc[small.to_numpy(), c] = np.nan
    return out


def _with_rates(profile: pd.DataFrame, segments: np.ndarray, index: pd.Index,
                labels: pd.DataFrame | None) -> pd.DataFrame:
    """``churn_rate``/``purchase_rate`` (the labels' mean per segment) before ``top_features``;
    needs the rows, so it stays a frame-only step (NaN where suppressed)."""
    if labels is None:
        return profile
    lab = labels.reindex(index)
    at = profile.columns.get_loc("top_features")
    for name, col in (("churn_rate", "churn"), ("purchase_rate", "purchase")):
        if col in lab.columns:
            rate = lab[col].astype(float).groupby(segments).mean().reindex(profile.index)
            rate[profile["suppressed"].to_numpy(dtype=bool)] = np.nan
            profile.insert(at, name, rate.to_numpy())
            at += 1
    return profile


def profile_hierarchy(X: pd.DataFrame, assignments: pd.DataFrame,
                      labels: pd.DataFrame | None = None, min_profile_size: int = 50,
                      top_n: int = 5) -> dict[int, pd.DataFrame]:
    """:func:`profile_segments` for every ``segment_level_<k>`` column: ``{k: profile}``.

    From the second level on, ``parent`` (the segment one level up) and ``refining`` (the
    distinguishing features against the siblings, as ``distinguishing``) are added. The
    statistics of ``X`` per cell (each combination of the levels), centred on its means, finished
    by :func:`profile_hierarchy_from`.

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
    columns = [f"segment_level_{k}" for k in sorted(
        int(c.rsplit("_", 1)[1]) for c in assignments.columns if c.startswith("segment_level_"))]
    if not columns:
        return {}
    A = assignments if assignments.index.equals(X.index) else assignments.reindex(X.index)
    text = {c: A[c].astype(str).to_numpy() for c in columns}
    cell = np.zeros(len(X), dtype=np.int64)
    for c in columns:  # the cell: the combination of every level's segment
        codes, uniques = pd.factorize(text[c])
        cell = pd.factorize(cell * max(len(uniques), 1) + codes)[0]
    first = np.unique(cell, return_index=True)[1]
    cell_levels = pd.DataFrame({c: text[c][first] for c in columns},
                               index=np.arange(len(first)).astype(str))
    stats = SegmentStatistics.of(X, cell, frame_means(X))
    out = profile_hierarchy_from(stats, cell_levels, near_copies(X),
                                 min_profile_size=min_profile_size, top_n=top_n)
    for c, k in zip(columns, out, strict=True):
        out[k] = _with_rates(out[k], text[c], X.index, labels)
    return out


def profile_hierarchy_from(stats: SegmentStatistics, cell_levels: pd.DataFrame,
                           twins: dict[str, set[str]], *, min_profile_size: int = 50,
                           top_n: int = 5) -> dict[int, pd.DataFrame]:
    """:func:`profile_hierarchy` from statistics per cell, with no rows: ``{k: profile}``.

    Parameters
    ----------
    stats : SegmentStatistics
        Per finest cell (e.g. ``segment_path``), e.g. the sum of the parts of a cluster.
    cell_levels : DataFrame
        Index: every cell of ``stats`` (as text); columns ``segment_level_1`` ... : the segment
        of the cell at each level.
    twins : dict
        :func:`near_copies` of a bounded sample of the features.
    min_profile_size, top_n : int
        As in :func:`profile_segments`.

    Raises
    ------
    ValueError
        A cell of ``stats`` that ``cell_levels`` does not place, or places twice.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> X = pd.DataFrame({"frequency": [1.0, 2, 3, 4]})
    >>> cells = np.array(["1.1", "1.2", "2.1", "2.1"])
    >>> parts = [SegmentStatistics.of(X.iloc[i::2], cells[i::2], {"frequency": 2.5})
    ...          for i in (0, 1)]
    >>> levels = pd.DataFrame({"segment_level_1": ["1", "1", "2"],
    ...                        "segment_level_2": ["1.1", "1.2", "2.1"]},
    ...                       index=["1.1", "1.2", "2.1"])
    >>> P = profile_hierarchy_from(sum(parts), levels, {}, min_profile_size=1)
    >>> P[1]["frequency"].tolist(), P[2].loc["1.2", "parent"]
    ([1.5, 3.5], '1')
    """
    columns = sorted((c for c in cell_levels.columns if str(c).startswith("segment_level_")),
                     key=lambda c: int(c.rsplit("_", 1)[1]))
    index = pd.Index(cell_levels.index.astype(str))
    if index.has_duplicates:
        raise ValueError(f"cell_levels: cell {index[index.duplicated()][0]!r} has more than one "
                         "row")
    unknown = ~np.isin(stats.cells.astype(str), index.to_numpy(dtype=str))
    if unknown.any():
        raise ValueError(f"cell_levels: no row for cell {stats.cells[unknown][0]!r}")
    placed = cell_levels.set_axis(index).loc[stats.cells.astype(str), columns].astype(str)
    out: dict[int, pd.DataFrame] = {}
    levels_above: tuple[np.ndarray, SegmentStatistics] | None = None
    for c in columns:
        k = int(c.rsplit("_", 1)[1])
        segment = placed[c].to_numpy(dtype=object)
        grouped = stats.grouped(segment)
        profile = _profile(grouped, min_profile_size, top_n, twins)
        if levels_above is not None:
            parent, above_stats = levels_above
            profile.insert(profile.columns.get_loc("suppressed") + 1, "parent", pd.Series(
                pd.Series(parent).groupby(segment).first()).reindex(profile.index))
            profile["refining"] = _refining(stats, segment, parent, profile, min_profile_size,
                                            top_n, twins)
            above = out[max(out)]
            above["shared"] = _shared(above_stats, grouped, above, profile)
        out[k] = profile
        levels_above = (segment, grouped)
    return out


def _shared(parent_stats: SegmentStatistics, child_stats: SegmentStatistics,
            above: pd.DataFrame, below: pd.DataFrame) -> pd.Series:
    """Per segment: its distinguishing features that every described child shares (the same
    direction against everyone else): what its name may say without contradicting a child."""
    out = pd.Series([[] for _ in above.index], index=above.index, dtype=object)
    items = {p: [i["feature"] for i in above.loc[p, "distinguishing"]] for p in above.index}
    wanted = sorted({f for fs in items.values() for f in fs})
    if not wanted:
        return out
    child_d = _feature_effects(child_stats, wanted)
    parent_d = _feature_effects(parent_stats, wanted)
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


def _feature_effects(stats: SegmentStatistics, features: list[str]) -> pd.DataFrame:
    """Cohen's d of each segment (rows) against the rest for each feature (columns): a numeric
    column by its moments, ``column=level`` as the level's 0/1 indicator (missing stays missing)."""
    groups, numeric = len(stats.cells), set(stats.columns_with("numeric", "flag"))
    cnt, s, q, low, high = (np.empty((groups, len(features))) for _ in range(5))
    shift = np.empty(len(features))
    for j, f in enumerate(features):  # a handful of features
        if f in numeric:
            m = stats.moments[f]
            cnt[:, j], s[:, j], q[:, j] = m[_AT["n"]], m[_AT["sum"]], m[_AT["sumsq"]]
            low[:, j], high[:, j], shift[j] = m[_AT["low"]], m[_AT["high"]], stats.shift[f]
            continue
        col, level = _split_feature(stats, f)
        known = (stats.count - stats.missing[col]).astype(float) if col else np.zeros(groups)
        hits = np.zeros(groups)
        if col and level in stats.levels[col]:
            pairs = stats.level_counts[col]
            at = pairs[1] == np.searchsorted(stats.levels[col], level)
            hits = np.bincount(pairs[0][at], weights=pairs[2][at], minlength=groups)
        m = hits.sum() / known.sum() if known.sum() else 0.0  # the indicator's mean
        cnt[:, j], shift[j] = known, m
        s[:, j] = hits * (1 - m) + (known - hits) * (0 - m)
        q[:, j] = hits * (1 - m) ** 2 + (known - hits) * m ** 2
        low[:, j] = np.where(known > hits, 0.0, np.where(hits > 0, 1.0, np.inf))
        high[:, j] = np.where(hits > 0, 1.0, np.where(known > 0, 0.0, -np.inf))
    d = cohens_d(cnt, s, q, low, high, shift)[0]
    return pd.DataFrame(d, index=stats.cells, columns=features)


def _split_feature(stats: SegmentStatistics, feature: str) -> tuple[str | None, str]:
    """``column=level`` -> (the text column, the level); the longest column name that fits."""
    fits = [c for c in stats.levels if isinstance(c, str) and feature.startswith(f"{c}=")]
    if not fits:
        return None, feature
    col = max(fits, key=len)
    return col, feature[len(col) + 1:]


def _refining(stats: SegmentStatistics, segment: np.ndarray, parent: np.ndarray,
              profile: pd.DataFrame, min_profile_size: int, top_n: int,
              twins: dict[str, set[str]]) -> pd.Series:
    """Per segment: its top distinguishing features against its siblings (``[]`` if none)."""
    out = pd.Series([[] for _ in profile.index], index=profile.index, dtype=object)
    for p in np.unique(parent.astype(str)):  # one pass per parent (a dozen at most)
        inside = stats.grouped(np.where(parent == p, segment, None))
        if len(inside.cells) < 2:
            continue
        children = pd.Series(inside.count, index=inside.cells)
        effects = top_effects(statistics_effects(inside), top_n, twins)
        total = int(children.sum())
        for child, frame in effects.groupby("segment"):
            if bool(profile.loc[child, "suppressed"]) or total - children[child] < min_profile_size:
                continue
            out[child] = frame[["feature", "kind", "effect", "segment_value",
                                "rest_value"]].to_dict("records")
    return out
