"""Exact TreeSHAP for LightGBM boosters from precomputed leaf tables (reasons at serving speed).

LightGBM's ``pred_contrib`` runs the path-dependent TreeSHAP recursion for every row: per tree
``O(leaves x depth^2)`` work. Here the part that does not depend on the row is computed once per
booster (the idea of Fast TreeSHAP v2, Yang 2021), so a row costs ``O(leaves x depth)`` look-ups.

Why it works: a leaf ``l`` reached through the distinct features ``P`` (``d = |P|``; a feature
split twice on the path counts once, its cover fractions multiplied) adds to feature ``i`` of row
``x`` the Shapley value of the game ``g(S) = v * prod_{j in S} o_j * prod_{j in P \\ S} z_j``,
where ``v`` is the leaf value, ``z_j`` the share of training rows that follow the path at ``j``'s
splits and ``o_j`` whether ``x`` does (0 or 1). The answer only depends on ``x`` through the set
``A`` of path features it satisfies, and with one table per leaf,
``G[A] = v * W_d(A) * prod_{j in P \\ A} z_j`` (``W_d`` sums the Shapley weights over the subsets
of ``A`` via elementary symmetric polynomials of ``z``), it is

* ``(1 - z_i) / z_i * G[A \\ {i}]`` if ``x`` satisfies feature ``i`` (``i`` in ``A``),
* ``-G[A]`` if it does not.

A table has ``2^d`` entries; boosters with a path of more than :data:`MAX_PATH_FEATURES` distinct
features (or a zero cover) are left to ``pred_contrib``. The values equal LightGBM's to ~1e-12:
tests compare both on numeric, categorical, missing and zero-as-missing splits.

Example
-------
>>> import lightgbm as lgb, numpy as np
>>> X = np.random.default_rng(1).uniform(size=(200, 4))
>>> model = lgb.train({"objective": "regression", "verbosity": -1}, lgb.Dataset(X, 2 * X[:, 0]),
...                   num_boost_round=5)
>>> shap_values = tree_shap(model, X[:3])  # 4 features, then the expected value
>>> bool(np.allclose(shap_values, model.predict(X[:3], pred_contrib=True)))
True
"""

from __future__ import annotations

import logging
import weakref
from typing import Any, NamedTuple

import numpy as np

from segml.predict.trees import (
    FlatTrees,
    as_matrix,
    compiled,
    decide,
    flatten,
    per_booster,
    walk_booster,
)

log = logging.getLogger(__name__)

#: Longest path (distinct features) tabulated: a leaf's table has 2^d floats (2^16: 512 kB) and
#: is built from a (2^d, d + 1) array (9 MB at 16). The demo boosters' longest path has 15.
MAX_PATH_FEATURES = 16


class ShapTables(NamedTuple):
    """A booster compiled for :func:`tree_shap`: its :class:`~segml.predict.trees.FlatTrees`
    plus, per internal node, the bit of its feature in the tables of the leaves below it, and
    per leaf its table and *slots*. A slot is one distinct feature of one leaf's path: the
    feature, its bit in the leaf's table index and ``(1 - z) / z``."""

    trees: FlatTrees
    bias: float
    node_bit: np.ndarray
    leaf_table: np.ndarray  # (leaves,) start of each leaf's table in table
    leaf_full: np.ndarray  # (leaves,) all bits of the leaf's path set
    leaf_slots: np.ndarray  # (leaves + 1,) first slot of each leaf
    slot_feature: np.ndarray
    slot_bit: np.ndarray
    slot_ratio: np.ndarray
    table: np.ndarray
    max_nodes: int
    max_leaves: int


def build_tables(booster: Any) -> ShapTables | None:
    """Compile ``booster`` (a ``lightgbm.Booster``) for :func:`tree_shap`; None if it cannot be
    tabulated (a path with more than :data:`MAX_PATH_FEATURES` features, a zero cover, several
    outputs per iteration or linear trees)."""
    walked = walk_booster(booster)
    if walked is None:
        return None
    leaves = walked.leaves
    depths = np.array([len(leaf.features) for leaf in leaves], dtype=np.int64)
    if depths.size and depths.max() > MAX_PATH_FEATURES:
        log.debug("tree_shap: a path has %d features; using pred_contrib", depths.max())
        return None
    shares = np.array([z for leaf in leaves for z in leaf.shares], dtype=np.float64)
    if shares.size and shares.min() <= 0.0:
        return None
    leaf_table = np.concatenate(([0], np.cumsum(np.int64(1) << depths)))
    table = np.empty(int(leaf_table[-1]), dtype=np.float64)
    for position, leaf in enumerate(leaves):
        _fill_leaf_table(np.asarray(leaf.shares, dtype=np.float64), leaf.value,
                         table[leaf_table[position]:leaf_table[position + 1]])
    trees = flatten(booster, walked)  # the arrays the scores walk, not a second copy
    return ShapTables(
        trees=trees,
        bias=walked.expected,
        node_bit=np.asarray(walked.nodes["bit"], dtype=np.int64),
        leaf_table=leaf_table[:-1].astype(np.int64),
        leaf_full=((np.int64(1) << depths) - 1).astype(np.int64),
        leaf_slots=np.concatenate(([0], np.cumsum(depths))).astype(np.int64),
        slot_feature=np.array([f for leaf in leaves for f in leaf.features], dtype=np.int64),
        slot_bit=np.array([b for leaf in leaves for b in range(len(leaf.features))],
                          dtype=np.int64),
        slot_ratio=(1.0 - shares) / shares,
        table=table,
        max_nodes=int(np.diff(trees.tree_nodes).max(initial=0)),
        max_leaves=int(np.diff(trees.tree_leaves).max(initial=0)),
    )


