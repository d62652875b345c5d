"""The bitvector walk (``segml.predict.trees._bit_rows``, QuickScorer's idea) and the node-by-node
walk give LightGBM's raw score bit for bit on every kind of tree and split, in row or column
order, whatever the block and the number of rows; ``raw_score`` picks between them by size only."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from segml.predict import trees
from segml.predict.trees import TreeWalk, flatten, raw_score

PARAMS = {"verbosity": -1, "min_data_in_leaf": 5, "seed": 0, "deterministic": True,
          "num_threads": 1}


def _walks(booster: lgb.Booster, X: np.ndarray) -> dict[str, np.ndarray]:
    """Both kernels on ``X`` laid out row by row and column by column."""
    flat = flatten(booster)
    out = {}
    for order in ("C", "F"):
        matrix = np.asarray(X, dtype=np.float64, order=order)
        for name, kernel in (("path", trees._raw_rows), ("bits", trees._bit_rows)):
            values = np.zeros(len(matrix))
            kernel(flat, matrix, values, 0, len(matrix))
            out[f"{name}-{order}"] = values
    return out


def _assert_walks_equal_lightgbm(booster: lgb.Booster, X: np.ndarray) -> None:
    expected = booster.predict(X, raw_score=True)
    for name, values in _walks(booster, X).items():
        np.testing.assert_array_equal(values, expected, err_msg=name)


def _mixed_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=n), rng.normal(size=n),
                         rng.integers(0, 40, n).astype(float), rng.exponential(size=n)])
    X[rng.random(n) < 0.1, 0] = np.nan
    X[rng.random(n) < 0.2, 3] = 0.0
    effect = rng.normal(size=40)
    logit = X[:, 1] + effect[X[:, 2].astype(int)] - np.nan_to_num(X[:, 0]) + (X[:, 3] == 0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return X, y


@pytest.mark.parametrize("extra", [{}, {"zero_as_missing": True}, {"use_missing": False}],
                         ids=["nan-missing", "zero-as-missing", "no-missing"])
def test_both_walks_equal_lightgbm_on_numeric_categorical_and_missing_splits(extra):
    X, y = _mixed_data(2000, seed=0)
    booster = lgb.train({**PARAMS, "objective": "binary", "num_leaves": 31,
                         "max_cat_to_onehot": 2, **extra},
                        lgb.Dataset(X, y, categorical_feature=[2]), num_boost_round=30)
    rows = X[:700].copy()  # 700 rows: two full blocks of 256 and a partial one
    rows[:20] = np.nan
    rows[20:40] = 0.0
    rows[40:50] = -0.0
    rows[50:60] = 1e-36  # within LightGBM's zero band
    rows[60:70] = -1e-36
    _assert_walks_equal_lightgbm(booster, rows)


@pytest.mark.parametrize("extra", [{}, {"zero_as_missing": True}], ids=["nan", "zero"])
def test_trees_of_more_than_64_leaves_are_walked_in_step_inside_the_blocks(extra):
    X, y = _mixed_data(4000, seed=1)
    booster = lgb.train({**PARAMS, "objective": "regression", "num_leaves": 100,
                         "min_data_in_leaf": 2, "max_cat_to_onehot": 2, **extra},
                        lgb.Dataset(X, y + X[:, 1], categorical_feature=[2]),
                        num_boost_round=8)
    flat = flatten(booster)
    leaves = np.diff(flat.tree_leaves)
    assert (leaves > 64).any() and (flat.tree_bitwise == (leaves <= 64)).all()
    tests = set(flat.node_test.tolist())
    assert trees._TEST_TABLE in tests and (trees._TEST_DECIDE in tests) == bool(extra)
    rows = X[:600].copy()
    rows[:30] = np.nan
    rows[30:60, 2] = [-0.5, 500.0, np.inf] * 10  # truncated to 0, unseen, past int
    _assert_walks_equal_lightgbm(booster, rows)


def test_stumps_and_one_leaf_trees_add_up_in_lightgbms_order():
    X, y = _mixed_data(1500, seed=2)
    stumps = lgb.train({**PARAMS, "objective": "binary", "num_leaves": 2},
                       lgb.Dataset(X, y, categorical_feature=[2]), num_boost_round=60)
    assert (np.diff(flatten(stumps).tree_nodes) == 1).all()
    flat_only = lgb.train({**PARAMS, "objective": "regression", "min_data_in_leaf": 5000},
                          lgb.Dataset(X, y), num_boost_round=3)
    for booster in (stumps, flat_only):
        _assert_walks_equal_lightgbm(booster, X[:300])


@pytest.mark.parametrize("n", [0, 1, 31, 32, 33, 255, 256, 257])
def test_raw_score_picks_a_walk_by_size_only(n):
    X, y = _mixed_data(1200, seed=3)
    booster = lgb.train({**PARAMS, "objective": "binary"}, lgb.Dataset(X, y), num_boost_round=10)
    rows = X[:n]
    np.testing.assert_array_equal(raw_score(booster, rows), booster.predict(rows, raw_score=True)
                                  if n else np.zeros(0))
    # a row scores the same alone as in any batch
    if n:
        np.testing.assert_array_equal(raw_score(booster, rows[-1:]), raw_score(booster, rows)[-1:])


def test_a_matrix_stored_column_by_column_is_read_without_a_copy():
    X, y = _mixed_data(500, seed=4)
    booster = lgb.train({**PARAMS, "objective": "binary"}, lgb.Dataset(X, y), num_boost_round=5)
    columns = np.asfortranarray(X)
    assert trees.as_matrix(columns, 4, columns_first=True) is columns
    assert trees.as_matrix(columns, 4).flags.c_contiguous  # the default lays it out by rows
    np.testing.assert_array_equal(raw_score(booster, columns), raw_score(booster, X))


def _one_split_tree(threshold: float, missing: str = "None", default_left: bool = True) -> dict:
    return {"split_index": 0, "split_feature": 0, "threshold": threshold, "decision_type": "<=",
            "missing_type": missing, "default_left": default_left, "internal_count": 10,
            "left_child": {"leaf_index": 0, "leaf_value": -1.0, "leaf_count": 5},
            "right_child": {"split_index": 1, "split_feature": 1, "threshold": 0.5,
                            "decision_type": "<=", "missing_type": "NaN", "default_left": False,
                            "internal_count": 5,
                            "left_child": {"leaf_index": 1, "leaf_value": 2.0, "leaf_count": 2},
                            "right_child": {"leaf_index": 2, "leaf_value": 3.0,
                                            "leaf_count": 3}}}


@pytest.mark.parametrize("threshold", [0.0, -1e-36, -1.0000000180025095e-35, 5e-36])
def test_thresholds_inside_lightgbms_zero_band_take_lightgbms_decision(threshold):
    """A tiny value is zero to LightGBM: x <= threshold alone would send -1e-36 and 1e-36 apart
    when the threshold lies between them, so such nodes are decided as LightGBM does."""
    walk = TreeWalk()
    walk.add_tree(_one_split_tree(threshold))
    flat = walk.flat(2)
    assert flat.node_test[0] == trees._TEST_DECIDE and flat.node_test[1] == trees._TEST_NUMERIC
    values = np.array([-1e-36, 1e-36, 0.0, -0.0, -1e-35, 1e-35, 2e-35, -2e-35, np.nan])
    X = np.column_stack([np.tile(values, 8), np.tile([0.1, 0.9, np.nan], 24)])
    path, bits = np.zeros(len(X)), np.zeros(len(X))
    trees._raw_rows(flat, X, path, 0, len(X))
    trees._bit_rows(flat, X, bits, 0, len(X))
    np.testing.assert_array_equal(bits, path)
    # every value in the band goes where zero goes
    band = np.abs(X[:, 0]) <= 1.0000000180025095e-35
    zero_left = 0.0 <= threshold
    assert ((path[band] == -1.0) == zero_left).all()


@pytest.mark.parametrize("missing", ["None", "NaN", "Zero"])
@pytest.mark.parametrize("default_left", [True, False])
def test_missing_values_follow_each_missing_type(missing, default_left):
    walk = TreeWalk()
    walk.add_tree(_one_split_tree(1.5, missing, default_left))
    flat = walk.flat(2)
    X = np.column_stack([[np.nan, 0.0, 1e-36, 1.0, 2.0, -3.0] * 10, [0.2] * 60])
    path, bits = np.zeros(len(X)), np.zeros(len(X))
    trees._raw_rows(flat, X, path, 0, len(X))
    trees._bit_rows(flat, X, bits, 0, len(X))
    np.testing.assert_array_equal(bits, path)
    nan_goes_left = {"None": True, "NaN": default_left, "Zero": default_left}[missing]
    assert (path[0] == -1.0) == nan_goes_left
