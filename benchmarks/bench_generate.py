"""Benchmark the synthetic data generator (docs/benchmarks.md: 1M customers / ~20M transactions <= 90 s).

Usage: python benchmarks/bench_generate.py --customers 1000000 [--repeats 3] [--seed 0]
                                           [--difficulty default|hard]
Prints the median wall and CPU time, the row counts and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time

from segml.data.synthetic.datasets import DIFFICULTIES, make_customers

TARGET_SECONDS_PER_MILLION = 90.0


def _peak_rss_gib() -> float:
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**30


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--difficulty", choices=DIFFICULTIES, default="default",
                        help="the synthetic world (make_customers' difficulty)")
    args = parser.parse_args(argv)

    times, cpu = [], []
    data = None
    for i in range(args.repeats):
        del data
        started, started_cpu = time.perf_counter(), time.process_time()
        data = make_customers(args.customers, seed=args.seed + i, difficulty=args.difficulty)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    median = statistics.median(times)
    budget = TARGET_SECONDS_PER_MILLION * args.customers / 1_000_000
    print(f"customers     {args.customers:>14,}  ({args.difficulty} design)")
    print(f"transactions  {len(data.transactions):>14,}  ({len(data.transactions) / args.customers:.1f} per customer)")
    print(f"events        {len(data.events):>14,}  ({len(data.events) / len(data.transactions):.2f} per transaction)")
    print(f"times (s)     {', '.join(f'{t:.1f}' for t in times)}")
    print(f"median (s)    {median:>14.2f}  (target scaled to n: {budget:.1f} s, {'ok' if median <= budget else 'SLOW'})")
    print(f"median CPU (s){statistics.median(cpu):>14.2f}  (user+system; wall/CPU > 1 means a busy machine)")
    print(f"rows/s        {len(data.transactions) / median:>14,.0f}  transactions")
    print(f"peak RSS      {_peak_rss_gib():>14.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
