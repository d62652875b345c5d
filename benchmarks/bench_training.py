"""End-to-end training benchmark (docs/benchmarks.md: `segml train` on 1M customers <= 180 s, <= 6 GiB).

Usage::

    python benchmarks/bench_training.py --customers 1000000 [--data DIR] [--keep DIR]
    python benchmarks/bench_training.py --customers 100000,300000,1000000   # growth table
    python benchmarks/bench_training.py --data /tmp/g100k,/tmp/g300k,/tmp/g1m

Generates ``--customers`` synthetic customers (or reads ``--data DIR``, a folder `segml generate`
wrote), then runs ``segml train`` with the default configuration in a child process into a
temporary MLflow store, measured by the child's own peak resident set size (``ru_maxrss`` of that
child, from ``wait4``). Prints every stage the run timed (MLflow ``stage_*_seconds``, in run
order), the time no stage accounts for, the wall time and the peak RSS. Times on a shared machine
are noisy: run it twice and quote both.

With several sizes (comma-separated ``--customers`` or ``--data``) it also prints the **growth
table**: each stage's seconds and peak RSS at every size, and its growth exponent ``b`` in
``time ~ customers^b`` between the smallest and the largest size (1 is linear; above
``SUPERLINEAR`` the stage is flagged).
"""

from __future__ import annotations

import argparse
import math
import os
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
#: A growth exponent above this is flagged in the growth table (noise allows a little over 1).
SUPERLINEAR = 1.15


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
        while True:
            # wait4 gives this child's own peak RSS (RUSAGE_CHILDREN would be the maximum over
            # every child so far, wrong for the second size of a growth table)
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            samples.append((time.time(), rss_bytes(child.pid)))
            time.sleep(0.5)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if child.returncode != 0:
            err.seek(0)
            print(err.read()[-3000:], file=sys.stderr)
    return wall, child.returncode, usage.ru_maxrss * 1024, samples  # Linux: kilobytes


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


def run_once(data: Path, store: Path) -> dict[str, tuple[float, str]]:
    """Train on ``data`` into ``store`` and print the stage table; returns ``{row: (seconds,
    peak GiB)}`` for the growth table (rows: the stages, the targets, start-up, wall, peak)."""
    wall, code, peak, samples = train_child(data, store)
    if code != 0:
        raise SystemExit(f"segml train exited {code}")
    stages, ended = stage_table(store)
    rows: dict[str, tuple[float, str]] = {}
    print(f"\n{data}\n{'stage':<22}{'seconds':>9}{'peak RSS GiB':>14}")
    accounted = 0.0
    for name in (*STAGES, *sorted(set(stages) - set(STAGES))):
        if name not in stages or name.startswith("predictors_"):
            continue
        rss = stage_peak(samples, ended.get(name), stages[name])
        print(f"{name:<22}{stages[name]:>9.1f}{rss:>14}")
        rows[name] = (stages[name], rss)
        accounted += stages[name]
        if name == "predictors":  # its parts: each target's matrices and models, in turn
            at = ended.get(name, 0.0) - stages[name]
            for target in TARGET_ORDER:
                if f"predictors_{target}" not in stages:
                    continue
                seconds = stages[f"predictors_{target}"]
                rss = stage_peak(samples, at + seconds if name in ended else None, seconds)
                print(f"  {target:<20}{seconds:>9.1f}{rss:>14}")
                rows[f"  {target}"] = (seconds, rss)
                at += seconds
            if "predictors_features" in stages:
                print(f"  {'(of which matrices)':<20}{stages['predictors_features']:>9.1f}")
                rows["  (of which matrices)"] = (stages["predictors_features"], "")
    print(f"{'(start-up, other)':<22}{wall - accounted:>9.1f}")
    print(f"{'wall':<22}{wall:>9.1f}   (target <= 180 s at 1M customers)")
    print(f"peak RSS {peak / 2**30:.2f} GiB   (target <= 6 GiB at 1M customers); "
          f"load average {os.getloadavg()[0]:.1f}")
    rows["(start-up, other)"] = (wall - accounted, "")
    rows["wall"] = (wall, f"{peak / 2**30:.2f}")
    return rows


def customers_in(data: Path) -> int:
    """Rows of the customers table `segml generate` wrote in ``data``."""
    import pyarrow.parquet as pq

    files = sorted(data.glob("customers.*"))
    if not files:
        raise SystemExit(f"{data}: no customers table")
    if files[0].suffix == ".parquet":
        return pq.ParquetFile(files[0]).metadata.num_rows
    with open(files[0], "rb") as handle:
        return sum(1 for _ in handle) - 1


def growth_exponent(small: tuple[int, float], large: tuple[int, float]) -> float | None:
    """``b`` in ``seconds ~ customers^b`` through two points (None when a time is ~0).

    >>> round(growth_exponent((100_000, 10.0), (1_000_000, 100.0)), 2)
    1.0
    """
    (n0, t0), (n1, t1) = small, large
    if min(t0, t1) < 0.5 or n1 == n0:  # sub-second stages are noise, not growth
        return None
    return math.log(t1 / t0) / math.log(n1 / n0)


def print_growth(sizes: list[int], results: list[dict[str, tuple[float, str]]]) -> None:
    """One row per stage: seconds / peak GiB at every size, then the growth exponent."""
    names = list(dict.fromkeys(name for rows in results for name in rows))
    header = "".join(f"{n:>16,}" for n in sizes)
    print("\ngrowth table (seconds / peak RSS GiB per size; b: seconds ~ customers^b)")
    print(f"{'stage':<22}{header}{'b':>7}")
    for name in names:
        cells = []
        for rows in results:
            seconds, rss = rows.get(name, (float("nan"), ""))
            cells.append(f"{seconds:>9.1f} / {rss or '-':>4}")
        first, last = results[0].get(name), results[-1].get(name)
        b = growth_exponent((sizes[0], first[0]), (sizes[-1], last[0])) if first and last else None
        flag = "" if b is None else f"{b:>7.2f}" + (" superlinear" if b > SUPERLINEAR else "")
        print(f"{name:<22}{''.join(f'{c:>16}' for c in cells)}{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", default="100000",
                        help="customers to generate; several, comma-separated, for a growth table")
    parser.add_argument("--data", help="folder(s) of tables instead of generating them "
                        "(comma-separated for a growth table)")
    parser.add_argument("--keep", help="keep the MLflow store (and the model) in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.data:
            folders = [Path(d) for d in args.data.split(",")]
            sizes = [customers_in(d) for d in folders]
        else:
            sizes = [int(n) for n in args.customers.split(",")]
            folders = [Path(tmp) / f"data_{n}" for n in sizes]
        results = []
        for size, folder in zip(sizes, folders, strict=True):
            if not args.data:
                generate(size, folder)
            store = Path(args.keep) / str(size) if args.keep else Path(tmp) / f"store_{size}"
            store.mkdir(parents=True, exist_ok=True)
            results.append(run_once(folder, store))
            if not args.data:
                import shutil

                shutil.rmtree(folder)  # the next size needs the disk more than this one
        if len(sizes) > 1:
            order = sorted(range(len(sizes)), key=sizes.__getitem__)
            print_growth([sizes[i] for i in order], [results[i] for i in order])


if __name__ == "__main__":
    main()
