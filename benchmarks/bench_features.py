"""Feature benchmark (docs/benchmarks.md: 1M customers / 20M transactions in <= 60 s, <= 8 GiB).

Prints the cold (first) and median time of ``FeatureSpec.fit`` + ``build_features`` at the data
end (later repeats reuse the per-table cache of id positions and the purchase sort), the peak
resident memory of the process, and the ratio to a plain hand-written DuckDB RFM query
(recency, frequency, monetary per customer) on the same data in the same process.

With ``--data DIR`` (parquet tables as ``segml.workflow.stages.load`` reads them) it instead fits the
spec once at ``--fit-cutoff`` and times ``build_features`` alone at each ``--cutoffs`` date on the
same tables, as the training pipeline does (the first cutoff also pays for the per-table caches);
``--save DIR`` writes each matrix to ``DIR/<date>.parquet`` and ``--compare DIR`` checks it
against such a saved matrix (equal, NaN where NaN, float columns within 1e-9 relative).

Usage::

    python benchmarks/bench_features.py --customers 100000 [--repeats 3]
    python benchmarks/bench_features.py --data /tmp/m1/d [--save DIR | --compare DIR]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time

import duckdb

CUTOFFS = ["2025-01-04", "2025-04-04", "2025-07-03", "2025-10-01", "2025-12-30"]


def _peak_rss_gib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", help="folder of parquet tables: time build_features per cutoff")
    parser.add_argument("--fit-cutoff", default="2024-12-30")
    parser.add_argument("--cutoffs", nargs="+", default=CUTOFFS)
    parser.add_argument("--save", help="with --data: write each matrix to this folder")
    parser.add_argument("--compare", help="with --data: compare each matrix with this folder's")
    args = parser.parse_args(argv)
    if args.data:
        return _cutoffs(args)

    from segml.data.contract import load_tables
    from segml.data.synthetic.datasets import make_customers, synthetic_config
    from segml.features import FeatureSpec, build_features, data_end

    t0 = time.perf_counter()
    data = make_customers(args.customers, seed=args.seed)
    t_gen = time.perf_counter() - t0
    config = synthetic_config(data={"now": "2100-01-01"})
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


def _assert_same(X, path: str) -> None:
    """``X`` equals the matrix saved at ``path``: same index and columns, NaN where NaN, floats
    within 1e-9 relative (sums whose order changed), everything else exactly."""
    import numpy as np
    import pandas as pd

    ref = pd.read_parquet(path)
    assert ref.index.equals(X.index) and list(ref.columns) == list(X.columns), path
    bad = []
    for name in ref.columns:
        a, b = ref[name], X[name]
        if a.dtype.kind == "f":
            x, y = a.to_numpy(), b.to_numpy()
            ok = ~np.isnan(x)
            far = ~np.isclose(y[ok], x[ok], rtol=1e-9, atol=0)
            if b.dtype != a.dtype or not np.array_equal(np.isnan(x), np.isnan(y)) or far.any():
                bad.append(f"{name}: {far.sum()} values differ, e.g. {x[ok][far][:3]} -> "
                           f"{y[ok][far][:3]}")
        elif not a.astype(object).equals(b.astype(object)):
            bad.append(name)
    assert not bad, "\n".join(bad)


def _cutoffs(args) -> int:
    """Time ``build_features`` at each cutoff on the same loaded tables (see the docstring)."""
    import os

    import pandas as pd

    from segml.data.synthetic.datasets import synthetic_config
    from segml.features import FeatureSpec, build_features
    from segml.workflow.stages import load

    t0 = time.perf_counter()
    config = synthetic_config()
    tables = load(config, args.data)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    spec = FeatureSpec.fit(tables, pd.Timestamp(args.fit_cutoff), config)
    print(f"customers={len(tables.customers):,} transactions={len(tables.transactions):,} "
          f"events={len(tables.events) if tables.events is not None else 0:,} "
          f"(load {t_load:.1f} s, fit at {args.fit_cutoff} {time.perf_counter() - t0:.1f} s)")
    times = []
    for cutoff in args.cutoffs:
        t0 = time.perf_counter()
        X = build_features(tables, pd.Timestamp(cutoff), spec)
        times.append(time.perf_counter() - t0)
        print(f"build_features at {cutoff}: {times[-1]:.2f} s ({X.shape[0]:,} x {X.shape[1]})",
              flush=True)
        if args.save:
            os.makedirs(args.save, exist_ok=True)
            X.to_parquet(f"{args.save}/{cutoff}.parquet")
        if args.compare:
            _assert_same(X, f"{args.compare}/{cutoff}.parquet")
            print(f"  equal to {args.compare}/{cutoff}.parquet")
    print(f"median {statistics.median(times):.2f} s over {len(times)} cutoffs "
          f"(first {times[0]:.2f} s); peak RSS {_peak_rss_gib():.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
