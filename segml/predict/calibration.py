"""Probability calibration of raw model margins (log-odds) on held-out rows.

``isotonic`` fits a monotone step function from margin to observed rate; ``sigmoid`` (Platt
scaling) fits ``expit(a * margin + b)``; ``none`` is ``expit(margin)``.

Isotonic steps are *smoothed*: a step of ``n`` held-out rows with ``k`` positives gets
``(k + s * p0) / (n + s)`` (``p0`` the held-out rate, ``s = prior_rows``, default 2), the posterior
mean under a prior worth ``s`` rows at the base rate, instead of ``k / n``. A step with no positive
among 2,000 rows is then about 1e-4 times the base rate, not 0: no probability collapses to 0 or 1
where the labels only say "rare". Steps create ties that would lower ROC AUC, so the calibrated
value is ``(1 - 1e-6) * iso(margin) + 1e-6 * expit(margin)``: the ranking of the raw model is kept.

:func:`choose_calibration` picks the method from held-out margins (each method fitted on
``folds - 1`` parts of the held-out rows, scored on the last): the methods within one standard
error of the lowest cross-validated log loss are tied, and the one of them with the lowest
cross-validated calibration error (ECE) wins. Isotonic needs many rows (its steps overfit few),
none wins when the model is already calibrated.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> margin = rng.normal(size=2000)
>>> y = (rng.random(2000) < 1 / (1 + np.exp(-0.3 * margin))).astype(float)  # overconfident
>>> cal = Calibrator("isotonic").fit(margin, y)
>>> bool(abs(cal.transform(margin).mean() - y.mean()) < 0.01)
True
>>> choose_calibration(margin, y)[0] in METHODS
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from segml.predict.metrics import ece
from segml.predict.resources import EXACT_SOLVER

METHODS = ("isotonic", "sigmoid", "none")
_TIE_BREAK = 1e-6
_EPS = 1e-12


class Calibrator:
    """Map raw margins to calibrated probabilities.

    Parameters
    ----------
    method : {"isotonic", "sigmoid", "none"}
        Calibration family.
    prior_rows : float
        Isotonic steps shrink toward the held-out rate with this many pseudo-rows.

    Attributes
    ----------
    x_, y_ : ndarray or None
        Isotonic: the margins of the step ends and their smoothed rates (linear interpolation
        between them, clipped at both ends).
    a_, b_ : float or None
        Sigmoid: ``expit(a_ * margin + b_)``.

    Example
    -------
    >>> import numpy as np
    >>> cal = Calibrator("sigmoid").fit(np.array([-2.0, -1.0, 1.0, 2.0]), np.array([0, 1, 0, 1]))
    >>> cal.transform(np.array([0.0])).round(2).tolist()
    [0.5]
    """

    def __init__(self, method: str = "isotonic", prior_rows: float = 2.0):
        self.method = method
        self.prior_rows = prior_rows

    def fit(self, margin, y) -> Calibrator:
        """Fit on held-out margins and 0/1 outcomes."""
        if self.method not in METHODS:
            raise ValueError(f"unknown calibration {self.method!r}; use one of {METHODS}")
        m = np.asarray(margin, dtype=float).ravel()
        t = np.asarray(y, dtype=float).ravel()
        self.x_ = self.y_ = self.a_ = self.b_ = None
        if self.method == "none" or np.unique(t).size < 2:
            return self
        if self.method == "isotonic":
            self.x_, self.y_ = _smoothed_isotonic(m, t, self.prior_rows)
        else:
            platt = LogisticRegression(C=1e6, **EXACT_SOLVER).fit(m.reshape(-1, 1), t)
            self.a_, self.b_ = float(platt.coef_[0, 0]), float(platt.intercept_[0])
        return self

    def transform(self, margin) -> np.ndarray:
        """Calibrated probabilities for raw margins."""
        m = np.asarray(margin, dtype=float).ravel()
        if self.x_ is not None:
            iso = np.interp(m, self.x_, self.y_)
            return (1.0 - _TIE_BREAK) * iso + _TIE_BREAK * expit(m)
        if self.a_ is not None:
            return expit(self.a_ * m + self.b_)
        return expit(m)

    def to_state(self) -> dict[str, Any]:
        """The fitted map as data (:mod:`segml.scoring.state`).

        Example
        -------
        >>> cal = Calibrator("sigmoid").fit(np.array([-1.0, 0.0, 1.0, 2.0]), np.array([0, 1, 0, 1]))
        >>> again = Calibrator.from_state(cal.to_state())
        >>> bool(np.array_equal(again.transform(np.array([0.3])), cal.transform(np.array([0.3]))))
        True
        """
        return {"method": self.method, "prior_rows": self.prior_rows, "x": self.x_, "y": self.y_,
                "a": self.a_, "b": self.b_}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Calibrator:
        """The calibrator :meth:`to_state` described."""
        out = cls(state["method"], prior_rows=state["prior_rows"])
        out.x_ = None if state["x"] is None else np.asarray(state["x"], dtype=float)
        out.y_ = None if state["y"] is None else np.asarray(state["y"], dtype=float)
        out.a_ = None if state["a"] is None else float(state["a"])
        out.b_ = None if state["b"] is None else float(state["b"])
        return out


def _smoothed_isotonic(m: np.ndarray, t: np.ndarray, prior_rows: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Step ends and smoothed step rates of the isotonic fit of ``t`` on ``m``.

    Example
    -------
    >>> x, y = _smoothed_isotonic(np.arange(6.0), np.array([0, 0, 0, 1, 1, 1.0]), 2.0)
    >>> y.round(3).tolist()    # (0 + 2 * 0.5) / (3 + 2) = 0.2 and (3 + 1) / 5 = 0.8
    [0.2, 0.2, 0.8, 0.8]
    """
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(m, t)
    fitted = iso.predict(m)
    base = float(t.mean())
    steps, step_of = np.unique(fitted, return_inverse=True)  # steps have distinct rates
    rows = np.bincount(step_of, minlength=steps.size)
    positives = np.bincount(step_of, weights=t, minlength=steps.size)
    smoothed = np.maximum.accumulate((positives + prior_rows * base) / (rows + prior_rows))
    x = np.asarray(iso.X_thresholds_, dtype=float)
    values = np.asarray(iso.y_thresholds_, dtype=float)
    # each step end takes its step's smoothed rate (the nearest step value, robust to rounding)
    upper = np.searchsorted(steps, values).clip(1, steps.size - 1) if steps.size > 1 else (
        np.zeros(values.size, dtype=int))
    lower = np.maximum(upper - 1, 0)
    nearest = np.where(np.abs(steps[lower] - values) <= np.abs(steps[upper] - values), lower, upper)
    return x, smoothed[nearest]


