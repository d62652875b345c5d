"""SHAP explanations: exact TreeSHAP of the LightGBM boosters (:mod:`segml.predict.treeshap`, the
values of ``booster.predict(X, pred_contrib=True)`` computed from precomputed leaf tables).

Contributions are in the booster's raw margin space: log-odds for the classifiers and
``log(expected spend)`` for the Tweedie spend model; per customer they add up, with the bias
(expected value), to the raw margin. Calibration is monotone, so the sign of a contribution is the
direction it pushes the probability.

* :func:`explanation` - a :class:`shap.Explanation` of any rows (``shap.plots`` take it).
* :func:`explain_global` - mean |SHAP| per feature (sorted).
* :func:`drivers_by_segment` - mean signed SHAP per feature within each segment, segments smaller
  than ``min_size`` (privacy: ``segments.min_profile_size``) are left out.
* :func:`top_reasons` - per customer the ``k`` features with the largest |SHAP|, signed, as JSON
  strings ``[{"feature": "recency_days", "contribution": 0.31}, ...]`` (opt-in: it costs one
  SHAP pass); :func:`reasons_from_contributions` formats contributions computed already.
* :func:`plot_importance_bar`, :func:`plot_beeswarm` - PNGs with matplotlib (Agg).

Example
-------
>>> import numpy as np, pandas as pd
>>> from segml.predict.models import Predictor
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"recency_days": rng.exponential(60, 500), "noise": rng.normal(size=500)})
>>> y = pd.Series((X.recency_days > 60).astype(float))
>>> pred = Predictor(target="churn", n_estimators=20, seed=0).fit(X, y)
>>> explain_global(pred, X)["feature"].iloc[0]
'recency_days'
>>> top_reasons(pred, X.head(1), k=1).iloc[0].startswith('[{"feature": "recency_days"')
True
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from segml.predict.models import Predictor

if TYPE_CHECKING:
    import shap


def contributions(pred: Predictor, X: pd.DataFrame) -> pd.DataFrame:
    """Per-row SHAP contributions in margin space: one column per feature plus ``bias``.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from segml.predict.models import Predictor
    >>> X = pd.DataFrame({"a": np.arange(200.0)}); y = pd.Series((X.a > 100).astype(float))
    >>> c = contributions(Predictor(target="churn", n_estimators=5, seed=0).fit(X, y), X)
    >>> list(c.columns)
    ['a', 'bias']
    """
    values = pred.contributions_matrix(pred.matrix(X))
    return pd.DataFrame(values, index=X.index, columns=[*pred.feature_names_, "bias"])


def explanation(pred: Predictor, X: pd.DataFrame) -> shap.Explanation:
    """SHAP values of ``pred`` for the rows of ``X`` as a :class:`shap.Explanation`.

    The values come from :meth:`~segml.predict.models.Predictor.contributions_matrix` (exact
    TreeSHAP of the boosters, exact linear SHAP of the logistic regression, their weighted sum
    for a blend), in margin space: log-odds for the classifiers, ``log(expected spend)`` for
    spend; each row's values plus its base value equal its margin. ``data`` is the float matrix
    the model reads (categories as training codes, what a beeswarm colours by), ``display_data``
    the values as given (category labels, what a waterfall prints), so ``shap.plots.waterfall``,
    ``beeswarm``, ``bar`` and ``scatter`` work on it.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from segml.predict.models import Predictor
    >>> X = pd.DataFrame({"a": np.arange(200.0)}); y = pd.Series((X.a > 100).astype(float))
    >>> pred = Predictor(target="churn", n_estimators=5, seed=0).fit(X, y)
    >>> exp = explanation(pred, X.tail(2))
    >>> exp.values.shape, exp.feature_names
    ((2, 1), ['a'])
    >>> bool(np.allclose(exp.values.sum(axis=1) + exp.base_values, pred.predict_margin(X.tail(2))))
    True
    """
    import shap

    matrix = pred.matrix(X)
    contrib = pred.contributions_matrix(matrix)
    shown = X.loc[:, list(pred.feature_names_)].astype(object)
    return shap.Explanation(
        values=contrib[:, :-1], base_values=contrib[:, -1], data=matrix,
        display_data=shown.where(shown.notna(), None).to_numpy(),
        feature_names=list(pred.feature_names_))


def _feature_contributions(pred: Predictor, X: pd.DataFrame,
                           contrib: pd.DataFrame | None) -> pd.DataFrame:
    # ``contrib`` may be passed in precomputed: SHAP is the expensive part, compute it once.
    found = contrib if contrib is not None else contributions(pred, X)
    return found.drop(columns="bias", errors="ignore")


def explain_global(
    pred: Predictor, X_sample: pd.DataFrame, *, contrib: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Mean absolute SHAP value per feature, largest first (columns ``feature``, ``mean_abs_shap``).

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from segml.predict.models import Predictor
    >>> X = pd.DataFrame({"a": np.arange(200.0), "b": np.zeros(200)})
    >>> pred = Predictor(target="churn", n_estimators=5, seed=0).fit(X, pd.Series((X.a > 100) * 1.0))
    >>> explain_global(pred, X)["feature"].tolist()
    ['a', 'b']
    """
    contrib = _feature_contributions(pred, X_sample, contrib)
    imp = contrib.abs().mean().sort_values(ascending=False, kind="stable")
    return pd.DataFrame({"feature": imp.index, "mean_abs_shap": imp.to_numpy()})


