"""Spark features + scoring on local[N] beside single-machine scoring of the same data (docs/spark.md).

    python benchmarks/bench_spark.py --customers 100000 [--cores 2] [--repeats 1]

Trains a small pipeline once (``--train-customers`` synthetic customers, tmp MLflow store), writes
N other customers as Parquet, then times, from the same files to scores in memory or on disk:
- single machine: ``segml.workflow.train.score`` (load + features + chunked scoring);
- Spark: ``score_spark`` then ``write_scores_spark`` (read + features in ``applyInPandas`` +
  ``spark_udf`` scoring + Parquet write), on a ``local[cores]`` session started beforehand;
- Spark features alone (written to Parquet), to split the two stages.
Prints medians (seconds and customers/s), the Spark / local ratio and checks that both engines
produced the same scores (max absolute difference).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import pandas as pd
from common import train_in


def _median_seconds(func, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--train-customers", type=int, default=5000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--memory", default="8g", help="Spark driver memory (local mode)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--buckets", type=int, default=None,
                        help="customer buckets (default: 4 per core; raise it for 1M+)")
    args = parser.parse_args()

    from segml.data.synthetic.datasets import make_customers, synthetic_config
    from segml.scale.spark_features import (
        SparkTables,
        build_features_spark,
        data_end_spark,
        local_spark,
    )
    from segml.scale.spark_scoring import score_spark, write_scores_spark
    from segml.tracking import load_scorer
    from segml.workflow.train import score

    model = "models:/segml-customer@champion"
    with tempfile.TemporaryDirectory() as tmp:
        train_in(tmp, args.train_customers)
        config = synthetic_config()
        started = time.perf_counter()
        data = make_customers(args.customers, seed=2)
        data.write(f"{tmp}/data")
        print(f"customers {args.customers:,}: {len(data.transactions):,} transactions, "
              f"{len(data.events):,} events (generated in {time.perf_counter() - started:.1f} s)")
        del data

        local_s, local = _median_seconds(
            lambda: score(model, config=config, data_dir=f"{tmp}/data"), args.repeats)

        spark = local_spark(cores=args.cores, memory=args.memory, app_name="segml-bench")
        spark.sparkContext.setLogLevel("ERROR")
        tables = SparkTables.read(spark, f"{tmp}/data", config)
        spec = load_scorer(model).feature_spec
        at = data_end_spark(tables, config)

        def spark_features():
            path = f"{tmp}/features-{time.perf_counter_ns()}.parquet"
            write_scores_spark(build_features_spark(tables, at, spec, config,
                                                    n_buckets=args.buckets), path)
            return path

        def spark_scores():
            path = f"{tmp}/scores-{time.perf_counter_ns()}.parquet"
            write_scores_spark(score_spark(spark, model, tables=tables, config=config,
                                           n_buckets=args.buckets), path)
            return path

        features_s, _ = _median_seconds(spark_features, args.repeats)
        spark_s, path = _median_seconds(spark_scores, args.repeats)
        scored = pd.read_parquet(path).set_index("customer_id").loc[local["customer_id"]]
        diff = float(np.nanmax(np.abs(scored["churn_probability"].to_numpy()
                                      - local["churn_probability"].to_numpy())))
        same_leaf = bool((scored["segment_leaf"].to_numpy()
                          == local["segment_leaf"].to_numpy()).all())
        spark.stop()

    n = len(local)
    print(f"{'engine':<38}{'seconds':>10}{'customers/s':>14}")
    print(f"{'single machine (features + scores)':<38}{local_s:>10.1f}{n / local_s:>14,.0f}")
    print(f"{f'Spark local[{args.cores}] features only':<38}{features_s:>10.1f}"
          f"{n / features_s:>14,.0f}")
    print(f"{f'Spark local[{args.cores}] features + scores':<38}{spark_s:>10.1f}"
          f"{n / spark_s:>14,.0f}")
    print(f"Spark / single machine time: {spark_s / local_s:.2f}x; "
          f"max |churn diff| {diff:.1e}; identical leaves: {same_leaf}")


if __name__ == "__main__":
    main()
