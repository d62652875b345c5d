"""A declared target that filters on order ids trains end to end: the training run drops the
transaction columns nothing reads (segml.data.contract.without_unread_columns), never the ones
a declared target filters on."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.slow
def test_a_target_filtering_on_order_ids_trains_and_scores(tmp_path, monkeypatch):
    import segml
    from segml.data.synthetic.datasets import make_customers, synthetic_config

    data = make_customers(900, seed=12)
    data.write(tmp_path / "data")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("SEGML_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.chdir(tmp_path)
    # every other order: about half the purchases match the filter
    orders = data.transactions["order_id"].to_numpy()[::2]
    config = synthetic_config()
    config.data.dir = str(tmp_path / "data")
    config.models.n_estimators = 30
    config.models.candidates = ["lgbm"]
    config = type(config).model_validate({
        **config.model_dump(exclude_unset=True),
        "targets": {"even_orders": {"horizon_days": 60,
                                    "label": {"purchases": {"order_id": orders.tolist()}}}},
        "models": {**config.models.model_dump(exclude_unset=True), "targets": ["even_orders"]},
    })
    result = segml.train(config)
    assert "even_orders_roc_auc" in result.metrics
    assert np.isfinite(result.metrics["even_orders_roc_auc"])
    scores = segml.score(result.model_uri, config=config)
    assert scores["even_orders_probability"].between(0, 1).all()
