"""Feature benchmark (SPEC section 7: 1M customers / 20M transactions in <= 60 s, <= 8 GiB).

Prints the cold (first) and median time of ``FeatureSpec.fit`` + ``build_features`` at the data
end (later repeats reuse the per-table cache of id positions and the purchase sort), the peak
resident memory of the process, and the ratio to a plain hand-written DuckDB RFM query
(recency, frequency, monetary per customer) on the same data in the same process.

Usage::

    python benchmarks/bench_features.py --customers 100000 [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time

import duckdb


def _peak_rss_gib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from segml.config import SegmlConfig
    from segml.data.contract import load_tables
    from segml.datasets import make_customers
    from segml.features import FeatureSpec, build_features, data_end

    t0 = time.perf_counter()
    data = make_customers(args.customers, seed=args.seed)
    t_gen = time.perf_counter() - t0
    config = SegmlConfig(data={"now": "2100-01-01"})
    t0 = time.perf_counter()
    tables = load_tables(config, customers=data.customers, transactions=data.transactions,
                         events=data.events)
    t_load = time.perf_counter() - t0
    del data
    cutoff = data_end(tables)
    n_tx, n_ev = len(tables.transactions), len(tables.events)
    print(f"customers={args.customers:,} transactions={n_tx:,} events={n_ev:,} "
          f"(generate {t_gen:.1f} s, load {t_load:.1f} s)")

    times, fit_times = [], []
    X = None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        spec = FeatureSpec.fit(tables, cutoff, config)
        t1 = time.perf_counter()
        X = build_features(tables, cutoff, spec)
        times.append(time.perf_counter() - t0)
        fit_times.append(t1 - t0)

    tx = tables.transactions
    con = duckdb.connect()
    con.register("tx", tx)
    ref = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        con.execute(
            "SELECT customer_id, "
            "date_diff('second', max(timestamp) FILTER (WHERE amount > 0), $c) / 86400.0 AS r, "
            "count(*) FILTER (WHERE amount > 0) AS f, sum(amount) AS m "
            "FROM tx WHERE timestamp <= $c GROUP BY customer_id",
            {"c": cutoff.floor("us").to_pydatetime()}).fetchnumpy()
        ref.append(time.perf_counter() - t0)
    med, med_ref = statistics.median(times), statistics.median(ref)
    assert X is not None
    print(f"features: {X.shape[0]:,} rows x {X.shape[1]} columns")
    print(f"FeatureSpec.fit + build_features: first (cold) run {times[0]:.2f} s; median "
          f"{med:.2f} s over {args.repeats} (later runs reuse the cached id hashing and sort; "
          f"fit alone median {statistics.median(fit_times):.2f} s)")
    print(f"plain DuckDB RFM query median {med_ref:.2f} s -> ratio {med / med_ref:.1f}x "
          f"(cold {times[0] / med_ref:.1f}x)")
    print(f"peak RSS {_peak_rss_gib():.2f} GiB (whole process, data generation included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
