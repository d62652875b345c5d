"""Segment plots as PNG files: leaf dendrogram, 2-D projection, sizes, profile heatmap.

Figures are drawn with matplotlib's object API on an Agg canvas (no pyplot, no global backend
change). Privacy: no segment with fewer than ``min_profile_size`` customers is drawn (the
dendrogram keeps its place in the tree but labels it ``<path> (small)`` without a size).

Example
-------
>>> import tempfile, os, pandas as pd
>>> A = pd.DataFrame({"segment_level_1": ["1"] * 60 + ["2"] * 70 + ["3"] * 5})
>>> out = plot_segment_sizes(A, os.path.join(tempfile.mkdtemp(), "sizes.png"))
>>> out.endswith("sizes.png") and os.path.getsize(out) > 0
True
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.cluster.hierarchy import dendrogram
from sklearn.decomposition import PCA

from segml.segments.naming import feature_label
from segml.segments.profiles import segment_effects


def _save(fig: Figure, path: str | os.PathLike[str]) -> str:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=100, format="png")
    return os.fspath(path)


def _level_column(assignments: pd.DataFrame, level: int | None) -> str:
    levels = sorted(int(c.rsplit("_", 1)[1]) for c in assignments.columns
                    if c.startswith("segment_level_"))
    return f"segment_level_{levels[-1] if level is None else level}"


def _shown(segments: pd.Series, min_profile_size: int) -> pd.Series:
    counts = segments.value_counts()
    return counts[counts >= min_profile_size].sort_index()


def dendrogram_labels(hierarchy: Any, sizes: pd.Series | None = None,
                      min_profile_size: int = 50) -> list[str]:
    """``path (n=size)`` per leaf in the linkage's order (``path (small)`` under the floor).

    Example
    -------
    >>> from types import SimpleNamespace
    >>> h = SimpleNamespace(leaf_ids_=np.array([2, 1]), leaf_sizes_=np.array([70.0, 500.0]),
    ...                     level_paths_=np.array([["1", "1.2"], ["1", "1.1"]]))
    >>> dendrogram_labels(h, pd.Series({1: 480, 2: 40}))
    ['1.2 (small)', '1.1 (n=480)']
    """
    counts = (hierarchy.leaf_sizes_ if sizes is None
              else sizes.reindex(hierarchy.leaf_ids_).fillna(0).to_numpy(dtype=float))
    return [f"{p} (n={int(round(s))})" if s >= min_profile_size else f"{p} (small)"
            for p, s in zip(hierarchy.level_paths_[:, -1], counts, strict=True)]


def plot_dendrogram(hierarchy: Any, path: str | os.PathLike[str],
                    min_profile_size: int = 50, sizes: pd.Series | None = None) -> str:
    """The agglomerative tree over the leaves, labelled ``path (n=size)``.

    ``sizes``: customers per ``segment_leaf`` (e.g. the assignments' counts, so the labels agree
    with the profiles); None: the sizes estimated at fit time from the sample.

    Example
    -------
    >>> import tempfile, os, numpy as np, pandas as pd
    >>> from segml.segments.hierarchy import SegmentHierarchy
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(np.repeat([[0, 0], [9, 0], [30, 0]], 80, axis=0)),
    ...                  columns=["frequency", "recency_days"])
    >>> h = SegmentHierarchy(min_cluster_size=20).fit(X)
    >>> os.path.exists(plot_dendrogram(h, os.path.join(tempfile.mkdtemp(), "tree.png")))
    True
    """
    table = hierarchy.hierarchy_
    order = np.argsort(hierarchy.leaf_ids_)  # hierarchy_ rows follow leaf ids
    labels = dendrogram_labels(hierarchy, sizes, min_profile_size)
    fig = Figure(figsize=(max(6, 0.6 * len(table)), 4))
    ax = fig.add_subplot()
    Z = hierarchy.linkage_
    if len(Z):
        # coloured by top-level segment: the cut between the last merges inside them and the
        # first merge across them (the tree above the leaves is not cut by height elsewhere)
        n_leaves, n_top = len(Z) + 1, len(set(hierarchy.level_paths_[:, 0]))
        cut = (0.0 if n_top <= 1 or n_top >= n_leaves
               else float(Z[n_leaves - n_top - 1, 2] + Z[n_leaves - n_top, 2]) / 2)
        dendrogram(Z, labels=labels, ax=ax, leaf_rotation=60, color_threshold=cut,
                   above_threshold_color="#7b8794")
        if cut:
            ax.axhline(cut, color="#7b8794", linestyle="--", linewidth=0.8)
            ax.text(ax.get_xlim()[1], cut, " top level", va="bottom", ha="right", fontsize=8,
                    color="#52606d")
    else:
        ax.text(0.5, 0.5, labels[order[0]], ha="center")
    ax.set_title("Segment tree (leaf paths)")
    ax.set_ylabel("merge height")
    return _save(fig, path)


def plot_projection(hierarchy: Any, X: pd.DataFrame, assignments: pd.DataFrame,
                    path: str | os.PathLike[str], level: int | None = None,
                    sample: int = 5000, min_profile_size: int = 50, random_state: int = 0) -> str:
    """PCA projection of a sample of customers in the clustering space, coloured by segment."""
    column = _level_column(assignments, level)
    seg = assignments[column].reindex(X.index)
    shown = _shown(seg, min_profile_size)
    keep = seg.isin(shown.index).to_numpy()
    rng = np.random.default_rng(random_state)
    idx = np.flatnonzero(keep)
    idx = np.sort(rng.choice(idx, size=min(sample, len(idx)), replace=False))
    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot()
    if len(idx) >= 3:
        Z = hierarchy.preprocessor_.transform(X.iloc[idx])
        P = PCA(2, random_state=random_state).fit_transform(Z)
        codes, uniques = pd.factorize(seg.iloc[idx], sort=True)
        palette = hierarchy_colours([str(u) for u in uniques])
        colours = np.array([palette[str(u)] for u in uniques])[codes]
        ax.scatter(P[:, 0], P[:, 1], c=colours, s=4, alpha=0.6)
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], ls="", marker="o", ms=5, color=palette[str(u)])
                   for u in uniques]
        ax.legend(handles, [str(u) for u in uniques], title="segment", fontsize=7, loc="best")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(f"Customers by {column} (sample of {len(idx)})")
    return _save(fig, path)


def hierarchy_colours(paths: list[str]) -> dict[str, tuple[float, float, float]]:
    """A colour per segment path that follows the tree: one hue per top-level segment, its
    leaves in lighter and darker shades of that hue (``1.1``, ``1.2``: two blues).

    Example
    -------
    >>> colours = hierarchy_colours(["1.1", "1.2", "2.1"])
    >>> colours["1.1"] != colours["1.2"], _hue(colours["1.1"]) == _hue(colours["1.2"])
    (True, True)
    >>> _hue(colours["1.1"]) == _hue(colours["2.1"])
    False
    """
    from matplotlib import colormaps

    base = colormaps["tab10"].colors
    tops = sorted({p.split(".")[0] for p in paths}, key=_path_key)
    out: dict[str, tuple[float, float, float]] = {}
    for i, top in enumerate(tops):
        colour = np.asarray(base[i % len(base)][:3], dtype=float)
        members = sorted((p for p in paths if p.split(".")[0] == top), key=_path_key)
        n = len(members)
        for j, path in enumerate(members):
            # from 35% darker to 45% lighter: same hue, told apart by lightness
            t = 0.0 if n == 1 else -0.35 + 0.8 * j / (n - 1)
            shade = colour * (1 + t) if t < 0 else colour + (1 - colour) * t
            out[path] = tuple(float(v) for v in np.clip(shade, 0, 1))
    return out


def _path_key(path: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in str(path).split("."))


def _hue(rgb: tuple[float, float, float]) -> float:
    import colorsys

    return round(colorsys.rgb_to_hsv(*rgb)[0], 3)


def plot_segment_sizes(assignments: pd.DataFrame, path: str | os.PathLike[str],
                       level: int | None = None, min_profile_size: int = 50) -> str:
    """Bar chart of customers per segment at ``level`` (default: leaves)."""
    column = _level_column(assignments, level)
    shown = _shown(assignments[column], min_profile_size)
    fig = Figure(figsize=(max(5, 0.5 * len(shown)), 4))
    ax = fig.add_subplot()
    ax.bar([str(i) for i in shown.index], shown.to_numpy())
    ax.set_xlabel(column)
    ax.set_ylabel("customers")
    ax.tick_params(axis="x", rotation=60)
    ax.set_title("Segment sizes")
    return _save(fig, path)


def heatmap_table(X: pd.DataFrame, segments: pd.Series, n_features: int = 12,
                  max_levels: int = 6) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(effect, value)``: features x segments, the standardised difference of each segment from
    the rest and the segment's mean (share of customers for yes/no columns and categorical
    levels, whose 0/1 indicators are compared like numbers). Rows: the ``n_features`` features
    with the largest difference anywhere, near copies of a stronger row left out.

    Example
    -------
    >>> X = pd.DataFrame({"x": [1.0, 9, 2, 10], "plan": pd.Categorical(["a", "a", "b", "b"])})
    >>> effect, value = heatmap_table(X, pd.Series(["1", "1", "2", "2"]))
    >>> value.index.tolist(), value.loc["plan=a"].tolist()   # plan=b: a near copy, left out
    (['plan=a', 'x'], [1.0, 0.0])
    """
    from segml.segments.profiles import categorical_columns, near_copies

    frame = X[[c for c in X.columns if c not in categorical_columns(X)]].astype(float)
    indicators = {}
    for c in categorical_columns(X):
        text = X[c].astype("string")
        for level in text.value_counts().index[:max_levels]:
            indicators[f"{c}={level}"] = text.eq(level).astype(float).to_numpy()
    frame = pd.concat([frame, pd.DataFrame(indicators, index=X.index)], axis=1)
    seg = pd.Series(segments.to_numpy(), index=X.index).astype(str)
    effects = segment_effects(frame, seg)
    effect = effects.pivot(index="feature", columns="segment", values="effect")
    value = effects.pivot(index="feature", columns="segment", values="segment_value")
    twins = near_copies(frame)
    ranked = effect.abs().max(axis=1).sort_values(ascending=False, kind="stable")
    rows: list[str] = []
    for feature in ranked.index:  # at most a few hundred features
        if len(rows) >= n_features:
            break
        if not any(r in twins.get(feature, ()) for r in rows):
            rows.append(feature)
    return effect.loc[rows], value.loc[rows]


