"""What ``--reasons`` costs a user: ``segml.score`` end to end with and without reasons.

    python benchmarks/bench_reasons.py [--customers 5000] [--train-customers 2000] [--repeats 3]

Trains a small pipeline once (synthetic data, tmp MLflow store), then times
:func:`segml.workflow.train.score` on ``--customers`` synthetic customers (loading, features, scores,
as ``segml score`` runs it) with ``reasons=False`` and ``reasons=True``, and prints the medians
and their ratio: the figure docs/predictions.md quotes.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--train-customers", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from segml.config import load_config
    from segml.data.synthetic.datasets import make_customers
    from segml.workflow.train import score, train

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_customers(args.train_customers, seed=1).write(root / "train")
        make_customers(args.customers, seed=2).write(root / "score")
        config = load_config(None)
        config.tracking.tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
        config.data.dir = str(root / "train")
        uri = train(config, run_name="bench reasons").model_uri
        config.data.dir = str(root / "score")
        times = {}
        for reasons in (False, True):
            runs = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                score(uri, config=config, reasons=reasons)
                runs.append(time.perf_counter() - start)
            times[reasons] = statistics.median(runs)
    print(f"{args.customers:,} customers, median of {args.repeats}: "
          f"scores {times[False]:.2f} s, scores with reasons {times[True]:.2f} s, "
          f"ratio {times[True] / times[False]:.2f}x")


if __name__ == "__main__":
    main()
