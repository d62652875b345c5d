"""LightGBM boosters as flat NumPy arrays with a compiled predictor (the same numbers, faster).

``booster.predict`` converts every row to a sparse vector before walking the trees, and each
call carries ~0.1 ms of Python set-up: for one customer and four boosters that is most of the
time, and for a batch LightGBM walks every tree for one row before moving to the next. Here a
booster is flattened once (:func:`flatten`) and :func:`raw_score` walks tree by tree over blocks
of rows, so one tree's nodes and a block of rows stay in the CPU cache. The output is LightGBM's
raw score bit for bit (same decisions, trees summed in the same order); tests compare the two on
numeric, categorical, missing-value and zero-as-missing splits.

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
_NUMERIC, _CATEGORICAL = 0, 1
_ZERO_MISSING, _NAN_MISSING = 1, 2
_MISSING = {"None": 0, "Zero": _ZERO_MISSING, "NaN": _NAN_MISSING}
_BLOCK_ROWS = 256  # rows walked through one tree at a time (a block of 66 features: 135 kB)
_PARALLEL_ROWS = 20_000  # from this many rows, blocks are shared out over DEFAULT_THREADS


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
    node_cats: np.ndarray  # (nodes + 1,) start of each node's category bitset in cat_words
    cat_words: np.ndarray
    leaf_value: np.ndarray


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


class TreeWalk:
    """Dumped trees (``booster.dump_model()``) walked node by node in pre-order into lists:
    ``nodes`` (per internal node), ``leaves`` (:class:`LeafPath` per leaf), the per-tree starts
    and ``expected`` (LightGBM's expected value, the SHAP bias); :meth:`flat` makes the arrays."""

    def __init__(self) -> None:
        self.nodes: dict[str, list] = {k: [] for k in (
            "feature", "threshold", "kind", "missing", "default_left", "left", "right", "bit")}
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
        return total

    def flat(self, n_features: int) -> FlatTrees:
        nodes = self.nodes
        return FlatTrees(
            n_features=n_features,
            tree_nodes=np.asarray(self.tree_nodes, dtype=np.int64),
            tree_leaves=np.asarray(self.tree_leaves, dtype=np.int64),
            node_feature=np.asarray(nodes["feature"], dtype=np.int64),
            node_threshold=np.asarray(nodes["threshold"], dtype=np.float64),
            node_kind=np.asarray(nodes["kind"], dtype=np.int8),
            node_missing=np.asarray(nodes["missing"], dtype=np.int8),
            node_default_left=np.asarray(nodes["default_left"], dtype=np.bool_),
            node_left=np.asarray(nodes["left"], dtype=np.int64),
            node_right=np.asarray(nodes["right"], dtype=np.int64),
            node_cats=np.concatenate(([0], np.cumsum([w.size for w in self.cat_words]))
                                     ).astype(np.int64),
            cat_words=(np.concatenate(self.cat_words) if self.cat_words
                       else np.zeros(0)).astype(np.uint32),
            leaf_value=np.array([leaf.value for leaf in self.leaves], dtype=np.float64),
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
        if np.isnan(x) or x < 0:
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
    tree_nodes, tree_leaves, leaf_value = trees.tree_nodes, trees.tree_leaves, trees.leaf_value
    node_feature, node_kind, node_missing = trees.node_feature, trees.node_kind, trees.node_missing
    node_default_left, node_threshold = trees.node_default_left, trees.node_threshold
    node_cats, cat_words = trees.node_cats, trees.cat_words
    node_left, node_right = trees.node_left, trees.node_right
    for block in range(start, stop, _BLOCK_ROWS):
        end = min(block + _BLOCK_ROWS, stop)
        for t in range(tree_nodes.size - 1):
            first, last = tree_nodes[t], tree_nodes[t + 1]
            leaf_start = tree_leaves[t]
            if first == last:  # a one-leaf tree, added in its place: the same sum as LightGBM's
                for r in range(block, end):
                    out[r] += leaf_value[leaf_start]
                continue
            for r in range(block, end):
                node = 0
                while node >= 0:
                    g = first + node
                    if decide(X[r, node_feature[g]], node_kind[g], node_missing[g],
                              node_default_left[g], node_threshold[g], cat_words, node_cats[g],
                              node_cats[g + 1]):
                        node = node_left[g]
                    else:
                        node = node_right[g]
                out[r] += leaf_value[leaf_start + ~node]


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


def as_matrix(X: np.ndarray, n_features: int) -> np.ndarray:
    """``X`` as a C-contiguous float64 matrix with ``n_features`` columns (ValueError if not)."""
    matrix = np.ascontiguousarray(X, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != n_features:
        raise ValueError(f"X has shape {matrix.shape}; the booster expects {n_features} columns")
    return matrix


def raw_score(booster: Any, X: np.ndarray) -> np.ndarray:
    """``booster.predict(X, raw_score=True)`` for a float matrix, from the flattened trees.

    Large inputs are split over :data:`~segml.predict.resources.DEFAULT_THREADS` threads (the
    compiled walk releases the GIL); one customer never touches a thread pool.
    """
    trees = flatten(booster)
    if trees is None:
        return booster.predict(X, raw_score=True)
    matrix = as_matrix(X, trees.n_features)
    n = matrix.shape[0]
    out = np.zeros(n, dtype=np.float64)
    if n < _PARALLEL_ROWS or DEFAULT_THREADS == 1:
        _raw_rows(trees, matrix, out, 0, n)
    else:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(DEFAULT_THREADS, thread_name_prefix="segml-trees"))
        bounds = np.linspace(0, n, DEFAULT_THREADS + 1).astype(int)
        jobs = [_POOL[0].submit(_raw_rows, trees, matrix, out, lo, hi)
                for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
        for job in jobs:
            job.result()
    return out
