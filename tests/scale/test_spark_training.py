"""Training on Spark equals training on one machine (docs/spark.md, "Training on Spark").

The same small generated data and config go through ``segml train`` locally and on a
``local[2]`` session; the row budgets are set below the data's stacked rows, so the seeded
samples are drawn (on Spark: counted, keyed and filtered there), and the discovery cap
(``segments.discovery_max_rows``) below the customers, so segment discovery fits on a sample.
The sampled customers, the feature matrices, the fitted models, the metrics, the segments, their
profiles, the predictive grid, the audience thresholds and the drift reference must agree (the
Spark side computed from every customer without collecting them), and a retrain on Spark must
reach the local retrain's gates. Run by ``make test-scale`` (marker ``scale``).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from segml.cli.main import app
from segml.config import load_config
from segml.data.contract import load_tables
from segml.data.synthetic.datasets import make_customers, synthetic_config
from segml.features import make_labels
from segml.scale.spark_features import local_spark
from segml.scale.spark_training import SparkSource
from segml.targets import target as target_of
from segml.workflow.datasets import build_datasets
from segml.workflow.retrain import retrain
from segml.workflow.stages import discovery_sample
from segml.workflow.train import train

pytestmark = [pytest.mark.scale, pytest.mark.slow]
logging.getLogger("py4j").setLevel(logging.WARNING)
TARGETS = ["churn", "spend"]  # a classifier and the regressor: every kind of fit and sample
DISCOVERY = 400  # of the 700 customers: segment discovery fits on a sample


@pytest.fixture(scope="module")
def spark():
    session = local_spark(cores=2, memory="2g", app_name="segml-training-tests")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("spark-training")
    make_customers(700, seed=21).write(root / "data")
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.setenv("SEGML_LOCK_DIR", str(root / "locks"))
    mp.chdir(root)
    yield root
    mp.undo()


def small_config(root, name: str, max_eval_rows: int | None = 300):
    """Row budgets below the data's stacked rows (sampling happens); ``max_eval_rows`` below
    the config's floor of 1000 so the evaluation is sampled too (set without validation)."""
    config = synthetic_config(data={"now": "2030-01-01"})
    config.data.dir = str(root / "data")
    config.models = config.models.model_copy(update={
        "targets": TARGETS, "candidate_max_rows": 1000, "max_train_rows": 1000,
        "max_eval_rows": max_eval_rows, "n_estimators": 80})
    config.segments.sample_size = 200
    config.segments.discovery_max_rows = DISCOVERY
    config.tracking.registered_model_name = name
    config.tracking.experiment_name = name
    return config


def both_datasets(spark, world, config):
    """The loaded tables, the datasets one machine builds from them and those Spark builds."""
    tables = load_tables(config, data_dir=world / "data")
    return (tables, build_datasets(tables, config),
            SparkSource.read(spark, world / "data", config).build_datasets(config))


def test_spark_draws_the_same_samples_and_builds_the_same_matrices(spark, world):
    config = small_config(world, "segml-datasets")
    tables, local, remote = both_datasets(spark, world, config)
    assert remote.engine == "spark" and local.engine == "local"
    assert remote.plan.to_dict() == local.plan.to_dict() and remote.spec == local.spec
    # the driver holds the discovery sample of the current customers, not every one of them
    sample = discovery_sample(local.current_X, config.segments, config.seed, local.data_end)
    assert len(sample) == DISCOVERY < len(local.current_X) == remote.n_customers
    assert sample.index.equals(remote.current_X.index)  # the same customers, the table's order
    pd.testing.assert_frame_equal(sample, remote.current_X, check_exact=False, rtol=0, atol=1e-9)
    assert_no_frame_per_customer(remote)
    sampled = 0
    for target in TARGETS:
        column = target_of(target).label_column
        stacks, evaluation = assert_same_sets(local, remote, target)
        for role, stack in stacks.items():
            cutoffs = getattr(local.plan.targets[target], role)
            labelled = sum(int(make_labels(tables, c, config.time, [target])[column].notna().sum())
                           for c in cutoffs)
            if labelled > 1000:  # the budget cut this stack: a sample, of exactly the budget
                assert len(stack) == 1000
                sampled += 1
        assert len(evaluation) == 300
    assert sampled >= 2  # the test exercised the sampled path, not only the whole stacks


def assert_no_frame_per_customer(data):
    """No frame or series the Spark datasets (and their population) hold on the driver has a
    row per current customer: the longest is the discovery sample."""
    held = [*vars(data).values(), *vars(data.population).values()]
    lengths = [len(v) for v in held if isinstance(v, pd.DataFrame | pd.Series | pd.Index)]
    assert lengths and max(lengths) <= DISCOVERY < data.n_customers


