"""A shallow_params that forces LightGBM's histogram layout (segml.predict.training): segml's
own choice for stumps (column-wise) never adds the other layout, which LightGBM would refuse."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from segml.config import SHALLOW_LGBM
from segml.predict.models import Predictor
from segml.predict.training import CandidateSearch


@pytest.mark.parametrize("layout", ["force_row_wise", "force_col_wise"])
def test_a_histogram_layout_the_user_set_is_kept(layout):
    search = CandidateSearch(Predictor(target="churn",
                                       shallow_params={**SHALLOW_LGBM, layout: True}).get_params())
    params, _ = search._lgbm_params("lgbm_shallow", 50_000)
    other = "force_col_wise" if layout == "force_row_wise" else "force_row_wise"
    assert params[layout] is True and other not in params
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(500, 4)), columns=list("abcd"))
    y = (X["a"] > 0).to_numpy(float)
    assert lgb.train(params, lgb.Dataset(X, y), num_boost_round=5).num_trees() == 5
