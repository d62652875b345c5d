"""Served-model latency: one customer per request over loopback (docs/benchmarks.md).

Starts ``mlflow models serve --env-manager local`` for the composite model, sends one-customer
``dataframe_split`` requests on a keep-alive connection and prints p50/p99 latency; then does the
same for the reference, a bare pyfunc that only runs four LightGBM boosters (200 trees each) on 25
feature columns, behind the same server. Targets: p50 <= 20 ms, p99 <= 60 ms.

All servers run at once and the requests alternate between them, so every model sees the same
background load. A second reference, the same boosters *with* a signature ("bare + signature"),
shows what MLflow's per-request schema work costs: the plain reference has none (MLflow cannot
infer one from its category column). The composite carries one (docs/mlflow.md), but its JSON
table requests skip that work: ``segml.tracking.serving`` hands them to the model, which checks
its own schema.

Usage::

    python benchmarks/bench_serving.py --fake                  # self-contained, temp store
    python benchmarks/bench_serving.py                         # models:/segml-customer@champion
    python benchmarks/bench_serving.py --model-uri models:/segml-customer/3 --requests 1000
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock
from urllib.parse import urlparse

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd

from segml.tracking import (
    log_segml_model,
    pipeline_run,
    promote,
    resolve_tracking_uri,
    serve_model,
)
from segml.tracking.store import using_tracking_uri

N_NUMERIC = 24
TARGETS = ("churn", "purchase", "high_clv", "spend")


def synthetic_features(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, N_NUMERIC)), columns=[f"f{i}" for i in range(N_NUMERIC)])
    frame.insert(0, "customer_id", [f"C{i:07d}" for i in range(n)])
    frame["country"] = pd.Categorical(rng.choice(["DE", "FR", "US", "UK"], n))
    return frame


def train_boosters(features: pd.DataFrame, trees: int = 200, seed: int = 0) -> dict[str, lgb.Booster]:
    rng = np.random.default_rng(seed)
    X = features.drop(columns="customer_id")
    signal = X["f0"] - 0.5 * X["f1"] + 0.3 * X["country"].cat.codes
    boosters = {}
    for i, target in enumerate(TARGETS):
        y = signal + rng.normal(scale=1.0 + i * 0.2, size=len(X))
        objective = "regression" if target == "spend" else "binary"
        label = y.clip(lower=0) if target == "spend" else (y > y.median()).astype(int)
        params = {"objective": objective, "num_leaves": 31, "learning_rate": 0.05, "verbose": -1,
                  "num_threads": 1, "seed": seed}
        boosters[target] = lgb.train(params, lgb.Dataset(X, label), num_boost_round=trees)
    return boosters


class BenchScorer:
    """A stand-in composite: four boosters plus cheap segment columns and optional reasons."""

    def __init__(self, features: pd.DataFrame, boosters: dict[str, lgb.Booster]):
        self.boosters_ = boosters
        self.sample_ = features.head(5).reset_index(drop=True)
        self.input_schema = [("customer_id", "string")] + [
            (f"f{i}", "double") for i in range(N_NUMERIC)] + [("country", "category")]

    def example_input(self, n: int = 3) -> pd.DataFrame:
        return self.sample_.head(n).copy()

    def score(self, features: pd.DataFrame, reasons: bool = False) -> pd.DataFrame:
        X = features.drop(columns="customer_id")
        X["country"] = X["country"].cat.set_categories(["DE", "FR", "UK", "US"])
        out = pd.DataFrame({"customer_id": features["customer_id"].to_numpy()})
        leaf = (X["f0"].to_numpy() > 0).astype(int) + 2 * (X["f1"].to_numpy() > 0)
        out["segment_leaf"] = leaf
        out["segment_path"] = np.char.add("1.", leaf.astype(str))
        out["segment_name_level_1"] = np.where(leaf > 1, "High", "Low")
        for target in TARGETS:
            column = "predicted_spend" if target == "spend" else f"{target}_probability"
            out[column] = self.boosters_[target].predict(X)
            if reasons and target != "spend":
                contrib = self.boosters_[target].predict(X, pred_contrib=True)[:, :-1]
                top = np.argsort(-np.abs(contrib), axis=1)[:, :3]
                names = np.asarray(X.columns)[top]
                values = np.take_along_axis(contrib, top, axis=1).round(4)
                out[f"{target}_reasons"] = [list(zip(n, v.tolist(), strict=True))
                                            for n, v in zip(names.tolist(), values, strict=True)]
        return out


class BareBoosters(mlflow.pyfunc.PythonModel):
    """The reference: the four boosters' predict on the numeric matrix, nothing else."""

    def __init__(self, boosters: dict[str, lgb.Booster]):
        self.boosters = boosters

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        X = model_input.drop(columns="customer_id")
        X["country"] = pd.Categorical(X["country"], categories=["DE", "FR", "UK", "US"])
        return pd.DataFrame({t: b.predict(X) for t, b in self.boosters.items()})