def assert_same_sets(local, remote, target: str):
    """The local and the Spark datasets give ``target`` the same customers, matrices (1e-9),
    labels and cutoffs in every stack and in the evaluation set; returns the local stacks by
    role ("train", "refit") and the local evaluation matrix."""
    stacks = {}
    for role in ("train", "refit"):
        method = "training_set" if role == "train" else "refit_set"
        a, b = getattr(local, method)(target), getattr(remote, method)(target)
        assert a.X.index.tolist() == b.X.index.tolist(), (target, role)  # same customers
        pd.testing.assert_frame_equal(a.X, b.X, check_exact=False, rtol=0, atol=1e-9)
        pd.testing.assert_frame_equal(a.Y, b.Y)
        pd.testing.assert_series_equal(a.cutoff, b.cutoff)
        stacks[role] = a
    (xa, ya), (xb, yb) = local.evaluation_set(target), remote.evaluation_set(target)
    assert xa.index.tolist() == xb.index.tolist(), (target, "evaluation")
    pd.testing.assert_frame_equal(xa, xb, check_exact=False, rtol=0, atol=1e-9)
    pd.testing.assert_series_equal(ya, yb)
    return stacks, xa


@pytest.fixture(scope="module")
def trained(spark, world):
    local = train(small_config(world, "segml-local"), data_dir=world / "data")
    config = small_config(world, "segml-spark")
    remote = train(config, tables=SparkSource.read(spark, world / "data", config))
    return local, remote


def test_a_spark_train_registers_the_same_model_as_a_local_train(trained):
    from mlflow import MlflowClient

    local, remote = trained
    def measured(metrics):  # the timings aside (Spark builds every matrix in its features stage)
        return {k: v for k, v in metrics.items() if not k.endswith("_seconds")}

    assert set(measured(local.metrics)) == set(measured(remote.metrics))
    for name, value in measured(local.metrics).items():
        assert remote.metrics[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    assert local.fit_cutoffs == remote.fit_cutoffs
    # the registered composites give the same scores, segments included, on every customer
    X = local.datasets.current_X
    a, b = local.scorer.score(X), remote.scorer.score(X)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=1e-9)
    assert adjusted_rand_score(a["segment_leaf"], b["segment_leaf"]) >= 0.99
    client = MlflowClient()
    assert client.get_run(remote.run_id).data.tags["engine"] == "spark"
    assert client.get_run(local.run_id).data.tags["engine"] == "local"
    version = client.get_model_version("segml-spark", remote.model_version)
    assert version.tags["segml.engine"] == "spark"
    pa, pb = (client.get_run(r.run_id).data.params for r in (local, remote))
    differing = sorted(k for k in pa.keys() | pb.keys() if pa.get(k) != pb.get(k))
    # the content hashes are another hash on Spark (docs/spark.md); rows and dates are the same;
    # the two models have their own names
    assert differing and all(
        (k.startswith("fingerprint.") and k.endswith((".sha256", ".hash")))
        or k.startswith("tracking.") for k in differing), differing

def test_a_spark_train_profiles_and_summarises_every_customer_as_a_local_train(trained):
    """Discovery fits on the same sample; the profiles, the predictive grid, the audience
    thresholds, the example row and the drift reference, computed on Spark from every customer,
    equal the local ones."""
    local, remote = trained
    a, b = local.segmentation, remote.segmentation
    assert len(a.discovery_ids) == DISCOVERY and a.discovery_ids.equals(b.discovery_ids)
    assert remote.datasets.n_customers == len(local.datasets.current_X) > DISCOVERY
    assert_no_frame_per_customer(remote.datasets)
    assert a.depth == b.depth
    for level, profile in a.profiles.items():
        other = b.profiles[level]
        assert profile.index.equals(other.index), level
        np.testing.assert_array_equal(profile["size"], other["size"])  # sizes exact
        assert int(other["size"].sum()) == len(local.datasets.current_X)
        pd.testing.assert_frame_equal(profile, other, check_exact=False, rtol=1e-9, atol=1e-12)
    assert a.names == b.names
    # the sizes the report, the metrics and the CLI show: every customer's on both engines
    pd.testing.assert_frame_equal(a.counts(), b.counts(), check_dtype=False)
    assert int(b.counts()["customers"].sum()) == len(local.datasets.current_X)
    grid_a, grid_b = local.scorer.predictive_grid, remote.scorer.predictive_grid
    assert grid_a["value"] is not None and grid_a["risk"] is not None
    for axis in ("value", "risk"):
        np.testing.assert_allclose(grid_b[axis]["cuts"], grid_a[axis]["cuts"], rtol=0, atol=1e-9)
        assert {**grid_a[axis], "cuts": None} == {**grid_b[axis], "cuts": None}
    curves_a, curves_b = local.scorer.audience_curves, remote.scorer.audience_curves
    assert set(curves_a) == set(curves_b) == {"churn"}
    np.testing.assert_allclose(curves_b["churn"]["registered_threshold"],
                               curves_a["churn"]["registered_threshold"], rtol=0, atol=1e-9)
    row_a, row_b = (s.metadata["example_row"] for s in (local.scorer, remote.scorer))
    assert row_a.keys() == row_b.keys()
    np.testing.assert_allclose([row_b[k] for k in row_a], list(row_a.values()), rtol=1e-12)
    ref_a, ref_b = (s.metadata["drift_reference"] for s in (local.scorer, remote.scorer))
    assert ref_a.keys() == ref_b.keys()
    for part in ref_a:
        assert ref_a[part].keys() == ref_b[part].keys(), part
        for key, value in ref_a[part].items():
            if part in ("categorical_levels",):
                assert value == ref_b[part][key], (part, key)
            else:
                np.testing.assert_allclose(ref_b[part][key], value, rtol=0, atol=1e-9,
                                           err_msg=f"{part} {key}")
    # the report's grid reads the scores of the sample: one row per sampled customer
    assert remote.segmentation.current_scores.index.equals(b.discovery_ids)


