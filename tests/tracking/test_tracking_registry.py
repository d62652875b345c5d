"""Registration, aliases, promotion history, rollback and champion metrics."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from segml.tracking import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS,
    RegistryError,
    alias_metrics,
    get_alias_version,
    log_metrics,
    log_segml_model,
    pipeline_run,
    promote,
    register,
    rollback,
    set_alias,
)


@pytest.fixture(scope="module")
def logged(module_store, scorer):
    with pipeline_run(module_store, "registry-tests") as run:
        run.log_metrics({"churn_roc_auc": 0.8, "purchase_pr_auc": 0.4})
        with run.stage("evaluate"):
            log_metrics({"churn_ece": 0.03, "churn_roc_auc": 0.5})
        with run.stage("register"):
            info = log_segml_model(scorer)
    return info.model_uri


def _alias(name, alias, uri):
    mv = get_alias_version(name, alias, uri)
    return None if mv is None else str(mv.version)


def test_promote_and_rollback_walk_the_history(module_store, logged):
    name = "m-history"
    versions = [register(logged, name, module_store) for _ in range(3)]
    assert versions == ["1", "2", "3"]
    assert _alias(name, CHAMPION, module_store) is None  # registering sets no alias
    set_alias(name, CHALLENGER, "2", module_store)
    for v in versions:
        promote(name, v, module_store)
    assert _alias(name, CHAMPION, module_store) == "3"
    assert _alias(name, PREVIOUS, module_store) == "2"
    promote(name, "3", module_store)  # idempotent
    assert _alias(name, PREVIOUS, module_store) == "2"

    client = MlflowClient(module_store)
    assert str(rollback(name, module_store).version) == "2"
    assert _alias(name, CHAMPION, module_store) == "2"
    assert _alias(name, PREVIOUS, module_store) == "1"
    assert client.get_model_version(name, "3").tags["segml.rolled_back"] == "true"
    assert str(rollback(name, module_store).version) == "1"
    assert _alias(name, PREVIOUS, module_store) is None
    with pytest.raises(RegistryError, match="no previous champion"):
        rollback(name, module_store)
    assert _alias(name, CHAMPION, module_store) == "1"


def test_promoting_the_challenger_clears_that_alias(module_store, logged):
    name = "m-challenger"
    v1, v2 = register(logged, name, module_store), register(logged, name, module_store)
    promote(name, v1, module_store)
    set_alias(name, CHALLENGER, v2, module_store)
    assert _alias(name, CHALLENGER, module_store) == v2
    promote(name, v2, module_store)
    assert _alias(name, CHAMPION, module_store) == v2
    assert _alias(name, CHALLENGER, module_store) is None


def test_alias_lookups_for_missing_things(module_store, logged):
    assert get_alias_version("no-such-model", CHAMPION, module_store) is None
    register(logged, "m-lonely", module_store)
    assert get_alias_version("m-lonely", CHAMPION, module_store) is None
    assert alias_metrics("m-lonely", CHAMPION, module_store) == {}
    with pytest.raises(RegistryError, match="no previous champion"):
        rollback("m-lonely", module_store)


def test_alias_metrics_merge_the_run_tree(module_store, logged):
    name = "m-metrics"
    promote(name, register(logged, name, module_store), module_store)
    metrics = alias_metrics(name, CHAMPION, module_store)
    assert metrics["churn_roc_auc"] == pytest.approx(0.8)  # the parent run wins over a stage
    assert metrics["churn_ece"] == pytest.approx(0.03)  # stage metrics are included
    assert metrics["purchase_pr_auc"] == pytest.approx(0.4)
    assert "duration_seconds" not in metrics
