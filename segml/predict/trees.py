"""LightGBM boosters as flat NumPy arrays with a compiled predictor (the same numbers, faster).

``booster.predict`` converts every row to a sparse vector before walking the trees, and each
call carries ~0.1 ms of Python set-up: for one customer and four boosters that is most of the
time. Here a booster is flattened once (:func:`flatten`) and :func:`raw_score` scores it
compiled, in one of two ways with the same result:

* a few rows (serving) walk each tree node by node, root to leaf (:func:`_raw_rows`);
* a batch is scored a block of rows at a time with the bitvector walk of QuickScorer (Lucchese et
  al., SIGIR 2015; its vectorised form, V-QuickScorer, 2016), :func:`_bit_rows`. Every leaf of a
  tree of at most 64 leaves is one bit of a row's word, numbered left to right; each internal
  node whose test sends the row right clears the bits of the leaves on its left, and the leaf
  the row reaches is the lowest bit left. The nodes are tested in any order, one node for the
  whole block at a time, against the block's values of its feature held contiguous: no branch
  depends on the data, so the tests run as SIMD compares instead of one mispredicted jump per
  node visited. 100k customers on the demo model's four boosters took 2.4-3.4x less CPU than
  the node-by-node walk (``docs/benchmarks.md``). Trees of more leaves are walked by the
  block's rows in step (:func:`_walk_block`): one node down per pass for every row still
  walking, the child chosen by index rather than by a jump; on trees of 127 and 255 leaves
  1.5-1.8x faster than LightGBM's ``predict``.

Both add the trees' leaf values in LightGBM's order and take the same decisions, so the output
is LightGBM's raw score bit for bit; tests compare the two on numeric, categorical,
missing-value and zero-as-missing splits.

The flat form is shared with :mod:`segml.predict.treeshap`, which adds per-leaf SHAP tables.

Example
-------
>>> import lightgbm as lgb, numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(300, 3)); y = (X[:, 0] + X[:, 1] > 0).astype(float)
>>> booster = lgb.train({"objective": "binary", "verbosity": -1, "num_leaves": 7},
...                     lgb.Dataset(X, y), num_boost_round=10)
>>> bool(np.array_equal(raw_score(booster, X), booster.predict(X, raw_score=True)))
True
"""

from __future__ import annotations

import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
from numba import njit

from segml.predict.resources import DEFAULT_THREADS

#: LightGBM's kZeroThreshold (a float32 1e-35 seen as a double): |x| up to it counts as zero.
_ZERO = 1.0000000180025095e-35
#: 2^31: a category at or above it overflows LightGBM's cast to int (negative on x86: right)
_INT_LIMIT = 2147483648.0
_NUMERIC, _CATEGORICAL = 0, 1
_ZERO_MISSING, _NAN_MISSING = 1, 2
_MISSING = {"None": 0, "Zero": _ZERO_MISSING, "NaN": _NAN_MISSING}
_BLOCK_ROWS = 256  # rows walked through one tree at a time (a block of 66 features: 135 kB)
_PARALLEL_ROWS = 20_000  # from this many rows, blocks are shared out over DEFAULT_THREADS
#: Rows from which :func:`raw_score` uses the bitvector walk (every node of a tree tested for a
#: block of rows): below, the node-by-node walk visits fewer nodes per row and wins.
_BIT_ROWS = 32
#: Leaves per tree the bitvector walk handles (one 64-bit word per row); larger trees are
#: walked node by node.
_BIT_LEAVES = 64
#: How :func:`_bit_rows` tests a node: ``x <= threshold`` (NaN goes to ``node_nan_left``), a
#: look-up in the node's category table, or LightGBM's decision (:func:`decide`) for the rare
#: numeric nodes where that shortcut would differ (zero-as-missing, a threshold within
#: LightGBM's zero band).
_TEST_NUMERIC, _TEST_TABLE, _TEST_DECIDE = 0, 1, 2
_ALL_LEAVES = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
#: De Bruijn sequence and table giving the index of a word's lowest set bit (Leiserson, Prokop
#: and Randall 1998): the leaf a row reaches in the bitvector walk.
_DE_BRUIJN = np.uint64(0x03F7_9D71_B4CB_0A89)
_LOWEST_BIT = np.zeros(64, dtype=np.int64)
_LOWEST_BIT[((np.uint64(1) << np.arange(64, dtype=np.uint64)) * _DE_BRUIJN) >> np.uint64(58)] = (
    np.arange(64))


