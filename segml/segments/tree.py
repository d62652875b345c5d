"""The agglomerative tree over the leaf segments: size-weighted Ward linkage, cuts and level counts.

These functions only see leaf centroids and sizes (never the customers), so they stay cheap at any
data size. :class:`~segml.segments.hierarchy.SegmentHierarchy` builds its upper levels with them.

Example
-------
>>> cents = np.array([[0.0], [1.0], [10.0], [11.0]]); sizes = np.array([50, 50, 50, 50])
>>> cut_linkage(weighted_ward(cents, sizes), 4, 2).tolist()
[0, 0, 1, 1]
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def weighted_ward(centroids: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Size-weighted Ward linkage over cluster centroids, in scipy's linkage-matrix format.

    Merge cost ``n_a n_b / (n_a + n_b) * |c_a - c_b|^2``; height ``sqrt(2 * cost)``; column 4 counts
    leaves. Loops over leaves (at most a few dozen), never over customers.

    Example
    -------
    >>> import numpy as np
    >>> Z = weighted_ward(np.array([[0.0], [1.0], [10.0]]), np.array([5, 5, 5]))
    >>> Z[:, :2].tolist()
    [[0.0, 1.0], [2.0, 3.0]]
    """
    cents = {i: np.asarray(c, dtype=float) for i, c in enumerate(centroids)}
    size = {i: float(s) for i, s in enumerate(sizes)}
    leaves = {i: 1 for i in cents}
    rows = []
    next_id = len(cents)
    while len(cents) > 1:
        ids = sorted(cents)
        best = None
        for a_pos, a in enumerate(ids):
            for b in ids[a_pos + 1:]:
                cost = size[a] * size[b] / (size[a] + size[b]) * float(
                    np.sum((cents[a] - cents[b]) ** 2))
                if best is None or cost < best[0] - 1e-12:
                    best = (cost, a, b)
        cost, a, b = best
        n = size[a] + size[b]
        cents[next_id] = (size[a] * cents.pop(a) + size[b] * cents.pop(b)) / n
        size[next_id] = n
        leaves[next_id] = leaves[a] + leaves[b]
        rows.append([a, b, np.sqrt(2 * cost), leaves[next_id]])
        next_id += 1
    Z = np.asarray(rows, dtype=float).reshape(-1, 4)
    Z[:, 2] = np.maximum.accumulate(Z[:, 2]) if len(Z) else Z[:, 2]
    return Z


def auto_level_counts(Z: np.ndarray, centroids: np.ndarray, sizes: np.ndarray, total_ss: float,
                      n_levels: int, max_per_level: int,
                      fixed: list[int] | None = None, criterion: str = "explained",
                      explained: float = 0.9, min_top: int = 2, max_top_share: float = 1.0,
                      points: np.ndarray | None = None,
                      point_leaf: np.ndarray | None = None) -> list[int]:
    """Groups per level above the leaves, top first, chosen among the cuts of the tree ``Z``.

    Each level picks a count between the level above (exclusive) and the leaves, capped by
    ``max_per_level``; ``fixed`` gives the counts of the top levels. Criteria:

    * ``"explained"`` (default): the fewest groups whose size-weighted between-group sum of
      squares ``B(k)`` of the leaf centroids explains at least ``explained`` of the between-leaf
      sum of squares (level ``j`` from the top, 0-based: ``1 - (1 - explained) ** (j + 1)``,
      so 90%, 99%, ...). It looks only at how the *leaves* differ, so the spread of customers
      inside the leaves cannot drown it.
    * ``"ch"``: the highest ``CH(k) = (B / (k - 1)) / (W / (n - k))`` (``W = total_ss - B``,
      ``n`` = customers). On ``make_customers`` data the customer-level spread dominates ``W``
      and CH almost always chose 2 top groups (4 true macro groups; macro ARI 0.15-0.39).
    * ``"silhouette"``: the highest mean silhouette of ``points`` (a sample of customers in the
      tree space, ``point_leaf`` their leaf) grouped by the cut. Used for leaves that come from a
      partitioning method: k-means leaves tile a continuous cloud evenly, so explaining 90% of
      the between-leaf variance needed almost as many groups as leaves (8 of 12 on Telco, 10 of
      12 on a telecom export), a flat tree; the silhouette asks which grouping of the leaves
      separates the customers best.

    The automatic top level has at least ``min_top`` groups (when there are that many leaves)
    and, among the counts the criterion accepts, none whose largest group holds more than
    ``max_top_share`` of the customers (the fewest-groups cut closest to it when none does).

    Example
    -------
    >>> import numpy as np
    >>> cents = np.array([[0.0], [1.0], [10.0], [11.0]]); sizes = np.array([50, 50, 50, 50])
    >>> Z = weighted_ward(cents, sizes)
    >>> auto_level_counts(Z, cents, sizes, total_ss=10_100.0, n_levels=1, max_per_level=12)
    [2]
    """
    if criterion not in ("explained", "ch", "silhouette"):
        raise ValueError(f"criterion must be 'explained', 'ch' or 'silhouette', got {criterion!r}")
    if criterion == "silhouette" and (points is None or point_leaf is None):
        raise ValueError("the silhouette criterion needs points and point_leaf")
    n_items = len(centroids)
    n = float(np.sum(sizes))
    overall = np.average(centroids, axis=0, weights=sizes)
    between_all = float(np.sum(sizes * np.sum((centroids - overall) ** 2, axis=1)))
    counts = [int(min(max(k, 1), n_items)) for k in (fixed or [])][:n_levels]
    counts = [int(k) for k in np.maximum.accumulate(counts)] if counts else []
    for level in range(len(counts), n_levels):
        remaining = n_levels - 1 - level
        low = counts[-1] + 1 if counts else max(2, min(min_top, n_items - remaining))
        high = min(max_per_level, n_items - 1 - remaining)
        if low > high:
            counts.append(min(counts[-1] if counts else 1, n_items) if n_items > 1 else 1)
            continue
        target = (1.0 - (1.0 - explained) ** (level + 1)) * between_all
        share_cap = max_top_share if level == 0 else 1.0
        best_k, best = (None, -np.inf)
        fallback = (np.inf, high)  # (largest share, k) of the most even cut seen
        for k in range(low, high + 1):
            groups = cut_linkage(Z, n_items, k)
            g_sizes = np.bincount(groups, weights=sizes)
            largest = float(g_sizes.max() / max(n, 1e-12))
            if largest < fallback[0] - 1e-12:
                fallback = (largest, k)
            if largest > share_cap + 1e-12:
                continue
            if criterion == "explained":
                g_cents = np.stack([np.average(centroids[groups == g], axis=0,
                                               weights=sizes[groups == g]) for g in range(k)])
                between = float(np.sum(g_sizes * np.sum((g_cents - overall) ** 2, axis=1)))
                if between >= target - 1e-12:
                    best_k = k
                    break
                continue
            score = (silhouette_of(points, groups[point_leaf]) if criterion == "silhouette"
                     else _calinski_harabasz(centroids, sizes, groups, overall, total_ss, n))
            if score > best + 1e-12:
                best_k, best = k, score
        if best_k is None:  # no count met the criterion under the share cap
            best_k = high if fallback[0] <= share_cap + 1e-12 else fallback[1]
        counts.append(best_k)
    return counts


