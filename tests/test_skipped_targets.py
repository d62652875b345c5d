"""A target whose training labels are too few is skipped with a warning; the others train."""

import pytest

from segml.data.contract import load_tables
from segml.data.synthetic.datasets import make_customers, synthetic_config
from segml.errors import DataError
from segml.workflow.datasets import build_datasets
from segml.workflow.fitting import fit_and_evaluate


def _tables(config):
    data = make_customers(500, seed=4)
    return load_tables(config, customers=data.customers, transactions=data.transactions,
                       events=data.events)


def test_too_few_positives_skips_that_target_and_the_others_train():
    config = synthetic_config()
    config.models.targets = ["purchase", "high_clv"]
    config.models.n_estimators = 30
    config.time.high_clv_quantile = 0.98  # about 2% of ~450 customers: under 50 positives
    predictions = fit_and_evaluate(build_datasets(_tables(config), config), config)
    assert list(predictions.predictors) == ["purchase"]
    (problem,) = predictions.skipped
    assert problem.severity == "warning" and problem.column == "high_clv"
    assert "too few labels" in problem.message and "positives" in problem.message
    assert set(predictions.skipped_targets) == {"high_clv"}


def test_when_no_target_has_enough_labels_the_run_stops_naming_them():
    config = synthetic_config()
    config.models.targets = ["high_clv"]
    config.time.high_clv_quantile = 0.98
    with pytest.raises(DataError) as err:
        fit_and_evaluate(build_datasets(_tables(config), config), config)
    messages = " ".join(p.message for p in err.value.problems)
    assert "high_clv" in messages and "models.targets" in messages
