"""Batch scoring throughput of the composite scorer vs the bare models on the same rows.

    python benchmarks/bench_scoring.py --customers 100000 [--train-customers 5000] [--repeats 3]
    python benchmarks/bench_scoring.py --model models:/segml-customer/1 --data DIR [--customers N]

Without ``--model`` it trains a small pipeline once (synthetic data, tmp MLflow store). With
``--model`` it loads any registered model (the tracking store from ``MLFLOW_TRACKING_URI``) and
builds its features from ``--data DIR`` with the model's own feature settings. Then it scores N
customers' feature rows (features excluded from the timing, as in docs/benchmarks.md):

- composite ``CustomerScorer.score`` without reasons vs the bare models of the same predictors
  (``booster.predict`` of a LightGBM winner, the logistic regression's margin for a linear one);
- with reasons for the three classifiers vs bare ``pred_contrib`` of the same boosters (the linear
  SHAP of a linear part).

Prints medians (customers/s, bare and composite timed in turns), the ratios and the winners,
and the median CPU time of both per call (all threads; the ratio a busy machine distorts least).
Targets: >= 0.9x bare without reasons, >= 1k customers/s with reasons, for every model `segml
train` can register.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import pandas as pd


def _interleaved(first, second, repeats: int) -> tuple[float, float, float, float]:
    """Median wall seconds of ``first`` and ``second``, timed in turns (on a shared machine both
    see the same background load; timed one after the other, minutes apart, they did not), then
    their median CPU seconds (every thread of the process): on a machine whose other work takes
    a core away, the CPU ratio still says which costs more."""
    wall: tuple[list[float], list[float]] = ([], [])
    cpu: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for i, func in enumerate((first, second)):
            start, start_cpu = time.perf_counter(), time.process_time()
            func()
            wall[i].append(time.perf_counter() - start)
            cpu[i].append(time.process_time() - start_cpu)
    return (statistics.median(wall[0]), statistics.median(wall[1]),
            statistics.median(cpu[0]), statistics.median(cpu[1]))


def _bare(predictor, prepared: pd.DataFrame, contributions: bool = False) -> None:
    """What the predictor's own models cost without segml around them."""
    booster_weight, linear_weight = getattr(predictor, "weights_", (1.0, 0.0))
    if booster_weight:
        predictor.booster_.predict(predictor.frame(prepared), pred_contrib=contributions)
    if linear_weight:
        matrix = predictor.matrix(prepared)
        (predictor.linear_.contributions if contributions else predictor.linear_.margin)(matrix)


def _load(args) -> tuple[object, pd.DataFrame]:
    if args.model:
        from segml.config import load_config
        from segml.data.contract import load_tables
        from segml.features import build_features, data_end
        from segml.tracking.model import load_scorer

        scorer = load_scorer(args.model)
        config = load_config(None)
        config.data.dir = args.data
        tables = load_tables(config, purpose="score", attributes=scorer.feature_spec.attributes)
        if len(tables.customers) > args.customers:
            keep = tables.customers["customer_id"].iloc[: args.customers]
            tables.customers = tables.customers.iloc[: args.customers]
            for name in ("transactions", "events"):
                frame = getattr(tables, name)
                if frame is not None:
                    setattr(tables, name, frame[frame["customer_id"].isin(keep)])
        return scorer, build_features(tables, data_end(tables), scorer.feature_spec)
    from common import train_in

    tmp = tempfile.mkdtemp()
    result = train_in(tmp, args.train_customers)
    base = result.datasets.current_X
    reps = -(-args.customers // len(base))
    X = pd.concat([base] * reps).iloc[: args.customers]
    X.index = pd.Index([f"{i:09d}" for i in range(len(X))], name="customer_id")
    return result.scorer, X


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--train-customers", type=int, default=5000)
    parser.add_argument("--reason-rows", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", help="a registered model URI (else a small one is trained)")
    parser.add_argument("--data", help="with --model: a folder of tables to build features from")
    args = parser.parse_args()
    if args.model and not args.data:
        parser.error("--model needs --data DIR to build the features it scores")

    scorer, X = _load(args)
    prepared = scorer.prepare(X)
    predictors = dict(scorer.predictors)
    winners = {t: getattr(p, "winner_", "lgbm") for t, p in predictors.items()}
    depth = {t: int(np.max(p.booster_.trees_to_dataframe()["node_depth"]))
             for t, p in predictors.items() if getattr(p, "booster_", None) is not None}
    print(f"winners: {winners}; deepest tree per booster: {depth}")

    scorer.score(X.iloc[:1000])  # compiled code and caches ready, as in a scoring job
    t_bare, t_comp, c_bare, c_comp = _interleaved(
        lambda: [_bare(p, prepared) for p in predictors.values()], lambda: scorer.score(X),
        args.repeats)
    n = len(X)
    print(f"customers scored: {n:,} (features excluded); {len(predictors)} predictors")
    print(f"bare models x{len(predictors)}: {n / t_bare:,.0f} customers/s (median)")
    print(f"composite score, no reasons: {n / t_comp:,.0f} customers/s; "
          f"ratio to bare {t_bare / t_comp:.2f}x (target >= 0.9x)")
    print(f"CPU time per call (all threads): bare {c_bare:.3f} s, composite {c_comp:.3f} s; "
          f"ratio {c_bare / c_comp:.2f}x")

    small, small_prepared = X.iloc[: args.reason_rows], prepared.iloc[: args.reason_rows]
    classifiers = [t for t in ("churn", "purchase", "high_clv") if t in predictors]
    t_bare_r, t_comp_r, _, _ = _interleaved(
        lambda: [_bare(predictors[t], small_prepared, contributions=True) for t in classifiers],
        lambda: scorer.score(small, reasons=True), args.repeats)
    m = len(small)
    print(f"bare contributions x{len(classifiers)}: {m / t_bare_r:,.0f} customers/s (median)")
    print(f"composite score with reasons: {m / t_comp_r:,.0f} customers/s "
          f"(target >= 1,000/s); ratio to bare {t_bare_r / t_comp_r:.2f}x")


if __name__ == "__main__":
    main()
