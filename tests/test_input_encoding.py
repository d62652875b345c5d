"""The scorer's input (segml.scoring.encoding): one schema definition and the encoder the
scorer holds.

The registry's schema guard reads ``input_schema_of`` of the training features before any model
is fitted; the served model declares ``CustomerScorer.input_schema`` of its stored state. Both
must be the same list, for string and for integer customer ids.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.errors import DataError
from segml.scoring import input_schema_of
from segml.scoring.encoding import InputEncoder, categorical_levels_of, id_kind_of
from segml.scoring.scorer import CustomerScorer


def _features(n: int, seed: int, integer_ids: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = np.arange(1000, 1000 + n) if integer_ids else [f"c{i}" for i in range(n)]
    return pd.DataFrame({"recency_days": rng.exponential(60, n),
                         "plan": pd.Categorical(rng.choice(["basic", "pro"], n)),
                         "orders": rng.poisson(3, n).astype(float),
                         "region": pd.Categorical(rng.choice(["north", "south", "east"], n))},
                        index=pd.Index(ids, name="customer_id"))


@pytest.mark.parametrize("integer_ids", [False, True])
def test_the_schema_before_fitting_is_the_stored_scorers(tmp_path, integer_ids):
    X = _features(50, seed=3, integer_ids=integer_ids)
    scorer = CustomerScorer(feature_names=list(X.columns), categorical_levels=categorical_levels_of(X),
                            rules=None, hierarchy=None, predictors={}, id_kind=id_kind_of(X.index))
    loaded = CustomerScorer.load(scorer.save(tmp_path / "state"))
    expected = [("customer_id", "long" if integer_ids else "string"), ("recency_days", "double"),
                ("plan", "string"), ("orders", "double"), ("region", "string")]
    assert input_schema_of(X) == scorer.input_schema == loaded.input_schema == expected


def test_the_scorer_encodes_through_its_encoder():
    X = _features(40, seed=4, integer_ids=False)
    scorer = CustomerScorer(feature_names=list(X.columns), categorical_levels=categorical_levels_of(X),
                            rules=None, hierarchy=None, predictors={})
    assert isinstance(scorer.encoder, InputEncoder)
    assert scorer.encoder.feature_names is scorer.feature_names  # read, not copied
    rows = X.reset_index().astype({"plan": object, "region": object})
    rows.loc[0, "region"] = "west"  # unseen at training
    rows.loc[1, "plan"] = None
    ids, columns, codes = scorer.input_arrays(rows)
    assert list(ids) == list(X.index)
    assert codes["region"][0] == -1 and pd.isna(columns["region"][0])
    assert codes["plan"][1] == -1 and pd.isna(columns["plan"][1])
    levels = list(X["plan"].cat.categories)
    assert [levels[c] for c in codes["plan"][2:]] == list(X["plan"].iloc[2:])
    np.testing.assert_array_equal(columns["orders"], X["orders"].to_numpy())
    prepared = scorer.prepare(rows)
    assert list(prepared.columns) == list(X.columns)
    assert prepared["region"].dtype == X["region"].dtype


def test_the_encoder_names_a_missing_or_non_numeric_column():
    X = _features(10, seed=5, integer_ids=False)
    encoder = InputEncoder(list(X.columns), categorical_levels_of(X))
    with pytest.raises(DataError, match="feature column missing: orders"):
        encoder.input_arrays(X.drop(columns="orders"))
    bad = X.reset_index().astype({"orders": object})
    bad.loc[3, "orders"] = "many"
    with pytest.raises(DataError, match="'orders' must be numeric; got 'many'"):
        encoder.input_arrays(bad)
