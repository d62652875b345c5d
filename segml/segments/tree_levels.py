"""The tree above the leaves of a :class:`~segml.segments.hierarchy.SegmentHierarchy`, cut into
levels: a fitted collaborator the hierarchy holds (``tree_``), not a part of its class.

:meth:`LeafTree.grow` builds what the fit's steps 5 and 6 describe: the linkage over the leaf
centroids in the *tree space* (:func:`tree_space`: by default the value axis ``monetary_mean`` /
``ipt_mean_days`` when clustered, unweighted; size-weighted Ward, or scipy ``average`` /
``complete``), the cut into ``levels`` discovered levels
(:func:`~segml.segments.tree.auto_level_counts`, or fixed ``level_sizes``), the paths numbered by
size within each parent and the leaf ids in path order. The pure tree functions live in
:mod:`segml.segments.tree`.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> Z = np.repeat([[0.0, 0.0], [0.0, 5.0], [9.0, 0.0]], 50, axis=0) + rng.normal(0, 0.1, (150, 2))
>>> leaf_of = np.repeat([0, 1, 2], 50)
>>> tree = LeafTree.grow(Z, Z, leaf_of, scale=1.0, levels=2, level_sizes=[2])
>>> tree.level_paths[:, -1].tolist(), tree.leaf_ids.tolist()
(['1.1', '1.2', '2.1'], [1, 2, 3])
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import linkage as scipy_linkage

from segml.errors import DataError, Problem
from segml.segments.tree import (
    auto_level_counts,
    cut_linkage,
    number_paths,
    silhouette_of,
    weighted_ward,
)

#: The automatic tree space: the first of these axes with a clustered column.
_VALUE_AXES = (("monetary_mean", "ipt_mean_days"), ("monetary_sum", "monetary_mean", "frequency"))
#: Customers a silhouette is measured on (it is O(n^2)).
_SILHOUETTE_SAMPLE = 2000


def tree_space(preprocessor: Any, tree_features: Any, Xs: pd.DataFrame,
               Zs: np.ndarray) -> np.ndarray:
    """The space the tree over the leaves is built in, for the sampled rows ``Xs`` (whose
    clustering space is ``Zs``): ``None``: the clustering space; ``"auto"``: the unweighted value
    axis when clustered (else the clustering space); a list: those clustered columns."""
    names = preprocessor.feature_names_out_
    if tree_features is None:
        return Zs
    if isinstance(tree_features, str):
        idx = next(([names.index(c) for c in axis if c in names] for axis in _VALUE_AXES
                    if any(c in names for c in axis)), [])
    else:
        idx = [names.index(c) for c in tree_features if c in names]
        if not idx:
            raise DataError([Problem(f"tree features {list(tree_features)} are not "
                                     "clustered columns", table="features")])
    if not idx:
        return Zs
    # unweighted: the value weight shapes the leaves, the tree compares the value columns
    return preprocessor.transform(Xs, reduce=False)[:, idx] / preprocessor.weights_[idx]


@dataclass
class LeafTree:
    """The fitted tree over the leaves: one entry per leaf position.

    ``linkage``: the merge steps over the leaves (scipy's format); ``leaf_ids``: each leaf's
    ``segment_leaf``; ``level_paths``: its path prefix per discovered level (leaves x levels, the
    last column its full path); ``leaf_sizes``: customers per leaf (sample counts scaled to the
    population); ``centroids``: its centre in the clustering space.
    """

    linkage: np.ndarray
    leaf_ids: np.ndarray
    level_paths: np.ndarray
    leaf_sizes: np.ndarray
    centroids: np.ndarray

    @classmethod
    def grow(cls, space: np.ndarray, tree_points: np.ndarray, leaf_of: np.ndarray, scale: float,
             *, levels: int, level_sizes: list[int] | None = None, linkage: str = "ward",
             max_segments_per_level: int = 12, criterion: str = "explained",
             level_explained: float = 0.9, min_top: int = 3, max_top_share: float = 0.6,
             random_state: int = 0) -> LeafTree:
        """Link the leaves of the sample points (``leaf_of``: their leaf position; ``space``: the
        clustering space, ``tree_points``: the tree space) and cut the tree into ``levels``."""
        n_leaves = int(leaf_of.max()) + 1
        sizes = np.bincount(leaf_of, minlength=n_leaves).astype(float)
        cents = np.stack([space[leaf_of == g].mean(axis=0) for g in range(n_leaves)])
        tree_cents = np.stack([tree_points[leaf_of == g].mean(axis=0) for g in range(n_leaves)])
        links = _link(tree_cents, sizes, linkage)
        total_ss = float(np.sum((tree_points - tree_points.mean(axis=0)) ** 2))
        pick = None
        if criterion == "silhouette":  # a seeded subsample: silhouettes are O(n^2)
            pick = _subsample(len(tree_points), random_state)
        upper = auto_level_counts(links, tree_cents, sizes, total_ss, levels - 1,
                                  max_segments_per_level, fixed=level_sizes,
                                  criterion=criterion, explained=level_explained,
                                  min_top=min_top, max_top_share=max_top_share,
                                  points=None if pick is None else tree_points[pick],
                                  point_leaf=None if pick is None else leaf_of[pick])
        cuts = np.stack([cut_linkage(links, n_leaves, min(k, n_leaves)) for k in upper]
                        + [np.arange(n_leaves)], axis=1)
        paths = number_paths(cuts, sizes)
        order = sorted(range(n_leaves), key=lambda i: [int(x) for x in paths[i, -1].split(".")])
        leaf_ids = np.empty(n_leaves, dtype=np.int64)
        leaf_ids[order] = np.arange(1, n_leaves + 1)
        return cls(links, leaf_ids, paths, sizes * scale, cents)

    @property
    def levels(self) -> int:
        """Discovered levels, leaves included."""
        return int(self.level_paths.shape[1])

    def relabelled(self, leaf_ids: np.ndarray, level_paths: np.ndarray) -> LeafTree:
        """The same tree whose leaves carry other ids and paths (same order)."""
        return replace(self, leaf_ids=np.asarray(leaf_ids, dtype=np.int64),
                       level_paths=np.asarray(level_paths, dtype=object))

    def table(self) -> pd.DataFrame:
        """One row per leaf (index ``segment_leaf``): path, prefix per level, size, share and
        centroid (rounded to 6 decimals, the clustering space's precision)."""
        table = pd.DataFrame(
            {"path": self.level_paths[:, -1],
             **{f"level_{k + 1}": self.level_paths[:, k] for k in range(self.levels)},
             "size": np.round(self.leaf_sizes).astype(np.int64),
             "share": self.leaf_sizes / self.leaf_sizes.sum(),
             "centroid": [list(np.round(c, 6)) for c in self.centroids]},
            index=pd.Index(self.leaf_ids, name="segment_leaf"))
        return table.sort_index()

    def separation(self, tree_points: np.ndarray, leaf_pos: np.ndarray,
                   random_state: int = 0) -> float:
        """Silhouette of the top discovered level on up to 2000 sample customers, in the tree
        space (where the top level was cut: the value axis with behaviour); NaN: one group."""
        top = pd.factorize(self.level_paths[leaf_pos, 0])[0]
        if top.max() < 1:
            return float("nan")
        pick = _subsample(len(top), random_state)
        return round(silhouette_of(tree_points[pick], top[pick]), 4)


def _link(cents: np.ndarray, sizes: np.ndarray, method: str) -> np.ndarray:
    if len(cents) < 2:
        return np.zeros((0, 4))
    return weighted_ward(cents, sizes) if method == "ward" else scipy_linkage(cents, method=method)


def _subsample(n: int, random_state: int) -> np.ndarray:
    return np.random.default_rng([random_state, 0x51]).permutation(n)[:_SILHOUETTE_SAMPLE]


__all__ = ["LeafTree", "tree_space"]