def drivers_by_segment(
    pred: Predictor, X: pd.DataFrame, segment_labels, *, k: int = 5, min_size: int = 50,
    contrib: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ``k`` strongest drivers per segment: mean signed SHAP of the segment's customers.

    Returns a long frame with ``segment``, ``rank``, ``feature``, ``mean_shap``,
    ``mean_abs_shap``, ``customers``; segments with fewer than ``min_size`` customers are left
    out (no description of small groups).

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from segml.predict.models import Predictor
    >>> X = pd.DataFrame({"a": np.arange(200.0), "b": np.zeros(200)})
    >>> pred = Predictor(target="churn", n_estimators=5, seed=0).fit(X, pd.Series((X.a > 100) * 1.0))
    >>> d = drivers_by_segment(pred, X, np.where(X.a > 100, "high", "low"), k=1)
    >>> d[["segment", "feature"]].values.tolist()
    [['high', 'a'], ['low', 'a']]
    """
    contrib = _feature_contributions(pred, X, contrib)
    labels = pd.Series(np.asarray(segment_labels), index=contrib.index, name="segment")
    grouped = contrib.groupby(labels.to_numpy(), sort=True)
    sizes = grouped.size()
    mean = grouped.mean()
    mean_abs = contrib.abs().groupby(labels.to_numpy(), sort=True).mean()
    large = sizes.index[sizes >= min_size]
    long = mean.loc[large].stack().rename("mean_shap").to_frame()
    long["mean_abs_shap"] = mean_abs.loc[large].stack()
    long.index.names = ["segment", "feature"]
    long = long.reset_index()
    long["strength"] = long["mean_shap"].abs()
    long = long.sort_values(["segment", "strength"], ascending=[True, False], kind="stable")
    long["rank"] = long.groupby("segment").cumcount() + 1
    long = long[long["rank"] <= k].drop(columns="strength")
    long["customers"] = long["segment"].map(sizes).astype(int)
    return long[["segment", "rank", "feature", "mean_shap", "mean_abs_shap", "customers"]].reset_index(drop=True)


def top_reasons(pred: Predictor, X: pd.DataFrame, k: int = 3, *, decimals: int = 4) -> pd.Series:
    """Per customer the ``k`` features with the largest |SHAP|, as JSON strings (signed values).

    The contributions are in margin space (log-odds, or log spend for the spend model); a positive
    value raises the score. Vectorised: no Python loop over customers.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from segml.predict.models import Predictor
    >>> X = pd.DataFrame({"a": np.arange(200.0)})
    >>> pred = Predictor(target="churn", n_estimators=5, seed=0).fit(X, pd.Series((X.a > 100) * 1.0))
    >>> import json; r = json.loads(top_reasons(pred, X.tail(1), k=1).iloc[0])
    >>> r[0]["feature"], r[0]["contribution"] > 0
    ('a', True)
    """
    contrib = contributions(pred, X).drop(columns="bias").to_numpy()
    found = reasons_from_contributions(contrib, pred.feature_names_, k, decimals=decimals)
    return pd.Series(found, index=X.index, name=f"{pred.target}_reasons")


def reasons_from_contributions(contrib: np.ndarray, feature_names: list[str], k: int = 3, *,
                               decimals: int = 4) -> np.ndarray:
    """The JSON reasons of :func:`top_reasons` from a (rows x features) contribution matrix
    (no bias column), as an object array of strings.

    Example
    -------
    >>> reasons_from_contributions(np.array([[0.1, -0.5]]), ["a", "b"], k=1)[0]
    '[{"feature": "b", "contribution": -0.5}]'
    """
    k = min(k, contrib.shape[1])
    order = np.argsort(-np.abs(contrib), axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(contrib, order, axis=1)
    names = np.array([json.dumps(str(f)) for f in feature_names], dtype=object)
    text = np.full(contrib.shape[0], "[", dtype=object)
    for j in range(k):  # loop over the k reason slots, not over customers
        values = np.round(top[:, j], decimals).astype(str).astype(object)
        part = '{"feature": ' + names[order[:, j]] + ', "contribution": ' + values + "}"
        text = text + (part if j == 0 else ", " + part)
    return text + "]"


def _figure(width: float, height: float):
    """A figure on its own Agg canvas: no pyplot, so the caller's matplotlib backend (a
    notebook's inline one) is left as it is."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def plot_importance_bar(importance: pd.DataFrame, path: str | Path, *, top: int = 15,
                        title: str = "Mean |SHAP|") -> Path:
    """Horizontal bar chart of :func:`explain_global` output, saved as PNG."""
    data = importance.head(top).iloc[::-1]
    fig, ax = _figure(7, 0.35 * len(data) + 1.2)
    ax.barh(data["feature"].astype(str), data["mean_abs_shap"], color="#3b75af")
    ax.set_xlabel("mean |SHAP| (margin units)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return Path(path)


def plot_beeswarm(pred: Predictor, X_sample: pd.DataFrame, path: str | Path, *, top: int = 12,
                  seed: int = 0, contrib: pd.DataFrame | None = None,
                  label: Callable[[str], str] = str) -> Path:
    """Beeswarm-style plot: one dot per customer and feature, x = SHAP, colour = feature value
    (percentile within the sample; categories by code), saved as PNG. ``label``: how a
    feature name is shown."""
    contrib = _feature_contributions(pred, X_sample, contrib)
    features = contrib.abs().mean().sort_values(ascending=False).index[:top][::-1]
    rng = np.random.default_rng(seed)
    fig, ax = _figure(7, 0.4 * len(features) + 1.2)
    for i, feature in enumerate(features):
        raw = X_sample[feature]
        if isinstance(raw.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(raw):
            raw = pd.Series(pd.Categorical(raw).codes, index=raw.index).where(raw.notna())
        colour = pd.to_numeric(raw, errors="coerce").rank(pct=True).fillna(0.5).to_numpy()
        y = i + rng.uniform(-0.3, 0.3, size=len(contrib))
        ax.scatter(contrib[feature].to_numpy(), y, c=colour, cmap="coolwarm", s=4, alpha=0.6)
    ax.set_yticks(range(len(features)), [label(str(f)) for f in features])
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("SHAP value (margin units)\ncolour: low -> high feature value")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return Path(path)