def compiled(**options: Any) -> Any:
    """``numba.njit`` with its on-disk cache (compiled once per environment, ~1-3 s), or without
    it where numba finds no writable place for one (a read-only install and no home directory:
    numba raises at decoration time; set ``NUMBA_CACHE_DIR`` to keep the cache there)."""

    def decorate(func: Any) -> Any:
        try:
            return njit(cache=True, **options)(func)
        except RuntimeError:
            return njit(**options)(func)

    return decorate


class FlatTrees(NamedTuple):
    """A booster's trees as arrays. Internal nodes are numbered in pre-order within each tree
    (parents first); a child id ``c < 0`` is the tree's leaf ``~c``. One-leaf trees have no
    nodes and one leaf."""

    n_features: int
    tree_nodes: np.ndarray  # (T + 1,) first internal node of each tree
    tree_leaves: np.ndarray  # (T + 1,) first leaf of each tree
    node_feature: np.ndarray
    node_threshold: np.ndarray
    node_kind: np.ndarray
    node_missing: np.ndarray
    node_default_left: np.ndarray
    node_left: np.ndarray
    node_right: np.ndarray
    node_children: np.ndarray  # (2 x nodes,) left then right child of each node
    node_step: np.ndarray  # feature << 2 | (test != numeric) << 1 | nan_left: one load a step
    node_cats: np.ndarray  # (nodes + 1,) start of each node's category bitset in cat_words
    cat_words: np.ndarray
    leaf_value: np.ndarray
    # the bitvector walk (_bit_rows)
    tree_bitwise: np.ndarray  # (T,) the tree has at most _BIT_LEAVES leaves
    node_mask: np.ndarray  # uint64: every bit but those of the leaves of the left subtree
    node_test: np.ndarray  # int8: _TEST_NUMERIC, _TEST_TABLE or _TEST_DECIDE
    node_nan_left: np.ndarray  # where NaN goes at a _TEST_NUMERIC node
    node_table: np.ndarray  # (nodes + 1,) start of each categorical node's table in cat_table
    cat_table: np.ndarray  # uint8: 1 where the category goes left; each table ends with a 0


class LeafPath(NamedTuple):
    """The distinct features on the path to one leaf (first occurrence first), and for each the
    share of the parent's training rows that follows the path (multiplied when split twice)."""

    value: float
    count: float
    features: list[int]
    shares: list[float]


