"""The leaf segments of the sample: HDBSCAN's dense clusters, else a k-means partition.

HDBSCAN (``cluster_selection_method="leaf"``) finds the leaves where customers form dense groups
(behaviour: value tiers x category/channel mixes). Many customer tables have no such structure in
any column set (a telecom export whose usage columns are unimodal, an insurer's coded
socio-demographics): HDBSCAN then finds fewer than :data:`MIN_DENSITY_LEAVES` clusters or calls
more than :data:`MAX_NOISE_SHARE` of the customers noise, and a top level built on that is one
segment of everyone. There (``leaf_method="auto"``) the leaves come from **k-means** in the same
space instead:

* it is the partitioning method whose clusters are what the tree above then compares (centroids,
  sizes; size-weighted Ward merges exactly what k-means minimises), it assigns new customers by
  the nearest centroid (no noise), and on 20,000 customers it takes well under a second;
* **k = as many leaves as the over-segmentation controls allow**: ``max_segments_per_level``,
  fewer when the average leaf would be under twice the size floor (``min_segment_size`` /
  ``min_segment_share``). Over-clustering is the point: the leaves only have to be homogeneous,
  and the agglomerative tree decides how they group into the levels above (by the silhouette of
  the customers, see :func:`~segml.segments.tree.auto_level_counts`). Choosing k itself by a
  fit criterion was tried and rejected: on the Telco, telecom and insurer tables
  (``docs/segments.md``) the silhouette of k-means peaked at 2 or 3 clusters (too few to leave the
  tree anything to do) and the BIC of a diagonal Gaussian mixture kept falling up to the cap of
  12 on all three, i.e. it chose the cap anyway;
* k-means runs on the un-jittered space (the jitter that dequantises counts is for the density
  estimate only) with ``n_init=4`` k-means++ starts and a fixed seed.

The same holds where categorical levels and yes/no columns hold more than
:data:`MAX_DISCRETE_SHARE` of the space's variance (attributes mode on a table of plans and
options): customers pile up on the combinations of levels, and HDBSCAN returns those piles as
dense clusters (52 on Telco, 18% noise; on a synthetic table with 4 planted categorical segments
its top level reached ARI 0.30-0.33, k-means leaves 0.91-0.92, ``tests/segments``).

A space in which every customer has the same coordinates is one group (``method="single"``).

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> Z = rng.normal(size=(600, 2))                 # one round cloud: no density structure
>>> found = find_leaves(Z, Z, min_cluster_size=30, min_samples=5, n_partition=6)
>>> found.method, int(found.labels.max()) + 1, bool(found.labels.min() >= 0)
('kmeans', 6, True)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import hdbscan
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

log = logging.getLogger(__name__)

#: Fewer dense clusters than this: the leaves come from k-means (``leaf_method="auto"``).
MIN_DENSITY_LEAVES = 3
#: A larger share of the sample as HDBSCAN noise: the leaves come from k-means.
MAX_NOISE_SHARE = 0.5
#: Categorical levels and yes/no columns holding more of the space's variance: k-means.
MAX_DISCRETE_SHARE = 0.5
LEAF_METHODS = ("auto", "hdbscan", "kmeans")


@dataclass
class LeafSearch:
    """What found the leaves of the sample, and why.

    ``labels``: raw cluster per sample point (-1: HDBSCAN noise); ``centroids``: the k-means
    centroids (None for HDBSCAN); ``density_clusters`` / ``density_noise_share``: what HDBSCAN
    found (NaN when it was not run).
    """

    method: str
    reason: str
    labels: np.ndarray
    density_clusters: float
    density_noise_share: float
    clusterer: Any = None
    centroids: np.ndarray | None = None
    #: HDBSCAN's label -> the canonical id in ``labels`` (None when HDBSCAN made no leaves).
    canonical: np.ndarray | None = None


def canonical_labels(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cluster ids numbered by first appearance in the sample (noise, -1, stays -1), and the map
    from the given ids to them.

    An algorithm's own label order (HDBSCAN's condensed tree, k-means' initialisation) is an
    accident of its internals; ids by the first sample position holding them are the same for
    the same partition, so every later tie-break (the size controls, the numbering of equal-sized
    children) is too.

    Example
    -------
    >>> import numpy as np
    >>> labels, mapping = canonical_labels(np.array([2, -1, 0, 2, 1]))
    >>> labels.tolist(), mapping.tolist()
    ([0, -1, 1, 0, 2], [1, 2, 0])
    """
    raw = np.asarray(raw, dtype=np.int64)
    clustered = raw >= 0
    # all noise (HDBSCAN on a handful of points) is a valid answer: no ids to map
    mapping = np.full(int(raw[clustered].max()) + 1 if clustered.any() else 0, -1, dtype=np.int64)
    present, first = np.unique(raw[clustered], return_index=True)
    order = np.argsort(np.flatnonzero(clustered)[first], kind="stable")
    mapping[present[order]] = np.arange(len(present))
    labels = np.full(raw.shape, -1, dtype=np.int64)
    labels[clustered] = mapping[raw[clustered]]
    return labels, mapping


