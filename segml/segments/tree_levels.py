"""The upper levels of a :class:`~segml.segments.hierarchy.SegmentHierarchy`: the tree over its
leaves, cut into levels.

:class:`TreeLevels` (a mixin of the hierarchy, its parameters and fitted attributes on ``self``)
builds the tree the fit's steps 5 and 6 describe: the *tree space* (``tree_features``, by default
the value axis ``monetary_mean`` / ``ipt_mean_days`` when clustered, unweighted), the linkage over
the leaf centroids in it (size-weighted Ward, or scipy ``average``/``complete``), the cut into
``levels`` discovered levels (:func:`~segml.segments.tree.auto_level_counts`, or ``level_sizes``),
the paths numbered by size within each parent and the leaf ids in path order; and the
separation (silhouette) of the top level it reports. The pure tree functions live in
:mod:`segml.segments.tree`.
"""

from __future__ import annotations

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


class TreeLevels:
    """The tree above the leaves of a hierarchy: its space, linkage, levels, paths and leaf ids."""

    def _link(self, cents: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        if len(cents) < 2:
            return np.zeros((0, 4))
        return (weighted_ward(cents, sizes) if self.linkage == "ward"
                else scipy_linkage(cents, method=self.linkage))

    def _tree_space(self, Xs: pd.DataFrame, Zs: np.ndarray) -> np.ndarray:
        names = self.preprocessor_.feature_names_out_
        if self.tree_features is None:
            return Zs
        if isinstance(self.tree_features, str):
            idx = next(([names.index(c) for c in axis if c in names] for axis in _VALUE_AXES
                        if any(c in names for c in axis)), [])
        else:
            idx = [names.index(c) for c in self.tree_features if c in names]
            if not idx:
                raise DataError([Problem(f"tree features {list(self.tree_features)} are not "
                                         "clustered columns", table="features")])
        if not idx:
            return Zs
        # unweighted: the value weight shapes the leaves, the tree compares the value columns
        return self.preprocessor_.transform(Xs, reduce=False)[:, idx] / self.preprocessor_.weights_[idx]

    def _build_tree(self, Zs: np.ndarray, Ts: np.ndarray, micro: np.ndarray, scale: float,
                    n: int, criterion: str) -> np.ndarray:
        """Cut the tree over the micro-clusters into levels; return micro -> leaf position."""
        n_micro = int(micro.max()) + 1
        m_sizes = np.bincount(micro, minlength=n_micro).astype(float)
        m_cents = np.stack([Zs[micro == c].mean(axis=0) for c in range(n_micro)])
        # the clusters (after the size controls) are the leaves
        micro_to_leaf = np.arange(n_micro)
        n_leaves = int(micro_to_leaf.max()) + 1
        sizes = np.bincount(micro_to_leaf, weights=m_sizes, minlength=n_leaves)
        cents = np.stack([np.average(m_cents[micro_to_leaf == g], axis=0,
                                     weights=m_sizes[micro_to_leaf == g]) for g in range(n_leaves)])
        leaf_of = micro_to_leaf[micro]
        tree_cents = np.stack([Ts[leaf_of == g].mean(axis=0) for g in range(n_leaves)])
        self.linkage_ = self._link(tree_cents, sizes)
        total_ss = float(np.sum((Ts - Ts.mean(axis=0)) ** 2))
        pick = None
        if criterion == "silhouette":  # a seeded subsample: silhouettes are O(n^2)
            pick = np.random.default_rng([self.random_state, 0x51]).permutation(len(Ts))[:2000]
        upper = auto_level_counts(self.linkage_, tree_cents, sizes, total_ss, self.levels - 1,
                                  self.max_segments_per_level, fixed=self.level_sizes,
                                  criterion=criterion, explained=self.level_explained,
                                  min_top=self.min_top_segments,
                                  max_top_share=self.max_top_share,
                                  points=None if pick is None else Ts[pick],
                                  point_leaf=None if pick is None else leaf_of[pick])
        cuts = np.stack([cut_linkage(self.linkage_, n_leaves, min(k, n_leaves))
                         for k in upper] + [np.arange(n_leaves)], axis=1)
        paths = number_paths(cuts, sizes)
        order = sorted(range(n_leaves), key=lambda i: [int(x) for x in paths[i, -1].split(".")])
        self.leaf_ids_ = np.empty(n_leaves, dtype=np.int64)
        self.leaf_ids_[order] = np.arange(1, n_leaves + 1)
        self.level_paths_ = paths
        self.leaf_sizes_ = sizes * scale
        self.centroids_ = cents
        self._build_table(n)
        return micro_to_leaf

    def _separation(self, space: np.ndarray, leaf_pos: np.ndarray) -> float:
        """Silhouette of the top discovered level on up to 2000 sample customers, in the tree
        space (where the top level was cut: the value axis with behaviour); NaN: one group."""
        top = pd.factorize(self.level_paths_[leaf_pos, 0])[0]
        if top.max() < 1:
            return float("nan")
        pick = np.random.default_rng([self.random_state, 0x51]).permutation(len(top))[:2000]
        return round(silhouette_of(space[pick], top[pick]), 4)


__all__ = ["TreeLevels"]
