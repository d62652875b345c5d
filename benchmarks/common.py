"""Shared set-up of the benchmarks that need a trained model (not a benchmark itself)."""

from __future__ import annotations

import os


def train_in(folder: str, customers: int, seed: int = 1):
    """Train the demo pipeline on ``customers`` synthetic customers in a tracking store inside
    ``folder`` (which becomes the working directory); return the ``TrainResult``."""
    from segml.data.synthetic.datasets import make_customers, synthetic_config
    from segml.workflow.train import train

    os.chdir(folder)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder}/mlflow.db"
    make_customers(customers, seed=seed).write(f"{folder}/train")
    config = synthetic_config()
    config.data.dir = f"{folder}/train"
    return train(config)
