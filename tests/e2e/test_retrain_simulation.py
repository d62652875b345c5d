"""Three monthly snapshots, the last with injected drift: retrain after each (issue 7, item 6).

The snapshots are the same generated history seen at three month-ends (``time.cutoff``); the
third one has its last month of purchases inflated and moved to one channel. Asserts the recorded
decisions agree with the gates, unchanged data keeps segment ids, and the drift is logged.
"""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest

from segml.data.contract import load_tables
from segml.data.synthetic.datasets import make_customers, synthetic_config
from segml.tracking import registry
from segml.workflow.retrain import DECISION_TAG, retrain

pytestmark = pytest.mark.slow
NAME = "segml-sim"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.setenv("SEGML_LOCK_DIR", str(root / "locks"))
    mp.chdir(root)
    yield root
    mp.undo()


def _config(cutoff: str):
    config = synthetic_config()
    config.tracking.registered_model_name = NAME
    config.models.n_estimators = 150
    config.time.cutoff = pd.Timestamp(cutoff).date()
    return config


def _drifted(data, since: pd.Timestamp):
    tx = data.transactions.copy()
    late = tx["timestamp"] > since
    tx.loc[late, "amount"] = tx.loc[late, "amount"] * 4
    tx["channel"] = tx["channel"].astype(object)
    tx.loc[late, "channel"] = "store"
    return tx


def test_monthly_retrains_record_decisions_keep_ids_and_log_drift(store):
    data = make_customers(2000, seed=8)
    end = data.transactions["timestamp"].max().normalize()
    months = [end - pd.Timedelta(days=61), end - pd.Timedelta(days=31), end - pd.Timedelta(days=1)]
    uri = f"sqlite:///{store / 'mlflow.db'}"
    outcomes = []
    for i, month_end in enumerate(months):
        config = _config(str(month_end.date()))
        transactions = data.transactions
        if i == 2:
            transactions = _drifted(data, months[1])
        tables = load_tables(
            config, customers=data.customers, transactions=transactions, events=data.events
        )
        outcomes.append(retrain(config, tables=tables))

    first, second, third = outcomes
    # No champion yet: the first challenger is promoted (nothing to lose against).
    assert first.promoted and first.champion_version is None
    for outcome in outcomes:
        failed = [g.name for g in outcome.gates if not g.passed]
        assert outcome.promoted == (not failed), (outcome.message, failed)
        tags = mlflow.MlflowClient(uri).get_run(outcome.run_id).data.tags
        assert tags[DECISION_TAG] == ("promoted" if outcome.promoted else "rejected")

    # One month later on the same customers: the segments are matched and mostly stable.
    stability = {g.name: g.value for g in second.gates}["segment_stability"]
    assert stability >= 0.8

    # The drifted month shows up in the logged drift, far above the quiet month.
    assert third.drift["drift_psi_max"] > max(0.25, 2 * second.drift["drift_psi_max"])
    drifted = set(third.drift["drifted_features"])
    assert drifted & {"spend_30d", "monetary_mean", "share_channel_store", "monetary_max"}
    artifacts = mlflow.artifacts.download_artifacts(
        run_id=third.run_id, artifact_path="drift.json", tracking_uri=uri
    )
    with open(artifacts) as handle:
        assert json.load(handle)["drift_psi_max"] == pytest.approx(third.drift["drift_psi_max"])

    champion = registry.get_alias_version(NAME, "champion", uri)
    promoted = [o.challenger_version for o in outcomes if o.promoted]
    assert str(champion.version) == promoted[-1]