def _category_words(threshold: Any) -> np.ndarray:
    """LightGBM's dumped category set ``"1||4||7"`` as a 32-bit bitset (bit c: category c)."""
    categories = np.array([int(c) for c in str(threshold).split("||") if c != ""], dtype=np.int64)
    words = np.zeros(int(categories.max()) // 32 + 1 if categories.size else 1, dtype=np.uint32)
    np.bitwise_or.at(words, categories // 32, (np.uint32(1) << (categories % 32).astype(np.uint32)))
    return words


def _category_table(words: np.ndarray) -> np.ndarray:
    """A categorical node's bitset as one byte per category (1: goes left), plus a last 0 that
    NaN, negative and out-of-set values read (:func:`_bit_rows`)."""
    bits = (words[:, None] >> np.arange(32, dtype=np.uint32)) & np.uint32(1)
    return np.append(bits.ravel(), 0).astype(np.uint8)


class TreeWalk:
    """Dumped trees (``booster.dump_model()``) walked node by node in pre-order into lists:
    ``nodes`` (per internal node), ``leaves`` (:class:`LeafPath` per leaf), the per-tree starts
    and ``expected`` (LightGBM's expected value, the SHAP bias); :meth:`flat` makes the arrays."""

    def __init__(self) -> None:
        self.nodes: dict[str, list] = {k: [] for k in (
            "feature", "threshold", "kind", "missing", "default_left", "left", "right", "bit",
            "left_first", "left_stop")}
        self.cat_words: list[np.ndarray] = []
        self.leaves: list[LeafPath] = []
        self.tree_nodes = [0]
        self.tree_leaves = [0]
        self.expected = 0.0  # sum over trees of the count-weighted mean leaf value

    def add_tree(self, root: dict[str, Any]) -> None:
        if "split_index" not in root:  # a one-leaf tree: no nodes, no path
            self.leaves.append(LeafPath(float(root["leaf_value"]), 1.0, [], []))
            self.expected += float(root["leaf_value"])
        else:
            starts = (len(self.nodes["feature"]), len(self.leaves))
            total = self._walk(root, starts, features=[], shares=[])
            self.expected += total / float(root["internal_count"])
        self.tree_nodes.append(len(self.nodes["feature"]))
        self.tree_leaves.append(len(self.leaves))

    def _walk(self, node: dict[str, Any], starts: tuple[int, int], features: list[int],
              shares: list[float]) -> float:
        """Adds ``node``'s subtree; returns sum(leaf value x leaf count) below it."""
        if "split_index" not in node:
            value, count = float(node["leaf_value"]), float(node["leaf_count"])
            self.leaves.append(LeafPath(value, count, features, shares))
            return value * count
        index = len(self.nodes["feature"])
        feature = int(node["split_feature"])
        categorical = node["decision_type"] == "=="
        bit = features.index(feature) if feature in features else len(features)
        nodes = self.nodes
        nodes["feature"].append(feature)
        nodes["threshold"].append(0.0 if categorical else float(node["threshold"]))
        nodes["kind"].append(_CATEGORICAL if categorical else _NUMERIC)
        nodes["missing"].append(_MISSING[str(node.get("missing_type", "None"))])
        nodes["default_left"].append(bool(node.get("default_left", True)))
        nodes["bit"].append(bit)
        nodes["left"].append(0)
        nodes["right"].append(0)
        nodes["left_first"].append(len(self.leaves) - starts[1])  # leaves are added left first
        nodes["left_stop"].append(0)
        self.cat_words.append(_category_words(node["threshold"]) if categorical
                              else np.zeros(0, dtype=np.uint32))
        parent = float(node["internal_count"])
        total = 0.0
        for side in ("left", "right"):
            child = node[f"{side}_child"]
            share = float(child.get("internal_count", child.get("leaf_count", 0))) / parent
            if bit < len(features):  # split again on a path feature: its share is multiplied
                child_features = features
                child_shares = [*shares[:bit], shares[bit] * share, *shares[bit + 1:]]
            else:
                child_features, child_shares = [*features, feature], [*shares, share]
            if "split_index" in child:
                nodes[side][index] = len(nodes["feature"]) - starts[0]
            else:
                nodes[side][index] = ~(len(self.leaves) - starts[1])
            total += self._walk(child, starts, child_features, child_shares)
            if side == "left":
                nodes["left_stop"][index] = len(self.leaves) - starts[1]
        return total

    def flat(self, n_features: int) -> FlatTrees:
        nodes = self.nodes
        tree_nodes = np.asarray(self.tree_nodes, dtype=np.int64)
        tree_leaves = np.asarray(self.tree_leaves, dtype=np.int64)
        bitwise = np.diff(tree_leaves) <= _BIT_LEAVES
        node_tree = np.repeat(np.arange(bitwise.size), np.diff(tree_nodes))
        first = np.asarray(nodes["left_first"], dtype=np.uint64)
        count = np.minimum(np.asarray(nodes["left_stop"], dtype=np.uint64) - first, 63)
        left_bits = ((np.uint64(1) << count) - np.uint64(1)) << np.minimum(first, 63)
        threshold = np.asarray(nodes["threshold"], dtype=np.float64)
        kind = np.asarray(nodes["kind"], dtype=np.int8)
        missing = np.asarray(nodes["missing"], dtype=np.int8)
        default_left = np.asarray(nodes["default_left"], dtype=np.bool_)
        # x <= threshold decides as LightGBM does unless zero is missing or the threshold lies in
        # the band LightGBM reads as zero (values there are zero to it, not to the comparison)
        exact = (missing != _ZERO_MISSING) & ((threshold >= _ZERO) | (threshold < -_ZERO))
        test = np.where(kind == _CATEGORICAL, _TEST_TABLE,
                        np.where(exact, _TEST_NUMERIC, _TEST_DECIDE)).astype(np.int8)
        # NaN is missing (its default side) or, with no missing values, zero
        nan_left = np.where(missing == _NAN_MISSING, default_left, threshold >= 0.0)
        tables = [_category_table(w) if k == _CATEGORICAL else np.zeros(0, dtype=np.uint8)
                  for w, k in zip(self.cat_words, kind, strict=True)]
        return FlatTrees(
            n_features=n_features,
            tree_nodes=tree_nodes,
            tree_leaves=tree_leaves,
            node_feature=np.asarray(nodes["feature"], dtype=np.int64),
            node_threshold=np.asarray(nodes["threshold"], dtype=np.float64),
            node_kind=np.asarray(nodes["kind"], dtype=np.int8),
            node_missing=np.asarray(nodes["missing"], dtype=np.int8),
            node_default_left=np.asarray(nodes["default_left"], dtype=np.bool_),
            node_left=np.asarray(nodes["left"], dtype=np.int64),
            node_right=np.asarray(nodes["right"], dtype=np.int64),
            node_children=np.column_stack([nodes["left"], nodes["right"]]).astype(
                np.int64).reshape(-1),
            node_step=(np.asarray(nodes["feature"], dtype=np.int64) << 2
                       | (test != _TEST_NUMERIC).astype(np.int64) << 1
                       | nan_left.astype(np.int64)),
            node_cats=np.concatenate(([0], np.cumsum([w.size for w in self.cat_words]))
                                     ).astype(np.int64),
            cat_words=(np.concatenate(self.cat_words) if self.cat_words
                       else np.zeros(0)).astype(np.uint32),
            leaf_value=np.array([leaf.value for leaf in self.leaves], dtype=np.float64),
            tree_bitwise=bitwise,
            node_mask=np.where(bitwise[node_tree], ~left_bits, _ALL_LEAVES).astype(np.uint64),
            node_test=test,
            node_nan_left=nan_left,
            node_table=np.concatenate(([0], np.cumsum([t.size for t in tables]))).astype(np.int64),
            cat_table=(np.concatenate(tables) if tables else np.zeros(0)).astype(np.uint8),
        )


def walk_booster(booster: Any) -> TreeWalk | None:
    """The flattened trees of ``booster``; None for models this module does not handle
    (several outputs per iteration, linear trees)."""
    dump = booster.dump_model()
    if int(dump.get("num_tree_per_iteration", 1)) != 1 or dump.get("linear_tree"):
        return None
    walk = TreeWalk()
    for tree in dump["tree_info"]:
        walk.add_tree(tree["tree_structure"])
    return walk


@compiled(inline="always")
def decide(x, kind, missing, default_left, threshold, cat_words, cat_start, cat_stop):
    """LightGBM's ``Tree::Decision`` for the value ``x`` at one node: True goes left.

    Scalars (and the category bitsets), so the call inlines into the compiled walks.
    """  # pragma: no cover - compiled
    if -_ZERO <= x <= _ZERO:
        x = 0.0  # LightGBM reads rows sparsely: such values are absent, i.e. zero
    if kind == _CATEGORICAL:  # left iff the category is in the set
        # LightGBM casts to int (truncating (-1, 0) to category 0): NaN, -1 and below, and
        # values past int (negative after the cast on x86) go right
        if np.isnan(x) or x <= -1.0 or x >= _INT_LIMIT:
            return False
        category = int(x)
        word = category >> 5
        if word >= cat_stop - cat_start:
            return False
        return (cat_words[cat_start + word] >> (category & 31)) & 1 == 1
    if np.isnan(x) and missing != _NAN_MISSING:
        x = 0.0
    if (missing == _ZERO_MISSING and x == 0.0) or (missing == _NAN_MISSING and np.isnan(x)):
        return default_left
    return x <= threshold


@compiled(nogil=True)
def _raw_rows(trees, X, out, start, stop):  # pragma: no cover - compiled
    """Adds every tree's leaf value to ``out[start:stop]``, walking each row root to leaf."""
    for block in range(start, stop, _BLOCK_ROWS):
        end = min(block + _BLOCK_ROWS, stop)
        for t in range(trees.tree_nodes.size - 1):
            _walk_rows(trees, X, out, t, block, end)


@compiled(nogil=True)
def _walk_rows(trees, X, out, t, start, stop):  # pragma: no cover - compiled
    """Tree ``t``'s leaf value added to ``out`` for the rows ``start:stop``, node by node."""
    first, last = trees.tree_nodes[t], trees.tree_nodes[t + 1]
    leaf_start = trees.tree_leaves[t]
    if first == last:  # a one-leaf tree, added in its place: the same sum as LightGBM's
        for r in range(start, stop):
            out[r] += trees.leaf_value[leaf_start]
        return
    node_feature, node_kind, node_missing = trees.node_feature, trees.node_kind, trees.node_missing
    node_default_left, node_threshold = trees.node_default_left, trees.node_threshold
    node_cats, cat_words = trees.node_cats, trees.cat_words
    for r in range(start, stop):
        node = 0
        while node >= 0:
            g = first + node
            if decide(X[r, node_feature[g]], node_kind[g], node_missing[g],
                      node_default_left[g], node_threshold[g], cat_words, node_cats[g],
                      node_cats[g + 1]):
                node = trees.node_left[g]
            else:
                node = trees.node_right[g]
        out[r] += trees.leaf_value[leaf_start + ~node]


@compiled(nogil=True)
def _bit_rows(trees, X, out, start, stop):  # pragma: no cover - compiled
    """:func:`_raw_rows` by the bitvector walk (module docstring), a block of rows at a time."""
    tree_nodes, tree_leaves, node_feature = trees.tree_nodes, trees.tree_leaves, trees.node_feature
    node_test, node_threshold = trees.node_test, trees.node_threshold
    node_nan_left, node_mask = trees.node_nan_left, trees.node_mask
    columns = np.empty((X.shape[1], _BLOCK_ROWS))  # the block, one feature per row
    words = np.empty(_BLOCK_ROWS, dtype=np.uint64)
    active = np.empty(_BLOCK_ROWS, dtype=np.int64)  # (node << 32) | row of the rows walking
    reached = np.empty(_BLOCK_ROWS, dtype=np.int64)  # each row's last node: its leaf, ~leaf
    for block in range(start, stop, _BLOCK_ROWS):
        rows = min(block + _BLOCK_ROWS, stop) - block
        for j in range(X.shape[1]):
            for i in range(rows):
                columns[j, i] = X[block + i, j]
        for t in range(tree_nodes.size - 1):
            first, last = tree_nodes[t], tree_nodes[t + 1]
            if first == last:
                _walk_rows(trees, X, out, t, block, block + rows)
            elif not trees.tree_bitwise[t]:
                _walk_block(trees, t, columns, active, reached, out, block, rows)
            elif last - first == 1 and node_test[first] == _TEST_NUMERIC:
                _add_stump(trees, t, columns, out, block, rows)
            else:  # every node clears the bits of the leaves the rows it sends right miss
                for i in range(rows):
                    words[i] = _ALL_LEAVES
                for g in range(first, last):  # in any order: each only clears bits
                    values = columns[node_feature[g]]
                    if node_test[g] == _TEST_NUMERIC:
                        _clear_right_numeric(node_threshold[g], node_nan_left[g], node_mask[g],
                                             values, words, rows)
                    else:
                        _clear_right(trees, g, values, words, rows)
                _add_lowest_leaf(trees.leaf_value[tree_leaves[t]:tree_leaves[t + 1]], words,
                                 out, block, rows)


@compiled(nogil=True)
def _walk_block(trees, t, columns, active, reached, out, block, rows):  # pragma: no cover
    """Tree ``t`` (more than 64 leaves) added to the block's rows, walked node by node by all
    rows in step: each pass moves every row still walking one node down, and the rows that
    reached a leaf drop out of the list (no data-dependent branch but the rare non-numeric
    node, so the rows' loads overlap instead of waiting on one mispredicted jump per node)."""
    first, leaf_start = trees.tree_nodes[t], trees.tree_leaves[t]
    node_step, node_threshold = trees.node_step, trees.node_threshold
    node_children = trees.node_children
    n_block = columns.shape[1]
    flat_columns = columns.reshape(-1)
    for i in range(rows):
        active[i] = i  # every row at the root (node 0)
    walking = rows
    while walking:
        kept = 0
        for i in range(walking):
            node, row = active[i] >> 32, active[i] & 0xFFFFFFFF
            g = first + node
            step = node_step[g]
            x = flat_columns[(step >> 2) * n_block + row]
            if step & 2 == 0:
                left = (x <= node_threshold[g]) | ((x != x) & (step & 1 == 1))
            else:
                left = _goes_left(trees, g, x)
            child = node_children[2 * g + 1 - np.int64(left)]  # an index, not a jump
            reached[row] = child
            active[kept] = (child << 32) | row
            kept += child >= 0
        walking = kept
    for i in range(rows):
        out[block + i] += trees.leaf_value[leaf_start + ~reached[i]]


@compiled(nogil=True, inline="always")
def _goes_left(trees, g, x):  # pragma: no cover - compiled
    """Node ``g``'s decision for ``x`` when it is not a plain numeric test: a categorical
    node's table look-up, or LightGBM's own decision (:data:`_TEST_DECIDE`)."""
    if trees.node_test[g] == _TEST_TABLE:
        return _in_table(trees.cat_table[trees.node_table[g]:trees.node_table[g + 1]], x) == 1
    return decide(x, trees.node_kind[g], trees.node_missing[g], trees.node_default_left[g],
                  trees.node_threshold[g], trees.cat_words, trees.node_cats[g],
                  trees.node_cats[g + 1])


@compiled(nogil=True, inline="always")
def _in_table(table, x):  # pragma: no cover - compiled
    """A categorical node's table entry for ``x`` (1: left). As :func:`decide`: int() truncates
    (-1, 1) to category 0; NaN, -1 and below and categories past the table read its last entry,
    0 (right)."""
    outside = float(table.size - 1)
    category = x if x > -1.0 else outside
    return table[np.int64(category if category < outside else outside)]


@compiled(nogil=True, inline="always")
def _add_stump(trees, t, columns, out, block, rows):  # pragma: no cover - compiled
    """Tree ``t``, one numeric node, added to the block's rows in one pass."""
    g, leaf_start = trees.tree_nodes[t], trees.tree_leaves[t]
    values = columns[trees.node_feature[g]]
    threshold, nan_left = trees.node_threshold[g], trees.node_nan_left[g]
    left_value = trees.leaf_value[leaf_start + ~trees.node_left[g]]
    right_value = trees.leaf_value[leaf_start + ~trees.node_right[g]]
    for i in range(rows):
        x = values[i]
        out[block + i] += left_value if (x <= threshold) | ((x != x) & nan_left) else right_value


@compiled(nogil=True, inline="always")
def _add_lowest_leaf(leaf_value, words, out, block, rows):  # pragma: no cover - compiled
    """The value of the leaf each row reaches (its word's lowest bit) added to ``out``."""
    for i in range(rows):
        lowest = words[i] & (~words[i] + np.uint64(1))
        out[block + i] += leaf_value[_LOWEST_BIT[(lowest * _DE_BRUIJN) >> np.uint64(58)]]


@compiled(nogil=True, inline="always")
def _clear_right_numeric(threshold, nan_left, mask, values, words, rows):  # pragma: no cover
    """The rows a numeric node sends right lose the bits of the leaves on its left. The mask is
    all ones where the row goes left, so no branch depends on the data: SIMD compares."""
    for i in range(rows):
        x = values[i]
        left = (x <= threshold) | ((x != x) & nan_left)
        words[i] &= mask | (np.uint64(0) - np.uint64(left))


@compiled(nogil=True, inline="always")
def _clear_right(trees, g, values, words, rows):  # pragma: no cover - compiled
    """:func:`_clear_right_numeric` for a node ``g`` of another test (:func:`_goes_left`, its
    two cases in their own loops: one call of it per row made the whole walk 10x slower)."""
    mask = trees.node_mask[g]
    if trees.node_test[g] == _TEST_TABLE:
        table = trees.cat_table[trees.node_table[g]:trees.node_table[g + 1]]
        for i in range(rows):
            words[i] &= mask | (np.uint64(0) - np.uint64(_in_table(table, values[i])))
    else:
        for i in range(rows):
            if not decide(values[i], trees.node_kind[g], trees.node_missing[g],
                          trees.node_default_left[g], trees.node_threshold[g], trees.cat_words,
                          trees.node_cats[g], trees.node_cats[g + 1]):
                words[i] &= mask


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_POOL: list[ThreadPoolExecutor] = []


def per_booster(cache: weakref.WeakKeyDictionary, booster: Any, build: Any) -> Any:
    """``build(booster)``, remembered in ``cache`` while the booster object lives.

    Rebuilt when the booster has changed since: trees added by ``update()`` or another
    ``best_iteration`` (which ``predict`` and ``dump_model`` use by default).
    """
    version = (booster.current_iteration(), getattr(booster, "best_iteration", 0))
    entry = cache.get(booster)
    if entry is None or entry[0] != version:
        entry = (version, build(booster))
        cache[booster] = entry  # one assignment: concurrent readers see the old or the new
    return entry[1]


def flatten(booster: Any, walk: TreeWalk | None = None) -> FlatTrees | None:
    """:class:`FlatTrees` of ``booster``, built once per booster (None: unsupported).

    ``walk``: the booster's :func:`walk_booster`, when the caller has it already (the SHAP tables
    walk it too): the arrays are then made from it and shared, not built a second time.
    """

    def build(model: Any) -> FlatTrees | None:
        walked = walk if walk is not None else walk_booster(model)
        return None if walked is None else walked.flat(int(model.num_feature()))

    return per_booster(_CACHE, booster, build)


def as_matrix(X: np.ndarray, n_features: int, columns_first: bool = False) -> np.ndarray:
    """``X`` as a C-contiguous float64 matrix with ``n_features`` columns (ValueError if not).

    ``columns_first``: a float64 matrix stored column by column (Fortran order) is taken as it
    is, without the copy that would lay it out row by row.
    """
    if columns_first and isinstance(X, np.ndarray) and X.dtype == np.float64 and X.ndim == 2 \
            and X.flags.f_contiguous:
        matrix = X
    else:
        matrix = np.ascontiguousarray(X, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != n_features:
        raise ValueError(f"X has shape {matrix.shape}; the booster expects {n_features} columns")
    return matrix


def raw_score(booster: Any, X: np.ndarray) -> np.ndarray:
    """``booster.predict(X, raw_score=True)`` for a float matrix, from the flattened trees.

    Large inputs are split over :data:`~segml.predict.resources.DEFAULT_THREADS` threads (the
    compiled walk releases the GIL); one customer never touches a thread pool. A matrix stored
    column by column (``order="F"``, what the composite scorer builds) is read as it is: the
    bitvector walk reads a block's values feature by feature.
    """
    trees = flatten(booster)
    if trees is None:
        return booster.predict(X, raw_score=True)
    matrix = as_matrix(X, trees.n_features, columns_first=True)
    n = matrix.shape[0]
    out = np.zeros(n, dtype=np.float64)
    walk = _bit_rows if n >= _BIT_ROWS else _raw_rows
    if n < _PARALLEL_ROWS or DEFAULT_THREADS == 1:
        walk(trees, matrix, out, 0, n)
    else:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(DEFAULT_THREADS, thread_name_prefix="segml-trees"))
        bounds = np.linspace(0, n, DEFAULT_THREADS + 1).astype(int)
        jobs = [_POOL[0].submit(walk, trees, matrix, out, lo, hi)
                for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
        for job in jobs:
            job.result()
    return out
