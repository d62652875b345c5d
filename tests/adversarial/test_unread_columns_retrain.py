"""A retrain lets go of the transaction columns its config does not read, as a training run
does (segml.data.contract.without_unread_columns), and keeps the ones its declared targets
filter on: the champion's metrics are computed with the challenger's labels, so its own
filters read nothing here."""

from __future__ import annotations

import numpy as np
import pytest

import segml.workflow.stages as stages
from tests.adversarial.helpers import small_training


@pytest.fixture
def setting(tmp_path, monkeypatch):
    from segml.data.synthetic.datasets import make_customers

    data = make_customers(900, seed=12)
    base = small_training(tmp_path, monkeypatch, data)
    orders = data.transactions["order_id"].to_numpy()[::2].tolist()  # every other order

    def config(targets: list[str]):
        return type(base).model_validate({
            **base.model_dump(exclude_unset=True),
            "targets": ({"even_orders": {"horizon_days": 60,
                                         "label": {"purchases": {"order_id": orders}}}}
                        if "even_orders" in targets else {}),
            "models": {**base.models.model_dump(exclude_unset=True), "targets": targets},
        })

    seen: list[list[str]] = []
    real = stages.fit_all

    def spied(tables, *args, **kwargs):
        seen.append(list(tables.transactions.columns))
        return real(tables, *args, **kwargs)

    monkeypatch.setattr(stages, "fit_all", spied)
    return config, seen


@pytest.mark.slow
def test_a_retrain_keeps_the_columns_its_declared_targets_filter_on(setting):
    import mlflow

    import segml

    config, seen = setting
    both = config(["churn", "even_orders"])
    segml.train(both)
    outcome = segml.retrain(both)
    assert "order_id" in seen[-1] and "quantity" not in seen[-1]
    metrics = mlflow.get_run(outcome.run_id).data.metrics
    assert np.isfinite(metrics["even_orders_roc_auc"])
    assert np.isfinite(metrics["champion_even_orders_roc_auc"])


@pytest.mark.slow
def test_a_challenger_without_the_champions_filtering_target_is_refused_before_fitting(setting):
    """Dropping the filter's column is not what stops it: the challenger's input lacks the
    champion's target features, which the registry refuses, naming them, before any fit."""
    import mlflow

    import segml
    from segml.tracking.registry import RegistryError

    config, seen = setting
    segml.train(config(["churn", "even_orders"]))  # the champion declares even_orders
    with pytest.raises(RegistryError, match="missing column.*even_orders_history_count"):
        segml.retrain(config(["churn"]))  # the challenger does not
    assert "order_id" not in seen[-1]  # its tables were lean
    client = mlflow.MlflowClient()
    assert str(client.get_model_version_by_alias("segml-customer", "champion").version) == "1"
    failed = mlflow.search_runs(experiment_names=["segml"], filter_string="status = 'FAILED'")
    assert len(failed) == 1
