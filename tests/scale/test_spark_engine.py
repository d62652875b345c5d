"""Spark features and scores equal the single-machine ones (local[2] session, generated data).

Run by ``make test-scale`` (marker ``scale``); needs the ``scale`` extra and Java 17.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from segml.cli.main import app
from segml.data.contract import load_tables
from segml.data.synthetic.datasets import make_customers, synthetic_config
from segml.errors import DataError
from segml.features import FeatureSpec, build_features, data_end, data_start, make_labels
from segml.scale.spark_features import (
    SparkTables,
    build_features_spark,
    data_end_spark,
    data_start_spark,
    fit_feature_spec_spark,
    local_spark,
)
from segml.scale.spark_labels import build_labels_spark
from segml.scale.spark_scoring import score_spark, score_to_parquet_spark
from segml.workflow.train import score, train

pytestmark = [pytest.mark.scale, pytest.mark.slow]
# py4j logs "Closing down clientserver connection" from a destructor at interpreter exit, after
# pytest has closed its capture streams: a harmless but alarming "Logging error" traceback.
logging.getLogger("py4j").setLevel(logging.WARNING)
MODEL = "models:/segml-customer@champion"


@pytest.fixture(scope="module")
def spark():
    session = local_spark(cores=2, memory="2g", app_name="segml-tests")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("spark-data")
    make_customers(1200, seed=13).write(root)
    return root


@pytest.fixture(scope="module")
def config():
    return synthetic_config(data={"now": "2030-01-01"})


def assert_same_features(spark_rows: pd.DataFrame, local: pd.DataFrame, spec: FeatureSpec):
    assert sorted(spark_rows["customer_id"]) == sorted(local.index)
    rows = spark_rows.set_index("customer_id").loc[local.index]
    assert list(rows.columns) == spec.feature_names
    numeric = [n for n in spec.feature_names if n not in spec.categorical_features]
    a, b = rows[numeric].to_numpy(float), local[numeric].to_numpy(float)
    assert (np.isnan(a) == np.isnan(b)).all()
    assert np.nanmax(np.abs(a - b)) < 1e-9
    for name in spec.categorical_features:
        assert text(rows[name]) == text(local[name]), name


def text(values: pd.Series) -> list:
    return values.astype(object).where(values.notna(), None).tolist()


def test_spec_and_features_on_spark_equal_the_single_machine_ones(spark, data_dir, config):
    tables = load_tables(config, data_dir=data_dir)
    cutoff = data_end(tables) - pd.Timedelta(days=60)  # rows after the cutoff must be ignored
    spec = FeatureSpec.fit(tables, cutoff, config)
    local = build_features(tables, cutoff, spec)

    sparks = SparkTables.read(spark, data_dir, config)
    assert data_end_spark(sparks, config) == data_end(tables)
    assert data_start_spark(sparks, config) == data_start(tables)  # the cutoff checks' bounds
    assert fit_feature_spec_spark(sparks, cutoff, config) == spec
    assert_same_features(build_features_spark(sparks, cutoff, spec, config).toPandas(), local, spec)


def test_many_small_buckets_give_the_same_features(spark, data_dir, config):
    tables = load_tables(config, data_dir=data_dir)
    cutoff = data_end(tables)
    spec = FeatureSpec.fit(tables, cutoff, config)
    sparks = SparkTables.read(spark, data_dir, config)
    rows = build_features_spark(sparks, cutoff, spec, config, n_buckets=211).toPandas()
    assert_same_features(rows, build_features(tables, cutoff, spec), spec)
    assert fit_feature_spec_spark(sparks, cutoff, config, n_buckets=211) == spec


def test_labels_on_spark_equal_the_single_machine_ones(spark, data_dir, config):
    tables = load_tables(config, data_dir=data_dir)
    cutoff = data_end(tables) - pd.Timedelta(days=400)  # complete label windows
    local = make_labels(tables, cutoff, config.time)
    rows = build_labels_spark(SparkTables.read(spark, data_dir, config), cutoff, config,
                              n_buckets=5).toPandas().set_index("customer_id").loc[local.index]
    assert len(rows) == len(local) and local["high_clv"].sum() > 0
    assert rows["is_active"].astype(bool).tolist() == local["is_active"].tolist()
    for column in ("churn", "purchase", "future_spend", "high_clv"):
        np.testing.assert_allclose(rows[column].to_numpy(float), local[column].to_numpy(float),
                                   rtol=0, atol=1e-9, err_msg=column)


@pytest.fixture(scope="module")
def champion(tmp_path_factory):
    root = tmp_path_factory.mktemp("spark-model")
    make_customers(1500, seed=8).write(root / "train")
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.setenv("SEGML_LOCK_DIR", str(root / "locks"))
    mp.chdir(root)
    config = synthetic_config()
    config.data.dir = str(root / "train")
    config.time.training_cutoffs = 1  # a smaller model: the engines are compared, not the model
    config.models.n_estimators = 80
    train(config)
    yield synthetic_config()
    mp.undo()


def test_spark_scores_equal_local_scores_with_reasons(spark, data_dir, champion):
    cutoff = "2025-10-31"  # not the data end: dates and features follow the cutoff
    local = score(MODEL, config=champion, data_dir=data_dir, cutoff=cutoff, reasons=True)
    scored = score_spark(spark, MODEL, data_dir=data_dir, config=champion, cutoff=cutoff,
                         reasons=True).toPandas()
    assert list(scored.columns) == list(local.columns)
    assert len(scored) == len(local) == scored["customer_id"].nunique()
    scored = scored.set_index("customer_id").loc[local["customer_id"]]
    local = local.set_index("customer_id")
    for column in local.columns:
        if pd.api.types.is_float_dtype(local[column]):
            diff = np.abs(scored[column].to_numpy(float) - local[column].to_numpy(float))
            assert np.nanmax(diff) < 1e-9, column
        else:
            assert text(scored[column]) == text(local[column]), column
    # churn applies to active customers only: reasons wherever there is a probability, else null
    scored_churn = scored["churn_probability"].notna()
    assert 0 < scored_churn.sum() < len(scored)
    assert scored.loc[scored_churn, "churn_reasons"].str.startswith('[{"feature"').all()
    assert scored.loc[~scored_churn, "churn_reasons"].isna().all()
    # a customer who signed up after the cutoff has a row, as on one machine
    unknown = scored["lifecycle_stage"] == "no history"
    assert unknown.any() and scored.loc[unknown, "predictive_segment"].eq("No history").all()


def test_cli_scores_on_spark_into_parquet(spark, data_dir, champion, tmp_path):
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(app, ["score", "--engine", "spark", "--model", MODEL,
                                      "--data", str(data_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = pd.read_parquet(out)
    local = score(MODEL, config=champion, data_dir=data_dir)
    assert sorted(written["customer_id"]) == sorted(local["customer_id"])
    assert f"scored {len(local):,} customers on Spark" in result.output


def test_bad_amount_fails_naming_the_column_and_writes_nothing(spark, champion, tmp_path):
    data = make_customers(300, seed=3)
    data.transactions["amount"] = data.transactions["amount"].astype(str)
    data.transactions.loc[5, "amount"] = "twelve"
    data.write(tmp_path / "bad")
    out = tmp_path / "scores.parquet"
    with pytest.raises(DataError, match="amount"):
        score_to_parquet_spark(MODEL, tmp_path / "bad", out, config=champion)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".scores.parquet")]
