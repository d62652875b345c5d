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


def plot_dendrogram(hierarchy: Any, path: str | os.PathLike[str],
                    min_profile_size: int = 50) -> str:
    """The agglomerative tree over the leaves, labelled ``path (n=size)``.

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
    sizes = hierarchy.leaf_sizes_
    labels = [f"{p} (n={int(round(s))})" if s >= min_profile_size else f"{p} (small)"
              for p, s in zip(hierarchy.level_paths_[:, -1], sizes, strict=True)]
    fig = Figure(figsize=(max(6, 0.6 * len(table)), 4))
    ax = fig.add_subplot()
    if len(hierarchy.linkage_):
        dendrogram(hierarchy.linkage_, labels=labels, ax=ax, leaf_rotation=60,
                   color_threshold=0)
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
        sc = ax.scatter(P[:, 0], P[:, 1], c=codes, s=4, cmap="tab20", alpha=0.6)
        handles = sc.legend_elements(num=len(uniques))[0]
        ax.legend(handles, list(uniques), title="segment", fontsize=7, markerscale=1.5,
                  loc="best")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(f"Customers by {column} (sample of {len(idx)})")
    return _save(fig, path)


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


def plot_profile_heatmap(X: pd.DataFrame, assignments: pd.DataFrame,
                         path: str | os.PathLike[str], level: int | None = None,
                         min_profile_size: int = 50, n_features: int = 12) -> str:
    """Segments x most distinguishing numeric features, coloured by standardised mean difference."""
    column = _level_column(assignments, level)
    seg = assignments[column].reindex(X.index).astype(str)
    shown = _shown(seg, min_profile_size)
    effects = segment_effects(X, seg)
    effects = effects[(effects["kind"] == "numeric") & effects["segment"].isin(shown.index)]
    grid = effects.pivot(index="segment", columns="feature", values="effect")
    top = grid.abs().max().sort_values(ascending=False).index[:n_features]
    grid = grid[top] if len(top) else grid
    fig = Figure(figsize=(max(6, 0.6 * grid.shape[1] + 2), max(3, 0.4 * grid.shape[0] + 2)))
    ax = fig.add_subplot()
    if grid.size:
        im = ax.imshow(grid.to_numpy(dtype=float).clip(-2, 2), cmap="RdBu_r", vmin=-2, vmax=2,
                       aspect="auto")
        ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(grid.shape[0]), grid.index, fontsize=8)
        fig.colorbar(im, ax=ax, label="standardised mean difference (clipped at 2)")
    ax.set_title(f"Profile of {column}")
    return _save(fig, path)
