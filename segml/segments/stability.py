"""Keep segment ids and names stable across retrains.

:func:`match_hierarchies` assigns the same customers ``X`` with the previous and the new hierarchy
and matches segments by **customer overlap** with the Hungarian algorithm
(``scipy.optimize.linear_sum_assignment`` on the overlap counts):

* leaves: a matched new leaf takes the previous leaf's integer id; unmatched leaves get fresh ids
  above the previous maximum;
* paths, level by level from the top: a matched new group takes the previous group's path when
  that path sits under the new group's (already relabelled) parent; otherwise, or when unmatched,
  it gets the next free number under its parent. Matched segments keep their previous names.

It returns the relabelled copy of the new hierarchy, the id mappings, the migration matrix
(customers by previous leaf path x new leaf path) and the stability score: the share of customers
whose relabelled leaf id equals their previous leaf id (the retrain gate's
``min_segment_stability``).

Example
-------
>>> import numpy as np, pandas as pd
>>> from segml.segments.hierarchy import SegmentHierarchy
>>> rng = np.random.default_rng(0)
>>> centers = np.repeat([[0, 0], [0, 8], [40, 0]], [200, 150, 100], axis=0)
>>> X = pd.DataFrame(rng.normal(centers, 0.6), columns=["frequency", "recency_days"])
>>> old = SegmentHierarchy(min_cluster_size=30).fit(X)
>>> new = SegmentHierarchy(min_cluster_size=30, random_state=1).fit(X.iloc[::-1])
>>> m = match_hierarchies(old, new, X)
>>> round(m.stability, 2)  # a customer on a border may move when the rows come in another order
1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from segml.segments.hierarchy import SegmentHierarchy


@dataclass
class HierarchyMatch:
    """The result of :func:`match_hierarchies`."""

    hierarchy: SegmentHierarchy
    leaf_mapping: dict[int, int]
    path_mapping: dict[str, str]
    migration: pd.DataFrame
    stability: float


def _hungarian(a: np.ndarray, b: np.ndarray, weights: np.ndarray) -> dict[object, object]:
    """Match labels of ``b`` to labels of ``a`` maximising the overlap (pairs with overlap > 0);
    ``weights``: the customers behind each (a, b) pair."""
    table = _crosstab(b, a, weights, ("new", "old"))
    rows, cols = linear_sum_assignment(-table.to_numpy())
    return {table.index[r]: table.columns[c] for r, c in zip(rows, cols, strict=True)
            if table.iat[r, c] > 0}


def _crosstab(rows: np.ndarray, columns: np.ndarray, weights: np.ndarray,
              names: tuple[str, str]) -> pd.DataFrame:
    """Customers per (row label, column label): ``pd.crosstab`` with a count per pair."""
    table = pd.crosstab(pd.Series(rows, name=names[0]), pd.Series(columns, name=names[1]),
                        values=weights, aggfunc="sum")
    return table.fillna(0).astype(np.int64)


def leaf_overlap(previous: SegmentHierarchy, new: SegmentHierarchy,
                 X: pd.DataFrame) -> pd.DataFrame:
    """Customers of ``X`` per (previous leaf position, new leaf position): columns
    ``previous``, ``new`` (positions in each hierarchy's ``leaf_ids_``) and ``customers``;
    the additive summary :func:`match_overlap` needs (another engine sums it over partitions).

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from segml.segments.hierarchy import SegmentHierarchy
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(np.repeat([[0, 0], [9, 9]], 100, axis=0)),
    ...                  columns=["frequency", "recency_days"])
    >>> h = SegmentHierarchy(min_cluster_size=30).fit(X)
    >>> int(leaf_overlap(h, h, X)["customers"].sum())
    200
    """
    prev_pos = previous.leaf_positions(X)[0]
    new_pos = new.leaf_positions(X)[0]
    pairs = pd.DataFrame({"previous": prev_pos, "new": new_pos})
    counts = pairs.groupby(["previous", "new"], sort=True).size()
    return counts.rename("customers").reset_index()


def match_hierarchies(previous: SegmentHierarchy, new: SegmentHierarchy,
                      X: pd.DataFrame) -> HierarchyMatch:
    """Relabel ``new`` so that segments matching ``previous`` keep their ids and names."""
    return match_overlap(previous, new, leaf_overlap(previous, new, X))


def match_overlap(previous: SegmentHierarchy, new: SegmentHierarchy,
                  overlap: pd.DataFrame) -> HierarchyMatch:
    """:func:`match_hierarchies` from the customers per (previous leaf, new leaf) pair
    (:func:`leaf_overlap`, or the same counts summed on another engine)."""
    prev_pos = overlap["previous"].to_numpy(dtype=np.int64)
    new_pos = overlap["new"].to_numpy(dtype=np.int64)
    weights = overlap["customers"].to_numpy(dtype=np.int64)
    prev_leaf = previous.leaf_ids_[prev_pos]
    # leaf ids
    leaf_match = _hungarian(prev_leaf, new.leaf_ids_[new_pos], weights)
    next_id = int(previous.leaf_ids_.max()) + 1
    leaf_mapping: dict[int, int] = {}
    for old_id in sorted(new.leaf_ids_, key=lambda i: new.level_paths_[new.leaf_ids_ == i, -1][0]):
        if old_id in leaf_match:
            leaf_mapping[int(old_id)] = int(leaf_match[old_id])
        else:
            leaf_mapping[int(old_id)] = next_id
            next_id += 1
    # paths, top-down
    depth = new.levels
    new_paths = new.level_paths_.copy()
    path_mapping: dict[str, str] = {}
    for level in range(depth):
        prev_level = previous.level_paths_[prev_pos, min(level, previous.levels - 1)]
        match = _hungarian(prev_level, new.level_paths_[new_pos, level], weights)
        used: dict[str, set[int]] = {}
        for p in previous.level_paths_[:, min(level, previous.levels - 1)]:
            parent, _, local = str(p).rpartition(".")
            used.setdefault(parent, set()).add(int(local))
        for group in sorted(set(new.level_paths_[:, level]),
                            key=lambda p: [int(x) for x in str(p).split(".")]):
            parent = path_mapping.get(group.rpartition(".")[0], "") if level else ""
            target = match.get(group)
            if target is None or str(target).rpartition(".")[0] != parent:
                taken = used.setdefault(parent, set())
                local = max(taken, default=0) + 1
                taken.add(local)
                target = f"{parent}.{local}" if parent else str(local)
            path_mapping[group] = str(target)
        new_paths[:, level] = [path_mapping[p] for p in new.level_paths_[:, level]]
    out = new.relabelled(np.array([leaf_mapping[int(i)] for i in new.leaf_ids_], dtype=np.int64),
                         new_paths, _carry_names(previous, new, path_mapping))
    new_leaf = out.leaf_ids_[new_pos]
    migration = _crosstab(previous.level_paths_[prev_pos, -1], out.level_paths_[new_pos, -1],
                          weights, ("previous", "new"))
    total = int(weights.sum())
    stability = float(weights[new_leaf == prev_leaf].sum() / total) if total else 1.0
    return HierarchyMatch(out, leaf_mapping, path_mapping, migration, stability)


def _carry_names(previous: SegmentHierarchy, new: SegmentHierarchy,
                 path_mapping: dict[str, str]) -> dict[int, dict[str, str]]:
    """New names under relabelled keys; previous names win for segments that kept their path."""
    n_guided = len(new.guided_)
    names: dict[int, dict[str, str]] = {}
    for level in range(1, new.depth_ + 1):
        mapping: dict[str, str] = {}
        for key, name in new.names_.get(level, {}).items():
            parts = key.split(".")
            guided, disc = parts[:n_guided], ".".join(parts[n_guided:])
            mapping[".".join([*guided, path_mapping.get(disc, disc)]) if disc else key] = name
        kept = set(path_mapping.values())
        for key, name in previous.names_.get(level, {}).items():
            disc = ".".join(key.split(".")[n_guided:])
            if not disc or disc in kept:
                mapping[key] = name
        # a new segment named like one that kept its previous name: it is the new one
        taken = {mapping[k] for k in mapping if ".".join(k.split(".")[n_guided:]) in kept}
        for key in sorted(mapping):
            if ".".join(key.split(".")[n_guided:]) not in kept and mapping[key] in taken:
                mapping[key] = f"{mapping[key]}, new"
            taken.add(mapping[key])
        if mapping:
            names[level] = mapping
    return names
