"""Benchmark: discovered segments on public customer tables nobody tuned for (issue 18).

For each dataset (a config in ``configs/`` with the column mapping only) it loads the table, builds
the features as ``segml train`` does, fits the segment hierarchy with the default settings and
prints: the number of top-level segments, the largest one's share, the noise share HDBSCAN found
and the method that made the leaves, the label rate per top-level segment (the dataset's own label:
churn, caravan purchase) with the ratio of the highest to the lowest, and the names.

    .venv/bin/python benchmarks/bench_segments_public.py                  # telco mlc_churn caravan
    .venv/bin/python benchmarks/bench_segments_public.py mlc_churn --leaves

Data is fetched once into ``data/`` (not committed): Telco with
:func:`segml.data.telco.fetch_telco`, the others with :func:`segml.data.public.fetch_public`.
docs/benchmarks.md target: 3-12 top-level segments, none over 60%, label rate spread >= 1.5x.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from segml.config import load_config
from segml.workflow.datasets import build_datasets
from segml.workflow.stages import discover_segments, load

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ("telco", "mlc_churn", "caravan")


def ensure_data(name: str) -> None:
    if name == "telco":
        from segml.data.telco import fetch_telco

        fetch_telco(ROOT / "data" / "telco")
    else:
        from segml.data.public import fetch_public

        target = ROOT / "data" / "public" / name
        if not (target / "customers.csv").exists():
            fetch_public(name, target)


def run(name: str, show_leaves: bool) -> dict:
    ensure_data(name)
    config = load_config(ROOT / "configs" / f"{name}.yaml")
    data = build_datasets(load(config), config)
    X, Y = data.current_X, data.labels  # attributes mode: the explicit label columns
    label = Y.columns[0]
    start = time.perf_counter()
    seg = discover_segments(X, config.segments, config.seed, labels=None)
    seconds = time.perf_counter() - start
    h, A = seg.hierarchy, seg.assignments
    top = A["segment_level_1"]
    shares = top.value_counts(normalize=True)
    rates = Y[label].reindex(X.index).astype(float).groupby(top.to_numpy()).mean()
    found = h.discovery_
    ratio = rates.max() / rates.min() if rates.min() > 0 else float("inf")
    print(f"\n== {name}: {len(X):,} customers, {X.shape[1]} attributes, label {label} "
          f"(rate {Y[label].mean():.1%}); {seconds:.1f}s")
    print(f"top-level segments {top.nunique()}, leaves {len(h.hierarchy_)}, largest "
          f"{shares.max():.0%}, leaf method {found['leaf_method']}, HDBSCAN noise "
          f"{found['density_noise_share']:.0%} ({found['density_clusters']:.0f} dense clusters), "
          f"customers flagged noise {A['segment_is_noise'].mean():.0%}, top-level silhouette "
          f"{found['top_level_silhouette']:.2f}")
    print(f"{label} rate by top-level segment: highest / lowest = {ratio:.2f}x")
    print(f"  why: {found['reason']}")
    for path in sorted(shares.index, key=int):
        print(f"  {path:>3} {shares[path]:5.1%}  {label} {rates[path]:6.1%}  {seg.names[1][path]}")
        if show_leaves:
            for leaf, leaf_name in sorted(seg.names[2].items()):
                if leaf.split(".")[0] == path:
                    print(f"        {leaf:>5}  {leaf_name}")
    return {"name": name, "top": int(top.nunique()), "largest": float(shares.max()),
            "ratio": float(ratio), "method": found["leaf_method"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", help=f"any of {', '.join(DATASETS)} (default: all)")
    parser.add_argument("--leaves", action="store_true", help="print the leaf names too")
    args = parser.parse_args(argv)
    unknown = [d for d in args.datasets if d not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset(s) {unknown}; choose from {list(DATASETS)}")
    results = [run(name, args.leaves) for name in args.datasets or DATASETS]
    print("\ndataset     top  largest  ratio  method   target: 3-12, <= 60%, >= 1.5x")
    for r in results:
        ok = 3 <= r["top"] <= 12 and r["largest"] <= 0.6 and r["ratio"] >= 1.5
        print(f"{r['name']:<10} {r['top']:>4}  {r['largest']:6.0%}  {r['ratio']:5.2f}  "
              f"{r['method']:<7}  {'ok' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
