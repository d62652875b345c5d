"""Benchmark: segment hierarchy fit + assign (docs/benchmarks.md).

Prints the median fit+assign time over ``--repeats``, the process peak memory, the agreement of the
fast k-NN assignment with ``hdbscan.approximate_predict`` on held-out customers, the ARI against
the ground truth, and (N <= 200k) the time of a plain full ``hdbscan.HDBSCAN(min_samples=10)`` on
the same preprocessed data as the reference ratio.

    .venv/bin/python benchmarks/bench_segments.py --customers 100000 --repeats 3
    .venv/bin/python benchmarks/bench_segments.py --customers 100000 --source blobs

``--source synthetic`` (default) builds the feature matrix with ``segml.data.synthetic.datasets.make_customers``
and ``segml.features``; ``--source blobs`` uses the nested blob generator of the tests (faster to
build, for very large N); ``--source attributes`` an attributes-only table of the tests with four
planted categorical segments (k-means leaves, as on the public tables).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import hdbscan
from sklearn.metrics import adjusted_rand_score

from segml.segments import SegmentHierarchy

ROOT = Path(__file__).resolve().parents[1]


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def synthetic_features(n: int, seed: int):
    """Feature matrix and ground truth from the package's generator and feature builder."""
    from segml.data.synthetic.datasets import synthetic_features as build

    X, truth, _ = build(n, seed)
    return X, truth


def blob_features(n: int, seed: int):
    sys.path.insert(0, str(ROOT / "tests" / "segments"))
    from blobs import make_segment_blobs

    return make_segment_blobs(n, seed=seed)


def attribute_features(n: int, seed: int):
    sys.path.insert(0, str(ROOT / "tests" / "segments"))
    import pandas as pd
    from blobs import planted_table

    X, seg = planted_table(n, seed)
    return X, pd.DataFrame({"true_macro": seg}, index=X.index)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample-size", type=int, default=20_000)
    parser.add_argument("--source", choices=["synthetic", "blobs", "attributes"],
                        default="synthetic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-reference", action="store_true", help="skip the plain HDBSCAN run")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    make = {"synthetic": synthetic_features, "blobs": blob_features,
            "attributes": attribute_features}[args.source]
    X, truth = make(args.customers, args.seed)
    print(f"features: {X.shape[0]:,} customers x {X.shape[1]} columns "
          f"({args.source}) built in {time.perf_counter() - t0:.1f} s; "
          f"peak so far {_peak_gib():.2f} GiB")

    times, fit_times = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        h = SegmentHierarchy(sample_size=args.sample_size, random_state=args.seed).fit(X)
        t1 = time.perf_counter()
        A = h.assign(X)
        t2 = time.perf_counter()
        times.append(t2 - t0)
        fit_times.append(t1 - t0)
    median = statistics.median(times)
    print(f"segments fit+assign: median {median:.1f} s over {args.repeats} "
          f"(fit {statistics.median(fit_times):.1f} s, assign "
          f"{median - statistics.median(fit_times):.1f} s); target 1M <= 180 s")
    print(f"peak memory (process): {_peak_gib():.2f} GiB; target <= 8 GiB")
    print(f"leaf method {h.discovery_['leaf_method']}: {h.discovery_['reason']}")
    print(f"agreement with approximate_predict: {h.agreement_:.1%} (noise as a class), "
          f"{h.agreement_clustered_:.1%} (points it puts in a cluster); target >= 95% "
          "(NaN: k-means leaves, no noise)")
    print(f"leaves {len(h.hierarchy_)}, level-1 groups {A['segment_level_1'].nunique()}, "
          f"noise share {A['segment_is_noise'].mean():.1%}, HDBSCAN raw clusters "
          f"{h.n_raw_clusters_}")
    if truth is not None and "true_leaf" not in truth:
        print(f"ARI top level {adjusted_rand_score(truth['true_macro'], A['segment_level_1']):.3f}")
    elif truth is not None:
        print(f"ARI leaf {adjusted_rand_score(truth['true_leaf'], A['segment_leaf']):.3f}, "
              f"macro {adjusted_rand_score(truth['true_macro'], A['segment_level_1']):.3f}")
    if args.customers <= 200_000 and not args.no_reference:
        Z = h.preprocessor_.transform(X)
        t0 = time.perf_counter()
        hdbscan.HDBSCAN(min_samples=10, core_dist_n_jobs=1).fit(Z)
        ref = time.perf_counter() - t0
        print(f"reference: plain hdbscan.HDBSCAN(min_samples=10) on all {len(Z):,} points "
              f"({Z.shape[1]} dims): {ref:.1f} s; ratio segml/reference {median / ref:.2f}")


if __name__ == "__main__":
    main()