@compiled()
def _fill_leaf_table(zero, value, out):  # pragma: no cover - compiled
    """``out[A] = value * W_d(A) * prod_{j not in A} zero[j]`` for every subset ``A`` (bitmask)."""
    d = zero.size
    size = 1 << d
    # poly[A, r]: the r-th elementary symmetric polynomial of zero[A]; built by adding one bit
    poly = np.zeros((size, d + 1))
    poly[0, 0] = 1.0
    inside = np.ones(size)  # prod_{j in A} zero[j]
    count = np.zeros(size, dtype=np.int64)
    for mask in range(1, size):
        low = mask & -mask
        j = 0
        while (1 << j) != low:
            j += 1
        prev = mask ^ low
        poly[mask, 0] = poly[prev, 0]
        for r in range(1, d + 1):
            poly[mask, r] = poly[prev, r] + zero[j] * poly[prev, r - 1]
        inside[mask] = inside[prev] * zero[j]
        count[mask] = count[prev] + 1
    # Shapley weight of a coalition of k of the other d - 1 players: k! (d - 1 - k)! / d!
    weight = np.empty(max(d, 1))
    for k in range(d):
        binom = 1.0
        for t in range(k):
            binom = binom * (d - 1 - t) / (t + 1)
        weight[k] = 1.0 / (d * binom)
    everything = inside[size - 1]
    for mask in range(size):
        c = count[mask]
        if c >= d:  # never looked up: every feature satisfied uses the tables of A \ {i}
            out[mask] = 0.0
            continue
        total = 0.0
        for k in range(c + 1):
            total += weight[k] * poly[mask, c - k]
        out[mask] = value * total * (everything / inside[mask])


# ------------------------------------------------------------------------------------ scoring
@compiled(nogil=True)
def _shap_rows(tables, X, out):  # pragma: no cover - compiled
    trees = tables.trees
    tree_nodes, tree_leaves = trees.tree_nodes, trees.tree_leaves
    node_feature, node_kind, node_missing = trees.node_feature, trees.node_kind, trees.node_missing
    node_default_left, node_threshold = trees.node_default_left, trees.node_threshold
    node_cats, cat_words = trees.node_cats, trees.cat_words
    node_left, node_right, node_bit = trees.node_left, trees.node_right, tables.node_bit
    leaf_full, leaf_table, leaf_slots = tables.leaf_full, tables.leaf_table, tables.leaf_slots
    slot_bit, slot_feature, slot_ratio = tables.slot_bit, tables.slot_feature, tables.slot_ratio
    table = tables.table
    n_rows = X.shape[0]
    fail_node = np.zeros(max(tables.max_nodes, 1), dtype=np.int64)
    fail_leaf = np.zeros(max(tables.max_leaves, 1), dtype=np.int64)
    # Tree by tree, then row by row: one tree's tables stay in the CPU cache for every row.
    for t in range(tree_nodes.size - 1):
        first, last = tree_nodes[t], tree_nodes[t + 1]
        if first == last:  # a one-leaf tree only adds to the bias
            continue
        leaf_start = tree_leaves[t]
        for r in range(n_rows):
            row = out[r]
            # fail bits: the path features of each node's subtree that the row does not follow
            fail_node[0] = 0
            for k in range(last - first):
                g = first + k
                left = decide(X[r, node_feature[g]], node_kind[g], node_missing[g],
                              node_default_left[g], node_threshold[g], cat_words,
                              node_cats[g], node_cats[g + 1])
                fail = fail_node[k]
                failed = fail | (np.int64(1) << node_bit[g])
                # written out: a helper taking both arrays made the whole walk 2x slower
                child_left, child_right = node_left[g], node_right[g]
                fail_left = fail if left else failed
                fail_right = failed if left else fail
                if child_left >= 0:
                    fail_node[child_left] = fail_left
                else:
                    fail_leaf[~child_left] = fail_left
                if child_right >= 0:
                    fail_node[child_right] = fail_right
                else:
                    fail_leaf[~child_right] = fail_right
            for j in range(tree_leaves[t + 1] - leaf_start):
                leaf = leaf_start + j
                satisfied = leaf_full[leaf] ^ fail_leaf[j]
                base = leaf_table[leaf]
                unmet = table[base + satisfied]
                for s in range(leaf_slots[leaf], leaf_slots[leaf + 1]):
                    bit = np.int64(1) << slot_bit[s]
                    if satisfied & bit:
                        row[slot_feature[s]] += slot_ratio[s] * table[base + (satisfied ^ bit)]
                    else:
                        row[slot_feature[s]] -= unmet
    out[:, trees.n_features] += tables.bias


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def tables_for(booster: Any) -> ShapTables | None:
    """:func:`build_tables` once per booster (see :func:`segml.predict.trees.per_booster`)."""
    return per_booster(_CACHE, booster, build_tables)


def tree_shap(booster: Any, X: np.ndarray) -> np.ndarray:
    """SHAP values of ``booster`` for the rows of the float matrix ``X``, as
    ``booster.predict(X, pred_contrib=True)``: one column per feature, then the expected value.

    Uses the precomputed tables (see the module docstring), or ``pred_contrib`` for a booster
    that cannot be tabulated.
    """
    tables = tables_for(booster)
    if tables is None:
        return booster.predict(X, pred_contrib=True)
    matrix = as_matrix(X, tables.trees.n_features)
    out = np.zeros((matrix.shape[0], tables.trees.n_features + 1), dtype=np.float64)
    _shap_rows(tables, matrix, out)
    return out
