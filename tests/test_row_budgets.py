"""Row budgets at scale: the evaluation fit's stack holds no more rows than it learns from, its
baselines learn the same rows, and the out-of-time evaluation scores the model and every baseline
on one seeded, label-stratified sample of the evaluation customers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.data.contract import load_tables
from segml.data.synthetic.datasets import make_customers, synthetic_config
from segml.features.timeline import any_rows_until, known_at
from segml.workflow.datasets import build_datasets, evaluation_rows
from segml.workflow.fitting import fit_target


@pytest.fixture(scope="module")
def world():
    return make_customers(2500, seed=8)


def _data(world, targets=("purchase",), **models):
    config = synthetic_config(models={"n_estimators": 40, "targets": list(targets), **models}, seed=5)
    tables = load_tables(config, customers=world.customers, transactions=world.transactions,
                         events=world.events)
    return build_datasets(tables, config), config


def test_the_training_stack_holds_at_most_the_candidate_rows_and_the_refit_stack_more(world):
    data, _ = _data(world, candidate_max_rows=1000, max_train_rows=3000)
    train, refit = data.training_set("purchase"), data.refit_set("purchase")
    assert len(train.X) == 1000
    assert 1000 < len(refit.X) <= 3000
    # stratified by cutoff: every training cutoff keeps its share of the sample
    shares = train.cutoff.value_counts(normalize=True)
    assert len(shares) == len(data.plan.targets["purchase"].train)
    assert shares.min() > 0.25


def test_baselines_learn_the_rows_the_model_learns(world):
    data, config = _data(world, candidate_max_rows=1000, max_train_rows=3000)
    fit, _, _ = fit_target(data, "purchase", config)
    logreg = fit.evaluated.baselines_["logreg"].model_["lr"]
    assert fit.training_rows == 1000 == fit.evaluated.n_rows_available_
    assert logreg.n_features_in_ > 0
    # the baseline's scaler saw exactly the model's rows
    scaler = fit.evaluated.baselines_["logreg"].model_["prep"].named_transformers_["num"][-1]
    assert scaler.n_samples_seen_ == 1000


def test_the_evaluation_scores_everyone_below_the_budget_and_a_stratified_sample_above(world):
    data, config = _data(world)
    everyone, result_all, _ = fit_target(data, "purchase", config)
    labelled = everyone.eval_labels
    assert result_all.comparison["rows"].iloc[0] == len(labelled)
    data, config = _data(world, max_eval_rows=1000)
    sampled, result, _ = fit_target(data, "purchase", config)
    rows = result.comparison.loc[result.comparison["note"] == "", "rows"]
    assert (rows == 1000).all() and len(rows) >= 2  # the model and its baselines, same rows
    assert len(sampled.eval_labels) == 1000
    assert sampled.eval_labels.index.isin(labelled.index).all()
    assert sampled.eval_labels.mean() == pytest.approx(labelled.mean(), abs=1e-3)
    # seeded: the same sample and metrics again
    again, result_again, _ = fit_target(_data(world, max_eval_rows=1000)[0], "purchase", config)
    pd.testing.assert_index_equal(again.eval_labels.index, sampled.eval_labels.index)
    assert result_again.metrics == result.metrics


def test_evaluation_rows_keeps_the_label_rate_and_drops_unlabelled_rows():
    rng = np.random.default_rng(0)
    y = pd.Series(np.where(rng.random(20_000) < 0.1, np.nan, (rng.random(20_000) < 0.2) * 1.0))
    rows = evaluation_rows(y, 5000, seed=1)
    assert rows.size == 5000 and np.all(np.diff(rows) > 0)
    assert y.iloc[rows].notna().all()
    assert y.iloc[rows].mean() == pytest.approx(y.mean(), abs=2e-4)
    assert evaluation_rows(y, None, seed=1).size == y.notna().sum()
    assert not np.array_equal(rows, evaluation_rows(y, 5000, seed=2))


def test_customers_known_at_a_cutoff_match_a_scan_of_every_row(world):
    config = synthetic_config()
    tables = load_tables(config, customers=world.customers, transactions=world.transactions,
                         events=world.events)
    for cutoff in [pd.Timestamp(t) for t in ("2023-03-01", "2024-06-30 12:00", "2025-12-31")]:
        for frame in (tables.transactions, tables.events):
            ids = set(frame.loc[frame["timestamp"] <= cutoff, "customer_id"])
            expected = tables.customers["customer_id"].isin(ids).to_numpy()
            np.testing.assert_array_equal(any_rows_until(tables.customers, frame, cutoff), expected)
        signed = (tables.customers["signup_date"] <= cutoff).to_numpy(dtype=bool, na_value=False)
        seen = np.zeros(len(signed), dtype=bool)
        for frame in (tables.transactions, tables.events):
            seen |= tables.customers["customer_id"].isin(
                frame.loc[frame["timestamp"] <= cutoff, "customer_id"]).to_numpy()
        np.testing.assert_array_equal(known_at(tables, cutoff), signed | seen)


def test_a_matrix_kept_for_a_later_evaluation_holds_its_sample_with_the_same_metrics(world):
    """Purchase trains at churn's evaluation cutoff first: the cache keeps, for churn's
    evaluation, only the customers it samples, and churn's metrics equal a run where its
    evaluation matrix is built whole."""
    shared, config = _data(world, targets=("purchase", "churn"), max_eval_rows=1000)
    cutoff = shared.plan.targets["churn"].evaluation
    assert cutoff in shared.plan.targets["purchase"].train
    wanted = shared.rows_of(("churn", "evaluation"), cutoff)
    assert len(wanted) == 1000
    fit_target(shared, "purchase", config)
    _, after_purchase, _ = fit_target(shared, "churn", config)
    alone, config_alone = _data(world, targets=("churn",), max_eval_rows=1000)
    _, on_its_own, _ = fit_target(alone, "churn", config_alone)
    assert after_purchase.comparison["rows"].iloc[0] == 1000
    assert after_purchase.metrics == pytest.approx(on_its_own.metrics, rel=1e-12)
