"""Fixtures of the adversarial suite (issue 19): one small seeded data set and one trained model
in a store of its own, shared by every module."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from segml.data.synthetic.datasets import make_customers

from .helpers import invoke


@pytest.fixture(scope="session")
def source(tmp_path_factory) -> Path:
    """400 synthetic customers with transactions and events (Parquet), written once."""
    folder = tmp_path_factory.mktemp("adversarial-data")
    make_customers(400, seed=3).write(folder)
    return folder


@pytest.fixture(scope="session")
def frames(source) -> dict[str, pd.DataFrame]:
    return {t: pd.read_parquet(source / f"{t}.parquet")
            for t in ("customers", "transactions", "events")}


@pytest.fixture
def copy_of(source, tmp_path):
    """A copy of the data with some tables replaced: ``copy_of(transactions=frame, fmt='csv')``."""

    def make(fmt: str = "parquet", **tables: pd.DataFrame) -> Path:
        target = tmp_path / "data"
        shutil.copytree(source, target)
        for table, frame in tables.items():
            (target / f"{table}.parquet").unlink()
            if fmt == "csv":
                frame.to_csv(target / f"{table}.csv", index=False)
            else:
                frame.to_parquet(target / f"{table}.parquet", index=False)
        return target

    return make


@pytest.fixture(scope="session")
def trained(source, tmp_path_factory) -> dict[str, str]:
    """``segml train`` once, through the CLI, into a store of its own: the champion version 1
    that the scoring, registry, interrupt and serving cases use."""
    folder = tmp_path_factory.mktemp("adversarial-store")
    uri = f"sqlite:///{folder}/mlflow.db"
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        result = invoke("train", "--data", source)  # not --quiet: it would drop the warnings
    finally:
        if saved is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved
    assert result.exit_code == 0, result.output
    return {"uri": uri, "folder": str(folder), "output": result.output}