def log_fake_models(store: str, n: int = 5000) -> tuple[str, str, pd.DataFrame]:
    """Log the fake composite (as champion) and the bare reference; return both URIs and rows."""
    features = synthetic_features(n)
    boosters = train_boosters(features)
    scorer = BenchScorer(features, boosters)
    with pipeline_run(store, "bench-serving") as run:
        with run.stage("register"):
            info = log_segml_model(scorer, registered_model_name="segml-bench")
            version = info.registered_model_version
            reference = mlflow.pyfunc.log_model(
                name="bare", python_model=BareBoosters(boosters),
                input_example=features.head(2), registered_model_name="segml-bench-bare")
        run.on_success(lambda: promote("segml-bench", version, store))
    return ("models:/segml-bench@champion",
            f"models:/segml-bench-bare/{reference.registered_model_version}", features)


def reference_model(store: str, rows: pd.DataFrame, signed: bool = False) -> tuple[str, pd.DataFrame]:
    """The bare four-booster pyfunc over synthetic data, and the rows to send it (its own
    columns: the real model's rows do not fit its signature).

    ``signed=False``: no signature (``country`` is a category, which MLflow cannot infer a schema
    from), so the server skips schema enforcement. ``signed=True``: the same boosters with a
    signature (26 columns), so the server casts and checks every column per request, as it does
    for the composite (which must carry one, docs/mlflow.md).
    """
    features = synthetic_features(5000)
    example = features.head(2).astype({"country": "str"}) if signed else features.head(2)
    with using_tracking_uri(store), mlflow.start_run(run_name="bench-reference"):
        info = mlflow.pyfunc.log_model(name="bare", python_model=BareBoosters(
            train_boosters(features)), input_example=example,
            registered_model_name="segml-bench-bare")
    sent = features.astype({"country": "str"}) if signed else features
    return f"models:/segml-bench-bare/{info.registered_model_version}", sent


class Client:
    """One keep-alive connection posting one-row requests to a server: ``dataframe_split``, or
    ``inputs`` (columns -> lists of values: MLflow skips its per-column DataFrame casts)."""

    def __init__(self, url: str, rows: pd.DataFrame, params: dict | None = None,
                 fmt: str = "split"):
        parsed = urlparse(url)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        self.bodies = []
        for i in range(min(len(rows), 200)):
            split = json.loads(rows.iloc[[i]].to_json(orient="split", index=False,
                                                      date_format="iso"))
            data = ({"dataframe_split": split} if fmt == "split" else
                    {"inputs": {c: [v] for c, v in zip(split["columns"], split["data"][0],
                                                       strict=True)}})
            payload = {**data, **({"params": params} if params else {})}
            self.bodies.append(json.dumps(payload).encode())
        self.sent = 0

    def post(self) -> float:
        """Latency in ms of the next request."""
        body = self.bodies[self.sent % len(self.bodies)]
        self.sent += 1
        start = time.perf_counter()
        self.conn.request("POST", "/invocations", body=body,
                          headers={"Content-Type": "application/json"})
        response = self.conn.getresponse()
        content = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {content[:500]!r}")
        return elapsed


def measure_interleaved(clients: dict[str, Client], requests: int, warmup: int
                        ) -> dict[str, np.ndarray]:
    """Latencies per client; requests alternate between the clients, so on a shared machine
    every model sees the same background load (measured one after the other, the reference
    and the composite were timed minutes apart under different loads)."""
    times: dict[str, list[float]] = {label: [] for label in clients}
    for i in range(warmup + requests):
        for label, client in clients.items():
            elapsed = client.post()
            if i >= warmup:
                times[label].append(elapsed)
    return {label: np.asarray(t) for label, t in times.items()}


