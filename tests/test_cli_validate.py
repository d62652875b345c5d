"""Acceptance of `segml validate` (issue 3): every broken copy exits 1, names the culprit, no traceback."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from segml.cli.main import app
from segml.data.synthetic.datasets import make_customers

runner = CliRunner()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("valid")
    make_customers(400, seed=5).write(out)
    return out


def _copy(data_dir, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(data_dir, target)
    return target


def _validate(*args):
    result = runner.invoke(app, ["validate", *args])
    assert "Traceback" not in result.output
    return result


def test_generated_data_is_valid(data_dir):
    result = _validate("--data", str(data_dir))
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_dropped_amount_column_is_named(data_dir, tmp_path):
    d = _copy(data_dir, tmp_path)
    tx = pd.read_parquet(d / "transactions.parquet").drop(columns="amount")
    tx.to_parquet(d / "transactions.parquet")
    result = _validate("--data", str(d))
    assert result.exit_code == 1
    assert "amount" in result.output and "transactions" in result.output


def test_unparseable_timestamps_are_counted_with_examples(data_dir, tmp_path):
    d = _copy(data_dir, tmp_path)
    tx = pd.read_parquet(d / "transactions.parquet")
    tx["timestamp"] = tx["timestamp"].astype(str)
    tx.loc[tx.index[:3], "timestamp"] = "not-a-date"
    tx.to_parquet(d / "transactions.parquet")
    result = _validate("--data", str(d))
    assert result.exit_code == 1
    assert "not-a-date" in result.output and "timestamp" in result.output
    assert "3" in result.output


def test_duplicated_customers_are_reported(data_dir, tmp_path):
    d = _copy(data_dir, tmp_path)
    customers = pd.read_parquet(d / "customers.parquet")
    customers = pd.concat([customers, customers.iloc[:3]], ignore_index=True)
    customers.to_parquet(d / "customers.parquet")
    result = _validate("--data", str(d))
    assert result.exit_code == 1
    assert "customer_id" in result.output and "duplicate" in result.output.lower()


def test_empty_transactions_table(data_dir, tmp_path):
    d = _copy(data_dir, tmp_path)
    tx = pd.read_parquet(d / "transactions.parquet")
    tx.iloc[:0].to_parquet(d / "transactions.parquet")
    result = _validate("--data", str(d))
    assert result.exit_code == 1
    assert "transactions" in result.output and "empty" in result.output.lower()


def test_unknown_config_key_names_key_file_and_suggestion(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("seed: 1\nsegmnets:\n  levels: 2\n")
    result = _validate("--config", str(config))
    assert result.exit_code == 1
    assert "segmnets" in result.output and "bad.yaml" in result.output
    assert "segments" in result.output


def test_usage_error_exits_2():
    result = runner.invoke(app, ["validate", "--no-such-option"])
    assert result.exit_code == 2