def test_retrain_on_spark_from_the_cli_reaches_the_local_retrain_s_gates(trained, world):
    def config_file(name: str):
        document = yaml.safe_load((world / "data" / "segml.yaml").read_text())
        document["data"]["now"] = "2030-01-01"
        document["models"] = {"targets": TARGETS, "candidate_max_rows": 1000,
                              "max_train_rows": 1000, "n_estimators": 80}
        document["segments"] = {"sample_size": 200, "discovery_max_rows": DISCOVERY}
        document["tracking"] = {"registered_model_name": name, "experiment_name": name}
        path = world / f"{name}.yaml"
        path.write_text(yaml.safe_dump(document))
        return path

    local = retrain(load_config(config_file("segml-local")), data_dir=world / "data", force=True)
    result = CliRunner().invoke(app, [
        "retrain", "--engine", "spark", "--data", str(world / "data"),
        "--config", str(config_file("segml-spark")), "--force"])
    assert result.exit_code in (0, 3), result.output  # promoted or not: the gates decide
    assert local.gates
    printed = " ".join(result.output.split())  # the console wraps long lines
    for gate in local.gates:
        mark = "pass" if gate.passed else "FAIL"
        assert " ".join(f"{mark} {gate.name}: {gate.reason}".split()) in printed, (gate, printed)
    assert ("promoted to champion" in printed) == local.promoted
    np.testing.assert_equal(result.exit_code == 0, local.promoted)


def test_a_bad_value_fails_the_spark_train_in_one_line_naming_the_column(spark, world, tmp_path):
    data = make_customers(300, seed=3)
    data.transactions["amount"] = data.transactions["amount"].astype(str)
    data.transactions.loc[5, "amount"] = "twelve"
    data.write(tmp_path / "bad")
    result = CliRunner().invoke(app, ["train", "--engine", "spark", "--data", str(tmp_path / "bad"),
                                      "--quiet"])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors and all("amount" in line for line in errors), result.output
    assert "Traceback" not in result.output


def declared_config(root, name: str, extra: dict | None = None):
    """``small_config`` training two declared targets (docs/targets.md) instead of built-ins."""
    config = small_config(root, name)
    declared = {
        "buys_electronics": {"horizon_days": 30,
                             "label": {"purchases": {"category": ["electronics"]}}},
        "contacts_support": {"horizon_days": 60,
                             "label": {"events": {"type": ["support_ticket"]}}},
        **(extra or {}),
    }
    from segml.config import SegmlConfig

    # set without validation, as small_config's budgets (below the config's floors)
    config.targets = SegmlConfig.model_validate({"targets": declared}).targets
    config.models = config.models.model_copy(update={"targets": list(declared)})
    return config


def test_declared_targets_train_on_spark_with_the_local_labels_samples_and_matrices(spark, world):
    config = declared_config(world, "segml-declared")
    _, local, remote = both_datasets(spark, world, config)
    assert list(remote.plan.targets) == ["buys_electronics", "contacts_support"]
    assert {"buys_electronics_history_count", "contacts_support_history_count"} <= set(
        remote.current_X.columns)  # features follow the declared targets on Spark too
    sample = discovery_sample(local.current_X, config.segments, config.seed, local.data_end)
    pd.testing.assert_frame_equal(sample, remote.current_X, check_exact=False, rtol=0, atol=1e-9)
    for target in ("buys_electronics", "contacts_support"):
        stacks, _ = assert_same_sets(local, remote, target)
        for stack in stacks.values():
            assert 0 < stack.Y[target].mean() < 1  # both classes: a real label, not a constant


def test_a_declared_column_label_is_refused_on_spark_in_one_line(spark, world):
    from segml.errors import SegmlError

    config = declared_config(world, "segml-declared-column", {
        "vip": {"label": {"column": {"column": "gender", "positive": "f"}}}})
    with pytest.raises(SegmlError, match=r"targets\.vip: a column label is not trained on Spark"):
        SparkSource.read(spark, world / "data", config).build_datasets(config)
