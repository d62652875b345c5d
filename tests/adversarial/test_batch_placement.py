"""Batch scoring's fast paths on hostile batches (issue 33): the trained model's customers
scored with the batch KD-tree and placement beside the predictors forced on for every size,
against the reference path (every search in the reference tree, placement first). Empty, one-
row and tiny batches, copies of one customer, rows of missing values: the same frame bit for bit
(``docs/benchmarks.md``, "Batch scoring and the served model"); an infinite value is refused
with the same error either way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import segml.scoring.scorer as scorer_module
import segml.segments.assign as assign_module
from segml.config import load_config
from segml.data.contract import load_tables
from segml.features import build_features, data_end
from segml.tracking.model import load_scorer

from .helpers import NAME


@pytest.fixture(scope="module")
def model(trained, source):
    scorer = load_scorer(f"models:/{NAME}/1", trained["uri"])
    config = load_config(None)
    config.data.dir = str(source)
    tables = load_tables(config, purpose="score", attributes=scorer.feature_spec.attributes)
    return scorer, build_features(tables, data_end(tables), scorer.feature_spec)


def _scores(scorer, X: pd.DataFrame, fast: bool, monkeypatch) -> pd.DataFrame:
    """``scorer.score(X)`` with the fast paths forced on (``fast``) or off."""
    monkeypatch.setattr(assign_module, "_BATCH_ROWS", 1 if fast else 10**12)
    monkeypatch.setattr(scorer_module, "_CONCURRENT_ROWS", 2 if fast else 10**12)
    return scorer.score(X)


def _renamed(X: pd.DataFrame) -> pd.DataFrame:
    out = X.copy()
    out.index = pd.Index([f"D{i:05d}" for i in range(len(out))], name=X.index.name)
    return out


@pytest.mark.parametrize("rows", [0, 1, 2, 15, 16, 17, None],
                         ids=lambda r: f"f0-batch-of-{'all' if r is None else r}")
def test_tiny_and_whole_batches_score_like_the_reference(model, rows, monkeypatch):
    scorer, X = model
    assert isinstance(scorer.hierarchy.assigner_, assign_module.KNNAssigner)
    batch = X if rows is None else X.iloc[:rows]
    expected = _scores(scorer, batch, fast=False, monkeypatch=monkeypatch)
    assert len(expected) == len(batch)
    pd.testing.assert_frame_equal(_scores(scorer, batch, True, monkeypatch), expected,
                                  check_exact=True)


def test_f0_copies_of_customers_get_the_reference_answer(model, monkeypatch):
    """One customer 64 times, then every customer twice (exact copies tie at every distance
    with each other, never with the reference points): each copy scores as the original."""
    scorer, X = model
    one = _scores(scorer, X.iloc[[3]], fast=False, monkeypatch=monkeypatch)
    copies = _scores(scorer, _renamed(X.iloc[[3] * 64]), True, monkeypatch)
    pd.testing.assert_frame_equal(copies.drop(columns="customer_id"),
                                  pd.concat([one] * 64, ignore_index=True).drop(
                                      columns="customer_id"), check_exact=True)
    twice = _renamed(pd.concat([X, X]))
    expected = _scores(scorer, twice, False, monkeypatch)
    fast = _scores(scorer, twice, True, monkeypatch)
    pd.testing.assert_frame_equal(fast, expected, check_exact=True)
    half = len(X)
    pd.testing.assert_frame_equal(
        fast.iloc[half:].drop(columns="customer_id").reset_index(drop=True),
        fast.iloc[:half].drop(columns="customer_id"), check_exact=True)


def test_f0_rows_of_missing_values_are_placed_like_the_reference(model, monkeypatch):
    scorer, X = model
    batch = _renamed(X.iloc[:40])
    numeric = [c for c in batch.columns if batch[c].dtype.kind == "f"]
    batch.loc[batch.index[::3], numeric] = np.nan
    expected = _scores(scorer, batch, False, monkeypatch)
    assert expected["segment_leaf"].notna().all()
    pd.testing.assert_frame_equal(_scores(scorer, batch, True, monkeypatch), expected,
                                  check_exact=True)


@pytest.mark.parametrize("where", [0, -1], ids=["f0-inf-first-row", "f0-inf-last-row"])
@pytest.mark.parametrize("rows", [1, 30])
def test_an_infinite_clustering_value_is_refused_either_way(model, where, rows, monkeypatch):
    scorer, X = model
    batch = X.iloc[:rows].copy()
    batch.iloc[where, batch.columns.get_loc("monetary_sum")] = np.inf
    for fast in (False, True):
        with pytest.raises(ValueError, match="clustering space has NaN or inf values"):
            _scores(scorer, batch, fast, monkeypatch)
