"""The discovered segment hierarchy: leaves on a sample + an agglomerative tree over them.

Fit, in order:

1. :class:`~segml.segments.preprocess.SegmentPreprocessor`: the behavioural core columns, or in
   attributes mode every attribute (numeric, binary, categorical one-hot weighted as one column),
   counts dequantised, log1p, scaling, PCA to ~10 dims.
2. A stratified sample of ``sample_size`` customers (strata: guided-level values x a 5 x 5 grid of
   quantile bins on the first two principal components; proportional allocation). The sample's
   random stream is derived from ``random_state`` but distinct from ``default_rng(seed)``: data
   generated with the same integer seed otherwise lines up with the draw (seen in testing).
3. Leaves (:mod:`segml.segments.leaves`): HDBSCAN (``cluster_selection_method="leaf"``,
   ``min_cluster_size`` default ``max(10, 0.8 * min_segment_share * sample)``,
   ``min_samples=5``) on the sample; noise points are assigned to their most likely cluster by a
   k-NN vote and flagged (``sample_is_noise_``). Where HDBSCAN finds fewer than 3 clusters or
   calls more than half the sample noise, the leaves are a k-means partition of the same space
   instead (``leaf_method``). ``discovery_`` says which method made the leaves and why.
4. Over-segmentation controls: a cluster whose estimated size is below ``min_segment_size`` or
   ``min_segment_share`` merges into the nearest cluster (centroid distance), smallest first, and so
   on until at most ``max_segments_per_level`` leaves remain.
5. Agglomerative clustering over the leaf centroids (never the customers) in the *tree space*
   (``tree_features``, by default the value axis ``monetary_mean`` / ``ipt_mean_days`` when
   clustered, else the clustering space): size-weighted Ward, or scipy ``average``/``complete``
   linkage (:class:`~segml.segments.tree_levels.TreeLevels`); cut into ``levels`` discovered levels with ``level_sizes`` segments above the leaves,
   or automatically (:func:`~segml.segments.tree.auto_level_counts`): for HDBSCAN leaves the
   fewest groups explaining 90% of the between-leaf variance (99% for the next level), for
   k-means leaves the grouping with the best silhouette; the top level has at least
   ``min_top_segments`` groups and none over ``max_top_share`` of the customers where the tree
   allows it, at most ``max_segments_per_level``, each level finer than the one above.
6. Ids: within each parent, children are numbered 1, 2, ... by size, largest first, so the largest
   top-level group is ``"1"`` and a leaf path looks like ``"2.3"``. ``segment_leaf`` numbers the
   leaves 1..n in path order. Same data, parameters and seed give identical segments.

Guided levels (e.g. ``region`` then ``lifecycle_stage``) sit *above* the discovered ones: the
discovered hierarchy is fitted once on everyone and each customer's path is prefixed with their
guided values, e.g. ``"North.at risk.2.3"``. Discovered ids therefore mean the same thing under
every guided value (comparable across regions) and no group is fitted on a tiny subset. The
``max_values`` most frequent values are kept, the rest (and missing) become ``"Other"``; dots in
values become ``_``. A rule column (``lifecycle_stage``, ...) is taken from ``rule_segments`` or,
when that is not given, from a default :class:`~segml.segments.rules.RuleSegmenter`.

Assignment (:meth:`assign`, :meth:`predict`), HDBSCAN leaves: a k-NN search over ``n_reference``
sample points (:class:`~segml.segments.assign.KNNAssigner`): the leaf is the distance-weighted
vote among the clusters; the noise flag follows ``hdbscan.approximate_predict``'s
mutual-reachability rule. The fit measures both against ``approximate_predict`` on up to 2000
held-out customers (not in the sample): ``agreement_`` (labels with noise as a class) and
``agreement_clustered_`` (the cluster of the customers it puts in a cluster); NaN when everyone
is in the sample. k-means leaves: the nearest centroid
(:class:`~segml.segments.assign.CentroidAssigner`), nobody is noise, agreements NaN.

``labels_`` holds the leaf ids of the sampled customers (everyone when ``n <= sample_size``);
:meth:`assign` labels any customer.

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> centers = np.repeat([[0, 0], [0, 6], [40, 0], [40, 6], [80, 0], [80, 6]], 150, axis=0)
>>> X = pd.DataFrame(rng.normal(centers, 0.6), columns=["frequency", "recency_days"])
>>> h = SegmentHierarchy(min_cluster_size=30, levels=2).fit(X)
>>> sorted(h.hierarchy_["path"]), h.discovery_["leaf_method"]
(['1.1', '1.2', '2.1', '2.2', '3.1', '3.2'], 'hdbscan')
"""

