"""Hostile matrices for the compiled trees: extreme, tiny, missing and out-of-range values in
numeric and categorical columns, odd dtypes and layouts. Both walks (node by node and the
bitvector walk of batches) must give LightGBM's raw score bit for bit, or a clear error."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from segml.predict import trees
from segml.predict.trees import flatten, raw_score

PARAMS = {"verbosity": -1, "min_data_in_leaf": 5, "seed": 0, "deterministic": True,
          "num_threads": 1, "max_cat_to_onehot": 2, "num_leaves": 15}

HOSTILE_CATEGORIES = [np.inf, -np.inf, 1e20, 1e308, 2.0**31, 2.0**31 - 1, 2.0**31 + 0.5,
                      2.5, -0.5, -0.999, -1.0, -1e-36, 1e-36, -0.0, np.nan, 39.9999, 40.0, 63.0, 64.0, 5e-324]
HOSTILE_NUMBERS = [np.inf, -np.inf, 1e308, -1e308, 5e-324, -5e-324, 1e-36, -1e-36, -0.0,
                   np.nan, 0.0]


@pytest.fixture(scope="module", params=[15, 100], ids=["bitvector", "in-step"])
def booster(request) -> lgb.Booster:
    """Trees of 15 leaves (the bitvector walk of batches) or up to 100 (walked in step)."""
    rng = np.random.default_rng(11)
    n = 3000
    X = np.column_stack([rng.integers(0, 40, n).astype(float), rng.normal(size=n),
                         rng.integers(0, 3, n).astype(float)])
    X[rng.random(n) < 0.1, 1] = np.nan
    effect = rng.normal(size=40)
    y = (rng.random(n) < 1 / (1 + np.exp(-(effect[X[:, 0].astype(int)] + X[:, 1] - X[:, 2]))))
    return lgb.train({**PARAMS, "num_leaves": request.param, "min_data_in_leaf": 3},
                     lgb.Dataset(X, y.astype(float), categorical_feature=[0, 2]),
                     num_boost_round=25)


def _both_walks(model: lgb.Booster, X: np.ndarray) -> list[np.ndarray]:
    flat = flatten(model)
    out = []
    for kernel in (trees._raw_rows, trees._bit_rows):
        values = np.zeros(len(X))
        kernel(flat, np.ascontiguousarray(X, dtype=np.float64), values, 0, len(X))
        out.append(values)
    return out


def _hostile_rows(column: int, values: list[float], repeat: int = 20) -> np.ndarray:
    rows = np.tile([[3.0, 0.4, 1.0]], (len(values) * repeat, 1))
    rows[:, column] = np.tile(values, repeat)
    return rows


@pytest.mark.parametrize("column", [0, 2], ids=["many-levels", "few-levels"])
def test_out_of_range_and_fractional_categories_go_where_lightgbm_sends_them(booster, column):
    rows = _hostile_rows(column, HOSTILE_CATEGORIES)
    expected = booster.predict(rows, raw_score=True)
    for values in _both_walks(booster, rows):
        np.testing.assert_array_equal(values, expected)


def test_extreme_tiny_and_missing_numbers_go_where_lightgbm_sends_them(booster):
    rows = _hostile_rows(1, HOSTILE_NUMBERS)
    expected = booster.predict(rows, raw_score=True)
    for values in _both_walks(booster, rows):
        np.testing.assert_array_equal(values, expected)


def test_rows_missing_everywhere_score_as_lightgbm(booster):
    rows = np.full((300, 3), np.nan)
    np.testing.assert_array_equal(raw_score(booster, rows), booster.predict(rows, raw_score=True))


@pytest.mark.parametrize("layout", ["float32", "int64", "every-other-row", "column-slice",
                                    "fortran", "read-only"])
def test_any_numeric_layout_scores_as_its_float64_copy(booster, layout):
    rng = np.random.default_rng(12)
    base = np.column_stack([rng.integers(0, 45, 400), rng.normal(size=400),
                            rng.integers(-1, 4, 400)]).astype(np.float64)
    wide = np.asfortranarray(np.column_stack([base, base]))
    matrix = {"float32": base.astype(np.float32), "int64": base.astype(np.int64),
              "every-other-row": base[::2], "column-slice": wide[:, :3],
              "fortran": np.asfortranarray(base), "read-only": base.copy()}[layout]
    if layout == "read-only":
        matrix.setflags(write=False)
    expected = booster.predict(np.asarray(matrix, dtype=np.float64), raw_score=True)
    np.testing.assert_array_equal(raw_score(booster, matrix), expected)


def test_a_batch_shared_out_over_threads_scores_as_one(booster, monkeypatch):
    rows = _hostile_rows(0, HOSTILE_CATEGORIES, repeat=60)
    monkeypatch.setattr(trees, "_PARALLEL_ROWS", 100)
    monkeypatch.setattr(trees, "DEFAULT_THREADS", 2)
    np.testing.assert_array_equal(raw_score(booster, np.asfortranarray(rows)),
                                  booster.predict(rows, raw_score=True))


@pytest.mark.parametrize("shape", [(50, 2), (50, 4), (50,), (2, 50, 3)])
def test_a_matrix_of_the_wrong_shape_is_refused_with_its_shape(booster, shape):
    with pytest.raises(ValueError, match=r"expects 3 columns"):
        raw_score(booster, np.zeros(shape))