def _calinski_harabasz(centroids: np.ndarray, sizes: np.ndarray, groups: np.ndarray,
                       overall: np.ndarray, total_ss: float, n: float) -> float:
    k = int(groups.max()) + 1
    g_sizes = np.bincount(groups, weights=sizes)
    g_cents = np.stack([np.average(centroids[groups == g], axis=0, weights=sizes[groups == g])
                        for g in range(k)])
    between = float(np.sum(g_sizes * np.sum((g_cents - overall) ** 2, axis=1)))
    within = max(total_ss - between, 1e-12)
    return (between / (k - 1)) / (within / max(n - k, 1))


def silhouette_of(points: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of ``points`` (a few thousand at most: pairwise distances)."""
    from sklearn.metrics import silhouette_score

    if len(np.unique(labels)) < 2 or len(np.unique(labels)) >= len(labels):
        return -1.0
    return float(silhouette_score(points, labels))


def cut_linkage(Z: np.ndarray, n_leaves: int, k: int) -> np.ndarray:
    """Group of each leaf when the tree ``Z`` is cut into ``k`` groups (first ``n - k`` merges).

    Example
    -------
    >>> import numpy as np
    >>> cut_linkage(np.array([[0, 1, 1.0, 2], [2, 3, 5.0, 3]]), 3, 2).tolist()
    [0, 0, 1]
    """
    owner = np.arange(2 * n_leaves - 1)
    for i, (a, b) in enumerate(Z[: max(n_leaves - k, 0), :2].astype(np.int64)):
        new = n_leaves + i
        owner[owner == a] = new
        owner[owner == b] = new
    return pd.factorize(owner[:n_leaves], sort=False)[0]


def number_paths(cuts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Dotted paths of the leaves from their group per level (``cuts``: leaves x levels).

    Within each parent, children are numbered 1, 2, ... by size, largest first (ties: the group
    holding the lowest leaf first).

    Example
    -------
    >>> import numpy as np
    >>> cuts = np.array([[0, 0], [0, 1], [1, 2]]); sizes = np.array([10.0, 30.0, 50.0])
    >>> number_paths(cuts, sizes)[:, -1].tolist()
    ['2.2', '2.1', '1.1']
    """
    n_leaves, levels = cuts.shape
    paths = np.empty((n_leaves, levels), dtype=object)
    for level in range(levels):  # a few levels of a few dozen leaves
        parent = paths[:, level - 1] if level else np.full(n_leaves, "", dtype=object)
        frame = pd.DataFrame({"parent": parent, "group": cuts[:, level], "size": sizes,
                              "leaf": np.arange(n_leaves)})
        groups = frame.groupby(["parent", "group"], sort=True).agg(
            size=("size", "sum"), first=("leaf", "min")).reset_index()
        groups = groups.sort_values(["parent", "size", "first"], ascending=[True, False, True])
        groups["rank"] = groups.groupby("parent").cumcount() + 1
        rank = groups.set_index(["parent", "group"])["rank"]
        local = rank.loc[list(zip(parent, cuts[:, level], strict=True))].to_numpy()
        paths[:, level] = [f"{p}.{r}" if p else str(r) for p, r in zip(parent, local, strict=True)]
    return paths
