"""Fast, vectorised assignment of customers to the leaves HDBSCAN found on a sample.

HDBSCAN is fitted on a sample only (its cost grows steeply with n). Everyone else is assigned by a
distance-weighted k-nearest-neighbour vote over the *sample points with their HDBSCAN labels*,
noise included:

* the raw label (noise = -1) follows ``hdbscan.approximate_predict``'s rule when the HDBSCAN
  core distances are given: the nearest neighbour in mutual-reachability distance
  ``max(core(query), core(neighbour), d)`` must be a cluster member, closer than the distance at
  which its cluster is born in the condensed tree; without them, the vote over all labels (noise
  as its own class);
* the vote over the cluster labels only gives the most likely cluster, which every customer
  (noise included) is assigned to; a customer whose neighbours are all noise goes to the nearest
  cluster centroid.

Queries run in chunks over a KD-tree (``scipy.spatial.KDTree``; large chunks on several threads),
so memory stays bounded and the work is NumPy only. Batches of :data:`_BATCH_ROWS` rows or more
use a tree of larger leaves over the same points, with the rows where tied distances could
matter searched again in the reference tree (:meth:`KNNAssigner._kneighbors`): the same
neighbours' labels and distances, so the same segments. scipy's tree answered 100k queries against 10k
points in 10 dimensions 2x faster than scikit-learn's on one thread (3.3x on two) with the same
neighbours, and one query in 185 us instead of 411 us. The agreement with
``approximate_predict`` is measured in :meth:`segml.segments.hierarchy.SegmentHierarchy.fit` and
exposed as ``agreement_``.

Guided levels: :func:`guided_keys` maps an attribute or rule column to the kept values
(the ``max_values`` most frequent in ``fit``), pooling the rest and missing values into ``"Other"``.

Example
-------
>>> import numpy as np
>>> Z = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2], [20.0]])
>>> knn = KNNAssigner(n_neighbors=2).fit(Z, np.array([0, 0, 0, 1, 1, 1, -1]))
>>> raw, cluster = knn.predict(np.array([[0.05], [5.05], [30.0]]))
>>> cluster.tolist()
[0, 1, 1]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import KDTree

from segml.predict.resources import DEFAULT_THREADS
from segml.predict.trees import compiled

OTHER = "Other"
_PARALLEL_ROWS = 10_000  # queries per chunk from which the KD-tree search uses several threads
#: Query rows from which a batch is searched in a KD-tree of larger leaves (see
#: :meth:`KNNAssigner._kneighbors`); fewer rows go to the reference tree directly.
_BATCH_ROWS = 1000
#: Leaf size of the batch tree: scipy's default (16) made 10-dimensional queries visit many
#: small leaves; with 64 a query against 5000 reference points took 1.3x less CPU time
#: (``docs/benchmarks.md``), with the same distances.
_BATCH_LEAF = 64
#: The batch tree splits its boxes at the sliding midpoint instead of the median
#: (``balanced_tree=False``): 100k queries against 5,000 and 10,000 reference points in
#: 10 dimensions took 7-9% less CPU time, with the same distances (``docs/benchmarks.md``).
_BATCH_BALANCED = False


class KNNAssigner:
    """Distance-weighted k-NN vote over labelled sample points (label -1 = noise).

    Parameters
    ----------
    n_neighbors : int
        Neighbours per query point.
    chunk_size : int
        Query rows per chunk (bounds memory).

    Example
    -------
    >>> import numpy as np
    >>> knn = KNNAssigner(n_neighbors=1).fit(np.array([[0.0], [1.0]]), np.array([0, 1]))
    >>> knn.predict(np.array([[0.9]]))[1].tolist()
    [1]
    """

    def __init__(self, n_neighbors: int = 15, chunk_size: int = 100_000):
        self.n_neighbors = n_neighbors
        self.chunk_size = chunk_size

    def fit(self, Z: np.ndarray, labels: np.ndarray, core_distances: np.ndarray | None = None,
            birth_distances: np.ndarray | None = None, min_samples: int = 10,
            fraction: float = 1.0) -> KNNAssigner:
        """Index the sample points ``Z`` with their HDBSCAN labels (-1 = noise).

        With ``core_distances`` (of the reference points, from the HDBSCAN fit) and
        ``birth_distances`` (per cluster: 1 / the lambda at which it appears in the condensed
        tree), the noise flag follows ``approximate_predict``'s rule instead of the vote: the
        query's nearest neighbour in mutual-reachability distance must be a cluster member and
        that distance below the cluster's birth distance. ``fraction``: share of the HDBSCAN
        sample held here; the query's core distance is read at neighbour
        ``(min_samples + 1) * fraction`` (interpolated) to match the full sample's density.
        """
        labels = np.asarray(labels, dtype=np.int64)
        self.n_clusters_ = int(labels.max()) + 1 if labels.size else 0
        self.labels_ = labels
        self.k_ = int(min(self.n_neighbors, len(Z)))
        self.tree_ = KDTree(np.ascontiguousarray(Z, dtype=np.float64))
        self._batch_tree = None
        clustered = labels >= 0
        counts = np.bincount(labels[clustered], minlength=self.n_clusters_).astype(float)
        sums = np.zeros((self.n_clusters_, Z.shape[1]))
        np.add.at(sums, labels[clustered], Z[clustered])
        self.centroids_ = sums / np.maximum(counts, 1)[:, None]
        self.core_ = None if core_distances is None else np.asarray(core_distances, dtype=float)
        self.birth_ = None if birth_distances is None else np.asarray(birth_distances, float)
        self.core_rank_ = min(max((min_samples + 1) * fraction - 1, 0.0), self.k_ - 1)
        return self

    def predict(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(raw, cluster)``: the vote with noise as a class (-1) and the likeliest cluster."""
        n = len(Z)
        raw = np.empty(n, dtype=np.int64)
        cluster = np.empty(n, dtype=np.int64)
        if self.n_clusters_ == 0:
            raise ValueError("cannot assign segments: no reference point is in a cluster")
        no_core = np.zeros(0)
        for start in range(0, n, self.chunk_size):
            part = Z[start:start + self.chunk_size]
            dist, ind = self._kneighbors(part)
            m = len(part)
            if self.core_ is None:
                core, birth, core_q = no_core, no_core, no_core
            else:
                lo = int(np.floor(self.core_rank_))
                hi = min(lo + 1, dist.shape[1] - 1)
                w = self.core_rank_ - lo
                core, birth = self.core_, self.birth_
                core_q = (1 - w) * dist[:, lo] + w * dist[:, hi]
            best = np.empty(m, dtype=np.int64)
            no_cluster = np.empty(m, dtype=np.bool_)
            # the batch search's slices as they are (no copy): the kernel reads any layout
            _vote_rows(dist, ind, self.labels_,
                       self.n_clusters_, self.core_ is not None, core, birth, core_q,
                       raw[start:start + m], best, no_cluster)
            if no_cluster.any():
                d2 = ((part[no_cluster, None, :] - self.centroids_[None, :, :]) ** 2).sum(axis=2)
                best[no_cluster] = d2.argmin(axis=1)
            cluster[start:start + m] = best
        return raw, cluster

    def _kneighbors(self, part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices of the ``k_`` nearest sample points, nearest first.

        The reference is ``tree_`` (scipy's KD-tree, default leaves). A batch of
        :data:`_BATCH_ROWS` rows or more is searched in a tree of larger leaves over the same
        points instead (cheaper per query in ~10 dimensions). Both compute every distance
        alike, so they find the same neighbours in the same order except where two distances
        are equal, which a tree may order either way. The batch search asks for one neighbour
        more than ``k_`` to see those ties, and every row where a tie could change the answer
        (tied points with another label or core distance, or a tie at the ``k_``-th place) is
        searched again in ``tree_``: the neighbours' labels, distances and core distances,
        all the vote and the noise rule read, are then the reference's for every row.
        """
        part = np.ascontiguousarray(part, dtype=np.float64)
        if not np.isfinite(part).all():
            raise ValueError("cannot assign segments: the clustering space has NaN or inf values")
        workers = DEFAULT_THREADS if len(part) >= _PARALLEL_ROWS else 1
        k = self.k_
        reference = [*range(1, k + 1)]
        if len(part) < _BATCH_ROWS or k >= self.tree_.n:
            return self.tree_.query(part, k=reference, workers=workers)
        if getattr(self, "_batch_tree", None) is None:  # built on first use (also after a load)
            self._batch_tree = KDTree(self.tree_.data, leafsize=_BATCH_LEAF,
                                      balanced_tree=_BATCH_BALANCED)
        dist, ind = self._batch_tree.query(part, k=k + 1, workers=workers)
        redo = self._ties_that_matter(dist, ind)
        dist, ind = dist[:, :k], ind[:, :k]
        if redo.any():
            dist[redo], ind[redo] = self.tree_.query(part[redo], k=reference, workers=1)
        return dist, ind

    def _ties_that_matter(self, dist: np.ndarray, ind: np.ndarray) -> np.ndarray:
        """Rows of a ``k_ + 1``-neighbour search where equal distances leave the answer open:
        a tie at the ``k_``-th place (which point is in), or two tied neighbours among the
        first ``k_`` that differ in label or core distance (which comes first)."""
        k = self.k_
        equal = dist[:, 1:] == dist[:, :-1]
        redo = equal[:, k - 1].copy()
        rows, cols = np.nonzero(equal[:, : k - 1])
        if len(rows):
            a, b = ind[rows, cols], ind[rows, cols + 1]
            differ = self.labels_[a] != self.labels_[b]
            if self.core_ is not None:
                differ |= self.core_[a] != self.core_[b]
            redo[rows[differ]] = True
        return redo

    def to_state(self) -> dict[str, Any]:
        """The reference points, their labels and the noise rule as data
        (:mod:`segml.scoring.state`); :meth:`from_state` rebuilds the KD-tree from the points.

        Example
        -------
        >>> import numpy as np
        >>> knn = KNNAssigner(n_neighbors=1).fit(np.array([[0.0], [1.0]]), np.array([0, 1]))
        >>> KNNAssigner.from_state(knn.to_state()).predict(np.array([[0.9]]))[1].tolist()
        [1]
        """
        return {"kind": "knn", "n_neighbors": self.n_neighbors, "chunk_size": self.chunk_size,
                "points": np.asarray(self.tree_.data), "labels": self.labels_,
                "n_clusters": self.n_clusters_, "k": self.k_, "centroids": self.centroids_,
                "core": self.core_, "birth": self.birth_, "core_rank": self.core_rank_}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> KNNAssigner:
        """The assigner :meth:`to_state` described (the same neighbours and votes)."""
        out = cls(n_neighbors=int(state["n_neighbors"]), chunk_size=int(state["chunk_size"]))
        out.tree_ = KDTree(np.ascontiguousarray(state["points"], dtype=np.float64))
        out._batch_tree = None
        out.labels_ = np.asarray(state["labels"], dtype=np.int64)
        out.n_clusters_, out.k_ = int(state["n_clusters"]), int(state["k"])
        out.centroids_ = state["centroids"]
        out.core_ = None if state["core"] is None else np.asarray(state["core"], dtype=float)
        out.birth_ = None if state["birth"] is None else np.asarray(state["birth"], dtype=float)
        out.core_rank_ = float(state["core_rank"])
        return out


@compiled(nogil=True)
def _maximum(a, b):  # pragma: no cover - compiled
    """``np.maximum`` of two floats (NaN if either is NaN)."""
    if a != a:
        return a
    if b != b:
        return b
    return a if a >= b else b


@compiled(nogil=True)
def _vote_rows(dist, ind, labels, n_clusters, with_core, core, birth, core_q,
               raw, best, no_cluster):  # pragma: no cover - compiled
    """The vote of :meth:`KNNAssigner.predict` row by row, in one pass over the neighbours.

    It computes what the NumPy formulation did, with the same operations in the same order, so
    the same bits: each row's weights ``1 / (d + 1e-9)`` summed per label in neighbour order
    from zero (as ``np.bincount`` adds them), the first largest sum (``argmax``), and with core
    distances the first smallest mutual-reachability distance
    ``max(max(core(neighbour), core(query)), d)`` (``argmin``; NaN as NumPy treats it). Writes
    ``raw`` (the noise rule's label or the vote with noise as a class), ``best`` (the likeliest
    cluster) and ``no_cluster`` (no neighbour in any cluster).
    """
    m, k = dist.shape
    votes = np.empty(n_clusters + 1)
    for r in range(m):
        votes[:] = 0.0
        for j in range(k):
            votes[labels[ind[r, j]] + 1] += 1.0 / (dist[r, j] + 1e-9)
        top = 1
        for c in range(2, n_clusters + 1):
            if votes[c] > votes[top]:
                top = c
        best[r] = top - 1
        no_cluster[r] = votes[top] <= 0.0
        if not with_core:
            raw[r] = -1 if votes[0] >= votes[top] else top - 1
            continue
        nearest, low = -1, 0.0
        for j in range(k):
            value = _maximum(_maximum(core[ind[r, j]], core_q[r]), dist[r, j])
            if value != value:  # argmin stops at the first NaN
                nearest, low = j, value
                break
            if nearest < 0 or value < low:
                nearest, low = j, value
        label = labels[ind[r, nearest]]
        raw[r] = label if label >= 0 and low < birth[label] else -1


class CentroidAssigner:
    """Nearest-centroid assignment (k-means' own rule) with :class:`KNNAssigner`'s interface.

    Used when the leaves come from k-means (no density, so no noise): ``predict`` returns the
    nearest centroid twice, as the raw label and as the cluster.

    Example
    -------
    >>> import numpy as np
    >>> a = CentroidAssigner().fit(np.array([[0.0], [10.0]]))
    >>> a.predict(np.array([[1.0], [7.0]]))[1].tolist()
    [0, 1]
    """

    def __init__(self, chunk_size: int = 100_000):
        self.chunk_size = chunk_size

    def fit(self, centroids: np.ndarray) -> CentroidAssigner:
        """Keep the centroids (one row per raw cluster)."""
        self.centroids_ = np.ascontiguousarray(centroids, dtype=np.float64)
        self.n_clusters_ = len(self.centroids_)
        self.sq_norms_ = np.einsum("ij,ij->i", self.centroids_, self.centroids_)
        return self

    def predict(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(raw, cluster)``, both the nearest centroid (nobody is noise)."""
        Z = np.ascontiguousarray(Z, dtype=np.float64)
        if not np.isfinite(Z).all():
            raise ValueError("cannot assign segments: the clustering space has NaN or inf values")
        out = np.empty(len(Z), dtype=np.int64)
        for start in range(0, len(Z), self.chunk_size):
            part = Z[start:start + self.chunk_size]
            # |z - c|^2 without the |z|^2 term, the same for every centroid
            out[start:start + len(part)] = (self.sq_norms_ - 2.0 * part @ self.centroids_.T).argmin(
                axis=1)
        return out, out.copy()

    def to_state(self) -> dict[str, Any]:
        """The centroids as data (:mod:`segml.scoring.state`)."""
        return {"kind": "centroid", "chunk_size": self.chunk_size, "centroids": self.centroids_}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CentroidAssigner:
        """The assigner :meth:`to_state` described."""
        return cls(chunk_size=int(state["chunk_size"])).fit(state["centroids"])


def assigner_from_state(state: dict[str, Any]) -> KNNAssigner | CentroidAssigner:
    """The assigner of either kind from its ``to_state()``."""
    return (KNNAssigner if state["kind"] == "knn" else CentroidAssigner).from_state(state)


def guided_values(values: pd.Series, max_values: int) -> list[str]:
    """The ``max_values`` most frequent values (as path-safe strings), ties broken by name.

    Example
    -------
    >>> import pandas as pd
    >>> guided_values(pd.Series(["N", "N", "S", "E", "E", "N", None]), 2)
    ['N', 'E']
    """
    text = _path_safe(values).dropna()
    counts = text.value_counts()
    frame = pd.DataFrame({"value": counts.index.astype(str), "n": counts.to_numpy()})
    frame = frame[frame["value"] != OTHER].sort_values(["n", "value"], ascending=[False, True])
    return frame["value"].head(max_values).tolist()


def guided_keys(values: pd.Series, kept: list[str]) -> pd.Series:
    """Map values to themselves when kept, else to ``"Other"`` (missing values too).

    Example
    -------
    >>> import pandas as pd
    >>> guided_keys(pd.Series(["N", "S", None, "St. X"]), ["N", "St_ X"]).tolist()
    ['N', 'Other', 'Other', 'St_ X']
    """
    text = _path_safe(values)
    out = text.where(text.isin(kept), OTHER).fillna(OTHER)
    return out.astype(object)


def _path_safe(values: pd.Series) -> pd.Series:
    """Strings with '.' (the path separator) replaced by '_'."""
    return values.astype("string").str.replace(".", "_", regex=False)
