"""`segml train --engine spark` on generated data: driver memory, Spark memory and wall time
(docs/spark.md, "Training on Spark").

Usage::

    python benchmarks/bench_spark_training.py --customers 300000 [--master local[2]] [--local]

Generates ``--customers`` synthetic customers (``segml generate --seed 1``; or reads ``--data
DIR``), then runs ``segml train --engine spark`` in a child process into a temporary MLflow
store and samples, every half second, the resident set size of the process tree:

* the driver: the ``segml`` Python process (it holds the samples, the models, the current matrix);
* the JVM: Spark's driver and, in local mode, its executor (its heap is ``spark.driver.memory``);
* the Python workers: the executors' ``applyInPandas`` processes, summed.

``--local`` also runs ``segml train`` on one machine on the same folder (peak RSS of that
child), for the side-by-side figure. Times on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

GIB = 1024**3


def generate(customers: int, folder: Path) -> Path:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "segml.cli.main", "generate", "--customers",
                    str(customers), "--seed", "1", "--out", str(folder)], check=True,
                   stdout=subprocess.DEVNULL)
    print(f"generated {customers:,} customers in {time.perf_counter() - start:.0f} s -> {folder}")
    return folder


def tree_rss(pid: int) -> tuple[int, int, int]:
    """RSS (bytes) of the driver process, of its JVM descendants and of its other (Python
    worker) descendants, now."""
    try:
        root = psutil.Process(pid)
        driver = root.memory_info().rss
        jvm = workers = 0
        for child in root.children(recursive=True):
            try:
                rss = child.memory_info().rss
                if "java" in child.name():
                    jvm += rss
                else:
                    workers += rss
            except psutil.Error:
                continue
        return driver, jvm, workers
    except psutil.Error:
        return 0, 0, 0


def run(command: list[str], store: Path) -> dict[str, float]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}/mlflow.db"}
    start = time.perf_counter()
    peaks = {"driver": 0, "jvm": 0, "workers": 0, "total": 0}
    with tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(command, env=env, cwd=store, stdout=subprocess.DEVNULL,
                                 stderr=err, text=True)
        last = start
        while child.poll() is None:
            driver, jvm, workers = tree_rss(child.pid)
            for name, value in (("driver", driver), ("jvm", jvm), ("workers", workers),
                                ("total", driver + jvm + workers)):
                peaks[name] = max(peaks[name], value)
            if time.perf_counter() - last > 60:  # a long run shows its peaks so far
                last = time.perf_counter()
                print(f"{last - start:>6.0f} s  peaks so far (GiB): " + ", ".join(
                    f"{k} {v / GIB:.2f}" for k, v in peaks.items()), flush=True)
            time.sleep(0.5)
        wall = time.perf_counter() - start
        if child.returncode != 0:
            err.seek(0)
            print(err.read()[-3000:], file=sys.stderr)
            raise SystemExit(f"{' '.join(command)} failed ({child.returncode})")
    return {"wall": wall, **{k: v / GIB for k, v in peaks.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=None, help="a folder segml generate wrote")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--local", action="store_true", help="also train on one machine")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or generate(args.customers, Path(tmp) / "data")
        segml = [sys.executable, "-m", "segml.cli.main", "train", "--data", str(data), "--quiet"]
        rows = []
        store = Path(tmp) / "spark-store"
        store.mkdir()
        spark = run([*segml, "--engine", "spark", "--spark-master", args.master], store)
        rows.append((f"spark {args.master}", spark))
        if args.local:
            store = Path(tmp) / "local-store"
            store.mkdir()
            rows.append(("local", run(segml, store)))
    print(f"\n{args.customers:,} customers")
    print(f"{'engine':<16}{'wall s':>8}{'driver GiB':>12}{'JVM GiB':>10}{'workers GiB':>13}"
          f"{'total GiB':>11}")
    for name, row in rows:
        print(f"{name:<16}{row['wall']:>8.0f}{row['driver']:>12.2f}{row['jvm']:>10.2f}"
              f"{row['workers']:>13.2f}{row['total']:>11.2f}")


if __name__ == "__main__":
    main()
