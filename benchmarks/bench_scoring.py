"""Batch scoring throughput of the composite scorer vs bare LightGBM on the same boosters and rows.

    python benchmarks/bench_scoring.py --customers 100000 [--train-customers 5000] [--repeats 3]

Trains a small pipeline once (synthetic data, tmp MLflow store), then scores N customers' feature
rows (features excluded from the timing, as in SPEC section 7):
- composite ``CustomerScorer.score`` without reasons vs ``booster.predict`` of the four boosters;
- with reasons for the three classifiers vs bare ``pred_contrib`` of the same three boosters.
Prints medians (customers/s) and the ratios. Targets: >= 0.8x bare without reasons, >= 1k/s with.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import pandas as pd
from common import train_in


def _median_seconds(func, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--train-customers", type=int, default=5000)
    parser.add_argument("--reason-rows", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        result = train_in(tmp, args.train_customers)
        scorer = result.extras["scorer"]
        base = result.extras["datasets"].current_X
        reps = -(-args.customers // len(base))
        X = pd.concat([base] * reps).iloc[: args.customers]
        X.index = pd.Index([f"{i:09d}" for i in range(len(X))], name="customer_id")
        prepared = scorer.prepare(X)
        boosters = {t: p for t, p in scorer.predictors.items()}

        def bare_predict():
            for predictor in boosters.values():
                predictor.booster_.predict(predictor.frame(prepared))

        t_bare = _median_seconds(bare_predict, args.repeats)
        t_comp = _median_seconds(lambda: scorer.score(X), args.repeats)
        n = len(X)
        print(f"customers scored: {n:,} (features excluded); {len(boosters)} boosters")
        print(f"bare LightGBM predict x{len(boosters)}: {n / t_bare:,.0f} customers/s (median)")
        print(f"composite score, no reasons: {n / t_comp:,.0f} customers/s; "
              f"ratio to bare {t_bare / t_comp:.2f}x (target >= 0.8x)")

        small = X.iloc[: args.reason_rows]
        classifiers = [t for t in ("churn", "purchase", "high_clv") if t in boosters]

        def bare_contrib():
            for target in classifiers:
                p = boosters[target]
                p.booster_.predict(p.frame(scorer.prepare(small)), pred_contrib=True)

        t_bare_r = _median_seconds(bare_contrib, args.repeats)
        t_comp_r = _median_seconds(lambda: scorer.score(small, reasons=True), args.repeats)
        m = len(small)
        print(f"bare pred_contrib x{len(classifiers)}: {m / t_bare_r:,.0f} customers/s (median)")
        print(f"composite score with reasons: {m / t_comp_r:,.0f} customers/s "
              f"(target >= 1,000/s); ratio to bare {t_bare_r / t_comp_r:.2f}x")


if __name__ == "__main__":
    main()
