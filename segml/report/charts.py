"""Evaluation charts of the report: ROC, precision-recall, calibration and lift, plus the RFM grid.

The curves are computed from the out-of-time evaluation scores (label, model and baseline scores on
the same rows) into one small long-format table per target (``scorer, curve, x, y``), written as a
CSV artifact and drawn as one 2x2 PNG panel. Every point aggregates many customers: calibration
bins hold at least ``min_size`` customers and lift is computed at depths of at least ``min_size``
customers, so no chart describes a group smaller than ``min_profile_size``.

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> y = (rng.random(1000) < 0.3).astype(float)
>>> scores = pd.DataFrame({"label": y, "model": y * 0.5 + rng.random(1000) * 0.5})
>>> curves = evaluation_curves(scores, min_size=50)
>>> sorted(curves["curve"].unique())
['calibration', 'lift', 'pr', 'roc']
>>> bool(curves.query("curve == 'calibration'")["customers"].min() >= 50)
True
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

CURVES = ("roc", "pr", "calibration", "lift")
AXES = {
    "roc": ("false positive rate", "true positive rate", "ROC"),
    "pr": ("recall", "precision", "precision-recall"),
    "calibration": ("mean predicted probability", "observed rate", "calibration (model)"),
    "lift": ("share of customers targeted (by score)", "lift", "lift"),
}


def _thin(frame: pd.DataFrame, max_points: int) -> pd.DataFrame:
    if len(frame) <= max_points:
        return frame
    keep = np.unique(np.linspace(0, len(frame) - 1, max_points).round().astype(int))
    return frame.iloc[keep]


def _finite(label: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = ~(np.isnan(label) | np.isnan(score))
    return label[ok], score[ok]


def calibration_bins(label: np.ndarray, prob: np.ndarray, n_bins: int = 10,
                     min_size: int = 50) -> pd.DataFrame:
    """Quantile bins of the predicted probability (each >= ``min_size`` customers).

    Example
    -------
    >>> t = calibration_bins(np.array([0, 0, 1, 1.0] * 50), np.array([.1, .2, .8, .9] * 50), 4, 50)
    >>> t["customers"].tolist(), t["y"].tolist()
    ([50, 50, 50, 50], [0.0, 0.0, 1.0, 1.0])
    """
    label, prob = _finite(np.asarray(label, float), np.asarray(prob, float))
    bins = int(min(n_bins, label.size // max(min_size, 1)))
    if bins < 1:
        return pd.DataFrame(columns=["x", "y", "customers"])
    order = np.argsort(prob, kind="stable")
    group = np.empty(prob.size, dtype=int)
    group[order] = np.arange(prob.size) * bins // prob.size
    frame = pd.DataFrame({"g": group, "p": prob, "y": label})
    table = frame.groupby("g").agg(x=("p", "mean"), y=("y", "mean"), customers=("y", "size"))
    return table.reset_index(drop=True)


def lift_points(label: np.ndarray, score: np.ndarray, min_size: int = 50,
                n_points: int = 20) -> pd.DataFrame:
    """Cumulative lift at increasing depths of the ranking (depth >= ``min_size`` customers)."""
    label, score = _finite(np.asarray(label, float), np.asarray(score, float))
    if label.size == 0 or label.sum() == 0:
        return pd.DataFrame(columns=["x", "y", "customers"])
    order = np.lexsort((np.arange(score.size), -score))
    hits = np.cumsum(label[order])
    depths = np.unique(np.linspace(max(min_size, 1), label.size, n_points).round().astype(int))
    depths = depths[(depths >= min(min_size, label.size)) & (depths <= label.size)]
    lift = (hits[depths - 1] / depths) / label.mean()
    return pd.DataFrame({"x": depths / label.size, "y": lift, "customers": depths})


def evaluation_curves(scores: pd.DataFrame, min_size: int = 50, max_points: int = 200) -> pd.DataFrame:
    """ROC, PR, calibration and lift of every scorer in ``scores`` (columns ``label`` + scorers).

    Calibration is drawn for the model only (baseline heuristics are not probabilities).
    Returns columns ``scorer, curve, x, y, customers`` (``customers`` only for calibration/lift).
    """
    label = scores["label"].to_numpy(dtype=float)
    frames = []
    for scorer in [c for c in scores.columns if c != "label"]:
        y, s = _finite(label, scores[scorer].to_numpy(dtype=float))
        if y.size == 0 or y.min() == y.max():
            continue
        fpr, tpr, _ = roc_curve(y, s)
        precision, recall, _ = precision_recall_curve(y, s)
        parts = {
            "roc": _thin(pd.DataFrame({"x": fpr, "y": tpr}), max_points),
            "pr": _thin(pd.DataFrame({"x": recall[::-1], "y": precision[::-1]}), max_points),
            "lift": lift_points(y, s, min_size),
        }
        if scorer == "model":
            parts["calibration"] = calibration_bins(y, s, min_size=min_size)
        for curve, frame in parts.items():
            frames.append(frame.assign(scorer=scorer, curve=curve))
    if not frames:
        return pd.DataFrame(columns=["scorer", "curve", "x", "y", "customers"])
    out = pd.concat(frames, ignore_index=True)
    if "customers" not in out:
        out["customers"] = np.nan
    return out[["scorer", "curve", "x", "y", "customers"]]


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> str:
    """Draw ``fig`` as a PNG at ``path`` (90 dpi, tight layout) and return the path."""
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=90, format="png")
    return os.fspath(path)


def plot_evaluation(curves: pd.DataFrame, path: str | os.PathLike[str], title: str = "") -> str:
    """The four curves of one target as a 2x2 panel PNG (model in bold, baselines thin).

    Example
    -------
    >>> import tempfile, numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> y = (rng.random(500) < .4).astype(float)
    >>> c = evaluation_curves(pd.DataFrame({"label": y, "model": y + rng.random(500)}))
    >>> plot_evaluation(c, tempfile.mkdtemp() + "/ev.png", "churn").endswith("ev.png")
    True
    """
    fig = Figure(figsize=(9, 7))
    for i, curve in enumerate(CURVES):
        ax = fig.add_subplot(2, 2, i + 1)
        xlabel, ylabel, name = AXES[curve]
        part = curves[curves["curve"] == curve]
        for scorer, frame in part.groupby("scorer", sort=False):
            model = scorer == "model"
            ax.plot(frame["x"], frame["y"], label=str(scorer).removeprefix("baseline_"),
                    linewidth=2.2 if model else 1.0, alpha=1.0 if model else 0.8,
                    marker="o" if curve == "calibration" else None, markersize=3,
                    color="black" if model else None, zorder=3 if model else 2)
        if curve in ("roc", "calibration"):
            ax.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=0.8)
        if curve == "lift":
            ax.axhline(1.0, linestyle=":", color="grey", linewidth=0.8)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        if len(part):
            ax.legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


def plot_deciles(deciles: pd.DataFrame, path: str | os.PathLike[str], title: str = "") -> str:
    """Predicted vs actual mean spend per decile of predicted spend, and the cumulative share."""
    fig = Figure(figsize=(9, 3.6))
    ax = fig.add_subplot(1, 2, 1)
    x = deciles["decile"].to_numpy()
    ax.bar(x - 0.2, deciles["mean_predicted"], width=0.4, label="predicted", color="#4c78a8")
    ax.bar(x + 0.2, deciles["mean_actual"], width=0.4, label="actual", color="#f58518")
    ax.set_xlabel("decile of predicted spend (1 = highest)", fontsize=8)
    ax.set_ylabel("mean spend", fontsize=8)
    ax.legend(fontsize=7)
    ax2 = fig.add_subplot(1, 2, 2)
    share = np.concatenate([[0.0], deciles["cum_share"].to_numpy(dtype=float)])
    ax2.plot(np.arange(len(share)) / max(len(share) - 1, 1), share, marker="o", color="black",
             label="model")
    ax2.plot([0, 1], [0, 1], linestyle=":", color="grey", label="random")
    ax2.set_xlabel("share of customers (by predicted spend)", fontsize=8)
    ax2.set_ylabel("share of actual spend (gains)", fontsize=8)
    ax2.legend(fontsize=7)
    for a in (ax, ax2):
        a.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


def rfm_grid(rule_segments: pd.DataFrame, min_size: int = 50) -> pd.DataFrame:
    """Customers per (R score, F score) cell: rows R 5..1, columns F 1..5; cells < ``min_size`` NaN.

    Example
    -------
    >>> r = pd.DataFrame({"rfm_r": [5] * 60 + [1] * 10, "rfm_f": [1] * 60 + [2] * 10})
    >>> g = rfm_grid(r, min_size=50)
    >>> int(g.loc[5, 1]), bool(np.isnan(g.loc[1, 2]))
    (60, True)
    """
    if not {"rfm_r", "rfm_f"} <= set(rule_segments.columns):
        return pd.DataFrame()
    table = pd.crosstab(rule_segments["rfm_r"].astype(int), rule_segments["rfm_f"].astype(int))
    table = table.reindex(index=range(5, 0, -1), columns=range(1, 6), fill_value=0).astype(float)
    table.index.name, table.columns.name = "R", "F"
    return table.where(table >= min_size)


__all__ = ["calibration_bins", "evaluation_curves", "lift_points", "plot_deciles",
           "plot_evaluation", "rfm_grid"]