def _cell(value: float, share: bool) -> str:
    if np.isnan(value):
        return ""
    if share:
        return f"{value:.0%}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


#: Customers the profile heatmap reads at most (a uniform, seeded sample above).
HEATMAP_MAX_ROWS = 250_000


def plot_profile_heatmap(X: pd.DataFrame, assignments: pd.DataFrame,
                         path: str | os.PathLike[str], level: int | None = None,
                         min_profile_size: int = 50, n_features: int = 12,
                         names: dict[str, str] | None = None) -> str:
    """Features (rows) x segments (columns): colour = standardised difference from the rest of
    the customers (clipped at 2), text = the segment's mean or share. Drawn at a fixed width
    (11 inches) so it reads at the report's width; columns are labelled with the segment ids and
    their ``names`` (wrapped)."""
    import textwrap

    column = _level_column(assignments, level)
    seg = assignments[column].reindex(X.index).astype(str)
    shown = _shown(seg, min_profile_size)  # which segments show: decided on every customer
    customers = len(X)
    if customers > HEATMAP_MAX_ROWS:
        # A uniform sample keeps means and differences unbiased; the indicator columns and
        # correlations of a million customers held GiBs for a picture of a dozen x a dozen cells.
        picked = np.sort(np.random.default_rng(0).choice(customers, HEATMAP_MAX_ROWS, replace=False))
        X, seg = X.iloc[picked], seg.iloc[picked]
    keep = seg.isin(shown.index).to_numpy()
    effect, value = heatmap_table(X if keep.all() else X[keep], seg[keep], n_features) \
        if keep.any() else (pd.DataFrame(), pd.DataFrame())
    order = sorted(effect.columns, key=lambda p: [int(x) if x.isdigit() else x
                                                  for x in str(p).split(".")])
    effect, value = effect[order], value[order]
    n_rows, n_cols = effect.shape
    fig = Figure(figsize=(11, max(3.0, 0.42 * n_rows + 2.6)))
    ax = fig.add_subplot()
    if effect.size:
        im = ax.imshow(effect.to_numpy(dtype=float).clip(-2, 2), cmap="RdBu_r", vmin=-2, vmax=2,
                       aspect="auto")
        # shares of customers (levels, yes/no columns) and share_* mixes read as percentages
        share = [("=" in f and f not in X) or f.startswith("share_")
                 or (f in X and bool(X[f].dropna().isin([0, 1]).all())) for f in effect.index]
        for i, j in np.ndindex(n_rows, n_cols):  # a dozen x a dozen cells
            v = float(value.iat[i, j])
            e = float(effect.iat[i, j])
            ax.text(j, i, _cell(v, share[i]), ha="center", va="center", fontsize=7.5,
                    color="white" if abs(e) > 1.2 else "#1f2933")
        width = max(8, int(95 / max(n_cols, 1)))
        labels = [f"{p}\n" + textwrap.fill((names or {}).get(str(p), ""), width)
                  for p in effect.columns]
        ax.set_xticks(range(n_cols), labels, fontsize=7 if n_cols > 6 else 8)
        ax.xaxis.tick_top()
        ax.set_yticks(range(n_rows), [feature_label(f) for f in effect.index], fontsize=8)
        fig.colorbar(im, ax=ax, label="difference from the other customers (d, clipped at 2)",
                     shrink=0.8, pad=0.02)
    sampled = f" (a sample of {len(X):,} of {customers:,} customers)" if len(X) < customers else ""
    ax.set_title(f"Profile of {column}: mean or share per segment{sampled}", pad=12, fontsize=10)
    return _save(fig, path)