from __future__ import annotations

import logging
from typing import Any

import hdbscan
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from segml.errors import ConfigError, DataError, Problem
from segml.segments.assign import (
    OTHER,
    CentroidAssigner,
    KNNAssigner,
    guided_keys,
    guided_values,
)
from segml.segments.leaves import (
    density_reference,
    find_leaves,
    leaf_method_names,
    merge_small,
)
from segml.segments.placement import LeafPlacement
from segml.segments.preprocess import SegmentPreprocessor
from segml.segments.sampling import stratified_sample
from segml.segments.tree import auto_level_counts, weighted_ward
from segml.segments.tree_levels import TreeLevels

log = logging.getLogger(__name__)
_HOLDOUT = 2000
_MCS = 0.8  # x the size floor, see min_cluster_size


class SegmentHierarchy(TreeLevels, LeafPlacement, BaseEstimator):
    """Leaf segments of a stratified sample, organised into a tree of ``levels`` levels.

    Parameters
    ----------
    features : list of str, optional
        Columns to cluster (``"behavioural"``: the behavioural core); None: the behavioural core,
        or every attribute when there is none (see :mod:`segml.segments.preprocess`).
    sample_size : int
        Customers HDBSCAN is fitted on.
    min_cluster_size : int, optional
        HDBSCAN ``min_cluster_size``; None: ``max(10, 0.8 * min_segment_share * sample)``, a little
        below the size floor: HDBSCAN may return a few clusters below it, which the size controls
        then merge into their nearest neighbour. Half the floor (the former default) split true
        ``make_customers`` leaves more often (``benchmarks/bench_recovery.py``).
    min_samples : int
        HDBSCAN ``min_samples`` (its cost grows with it). 5 by default; with 10 one random
        ``make_customers`` design fewer of 16 was recovered.
    levels : int
        Discovered levels, leaves included.
    level_sizes : list of int, optional
        Segments per discovered level above the leaves, top first; None: automatic.
    linkage : {"ward", "average", "complete"}
        Linkage over leaf centroids (ward is size-weighted).
    min_segment_size, min_segment_share, max_segments_per_level
        Over-segmentation controls for the leaves.
    guided_levels : sequence
        Objects with ``.column`` and ``.max_values`` (or ``(column, max_values)`` pairs).
    n_components : int or None
        PCA dimensions of the clustering space.
    n_neighbors : int
        Neighbours in the k-NN assignment vote.
    n_reference : int
        Sample points (random subset) the k-NN assignment searches. Query time grows with it, and
        so does the agreement of the noise flag with ``approximate_predict`` (100k
        ``make_customers`` customers, 20k sample: 3000 -> 93.0%, 6000 -> 94.2%, 10000 -> 96.4%;
        assigning 50k customers took 1.9, 2.4, 3.7 s). The cluster agreement is >= 99.8% in
        all three.
    tree_features : "auto", list of str or None
        Space of the tree above the leaves (the leaves themselves always come from the full
        clustering space). ``"auto"`` (default): the value axis, i.e. ``monetary_mean`` (order
        value) and ``ipt_mean_days`` (days between purchases) when clustered, else those of
        ``monetary_sum``, ``monetary_mean``, ``frequency`` that are (log/scaled, unweighted), so
        upper levels are value tiers (how much, how often) and leaves refine them by
        category/channel mix. On ``make_customers`` data the mix otherwise dominates the centroid
        distances and the top level cut across the true macro groups (ARI 0.23 -> 0.86 with 4
        top groups). Falls back to the clustering space when none is clustered. None: the
        clustering space. A list: those clustered columns.
    value_weight : float
        Weight of the value columns in the clustering space (see
        :class:`~segml.segments.preprocess.SegmentPreprocessor`).
    cluster_selection_method : {"leaf", "eom"}
        HDBSCAN cluster selection. ``"leaf"`` (default) returns the finest dense clusters, which
        the size controls and the tree then organise; ``"eom"`` tends to return only the
        coarsest stable groups, i.e. the macro level, leaving nothing for the tree to do.
    level_criterion : {"auto", "explained", "ch", "silhouette"}
        How :func:`auto_level_counts` picks the number of groups per automatic level:
        ``"explained"``, the fewest groups explaining ``level_explained`` of the between-leaf
        variance in the tree space, ``"ch"`` (Calinski-Harabasz) or ``"silhouette"`` (of a
        sample of customers). ``"auto"`` (default): ``"explained"`` for HDBSCAN leaves,
        ``"silhouette"`` for k-means leaves. On ``make_customers`` data (5k customers, seeds
        42/7/1) CH chose 2 top groups every time (macro ARI 0.15/0.39/0.63); the 90% rule chose
        4 each time (0.76/0.55/0.76).
    level_explained : float
        Share of the between-leaf variance the top automatic level must explain (0.9).
    n_jobs : int
        HDBSCAN ``core_dist_n_jobs``. 1 by default: on a small shared machine its worker
        processes were measured 5x slower than one process (60 s vs 11 s for 20k points).
    random_state : int
        Seed of the sample, the PCA and k-means.
    leaf_method : str
        Where the leaves come from (:func:`~segml.segments.leaves.find_leaves`): ``"auto"``
        HDBSCAN, or k-means where HDBSCAN finds fewer than 3 clusters or more than half noise;
        ``"hdbscan"``, ``"kmeans"``, or a :class:`~segml.segments.leaves.LeafMethod` registered
        with :func:`~segml.segments.leaves.register_leaf_method`.
    categorical_weight : float
        Standard deviation of a categorical's one-hot block (1: like one numeric column).
    min_top_segments, max_top_share : int, float
        The automatic top level has at least ``min_top_segments`` groups and, where the tree
        allows it, none with more than ``max_top_share`` of the customers (SPEC section 3: a
        usable top level has 3-12 segments, none over 60%).
    """

    def __init__(self, *, features: list[str] | None = None, sample_size: int = 20000,
                 min_cluster_size: int | None = None, min_samples: int = 5, levels: int = 2,
                 level_sizes: list[int] | None = None, linkage: str = "ward",
                 min_segment_size: int = 50, min_segment_share: float = 0.01,
                 max_segments_per_level: int = 12, guided_levels: Any = (),
                 n_components: int | None = 10, n_neighbors: int = 15,
                 n_reference: int = 10000, tree_features: Any = "auto",
                 value_weight: float = 2.5, cluster_selection_method: str = "leaf",
                 level_criterion: str = "auto", level_explained: float = 0.9,
                 n_jobs: int = 1, random_state: int = 0, leaf_method: str = "auto",
                 categorical_weight: float = 1.0, min_top_segments: int = 3,
                 max_top_share: float = 0.6):
        self.features = features
        self.sample_size = sample_size
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.levels = levels
        self.level_sizes = level_sizes
        self.linkage = linkage
        self.min_segment_size = min_segment_size
        self.min_segment_share = min_segment_share
        self.max_segments_per_level = max_segments_per_level
        self.guided_levels = guided_levels
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.n_reference = n_reference
        self.tree_features = tree_features
        self.value_weight = value_weight
        self.cluster_selection_method = cluster_selection_method
        self.level_criterion = level_criterion
        self.level_explained = level_explained
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.leaf_method = leaf_method
        self.categorical_weight = categorical_weight
        self.min_top_segments = min_top_segments
        self.max_top_share = max_top_share

    @classmethod
    def from_config(cls, segments_cfg: Any, seed: int = 0) -> SegmentHierarchy:
        """Build from :class:`segml.config.SegmentsConfig` and the global seed.

        Example
        -------
        >>> from segml.config import SegmentsConfig
        >>> SegmentHierarchy.from_config(SegmentsConfig(levels=3), seed=7).get_params()["levels"]
        3
        """
        c = segments_cfg
        if c.leaf_method not in leaf_method_names():
            raise ConfigError([Problem(
                f"segments.leaf_method: unknown leaf method '{c.leaf_method}'; use one of "
                f"{', '.join(leaf_method_names())} or register one with "
                "segml.segments.register_leaf_method", key="segments.leaf_method")])
        return cls(features=c.features, sample_size=c.sample_size,
                   min_cluster_size=c.min_cluster_size, min_samples=c.min_samples,
                   levels=c.levels, level_sizes=c.level_sizes, linkage=c.linkage,
                   min_segment_size=c.min_segment_size, min_segment_share=c.min_segment_share,
                   max_segments_per_level=c.max_segments_per_level,
                   guided_levels=tuple((g.column, g.max_values) for g in c.guided_levels),
                   value_weight=c.value_weight, random_state=seed,
                   leaf_method=c.leaf_method, categorical_weight=c.categorical_weight,
                   min_top_segments=c.min_top_segments, max_top_share=c.max_top_share)

    # ------------------------------------------------------------------ guided levels
    def _guided_specs(self) -> list[tuple[str, int]]:
        return [(g[0], int(g[1])) if isinstance(g, tuple | list) else (g.column, int(g.max_values))
                for g in self.guided_levels]

    def _guided_source(self, X: pd.DataFrame, rule_segments: pd.DataFrame | None,
                       column: str) -> pd.Series:
        if rule_segments is not None and column in rule_segments.columns:
            return rule_segments[column].reindex(X.index)
        if column in X.columns:
            return X[column]
        from segml.segments.rules import RULE_COLUMNS, RuleSegmenter

        if column in RULE_COLUMNS:
            if getattr(self, "rules_", None) is None:
                self.rules_ = RuleSegmenter().fit(X)
            rules = self.rules_.transform(X)
            if column in rules.columns:
                return rules[column]
        raise DataError([Problem(f"guided level column '{column}' is neither a feature nor a "
                                 "rule segment", table="features", column=column)])

    # ------------------------------------------------------------------ fit
    def fit(self, X: pd.DataFrame, y: object = None,
            rule_segments: pd.DataFrame | None = None) -> SegmentHierarchy:
        """Find the leaves on a sample of ``X`` and build the tree (see the module docstring)."""
        if len(X) < 2:
            raise DataError([Problem(f"need at least 2 customers to segment, got {len(X)}",
                                     table="features")])
        # a stream of its own: data generated with the same integer seed must not line up with it
        rng = np.random.default_rng([self.random_state, 0x5E6])
        self.rules_ = None
        self.guided_ = []
        keys = []
        for column, max_values in self._guided_specs():
            source = self._guided_source(X, rule_segments, column)
            kept = guided_values(source, max_values)
            self.guided_.append((column, kept))
            keys.append(guided_keys(source, kept).to_numpy())
        self.preprocessor_ = SegmentPreprocessor(
            features=self.features, n_components=self.n_components, value_weight=self.value_weight,
            categorical_weight=self.categorical_weight, random_state=self.random_state).fit(X)
        Z = self.preprocessor_.transform(X)
        sample, holdout = stratified_sample(Z, keys, self.sample_size, _HOLDOUT, rng)
        Zs = self.preprocessor_.transform(X.iloc[sample], jitter=rng)
        n, ns = len(X), len(sample)
        mcs = self.min_cluster_size or max(10, int(round(_MCS * self.min_segment_share * ns)))
        floor = max(self.min_segment_size, self.min_segment_share * n)
        found = find_leaves(Zs, Z[sample], min_cluster_size=int(min(max(mcs, 2), ns)),
                            min_samples=self.min_samples,
                            n_partition=int(min(self.max_segments_per_level, n // (2 * floor))),
                            method=self.leaf_method, selection=self.cluster_selection_method,
                            n_jobs=self.n_jobs, random_state=self.random_state,
                            discrete_share=self.preprocessor_.discrete_share_)
        self.clusterer_ = found.clusterer
        self.hdbscan_to_raw_ = found.canonical
        raw = found.labels
        if found.centroids is None:  # density leaves: a k-NN vote over the sample places customers
            space = Zs
            ref = np.arange(ns)
            if ns > self.n_reference:
                ref = np.sort(rng.choice(ns, size=self.n_reference, replace=False))
            core, birth = density_reference(self.clusterer_, raw, found.canonical)
            self.assigner_ = KNNAssigner(self.n_neighbors).fit(
                Zs[ref], raw[ref], None if core is None else core[ref], birth,
                min_samples=int(min(self.min_samples, ns - 1)), fraction=len(ref) / ns)
        else:  # a partition (or one group): the nearest centroid, nobody is noise
            space = Z[sample]
            self.assigner_ = CentroidAssigner().fit(found.centroids)
        clustered = raw >= 0
        sample_cluster = raw.copy()
        if (~clustered).any():
            inner = KNNAssigner(self.n_neighbors).fit(Zs[clustered], raw[clustered])
            sample_cluster[~clustered] = inner.predict(Zs[~clustered])[1]
        self.n_raw_clusters_ = int(raw.max()) + 1
        self.agreement_, self.agreement_clustered_ = self._agreement(Z[holdout])
        raw_to_micro = merge_small(space, sample_cluster, n / ns, floor, self.max_segments_per_level)
        Ts = self._tree_space(X.iloc[sample], space)
        criterion = self.level_criterion
        if criterion == "auto":
            criterion = "explained" if found.centroids is None else "silhouette"
        micro_to_leaf = self._build_tree(space, Ts, raw_to_micro[sample_cluster], n / ns, n,
                                         criterion)
        self.raw_to_leaf_ = raw_to_leaf = micro_to_leaf[raw_to_micro]
        leaf_pos = raw_to_leaf[sample_cluster]
        self.labels_ = pd.Series(self.leaf_ids_[leaf_pos], index=X.index[sample],
                                 name="segment_leaf")
        self.sample_is_noise_ = pd.Series(~clustered, index=X.index[sample])
        self.discovery_ = {
            "leaf_method": found.method, "reason": found.reason,
            "density_clusters": found.density_clusters,
            "density_noise_share": found.density_noise_share,
            "level_criterion": criterion,
            "top_level_silhouette": self._separation(Ts, leaf_pos),
        }
        self.names_: dict[int, dict[str, str]] = {}
        self.depth_ = len(self.guided_) + self.levels
        return self

    def _agreement(self, Zh: np.ndarray) -> tuple[float, float]:
        if (len(Zh) == 0 or not isinstance(self.assigner_, KNNAssigner)
                or self.clusterer_ is None or self.clusterer_.labels_.max() < 0):
            return float("nan"), float("nan")
        approx = hdbscan.approximate_predict(self.clusterer_, Zh)[0]
        if self.hdbscan_to_raw_ is not None:  # HDBSCAN's labels -> the canonical ids
            approx = np.where(approx >= 0, self.hdbscan_to_raw_[np.clip(approx, 0, None)], -1)
        raw, cluster = self.assigner_.predict(Zh)
        inside = approx >= 0
        clustered = float(np.mean(cluster[inside] == approx[inside])) if inside.any() else 1.0
        return float(np.mean(raw == approx)), clustered


__all__ = ["OTHER", "SegmentHierarchy", "auto_level_counts", "weighted_ward"]
