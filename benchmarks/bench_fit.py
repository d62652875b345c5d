"""Training benchmark (docs/benchmarks.md: four LightGBM models on 1M customers <= 5 min).

Usage::

    python benchmarks/bench_fit.py --customers 100000 [--repeats 3] [--no-baselines] [--no-bare]
        [--models '{"max_bin": 255, "max_train_rows": null}']

A seeded synthetic matrix (~60 numeric + 5 categorical columns, the documented feature names
first) and labels for the four targets; for each target it prints the median wall time of
``fit_predictor`` with ``ModelsConfig`` defaults (plus ``--models`` overrides): early stopping on a
15 % validation slice, calibration, a refit on all rows below ``models.refit_max_rows``, a
stratified sample above ``models.max_train_rows``; the ratio to a bare ``lightgbm.train`` on the
whole matrix with the same parameters and the same number of rounds as the final model; and the
quality on a 50k-row holdout drawn from the same distribution (ROC AUC, Spearman for spend), so a
speed knob's cost in quality shows beside its gain. Baselines (fitted on <= 200k rows) are timed
separately. The load average is printed: timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from segml.config import ModelsConfig
from segml.predict import fit_baselines, fit_predictor
from segml.predict.models import label_of
from segml.targets import TARGET_NAMES

NAMED = ["recency_days", "frequency", "monetary_sum", "monetary_mean", "tenure_days", "spend_365d",
         "orders_90d", "btyd_p_alive", "btyd_prob_purchase_30d", "btyd_expected_purchases_365d"]


def make_matrix(n: int, seed: int = 0, n_numeric: int = 60, n_categorical: int = 5):
    """Synthetic features X and labels Y with nonlinear signal on a few columns."""
    rng = np.random.default_rng(seed)
    recency = rng.exponential(80, n)
    frequency = rng.poisson(4, n).astype(np.float64)
    monetary = frequency * rng.gamma(2.0, 30.0, n)
    cols = {
        "recency_days": recency, "frequency": frequency, "monetary_sum": monetary,
        "monetary_mean": monetary / np.maximum(frequency, 1), "tenure_days": rng.uniform(30, 1500, n),
        "spend_365d": monetary * rng.uniform(0.3, 1.0, n), "orders_90d": rng.poisson(1, n) * 1.0,
        "btyd_p_alive": expit(2 - recency / 40 + rng.normal(0, 0.5, n)),
    }
    cols["btyd_prob_purchase_30d"] = cols["btyd_p_alive"] * (1 - np.exp(-frequency / 12))
    cols["btyd_expected_purchases_365d"] = cols["btyd_p_alive"] * frequency
    for i in range(n_numeric - len(cols)):
        cols[f"num_{i:02d}"] = rng.normal(size=n)
    X = pd.DataFrame(cols)
    for j in range(n_categorical):
        levels = np.array([f"v{k}" for k in range(4 + 3 * j)])
        X[f"cat_{j}"] = pd.Categorical.from_codes(rng.integers(0, levels.size, n), categories=levels)
    cat0 = X["cat_0"].cat.codes.to_numpy()
    logit = (np.where((recency > 40) & (recency < 160), 1.5, -0.5) + 0.4 * (cat0 % 2) * (frequency - 4)
             + 0.5 * np.sin(X["num_00"].to_numpy() * 2) + 0.3 * X["num_01"].to_numpy() - 0.5)
    churn = (rng.random(n) < expit(logit)).astype(float)
    spends = rng.random(n) < expit(-logit)
    future = np.where(spends, rng.gamma(2.0, 20.0, n) * (1 + frequency / 4), 0.0)
    Y = pd.DataFrame({
        "churn": np.where(rng.random(n) < 0.9, churn, np.nan),
        "purchase": (rng.random(n) < expit(-logit - 0.5)).astype(float),
        "future_spend": future,
        "high_clv": (future > np.quantile(future, 0.8)).astype(float),
    })
    return X, Y


def bare_train(pred, X: pd.DataFrame, y: pd.Series) -> float:
    keep = y.notna().to_numpy()
    data = pred.frame(X[keep])
    start, cpu = time.perf_counter(), time.process_time()
    lgb.train(pred.params_, lgb.Dataset(data, y[keep].to_numpy()), num_boost_round=pred.best_iteration_)
    return time.perf_counter() - start, time.process_time() - cpu


def holdout_quality(pred, X: pd.DataFrame, Y: pd.DataFrame) -> str:
    """ROC AUC (classifiers) or Spearman (spend) of ``pred`` on independent rows."""
    y = label_of(pred.target, Y).to_numpy(dtype=float)
    known = ~np.isnan(y)
    score = pred.predict_value(X[known])
    if pred.is_classifier:
        return f"holdout roc_auc {roc_auc_score(y[known], score):.4f}"
    return f"holdout spearman {spearmanr(y[known], score).statistic:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare lightgbm reference")
    parser.add_argument("--models", default="{}", help="JSON overrides of ModelsConfig fields")
    args = parser.parse_args()
    start = time.perf_counter()
    X, Y = make_matrix(args.customers)
    X_hold, Y_hold = make_matrix(50_000, seed=1)
    print(f"{len(X):,} customers x {X.shape[1]} columns generated in {time.perf_counter() - start:.1f}s; "
          f"load average {os.getloadavg()[0]:.1f}")
    models = ModelsConfig(**json.loads(args.models))
    print(f"models: max_bin={models.max_bin} max_train_rows={models.max_train_rows} "
          f"refit_max_rows={models.refit_max_rows} learning_rate={models.learning_rate} "
          f"early_stopping_rounds={models.early_stopping_rounds} lgbm_params={models.lgbm_params}")
    total_model = total_bare = total_base = total_cpu = total_bare_cpu = 0.0
    for target in TARGET_NAMES:
        times, cpu, bare, bare_cpu, base = [], [], [], [], []
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            pred = fit_predictor(target, X, Y, models, seed=0, baselines=False)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            wall, cpu_bare = (np.nan, np.nan) if args.no_bare else bare_train(pred, X, label_of(target, Y))
            bare.append(wall)
            bare_cpu.append(cpu_bare)
            if not args.no_baselines:
                t0 = time.perf_counter()
                fit_baselines(target, X, label_of(target, Y), seed=0)
                base.append(time.perf_counter() - t0)
        med, med_bare = statistics.median(times), statistics.median(bare)
        med_base = statistics.median(base) if base else 0.0
        total_model, total_bare, total_base = total_model + med, total_bare + med_bare, total_base + med_base
        med_cpu, med_bare_cpu = statistics.median(cpu), statistics.median(bare_cpu)
        total_cpu, total_bare_cpu = total_cpu + med_cpu, total_bare_cpu + med_bare_cpu
        bare_text = "" if args.no_bare else (
            f"bare lgb.train {med_bare:7.2f}s (cpu {med_bare_cpu:6.1f}s)  ratio {med / med_bare:4.2f}x "
            f"(cpu {med_cpu / med_bare_cpu:4.2f}x)  ")
        print(f"{target:9s} fit_predictor {med:7.2f}s (cpu {med_cpu:6.1f}s, {pred.best_iteration_} rounds, "
              f"refit {pred.refitted_})  {bare_text}baselines {med_base:6.2f}s  "
              f"{holdout_quality(pred, X_hold, Y_hold)}  rows {pred.n_train_rows_:,}  "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
    print(f"four models: {total_model:.1f}s (cpu {total_cpu:.1f}s, + baselines {total_base:.1f}s)"
          + ("" if args.no_bare else f"; bare {total_bare:.1f}s (cpu {total_bare_cpu:.1f}s); ratio "
             f"{total_model / total_bare:.2f}x (cpu {total_cpu / total_bare_cpu:.2f}x)"))
    cap = models.max_train_rows or 1_000_000
    scale = min(1_000_000, cap) / min(len(X), cap)
    base_scale = min(1_000_000, 200_000) / min(len(X), 200_000)
    print(f"extrapolation to 1M customers (linear in the rows actually trained on; a refit below "
          f"{models.refit_max_rows:,} rows would not happen there): "
          f"{(total_model * scale + total_base * base_scale) / 60:.1f} min (target <= 5 min)")


if __name__ == "__main__":
    main()
