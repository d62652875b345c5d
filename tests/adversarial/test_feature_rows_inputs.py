"""Hostile customer lists for build_features(ids=...): unknown, repeated, missing and
look-alike ids, an empty list, customers not known yet at the cutoff, integer ids. The rows are
always those of the whole matrix that the list names, in the whole matrix's order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.config import SegmlConfig
from segml.data.contract import load_tables
from segml.data.synthetic.datasets import make_customers
from segml.features import FeatureSpec, build_features


@pytest.fixture(scope="module")
def matrix():
    config = SegmlConfig(data={"now": "2026-01-01"})
    data = make_customers(300, seed=44)
    tables = load_tables(config, customers=data.customers, transactions=data.transactions,
                         events=data.events)
    cutoff = tables.transactions["timestamp"].min() + pd.Timedelta(days=200)  # many not known yet
    spec = FeatureSpec.fit(tables, cutoff, config)
    return tables, cutoff, spec, build_features(tables, cutoff, spec)


def _rows(matrix, ids):
    tables, cutoff, spec, whole = matrix
    part = build_features(tables, cutoff, spec, ids=pd.Index(ids))
    pd.testing.assert_frame_equal(part, whole.loc[whole.index.isin(list(ids))], check_exact=True)
    return part


def test_unknown_repeated_and_look_alike_ids_are_ignored(matrix):
    tables, _, _, whole = matrix
    first, second = whole.index[0], whole.index[5]
    part = _rows(matrix, [second, first, second, "nobody", first.lower() + " ", first + "\u200b"])
    assert list(part.index) == [first, second]


def test_an_empty_list_gives_an_empty_matrix_with_every_column(matrix):
    part = _rows(matrix, pd.Index([], dtype=matrix[3].index.dtype))
    assert len(part) == 0 and list(part.columns) == list(matrix[3].columns)
    assert dict(part.dtypes) == dict(matrix[3].dtypes)


def test_customers_not_known_at_the_cutoff_get_no_row(matrix):
    tables, _, _, whole = matrix
    unknown_yet = tables.customers["customer_id"][~tables.customers["customer_id"].isin(whole.index)]
    assert len(unknown_yet)  # the fixture's cutoff leaves some customers out
    part = _rows(matrix, [*unknown_yet[:5], whole.index[-1]])
    assert list(part.index) == [whole.index[-1]]


def test_missing_values_in_the_list_and_integer_ids():
    config = SegmlConfig(data={"now": "2026-01-01"})
    data = make_customers(200, seed=45)
    mapping = {old: 10_000 + i for i, old in enumerate(data.customers["customer_id"])}
    for frame in (data.customers, data.transactions, data.events):
        frame["customer_id"] = frame["customer_id"].map(mapping).astype("int64")
    tables = load_tables(config, customers=data.customers, transactions=data.transactions,
                         events=data.events)
    cutoff = tables.transactions["timestamp"].max() - pd.Timedelta(days=30)
    spec = FeatureSpec.fit(tables, cutoff, config)
    whole = build_features(tables, cutoff, spec)
    ids = pd.Index([whole.index[3], np.nan, whole.index[1], 10_000 + 10**6], dtype="float64")
    part = build_features(tables, cutoff, spec, ids=ids)
    pd.testing.assert_frame_equal(part, whole.iloc[[1, 3]], check_exact=True)


def test_the_arrow_lookup_answers_as_pandas_isin():
    from segml.features.timeline import is_among

    values = pd.Series(["a", "é", "", "a\u200b", "Z", "b"], dtype="str")
    chunked = pd.Series(pd.arrays.ArrowStringArray._from_sequence(  # two Arrow chunks
        list(values[:3]), dtype=values.dtype)).pipe(lambda s: pd.concat([s, values[3:]],
                                                                       ignore_index=True))
    for ids in (pd.Index(["é", "", "z", None], dtype="str"), pd.Index([], dtype="str"),
                pd.Index(["a", 5, None], dtype=object), pd.Index(["b", "b", "a\u200b"], dtype="str")):
        for column in (values, chunked):
            np.testing.assert_array_equal(is_among(column, ids), column.isin(ids).to_numpy())
