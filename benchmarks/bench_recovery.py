"""Benchmark: how often the segment hierarchy recovers ``make_customers``' truth (issue 4).

For each of ``--designs`` random segment designs (companies), it draws ``--customers`` customers
with ``--seed``, builds features at the data end as the pipeline does, fits the hierarchy with the
default (demo) segment settings, and scores ``--new`` customers drawn with another seed from the
same design. It prints the ARI against the true leaves and macro groups, seen and new, and how
many designs reach ARI >= 0.8 at both levels.

    .venv/bin/python benchmarks/bench_recovery.py --designs 16 --customers 5000 --seed 42
    .venv/bin/python benchmarks/bench_recovery.py --designs 16 --set value_weight=1 --set min_samples=10
    .venv/bin/python benchmarks/bench_recovery.py --designs 4 --difficulty hard

Design 0 is the default of ``make_customers`` (the one ``segml demo`` and ``segml generate`` use).
"""

from __future__ import annotations

import argparse
import ast
import statistics
import time

from sklearn.metrics import adjusted_rand_score

from segml.data.synthetic.datasets import DIFFICULTIES, synthetic_config, synthetic_features
from segml.segments import SegmentHierarchy


def scores(truth, assigned) -> tuple[float, float]:
    return (adjusted_rand_score(truth["true_leaf"], assigned["segment_leaf"]),
            adjusted_rand_score(truth["true_macro"], assigned["segment_level_1"]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", type=int, default=16)
    parser.add_argument("--first-design", type=int, default=0)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--new", type=int, default=2000, help="new customers scored per design")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--difficulty", choices=DIFFICULTIES, default="default",
                        help="the synthetic world (make_customers' difficulty)")
    parser.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                        help="SegmentHierarchy parameter to override (repeatable)")
    args = parser.parse_args(argv)
    overrides = {k: ast.literal_eval(v) for k, v in (s.split("=", 1) for s in args.set)}
    config = synthetic_config()
    print(f"{'design':>6}  {'leaf':>5} {'macro':>5}  {'new leaf':>8} {'new macro':>9}  "
          f"{'leaves':>6} {'top':>3} {'noise':>5}  {'fit s':>5}")
    passed, leaf_all, macro_all = 0, [], []
    for design in range(args.first_design, args.first_design + args.designs):
        X, truth, spec = synthetic_features(args.customers, args.seed, design_seed=design,
                                            config=config, difficulty=args.difficulty)
        t0 = time.perf_counter()
        h = SegmentHierarchy.from_config(config.segments, seed=config.seed)
        h.set_params(**overrides).fit(X)
        seen = h.assign(X)
        fit_s = time.perf_counter() - t0
        X_new, truth_new, _ = synthetic_features(args.new, args.seed + 1000, design_seed=design,
                                                 config=config, spec=spec,
                                                 difficulty=args.difficulty)
        leaf, macro = scores(truth, seen)
        new_leaf, new_macro = scores(truth_new, h.assign(X_new))
        ok = min(leaf, macro, new_leaf, new_macro) >= 0.8
        passed += ok
        leaf_all.append(leaf)
        macro_all.append(macro)
        print(f"{design:>6}  {leaf:5.3f} {macro:5.3f}  {new_leaf:8.3f} {new_macro:9.3f}  "
              f"{len(h.hierarchy_):>6} {seen['segment_level_1'].nunique():>3} "
              f"{seen['segment_is_noise'].mean():5.1%}  {fit_s:5.1f}{'' if ok else '  < 0.8'}",
              flush=True)
    print(f"ARI >= 0.8 at both levels, seen and new: {passed}/{args.designs} designs; "
          f"median leaf {statistics.median(leaf_all):.3f}, macro {statistics.median(macro_all):.3f}"
          f" ({args.customers:,} customers, seed {args.seed}, {args.difficulty} design, "
          f"overrides {overrides or 'none'})")


if __name__ == "__main__":
    main()
