"""A declared target that filters on order ids trains end to end: the training run drops the
transaction columns nothing reads (segml.data.contract.without_unread_columns), never the ones
a declared target filters on."""

from __future__ import annotations

import numpy as np
import pytest

from tests.adversarial.helpers import small_training


@pytest.mark.slow
def test_a_target_filtering_on_order_ids_trains_and_scores(tmp_path, monkeypatch):
    import segml
    from segml.data.synthetic.datasets import make_customers

    data = make_customers(900, seed=12)
    config = small_training(tmp_path, monkeypatch, data)
    # every other order: about half the purchases match the filter
    orders = data.transactions["order_id"].to_numpy()[::2]
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
