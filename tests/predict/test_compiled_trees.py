"""The compiled trees give LightGBM's numbers on every kind of split: ``raw_score`` equals
``predict(raw_score=True)`` bit for bit, ``tree_shap`` equals ``pred_contrib`` to 1e-9."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from segml.predict import trees, treeshap
from segml.predict.trees import raw_score
from segml.predict.treeshap import build_tables, tree_shap

PARAMS = {"verbosity": -1, "num_leaves": 15, "min_data_in_leaf": 5, "seed": 0,
          "deterministic": True, "num_threads": 1}


def _numeric_data(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X[rng.random(n) < 0.15, 1] = np.nan
    X[rng.random(n) < 0.2, 2] = 0.0
    logit = 1.5 * X[:, 0] - np.nan_to_num(X[:, 1]) + (X[:, 2] == 0) + 0.5 * X[:, 3] * X[:, 4]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return X, y


def _nodes(booster: lgb.Booster) -> list[dict]:
    found = []

    def walk(node):
        if "split_index" in node:
            found.append(node)
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return found


def _thresholds(booster: lgb.Booster) -> list[tuple[int, float]]:
    return [(int(node["split_feature"]), float(node["threshold"])) for node in _nodes(booster)
            if node["decision_type"] == "<="]


def _assert_same(booster: lgb.Booster, X: np.ndarray) -> np.ndarray:
    assert build_tables(booster) is not None  # the tables are used, not the fallback
    fast = tree_shap(booster, X)
    expected = booster.predict(X, pred_contrib=True)
    np.testing.assert_allclose(fast, expected, rtol=1e-9, atol=1e-10)
    np.testing.assert_array_equal(raw_score(booster, X), booster.predict(X, raw_score=True))
    return fast


@pytest.mark.parametrize("extra", [{}, {"zero_as_missing": True}, {"use_missing": False}],
                         ids=["nan-missing", "zero-as-missing", "no-missing"])
def test_numeric_splits_with_missing_values_match_pred_contrib(extra):
    X, y = _numeric_data()
    booster = lgb.train({**PARAMS, "objective": "binary", **extra}, lgb.Dataset(X, y),
                        num_boost_round=25)
    rows = X[:200].copy()
    # values exactly on split thresholds go left (x <= threshold), as in LightGBM
    for i, (feature, threshold) in enumerate(_thresholds(booster)[:50]):
        rows[i, feature] = threshold
    rows[60:70] = np.nan
    rows[70:80] = 0.0
    rows[80:85] = -1e-36  # within LightGBM's zero threshold
    _assert_same(booster, rows)


def test_categorical_splits_with_unseen_and_negative_codes_match_pred_contrib():
    rng = np.random.default_rng(1)
    n = 1500
    levels = 45  # more than 32: category sets span several bitset words
    X = np.column_stack([rng.integers(0, levels, n).astype(float), rng.normal(size=n),
                         rng.integers(0, 4, n).astype(float)])
    effect = rng.normal(size=levels)
    y = (rng.random(n) < 1 / (1 + np.exp(-(effect[X[:, 0].astype(int)] + X[:, 1])))).astype(float)
    booster = lgb.train({**PARAMS, "objective": "binary", "max_cat_to_onehot": 2,
                         "min_data_per_group": 5, "cat_smooth": 1.0},
                        lgb.Dataset(X, y, categorical_feature=[0, 2]), num_boost_round=20)
    assert any(n["decision_type"] == "==" for n in _nodes(booster))
    rows = X[:300].copy()
    rows[:10, 0] = np.nan
    rows[10:20, 0] = -1.0
    rows[20:30, 0] = 500.0  # unseen category
    rows[30:40, 2] = np.nan
    _assert_same(booster, rows)


def test_features_split_repeatedly_on_one_path_match_pred_contrib():
    rng = np.random.default_rng(2)
    X = rng.uniform(-3, 3, size=(800, 2))
    y = np.sin(2 * X[:, 0]) + 0.1 * X[:, 1]  # many splits on feature 0 along each path
    booster = lgb.train({**PARAMS, "objective": "regression", "num_leaves": 31},
                        lgb.Dataset(X, y), num_boost_round=15)
    _assert_same(booster, X[:200])


def test_tweedie_and_one_leaf_trees_add_up_to_the_raw_score():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 3))
    spend = np.where(rng.random(400) < 0.4, 0.0, np.exp(1 + X[:, 0]))
    booster = lgb.train({**PARAMS, "objective": "tweedie"}, lgb.Dataset(X, spend),
                        num_boost_round=10)
    # a second booster that cannot split at all: every tree is one leaf (bias only)
    flat = lgb.train({**PARAMS, "objective": "regression", "min_data_in_leaf": 1000},
                     lgb.Dataset(X, X[:, 0]), num_boost_round=3)
    for model in (booster, flat):
        values = _assert_same(model, X[:50])
        np.testing.assert_allclose(values.sum(axis=1), model.predict(X[:50], raw_score=True),
                                   rtol=1e-9, atol=1e-10)
    assert np.all(tree_shap(flat, X[:5])[:, :-1] == 0.0)


def test_boosters_too_deep_to_tabulate_fall_back_to_pred_contrib(monkeypatch):
    X, y = _numeric_data(seed=4)
    booster = lgb.train({**PARAMS, "objective": "binary"}, lgb.Dataset(X, y), num_boost_round=5)
    monkeypatch.setattr(treeshap, "MAX_PATH_FEATURES", 1)
    assert build_tables(booster) is None
    np.testing.assert_array_equal(tree_shap(booster, X[:20]),
                                  booster.predict(X[:20], pred_contrib=True))


def test_tables_are_built_once_per_booster_and_columns_are_checked():
    X, y = _numeric_data(seed=5)
    booster = lgb.train({**PARAMS, "objective": "binary"}, lgb.Dataset(X, y), num_boost_round=5)
    assert treeshap.tables_for(booster) is treeshap.tables_for(booster)
    with pytest.raises(ValueError, match="expects 5 columns"):
        tree_shap(booster, X[:, :4])


def test_large_inputs_are_scored_on_threads_with_the_same_result(monkeypatch):
    X, y = _numeric_data(n=3000, seed=6)
    booster = lgb.train({**PARAMS, "objective": "binary"}, lgb.Dataset(X, y), num_boost_round=20)
    monkeypatch.setattr(trees, "_PARALLEL_ROWS", 100)
    monkeypatch.setattr(trees, "DEFAULT_THREADS", 2)
    np.testing.assert_array_equal(raw_score(booster, X), booster.predict(X, raw_score=True))


def test_multiclass_boosters_are_left_to_lightgbm():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 3))
    y = rng.integers(0, 3, 300)
    booster = lgb.train({**PARAMS, "objective": "multiclass", "num_class": 3},
                        lgb.Dataset(X, y), num_boost_round=3)
    assert trees.flatten(booster) is None and build_tables(booster) is None
    np.testing.assert_array_equal(raw_score(booster, X[:5]), booster.predict(X[:5], raw_score=True))


def test_a_booster_trained_further_is_flattened_again():
    X, y = _numeric_data(seed=8)
    booster = lgb.train({**PARAMS, "objective": "binary"}, lgb.Dataset(X, y), num_boost_round=3,
                        keep_training_booster=True)
    _assert_same(booster, X[:50])
    booster.update()  # one more tree, same object
    np.testing.assert_array_equal(raw_score(booster, X[:50]),
                                  booster.predict(X[:50], raw_score=True))
    # LightGBM's own pred_contrib aborts on an updated training booster (max_depth unset):
    # compare with a copy loaded from the model string instead
    copy = lgb.Booster(model_str=booster.model_to_string())
    np.testing.assert_allclose(tree_shap(booster, X[:50]), copy.predict(X[:50], pred_contrib=True),
                               rtol=1e-9, atol=1e-10)


def test_kernels_compile_without_a_cache_where_none_can_be_written(monkeypatch):
    def njit(**options):
        if options.get("cache"):  # what numba raises when it finds no writable cache location
            raise RuntimeError("cannot cache function 'f': no locator available for file 'f.py'")
        return lambda func: ("compiled", func, options)

    monkeypatch.setattr(trees, "njit", njit)

    def f():
        return 1

    assert trees.compiled(nogil=True)(f) == ("compiled", f, {"nogil": True})