def density_leaves(Zs: np.ndarray, min_cluster_size: int, min_samples: int,
                   selection: str = "leaf", n_jobs: int = 1) -> Any:
    """HDBSCAN fitted on the (jittered) sample, with the data ``approximate_predict`` needs."""
    return hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples,
                           cluster_selection_method=selection, core_dist_n_jobs=n_jobs,
                           prediction_data=True).fit(Zs)


def partition_leaves(Z: np.ndarray, n_clusters: int,
                     random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """k-means labels and centroids of ``Z`` (at most as many clusters as distinct rows).

    Example
    -------
    >>> import numpy as np
    >>> labels, cents = partition_leaves(np.array([[0.0], [0.1], [5.0], [5.1]]), 2)
    >>> sorted(np.round(cents[:, 0], 2).tolist())
    [0.05, 5.05]
    """
    distinct = len(np.unique(Z, axis=0)) if len(Z) <= 200_000 else n_clusters
    k = int(max(1, min(n_clusters, distinct)))
    # one OpenMP thread: k-means' partial sums are reduced per thread, so its result would
    # depend on the thread count (a sample of at most sample_size points takes well under 1 s)
    with threadpool_limits(limits=1):
        km = KMeans(n_clusters=k, n_init=4, random_state=random_state).fit(Z)
    labels, relabel = canonical_labels(km.labels_)
    cents = np.empty_like(km.cluster_centers_)
    cents[relabel[relabel >= 0]] = km.cluster_centers_[relabel >= 0]
    return labels, np.round(cents[: int(labels.max()) + 1], 9)


@dataclass(frozen=True)
class LeafSample:
    """The sample a leaf method partitions, and the limits it works within.

    ``jittered``: the sample in the clustering space with its counts dequantised (what a density
    estimate needs); ``plain``: the same points without the jitter (what a partition needs);
    ``max_leaves``: the most leaves the segment size controls allow; ``discrete_share``: the
    share of the space's variance held by categorical levels and yes/no columns.
    """

    jittered: np.ndarray
    plain: np.ndarray
    min_cluster_size: int = 10
    min_samples: int = 5
    max_leaves: int = 12
    random_state: int = 0
    discrete_share: float = 0.0
    selection: str = "leaf"
    n_jobs: int = 1


@runtime_checkable
class LeafMethod(Protocol):
    """Finds the leaf segments of a sample: the seam for segmentation methods.

    ``find`` returns a :class:`LeafSearch` whose ``labels`` give each sample point's leaf (-1:
    noise, assigned to its likeliest leaf and flagged). With ``centroids`` (one row per leaf),
    customers are placed by their nearest centroid and nobody is noise (a partition); without,
    by a k-NN vote over the sample (density clusters). Ids are made canonical afterwards, so a
    method may number its leaves as it likes. Register one with :func:`register_leaf_method`;
    the fitted model keeps only the placement it implies, so scoring never needs the method.
    """

    def find(self, sample: LeafSample) -> LeafSearch:
        ...


class DensityLeaves:
    """HDBSCAN's dense clusters (``leaf_method="hdbscan"``); no cluster at all: one segment."""

    def find(self, sample: LeafSample) -> LeafSearch:
        found = self.search(sample)
        if found.labels.max() < 0:
            log.warning("HDBSCAN found no cluster; every customer is one segment")
            found.labels = np.zeros(len(found.labels), dtype=np.int64)
        return found

    @staticmethod
    def search(sample: LeafSample) -> LeafSearch:
        """HDBSCAN on the jittered sample, its labels canonical and its usability measured."""
        ns = len(sample.jittered)
        clusterer = density_leaves(sample.jittered, sample.min_cluster_size,
                                   int(min(sample.min_samples, ns - 1)), sample.selection,
                                   sample.n_jobs)
        raw, canonical = canonical_labels(clusterer.labels_)
        found, noise = float(raw.max() + 1), float(np.mean(raw < 0))
        usable = found >= MIN_DENSITY_LEAVES and noise <= MAX_NOISE_SHARE
        reason = (f"HDBSCAN found {int(found)} dense clusters and called {noise:.0%} of the "
                  "sample noise" + ("" if usable else " (leaf_method=hdbscan: kept)"))
        return LeafSearch("hdbscan", reason, raw, found, noise, clusterer, canonical=canonical)


class PartitionLeaves:
    """A k-means partition into as many leaves as the size controls allow
    (``leaf_method="kmeans"``)."""

    def find(self, sample: LeafSample, reason: str = "leaf_method=kmeans",
             density: LeafSearch | None = None) -> LeafSearch:
        labels, cents = partition_leaves(sample.plain, sample.max_leaves, sample.random_state)
        reason += (f" into {int(labels.max()) + 1} clusters (the most the segment size controls "
                   "allow)")
        nan = float("nan")
        return LeafSearch("kmeans", reason, labels,
                          density.density_clusters if density else nan,
                          density.density_noise_share if density else nan,
                          density.clusterer if density else None, cents)


class AutoLeaves:
    """HDBSCAN, or k-means where it finds no usable structure or where categorical levels and
    yes/no columns dominate the space (``leaf_method="auto"``, see the module docstring)."""

    def find(self, sample: LeafSample) -> LeafSearch:
        density = DensityLeaves.search(sample)
        found, noise = density.density_clusters, density.density_noise_share
        usable = found >= MIN_DENSITY_LEAVES and noise <= MAX_NOISE_SHARE
        if usable and sample.discrete_share <= MAX_DISCRETE_SHARE:
            return density
        if usable:
            reason = (f"categorical levels and yes/no columns hold {sample.discrete_share:.0%} "
                      "of the clustering space's variance: customers pile up on combinations of "
                      f"levels, which HDBSCAN takes for {int(found)} dense clusters "
                      f"({noise:.0%} noise), so the leaves are a k-means partition of the space")
        else:
            why = (f"called {noise:.0%} of the sample noise" if found >= MIN_DENSITY_LEAVES
                   else "found no dense cluster" if found == 0
                   else f"found only {int(found)} dense cluster{'s' if found > 1 else ''}")
            reason = (f"HDBSCAN {why} (usable: at least {MIN_DENSITY_LEAVES} clusters and at "
                      f"most {MAX_NOISE_SHARE:.0%} noise), so the leaves are a k-means "
                      "partition of the same space")
        return PartitionLeaves().find(sample, reason, density)


_REGISTRY: dict[str, LeafMethod] = {
    "auto": AutoLeaves(), "hdbscan": DensityLeaves(), "kmeans": PartitionLeaves(),
}


def register_leaf_method(name: str, method: LeafMethod) -> None:
    """Make ``method`` available as ``segments.leaf_method: <name>`` (and
    ``SegmentHierarchy(leaf_method=name)``). A built-in name cannot be replaced.

    Example
    -------
    >>> class OneLeaf:
    ...     def find(self, sample):
    ...         n = len(sample.plain)
    ...         return LeafSearch("one", "one leaf", np.zeros(n, dtype=np.int64), float("nan"),
    ...                           float("nan"), centroids=sample.plain.mean(axis=0)[None, :])
    >>> register_leaf_method("one", OneLeaf())
    >>> "one" in leaf_method_names()
    True
    """
    if not isinstance(method, LeafMethod):
        raise TypeError(f"a leaf method needs a find(sample) method, got {type(method).__name__}")
    if name in LEAF_METHODS:
        raise ValueError(f"'{name}' is a built-in leaf method")
    _REGISTRY[str(name)] = method


def leaf_method_names() -> tuple[str, ...]:
    """The names ``segments.leaf_method`` accepts: the built-ins, then registered ones."""
    return tuple(_REGISTRY)


def find_leaves(Zs: np.ndarray, Zplain: np.ndarray, *, min_cluster_size: int, min_samples: int,
                n_partition: int, method: str = "auto", selection: str = "leaf",
                n_jobs: int = 1, random_state: int = 0,
                discrete_share: float = 0.0) -> LeafSearch:
    """The leaves of the sample ``Zs`` (jittered, for HDBSCAN) / ``Zplain`` (for k-means), by
    the leaf method named ``method`` (:func:`leaf_method_names`).

    ``"auto"``: HDBSCAN, k-means where it finds no usable structure or where
    ``discrete_share``, the share of the space's variance held by categorical levels and yes/no
    columns, exceeds :data:`MAX_DISCRETE_SHARE`; ``"hdbscan"``: always (no cluster at all makes
    one segment); ``"kmeans"``: always, ``n_partition`` clusters. A space in which every point is
    the same is one group whatever the method. Leaf ids are canonical (first sample position).
    """
    if method not in _REGISTRY:
        raise ValueError(f"leaf method must be one of {leaf_method_names()}, got {method!r}")
    ns = len(Zs)
    if ns < 2 or float(np.ptp(Zplain, axis=0).max(initial=0.0)) <= 1e-12:
        return LeafSearch("single", "every customer has the same values on the clustered "
                          "columns: one group", np.zeros(ns, dtype=np.int64), float("nan"),
                          float("nan"), centroids=Zplain[:1].copy())
    sample = LeafSample(Zs, Zplain, int(min_cluster_size), int(min_samples), int(n_partition),
                        int(random_state), float(discrete_share), selection, int(n_jobs))
    found = _REGISTRY[method].find(sample)
    if method not in LEAF_METHODS:  # a registered method: checked and made canonical here
        found = _canonical_search(found, ns, method)
    return found


def _canonical_search(found: LeafSearch, ns: int, method: str) -> LeafSearch:
    labels = np.asarray(found.labels)
    if labels.shape != (ns,) or labels.dtype.kind not in "iu" or (labels >= 0).sum() == 0:
        raise ValueError(f"leaf method {method!r} must label every sample point with an integer "
                         "leaf (-1: noise), at least one point in a leaf")
    found.labels, mapping = canonical_labels(labels)
    if found.centroids is not None:
        cents = np.asarray(found.centroids, dtype=np.float64)
        if cents.ndim != 2 or len(cents) < len(mapping) or (found.labels < 0).any():
            raise ValueError(f"leaf method {method!r}: centroids need one row per leaf and no "
                             "noise (a partition)")
        kept = mapping >= 0
        ordered = np.empty((int(found.labels.max()) + 1, cents.shape[1]))
        ordered[mapping[kept]] = cents[: len(mapping)][kept]
        found.centroids = np.round(ordered, 9)
    return found


def density_reference(clusterer: Any, raw: np.ndarray,
                      canonical: np.ndarray | None = None) -> tuple[np.ndarray | None,
                                                                    np.ndarray | None]:
    """Core distances of HDBSCAN's sample points and the birth distance of each cluster
    (1 / the lambda at which it appears in the condensed tree), indexed by the ids of ``raw``
    (``canonical`` maps HDBSCAN's labels to them); None, None without clusters."""
    pred = getattr(clusterer, "prediction_data_", None)
    if pred is None or clusterer.labels_.max() < 0:
        return None, None
    tree = clusterer.condensed_tree_._raw_tree
    birth_lambda = dict(zip(tree["child"].tolist(), tree["lambda_val"].tolist(), strict=True))
    n_clusters = int(raw.max()) + 1
    birth = np.full(n_clusters, np.inf)
    for node, label in pred.cluster_map.items():  # one entry per cluster
        lam = birth_lambda.get(int(node), 0.0)
        at = int(label) if canonical is None or label >= len(canonical) else int(canonical[label])
        if 0 <= at < n_clusters and lam > 0 and node == pred.reverse_cluster_map.get(label):
            birth[at] = 1.0 / lam
    return np.asarray(pred.core_distances, dtype=float), birth


def merge_small(Zs: np.ndarray, cluster: np.ndarray, scale: float, floor: float,
                max_leaves: int) -> np.ndarray:
    """Over-segmentation controls: merge the smallest cluster into the nearest (centroid
    distance) until every cluster has ``floor`` customers (``scale`` customers per sample point)
    and at most ``max_leaves`` remain. Returns the new id of each cluster.

    Example
    -------
    >>> import numpy as np
    >>> Z = np.array([[0.0], [0.1], [1.0], [9.0], [9.1]]); c = np.array([0, 0, 1, 2, 2])
    >>> merge_small(Z, c, scale=1.0, floor=2, max_leaves=12).tolist()
    [0, 0, 1]
    """
    k = int(cluster.max()) + 1
    sizes = np.bincount(cluster, minlength=k).astype(float) * scale
    cents = np.stack([Zs[cluster == c].mean(axis=0) for c in range(k)])
    group = np.arange(k)
    while True:  # at most a few dozen clusters
        alive = np.unique(group)
        g_sizes = np.array([sizes[group == g].sum() for g in alive])
        if len(alive) <= 1 or (g_sizes.min() >= floor and len(alive) <= max_leaves):
            break
        small = alive[np.argmin(g_sizes)]
        g_cents = np.stack([np.average(cents[group == g], axis=0, weights=sizes[group == g])
                            for g in alive])
        d = np.sum((g_cents - g_cents[alive == small]) ** 2, axis=1)
        d[alive == small] = np.inf
        group[group == small] = alive[np.argmin(d)]
    return pd.factorize(group, sort=True)[0]
