"""``segml train/retrain --engine spark`` refused before any work: an unknown engine, no data
folder, no pyspark, a master that is no Spark master URL (family f0, bad command lines).

None of these cases starts a JVM or opens a store; the successful Spark runs are in
``tests/scale/test_spark_training.py``.
"""

from __future__ import annotations

import sys

import pytest

from .helpers import assert_handled, invoke


@pytest.fixture(autouse=True)
def own_store(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("command", ["train", "retrain"])
def test_f0_unknown_engine_is_named(source, tmp_path, command):
    assert_handled(invoke(command, "--data", source, "--engine", "turbo"), 1, "--engine")
    assert not (tmp_path / "mlflow.db").exists()  # refused before the store is touched


@pytest.mark.parametrize("command", ["train", "retrain"])
def test_f0_spark_without_a_data_folder_names_data(tmp_path, command):
    config = tmp_path / "segml.yaml"
    config.write_text("seed: 3\n")
    assert_handled(invoke(command, "--config", config, "--engine", "spark"), 1, "--data")


@pytest.mark.parametrize("command", ["train", "retrain"])
def test_f0_spark_without_pyspark_says_what_to_install(source, monkeypatch, command):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark fails as when absent
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    output = assert_handled(invoke(command, "--data", source, "--engine", "spark"), 1, "pyspark")
    assert "install-scale" in output


@pytest.mark.parametrize("master", ["nonsense", "local[x]", "spark//host:7077"])
def test_f0_bad_spark_master_is_named_before_a_jvm_starts(source, master):
    pytest.importorskip("pyspark")
    assert_handled(invoke("train", "--data", source, "--engine", "spark",
                          "--spark-master", master), 1, "--spark-master")
