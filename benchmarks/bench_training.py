"""End-to-end training benchmark (docs/benchmarks.md: `segml train` on 1M customers <= 6 min, <= 8 GiB).

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

#: Stage order of a train run (segml.workflow.train): the table lists them in this order.
STAGES = ("load", "features", "segments", "predictors", "scorer", "scoring", "profiles",
          "drift_reference", "logging", "explain", "register")
#: The order in which the predictors stage fits the targets (config order of the defaults).
TARGET_ORDER = ("churn", "purchase", "high_clv", "spend")


def generate(customers: int, folder: Path) -> Path:
    from segml.data.synthetic.datasets import make_customers

    start = time.perf_counter()
    make_customers(customers, seed=0).write(folder)
    print(f"generated {customers:,} customers in {time.perf_counter() - start:.0f} s -> {folder}")
    return folder


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid`` now (0 once it has gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def train_child(data: Path, store: Path) -> tuple[float, int, int, list[tuple[float, int]]]:
    """Wall seconds, exit code, peak RSS (bytes) of ``segml train --data`` in a child, and its
    RSS sampled every half second as ``(epoch seconds, bytes)``."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}/mlflow.db"}
    command = [sys.executable, "-m", "segml.cli.main", "train", "--data", str(data), "--quiet"]
    start = time.perf_counter()
    samples: list[tuple[float, int]] = []
    with tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(command, env=env, cwd=store, stdout=subprocess.DEVNULL, stderr=err,
                                 text=True)
        while child.poll() is None:
            samples.append((time.time(), rss_bytes(child.pid)))
            time.sleep(0.5)
        wall = time.perf_counter() - start
        if child.returncode != 0:
            err.seek(0)
            print(err.read()[-3000:], file=sys.stderr)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: kilobytes
    return wall, child.returncode, peak_kb * 1024, samples


def stage_table(store: Path) -> tuple[dict[str, float], dict[str, float]]:
    """``stage_<name>_seconds`` of the newest top-level run of the store, and when each stage
    ended (epoch seconds: the metric is logged as the stage ends)."""
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{store}/mlflow.db")
    runs = mlflow.search_runs(experiment_names=["segml"], order_by=["start_time DESC"],
                              filter_string="attributes.status = 'FINISHED'")
    runs = runs[runs["tags.mlflow.parentRunId"].isna()] if "tags.mlflow.parentRunId" in runs else runs
    row = runs.iloc[0]
    seconds = {k.removeprefix("metrics.stage_").removesuffix("_seconds"): float(v)
               for k, v in row.items() if k.startswith("metrics.stage_") and v == v}
    client = mlflow.MlflowClient()
    ended = {}
    for name in seconds:
        history = client.get_metric_history(row["run_id"], f"stage_{name}_seconds")
        if history:
            ended[name] = history[-1].timestamp / 1000
    return seconds, ended


def stage_peak(samples: list[tuple[float, int]], end: float | None, seconds: float) -> str:
    """The highest sampled RSS while a stage ran, in GiB (blank without a window)."""
    if end is None:
        return ""
    inside = [rss for at, rss in samples if end - seconds - 0.5 <= at <= end + 0.5]
    return f"{max(inside) / 2**30:.2f}" if inside else ""


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
        wall, code, peak, samples = train_child(data, store)
        if code != 0:
            raise SystemExit(f"segml train exited {code}")
        stages, ended = stage_table(store)
        print(f"\n{'stage':<22}{'seconds':>9}{'peak RSS GiB':>14}")
        accounted = 0.0
        for name in (*STAGES, *sorted(set(stages) - set(STAGES))):
            if name not in stages or name.startswith("predictors_"):
                continue
            rss = stage_peak(samples, ended.get(name), stages[name])
            print(f"{name:<22}{stages[name]:>9.1f}{rss:>14}")
            accounted += stages[name]
            if name == "predictors":  # its parts: each target's matrices and models, in turn
                at = ended.get(name, 0.0) - stages[name]
                for target in TARGET_ORDER:
                    if f"predictors_{target}" not in stages:
                        continue
                    seconds = stages[f"predictors_{target}"]
                    rss = stage_peak(samples, at + seconds if name in ended else None, seconds)
                    print(f"  {target:<20}{seconds:>9.1f}{rss:>14}")
                    at += seconds
                if "predictors_features" in stages:
                    print(f"  {'(of which matrices)':<20}{stages['predictors_features']:>9.1f}")
        print(f"{'(start-up, other)':<22}{wall - accounted:>9.1f}")
        print(f"{'wall':<22}{wall:>9.1f}   (target <= 360 s at 1M customers)")
        print(f"peak RSS {peak / 2**30:.2f} GiB   (target <= 8 GiB at 1M customers); "
              f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