@contextlib.contextmanager
def serve_reference(model_uri: str, store: str, **kwargs):
    """Serve one of the bench's own reference models (plain pyfuncs this process logged a
    moment ago). ``serve_model`` refuses any model that is not a segml model before MLflow runs
    its code, as it must for a registry; these are not segml models, so that check is skipped
    here, for them only."""
    with mock.patch("segml.tracking.model_files.check_servable"), serve_model(
            model_uri, store, **kwargs) as url:
        yield url


def example_rows(model_uri: str, store: str) -> pd.DataFrame:
    """The model's own (PII-free) input example, for a real registered model."""
    with using_tracking_uri(store):
        model = mlflow.pyfunc.load_model(model_uri)
        example = model.input_example
    return example if isinstance(example, pd.DataFrame) else pd.DataFrame(example)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-uri", default="models:/segml-customer@champion")
    parser.add_argument("--tracking-uri", default=None)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="Repeat and report medians.")
    parser.add_argument("--fake", action="store_true", help="Log a fake composite in a temp store.")
    parser.add_argument("--reasons", action="store_true", help="Also time params={reasons: true}.")
    parser.add_argument("--no-signed-reference", action="store_true",
                        help="Skip the bare reference that carries a signature.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.fake:
            store = f"sqlite:///{tmp}/mlflow.db"
            model_uri, reference_uri, rows = log_fake_models(store)
        else:
            store = resolve_tracking_uri(args.tracking_uri)
            model_uri = args.model_uri
            rows = example_rows(model_uri, store)
            reference_uri, reference_rows = reference_model(f"sqlite:///{tmp}/reference.db", rows)
        # (label, model, store, params, rows); the composite once more with the columnar format
        cases = [("composite", model_uri, store, None, rows),
                 ("composite, inputs", model_uri, store, None, rows)]
        formats = {"composite, inputs": "inputs"}
        if args.reasons:
            cases.append(("composite+reasons", model_uri, store, {"reasons": True}, rows))
        ref_store = store if args.fake else f"sqlite:///{tmp}/reference.db"
        ref_rows = rows if args.fake else reference_rows
        cases.append(("bare four boosters", reference_uri, ref_store, None, ref_rows))
        if not args.no_signed_reference:
            signed_store = f"sqlite:///{tmp}/signed.db"
            signed_uri, signed_rows = reference_model(signed_store, rows, signed=True)
            cases.append(("bare + signature", signed_uri, signed_store, None, signed_rows))
        with contextlib.ExitStack() as stack:
            clients, servers = {}, {}
            for label, uri, tracking, params, sent in cases:
                if uri not in servers:  # one server per model, however many request formats
                    serve = serve_model if label.startswith("composite") else serve_reference
                    servers[uri] = stack.enter_context(serve(
                        uri, tracking, log_path=str(Path(tmp) / f"serve-{len(servers)}.log"),
                        timeout=300))
                clients[label] = Client(servers[uri], sent, params, formats.get(label, "split"))
            rounds: dict[str, list[tuple[float, float]]] = {label: [] for label in clients}
            for _ in range(args.rounds):
                for label, ms in measure_interleaved(clients, args.requests, args.warmup).items():
                    rounds[label].append((float(np.percentile(ms, 50)),
                                          float(np.percentile(ms, 99))))
        results = {}
        for label, found in rounds.items():
            results[label] = (statistics.median(p for p, _ in found),
                              statistics.median(p for _, p in found))
            print(f"{label:>20}: p50 {results[label][0]:6.2f} ms   p99 {results[label][1]:6.2f} ms "
                  f"(medians of {args.rounds} x {args.requests} requests, interleaved)", flush=True)
        ref = results["bare four boosters"]
        for label in ("composite", "composite, inputs"):
            comp = results[label]
            print(f"{label} / bare: p50 x{comp[0] / ref[0]:.2f}, p99 x{comp[1] / ref[1]:.2f}; "
                  f"targets p50 <= 20 ms, p99 <= 60 ms: "
                  f"{'OK' if comp[0] <= 20 and comp[1] <= 60 else 'MISSED'}")
        comp = results["composite"]
        if "bare + signature" in results:
            signed = results["bare + signature"]
            print(f"composite / bare + signature: p50 x{comp[0] / signed[0]:.2f}, "
                  f"p99 x{comp[1] / signed[1]:.2f}")


if __name__ == "__main__":
    main()
