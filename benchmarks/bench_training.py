"""End-to-end training benchmark (SPEC section 7: `segml train` on 1M customers <= 6 min, <= 8 GiB).

Usage::

    python benchmarks/bench_training.py --customers 1000000 [--data DIR] [--keep DIR]

Generates ``--customers`` synthetic customers (or reads ``--data DIR``, a folder `segml generate`
wrote), then runs ``segml train`` with the default configuration in a child process into a
temporary MLflow store, measured by the child's own peak resident set size (``ru_maxrss`` of the
child, read by the parent). Prints every stage the run timed (MLflow ``stage_*_seconds``, in run
order), the time no stage accounts for, the wall time and the peak RSS. Times on a shared machine
are noisy: run it twice and quote both.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Stage order of a train run (segml.pipeline): the table lists them in this order.
STAGES = ("load", "features", "segments", "predictors", "scorer", "scoring", "profiles",
          "drift_reference", "logging", "explain", "register")


def generate(customers: int, folder: Path) -> Path:
    from segml.datasets import make_customers

    start = time.perf_counter()
    make_customers(customers, seed=0).write(folder)
    print(f"generated {customers:,} customers in {time.perf_counter() - start:.0f} s -> {folder}")
    return folder


def train_child(data: Path, store: Path) -> tuple[float, int, int]:
    """Wall seconds, exit code and peak RSS (bytes) of ``segml train --data`` in a child."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}/mlflow.db"}
    command = [sys.executable, "-m", "segml.cli", "train", "--data", str(data), "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=store, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: kilobytes
    return wall, done.returncode, peak_kb * 1024


def stage_table(store: Path) -> dict[str, float]:
    """``stage_<name>_seconds`` of the newest top-level run of the store."""
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{store}/mlflow.db")
    runs = mlflow.search_runs(experiment_names=["segml"], order_by=["start_time DESC"],
                              filter_string="attributes.status = 'FINISHED'")
    runs = runs[runs["tags.mlflow.parentRunId"].isna()] if "tags.mlflow.parentRunId" in runs else runs
    row = runs.iloc[0]
    return {k.removeprefix("metrics.stage_").removesuffix("_seconds"): float(v)
            for k, v in row.items() if k.startswith("metrics.stage_") and v == v}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--data", help="a folder of tables instead of generating them")
    parser.add_argument("--keep", help="keep the MLflow store (and the model) in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data) if args.data else generate(args.customers, Path(tmp) / "data")
        store = Path(args.keep) if args.keep else Path(tmp) / "store"
        store.mkdir(parents=True, exist_ok=True)
        wall, code, peak = train_child(data, store)
        if code != 0:
            raise SystemExit(f"segml train exited {code}")
        stages = stage_table(store)
        print(f"\n{'stage':<22}{'seconds':>9}")
        accounted = 0.0
        for name in (*STAGES, *sorted(set(stages) - set(STAGES))):
            if name not in stages or name.startswith("predictors_"):
                continue
            print(f"{name:<22}{stages[name]:>9.1f}")
            accounted += stages[name]
            if name == "predictors":  # its parts: the matrices, then each target's models
                for part in sorted(k for k in stages if k.startswith("predictors_")):
                    print(f"  {part.removeprefix('predictors_'):<20}{stages[part]:>9.1f}")
        print(f"{'(start-up, other)':<22}{wall - accounted:>9.1f}")
        print(f"{'wall':<22}{wall:>9.1f}   (target <= 360 s at 1M customers)")
        print(f"peak RSS {peak / 2**30:.2f} GiB   (target <= 8 GiB at 1M customers); "
              f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
