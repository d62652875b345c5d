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
   linkage (:class:`~segml.segments.tree_levels.LeafTree`, held as ``tree_``); cut into ``levels`` discovered levels with ``level_sizes`` segments above the leaves,
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

import copy
import inspect
import logging
from collections.abc import Mapping
from typing import Any

import hdbscan
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from segml.config import SegmentsConfig
from segml.config.section import check_parameters, field_defaults, shared_values
from segml.errors import ConfigError, DataError, Problem
from segml.segments.assign import (
    OTHER,
    CentroidAssigner,
    KNNAssigner,
    assigner_from_state,
    guided_keys,
    guided_values,
)
from segml.segments.leaves import (
    density_reference,
    find_leaves,
    leaf_method_names,
    merge_small,
)
from segml.segments.placement import float_columns, named_values
from segml.segments.preprocess import SegmentPreprocessor
from segml.segments.sampling import stratified_sample
from segml.segments.tree import auto_level_counts, weighted_ward
from segml.segments.tree_levels import LeafTree, tree_space

log = logging.getLogger(__name__)
_HOLDOUT = 2000
_MCS = 0.8  # x the size floor, see min_cluster_size
#: config.segments' defaults: the defaults of the parameters of the same names (a list is a
#: tuple here: an estimator parameter is immutable).
_SEGMENTS = field_defaults(SegmentsConfig)


