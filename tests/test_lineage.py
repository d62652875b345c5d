"""Lineage (issue 20): each target's windows, their digests, the version description and tags."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from segml.config import SegmlConfig
from segml.features.plan import TargetPlan
from segml.workflow.lineage import config_hash, lineage_tags, version_description, window_data

DAY = pd.Timestamp


def _features() -> pd.DataFrame:
    return pd.DataFrame({"recency_days": [3.0, 40.0], "plan": pd.Categorical(["a", "b"])},
                        index=pd.Index(["c1", "c2"], name="customer_id"))


def _behavioural():
    plan = TargetPlan("churn", 90, [DAY("2025-05-04"), DAY("2025-06-03")], DAY("2025-10-01"),
                      [DAY("2025-09-01"), DAY("2025-10-01")])
    fit = SimpleNamespace(plan=plan, training_rows=812,
                          predictor=SimpleNamespace(n_rows_available_=905))
    comparison = pd.DataFrame({"roc_auc": [0.88, 0.86, 0.71], "rows": [300, 300, 300]},
                              index=["model", "baseline_logreg", "baseline_recency"])
    predictions = SimpleNamespace(fits={"churn": fit}, comparison={"churn": comparison},
                                  skipped=[])
    data = SimpleNamespace(mode="behavioural", current_X=_features(), data_end=DAY("2025-12-30"),
                           plan=SimpleNamespace(data_start=DAY("2023-01-02")))
    return data, predictions


PRINTS = {"customers": {"rows": 2, "sha256": "aa"}, "transactions": {"rows": 9, "sha256": "bb"}}


def test_each_target_has_a_train_an_evaluation_and_a_refit_window():
    data, predictions = _behavioural()
    windows = window_data(data, predictions, PRINTS, SegmlConfig(), "/data")
    assert [(w.name, w.context, w.rows) for w in windows] == [
        ("churn-train", "training", 812), ("churn-evaluation", "evaluation", 300),
        ("churn-refit", "training", 905)]
    train, evaluation, refit = windows
    assert train.cutoffs == ["2025-05-04", "2025-06-03"] and refit.cutoffs[-1] == "2025-10-01"
    assert train.schema == [("customer_id", "string"), ("cutoff", "datetime"),
                            ("recency_days", "double"), ("plan", "string"), ("churn", "double")]
    assert evaluation.schema[1:] == [("recency_days", "double"), ("plan", "string"),
                                     ("churn", "double")]
    assert len({w.digest for w in windows}) == 3 and {w.source for w in windows} == {"/data"}


def test_a_digest_changes_with_the_data_and_the_settings_not_with_the_folder():
    data, predictions = _behavioural()

    def digests(prints=PRINTS, config=None, source="/data"):
        return [w.digest for w in window_data(data, predictions, prints, config or SegmlConfig(),
                                              source)]

    assert digests() == digests(source="/elsewhere") == digests(
        config=SegmlConfig(data={"dir": "/elsewhere"}))
    changed = {**PRINTS, "transactions": {"rows": 9, "sha256": "cc"}}
    assert all(a != b for a, b in zip(digests(), digests(prints=changed), strict=True))
    assert digests() != digests(config=SegmlConfig(time={"churn_horizon_days": 60}))


def test_attributes_mode_has_one_cross_validation_window():
    data, predictions = _behavioural()
    predictions.fits["churn"].plan = None
    data.mode, data.plan, data.data_end = "attributes", None, None
    (window,) = window_data(data, predictions, PRINTS, SegmlConfig(), None)
    assert (window.name, window.context, window.rows, window.cutoffs) == (
        "churn-cross-validation", "training", 812, [])
    assert window.schema[-1] == ("churn", "double") and "segml.label_horizon_days" not in (
        window.tags())


def test_the_description_puts_the_model_beside_its_best_baseline_and_windows():
    data, predictions = _behavioural()
    text = version_description("r" * 32, data, predictions)
    assert "for 2 customers, trained on behavioural data from 2023-01-02 to 2025-12-30" in text
    assert ("| churn | roc_auc | 0.880 | 0.860 (logreg) | trained at 2 cutoff(s) 2025-05-04 to "
            "2025-06-03; evaluated 2025-10-01 +90 d; refit up to 2025-10-01 |") in text
    predictions.skipped = [SimpleNamespace(message="high_clv and spend skipped: 3 years needed")]
    assert "Skipped: high_clv and spend skipped" in version_description("r", data, predictions)


def test_tags_name_the_data_window_and_the_settings():
    data, _ = _behavioural()
    tags = lineage_tags(data, SegmlConfig(), {"segml.version": "0.1.0", "mlflow.source.git.commit": "x"})
    assert tags == {"segml.mode": "behavioural", "segml.config_hash": config_hash(SegmlConfig()),
                    "segml.engine": "local",
                    "segml.data_start": "2023-01-02", "segml.data_end": "2025-12-30",
                    "segml.version": "0.1.0"}


@pytest.mark.parametrize("change", [{"seed": 1}, {"models": {"learning_rate": 0.1}}])
def test_the_config_hash_follows_the_settings(change):
    assert config_hash(SegmlConfig(**change)) != config_hash(SegmlConfig())
    assert config_hash(SegmlConfig(tracking={"registered_model_name": "other"})) == config_hash(
        SegmlConfig())