def _row_log_loss(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Each row's log loss (``sklearn.metrics.log_loss`` is their mean; the choice needs the
    rows for the paired standard error)."""
    p = np.clip(p, _EPS, 1 - _EPS)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def choose_calibration(margin, y, *, folds: int = 5, seed: int = 0,
                       methods: tuple[str, ...] = METHODS) -> tuple[str, dict[str, float]]:
    """The calibration method for held-out margins: a proper score first, calibration error
    to break its ties.

    Each method is fitted on ``folds - 1`` parts of the rows and scores the last part, so every
    row gets an out-of-fold probability from a map that did not see it. The methods whose
    cross-validated log loss is within one standard error of the lowest (the paired error of
    the per-row differences: closer than that is noise) are tied; of those, the one with the
    lowest cross-validated expected calibration error (ECE, what the report, the retrain gate
    and the comparison with logistic regression read) wins, an exact tie going to the simpler
    method (none, sigmoid, isotonic). The log loss keeps isotonic's steps out where they overfit
    (few rows), the ECE picks among the rest the map whose probabilities match the observed
    rates best. Every map is monotone, so the choice never changes the ranking (ROC AUC). With
    fewer than ``2 * folds`` positives or negatives there is too little to compare: sigmoid.

    Returns the method and the scores: per method its out-of-fold log loss (``<method>``) and
    ECE (``<method>_ece``).

    Example
    -------
    >>> rng = np.random.default_rng(1)
    >>> m = rng.normal(0, 2, 3000)
    >>> y = (rng.random(3000) < 1 / (1 + np.exp(-0.4 * m + 1))).astype(float)   # overconfident
    >>> method, scores = choose_calibration(m, y)
    >>> method != "none", scores[method + "_ece"] < scores["none_ece"]
    (True, True)
    """
    m = np.asarray(margin, dtype=float).ravel()
    t = np.asarray(y, dtype=float).ravel()
    positives = int(t.sum())
    if min(positives, t.size - positives) < 2 * folds:
        return "sigmoid", {}
    split = StratifiedKFold(folds, shuffle=True, random_state=seed).split(m, t.astype(int))
    oof = {method: np.empty(t.size) for method in methods}
    for fit_rows, test_rows in split:
        for method in methods:
            oof[method][test_rows] = Calibrator(method).fit(m[fit_rows], t[fit_rows]).transform(
                m[test_rows])
    rows = {method: _row_log_loss(t, p) for method, p in oof.items()}
    losses = {method: float(loss.mean()) for method, loss in rows.items()}
    errors = {method: ece(t, p) for method, p in oof.items()}
    best = min(methods, key=losses.__getitem__)
    tied = [name for name in methods
            if losses[name] - losses[best] <= float(np.std(rows[name] - rows[best], ddof=1))
            / np.sqrt(t.size) + 1e-12]
    order = ("none", "sigmoid", "isotonic")
    chosen = min(tied, key=lambda name: (errors[name], order.index(name)))
    return chosen, {**losses, **{f"{name}_ece": errors[name] for name in methods}}


__all__ = ["METHODS", "Calibrator", "choose_calibration"]