class SegmentHierarchy(BaseEstimator):
    """Leaf segments of a stratified sample, organised into a tree of ``levels`` levels.

    The parameters named like the fields of ``config.segments``
    (:class:`~segml.config.SegmentsConfig`) take their defaults and their rules from there
    (:meth:`from_config` passes the section's values); :meth:`fit` checks them first.

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
        allows it, none with more than ``max_top_share`` of the customers (docs/segments.md: a
        usable top level has 3-12 segments, none over 60%).
    """

    def __init__(self, *, features: list[str] | None = _SEGMENTS["features"],
                 sample_size: int = _SEGMENTS["sample_size"],
                 min_cluster_size: int | None = _SEGMENTS["min_cluster_size"],
                 min_samples: int = _SEGMENTS["min_samples"], levels: int = _SEGMENTS["levels"],
                 level_sizes: list[int] | None = _SEGMENTS["level_sizes"],
                 linkage: str = _SEGMENTS["linkage"],
                 min_segment_size: int = _SEGMENTS["min_segment_size"],
                 min_segment_share: float = _SEGMENTS["min_segment_share"],
                 max_segments_per_level: int = _SEGMENTS["max_segments_per_level"],
                 guided_levels: Any = tuple(_SEGMENTS["guided_levels"]),
                 n_components: int | None = 10, n_neighbors: int = 15,
                 n_reference: int = 10000, tree_features: Any = "auto",
                 value_weight: float = _SEGMENTS["value_weight"],
                 cluster_selection_method: str = "leaf",
                 level_criterion: str = "auto", level_explained: float = 0.9,
                 n_jobs: int = 1, random_state: int = 0,
                 leaf_method: str = _SEGMENTS["leaf_method"],
                 categorical_weight: float = _SEGMENTS["categorical_weight"],
                 min_top_segments: int = _SEGMENTS["min_top_segments"],
                 max_top_share: float = _SEGMENTS["max_top_share"]):
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
    def from_config(cls, segments_cfg: SegmentsConfig, seed: int = 0) -> SegmentHierarchy:
        """Build from :class:`segml.config.SegmentsConfig` and the global seed: every field named
        like a parameter (``min_profile_size`` and ``lifecycle`` are read by the profiles and the
        rule segments).

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
        params = shared_values(c, inspect.signature(cls).parameters)
        params["guided_levels"] = tuple((g.column, g.max_values) for g in c.guided_levels)
        return cls(**params, random_state=seed)

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
        check_parameters(SegmentsConfig, {**self.get_params(), "guided_levels": [
            {"column": column, "max_values": n} for column, n in self._guided_specs()]},
            "SegmentHierarchy")
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
        # the clusters after the size controls are the leaves
        self.raw_to_leaf_ = merge_small(space, sample_cluster, n / ns, floor,
                                        self.max_segments_per_level)
        leaf_pos = self.raw_to_leaf_[sample_cluster]
        Ts = tree_space(self.preprocessor_, self.tree_features, X.iloc[sample], space)
        criterion = self.level_criterion
        if criterion == "auto":
            criterion = "explained" if found.centroids is None else "silhouette"
        self.tree_ = LeafTree.grow(
            space, Ts, leaf_pos, n / ns, levels=self.levels, level_sizes=self.level_sizes,
            linkage=self.linkage, max_segments_per_level=self.max_segments_per_level,
            criterion=criterion, level_explained=self.level_explained,
            min_top=self.min_top_segments, max_top_share=self.max_top_share,
            random_state=self.random_state)
        self.labels_ = pd.Series(self.leaf_ids_[leaf_pos], index=X.index[sample],
                                 name="segment_leaf")
        self.sample_is_noise_ = pd.Series(~clustered, index=X.index[sample])
        self.discovery_ = {
            "leaf_method": found.method, "reason": found.reason,
            "density_clusters": found.density_clusters,
            "density_noise_share": found.density_noise_share,
            "level_criterion": criterion,
            "top_level_silhouette": self.tree_.separation(Ts, leaf_pos, self.random_state),
        }
        self.names_: dict[int, dict[str, str]] = {}
        self.depth_ = len(self.guided_) + self.levels
        return self

    # ------------------------------------------------------------------ the fitted tree
    @property
    def leaf_ids_(self) -> np.ndarray:
        """``segment_leaf`` of each leaf position (the tree's)."""
        return self.tree_.leaf_ids

    @property
    def level_paths_(self) -> np.ndarray:
        """Path prefix of each leaf per discovered level (leaves x ``levels``)."""
        return self.tree_.level_paths

    @property
    def leaf_sizes_(self) -> np.ndarray:
        """Customers per leaf (the sample's counts scaled to everyone)."""
        return self.tree_.leaf_sizes

    @property
    def centroids_(self) -> np.ndarray:
        """Each leaf's centre in the clustering space."""
        return self.tree_.centroids

    @property
    def linkage_(self) -> np.ndarray:
        """The merge steps of the tree over the leaves (scipy's linkage format)."""
        return self.tree_.linkage

    @property
    def hierarchy_(self) -> pd.DataFrame:
        """One row per leaf (index ``segment_leaf``): path, level prefixes, size, share, centroid."""
        return self.tree_.table()

    # ------------------------------------------------------------------ assignment
    def leaf_positions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Per row of ``X``: the position of its leaf (in :attr:`leaf_ids_`) and its noise flag."""
        check_is_fitted(self, "tree_")  # hierarchy_ would build a table per call
        return self._positions(self.preprocessor_.embed(float_columns(X), len(X)))

    def _positions(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raw, cluster = self.assigner_.predict(Z)
        return self.raw_to_leaf_[cluster], raw < 0

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Leaf id (``segment_leaf``) of each row of ``X``."""
        return self.leaf_ids_[self.leaf_positions(X)[0]]

    def assign(self, X: pd.DataFrame, rule_segments: pd.DataFrame | None = None) -> pd.DataFrame:
        """Leaf, path, path prefix per level, noise flag (and names once set) for each customer."""
        check_is_fitted(self, "tree_")
        rules = None
        if rule_segments is not None:
            rules = {c: rule_segments[c].reindex(X.index).to_numpy(dtype=object)
                     for c in rule_segments.columns}
        found = self.assign_arrays(float_columns(X), len(X), rules, X)
        out = pd.DataFrame({"segment_leaf": found.pop("segment_leaf")}, index=X.index)
        for name, values in found.items():
            if name.startswith("segment_name_") or name == "segment_is_noise":
                out[name] = values
            else:
                out[name] = pd.Series(values, index=X.index, dtype=object)
        return out

    def assign_arrays(self, columns: Mapping[str, Any], n: int,
                      rule_columns: Mapping[str, np.ndarray] | None = None,
                      X: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
        """:meth:`assign` on plain arrays (what serving one customer uses).

        ``columns`` maps each feature to its values (float arrays for numeric features),
        ``rule_columns`` each rule segment column to its values. Returns the columns of
        :meth:`assign` in order (paths and names as object arrays of strings).
        """
        check_is_fitted(self, "tree_")
        pos, noise = self._positions(self.preprocessor_.embed(columns, n))
        out: dict[str, np.ndarray] = {"segment_leaf": self.leaf_ids_[pos]}
        prefix = None
        levels = {}
        for k, (column, kept) in enumerate(self.guided_):
            source = self._guided_array(columns, n, rule_columns, column, X)
            key = guided_keys(pd.Series(source), kept).to_numpy()
            prefix = key if prefix is None else prefix + "." + key
            levels[k + 1] = prefix
        for k in range(self.levels):
            disc = self.level_paths_[pos, k]
            levels[len(self.guided_) + k + 1] = disc if prefix is None else prefix + "." + disc
        out["segment_path"] = levels[self.depth_]
        for k in range(1, self.depth_ + 1):
            out[f"segment_level_{k}"] = levels[k]
        out["segment_is_noise"] = noise
        for k in range(1, self.depth_ + 1):
            if self.names_.get(k):
                out[f"segment_name_level_{k}"] = named_values(levels[k], self.names_[k])
        return out

    def with_names(self, assignments: pd.DataFrame) -> pd.DataFrame:
        """``assignments`` (from :meth:`assign`) with the ``segment_name_level_<k>`` columns of
        the names set since (:meth:`set_names`), as :meth:`assign` would write them now, without
        placing the customers again; an unnamed segment keeps its path."""
        out = assignments.copy()
        for k in range(1, self.depth_ + 1):
            column = f"segment_level_{k}"
            if self.names_.get(k) and column in out:
                out[f"segment_name_level_{k}"] = named_values(out[column].to_numpy(dtype=object),
                                                        self.names_[k])
        return out

    def _guided_array(self, columns: Mapping[str, Any], n: int,
                      rule_columns: Mapping[str, np.ndarray] | None, column: str,
                      X: pd.DataFrame | None) -> Any:
        if rule_columns is not None and column in rule_columns:
            return rule_columns[column]
        if X is not None:
            return self._guided_source(X, None, column).to_numpy(dtype=object)
        if column in columns:
            return columns[column]
        return self._guided_source(pd.DataFrame(dict(columns)), None, column).to_numpy(
            dtype=object)

    def relabelled(self, leaf_ids: np.ndarray, level_paths: np.ndarray,
                   names: dict[int, dict[str, str]]) -> SegmentHierarchy:
        """A copy of this hierarchy whose leaves carry ``leaf_ids`` and ``level_paths`` (same
        order as :attr:`leaf_ids_`) and the given names; the same assignment (what
        :func:`~segml.segments.stability.match_hierarchies` returns). This one is unchanged."""
        check_is_fitted(self, "tree_")
        out = copy.deepcopy(self)
        mapping = dict(zip(self.leaf_ids_.tolist(), np.asarray(leaf_ids).tolist(), strict=True))
        out.tree_ = self.tree_.relabelled(leaf_ids, level_paths)
        if getattr(self, "labels_", None) is not None:
            out.labels_ = self.labels_.map(mapping).rename("segment_leaf")
        out.names_ = {int(k): dict(v) for k, v in names.items()}
        return out

    def set_names(self, names: dict[int, dict[Any, str]]) -> SegmentHierarchy:
        """Store readable names per level (``{level: {segment: name}}``) used by :meth:`assign`."""
        check_is_fitted(self, "tree_")
        for level, mapping in names.items():
            self.names_[int(level)] = {str(k): str(v) for k, v in mapping.items()}
        return self


    # ------------------------------------------------------------------ state
    def to_state(self) -> dict[str, Any]:
        """What assignment needs, as data (:mod:`segml.scoring.state`): the preprocessing, the
        assigner's reference points and labels with the noise rule, the leaf ids, paths, tree
        and names. Not HDBSCAN's clusterer (only the fit reads it) and no customer.
        """
        check_is_fitted(self, "tree_")
        params = self.get_params()
        params["guided_levels"] = [list(spec) for spec in self._guided_specs()]
        return {
            "params": params,
            "preprocessor": self.preprocessor_.to_state(),
            "assigner": self.assigner_.to_state(),
            "raw_to_leaf": self.raw_to_leaf_, "leaf_ids": self.leaf_ids_,
            "level_paths": self.level_paths_, "leaf_sizes": self.leaf_sizes_,
            "centroids": self.centroids_, "linkage": self.linkage_,
            "guided": [[column, list(kept)] for column, kept in self.guided_],
            "names": {str(level): dict(names) for level, names in self.names_.items()},
            "depth": self.depth_, "discovery": dict(self.discovery_),
            "agreement": self.agreement_, "agreement_clustered": self.agreement_clustered_,
            "n_raw_clusters": self.n_raw_clusters_,
            "rules": None if getattr(self, "rules_", None) is None else self.rules_.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SegmentHierarchy:
        """The fitted hierarchy :meth:`to_state` described: it assigns customers exactly as the
        original did (:meth:`assign`, :meth:`assign_arrays`, :meth:`leaf_positions`)."""
        from segml.scoring.state import as_float
        from segml.segments.rules import RuleSegmenter

        params = dict(state["params"])
        params["guided_levels"] = tuple(tuple(g) for g in params["guided_levels"])
        out = cls(**params)
        out.preprocessor_ = SegmentPreprocessor.from_state(state["preprocessor"])
        out.assigner_ = assigner_from_state(state["assigner"])
        out.raw_to_leaf_ = np.asarray(state["raw_to_leaf"], dtype=np.int64)
        out.tree_ = LeafTree(state["linkage"], np.asarray(state["leaf_ids"], dtype=np.int64),
                             np.asarray(state["level_paths"], dtype=object),
                             state["leaf_sizes"], state["centroids"])
        out.guided_ = [(column, list(kept)) for column, kept in state["guided"]]
        out.names_ = {int(level): dict(names) for level, names in state["names"].items()}
        out.depth_ = int(state["depth"])
        out.discovery_ = dict(state["discovery"])
        out.agreement_ = as_float(state["agreement"])
        out.agreement_clustered_ = as_float(state["agreement_clustered"])
        out.n_raw_clusters_ = int(state["n_raw_clusters"])
        out.rules_ = None if state["rules"] is None else RuleSegmenter.from_state(state["rules"])
        return out

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
