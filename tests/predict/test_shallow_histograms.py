"""The lgbm_shallow candidate builds its histograms column-wise: the same stumps as row-wise,
faster (segml.predict.training.CandidateSearch._lgbm_params)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from segml.predict.models import Predictor
from segml.predict.training import CandidateSearch


def _search(**params) -> CandidateSearch:
    return CandidateSearch(Predictor(target="churn", **params).get_params())


def _data(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(3000, 12)), columns=[f"f{i}" for i in range(12)])
    X.iloc[rng.integers(0, 3000, 300), 3] = np.nan
    y = (X["f0"] + 0.5 * X["f1"].fillna(0) - X["f2"] ** 2 + rng.normal(size=3000) > 0)
    return X, y.to_numpy(float)


def test_the_shallow_candidate_is_column_wise_and_the_deep_one_row_wise():
    search = _search()
    shallow, _ = search._lgbm_params("lgbm_shallow", 50_000)
    deep, _ = search._lgbm_params("lgbm", 50_000)
    assert shallow.get("force_col_wise") is True and "force_row_wise" not in shallow
    assert deep.get("force_row_wise") is True and "force_col_wise" not in deep


def test_column_wise_stumps_are_the_row_wise_stumps():
    X, y = _data()
    params, _ = _search()._lgbm_params("lgbm_shallow", len(y))
    row_wise = {k: v for k, v in params.items() if k != "force_col_wise"} | {"force_row_wise": True}
    trees = [lgb.train(p, lgb.Dataset(X, y), num_boost_round=60).model_to_string()
             .split("parameters:")[0] for p in (params, row_wise)]
    assert trees[0] == trees[1]
