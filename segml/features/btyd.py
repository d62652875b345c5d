"""BG/NBD "buy till you die" model (Fader, Hardie & Lee 2005) fitted by maximum likelihood.

Time is measured in days throughout. Per customer the model needs the repeat-purchase summary
``frequency`` (x), ``recency`` (t_x) and ``T`` built by :func:`btyd_summary`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import digamma, expit, gammaln, hyp2f1
from sklearn.base import BaseEstimator

from segml.errors import ConfigError, DataError, Problem

_PARAM_NAMES = ("r", "alpha", "a", "b")


def btyd_summary(transactions: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Repeat-purchase summary (frequency, recency, T) per customer at ``cutoff``, as a frame.

    A view of :func:`segml.features.purchases.purchase_gaps`, the one computation segml's features
    use (positive amounts only, several orders on one day are one purchase occasion).

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions with ``customer_id``, ``timestamp`` and ``amount``.
    cutoff : Timestamp
        Rows with ``timestamp <= cutoff`` are used.

    Returns
    -------
    DataFrame
        Index ``customer_id`` (sorted); ``frequency`` = distinct purchase days - 1,
        ``recency`` = days between first and last purchase day, ``T`` = days between the first
        purchase day and the cutoff. Customers without a purchase are omitted.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": [1, 1, 1, 2],
    ...     "timestamp": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 18:00", "2024-01-11 10:00",
    ...                              "2024-01-05 12:00"]),
    ...     "amount": [10.0, 5.0, 7.0, 3.0]})
    >>> btyd_summary(tx, pd.Timestamp("2024-01-31"))
                 frequency  recency     T
    customer_id
    1                  1.0     10.0  30.0
    2                  0.0      0.0  26.0
    """
    from segml.features.purchases import purchase_gaps

    missing = [c for c in ("customer_id", "timestamp", "amount") if c not in transactions.columns]
    if missing:
        raise DataError([Problem("missing column needed for BG/NBD summary", table="transactions",
                                 column=c) for c in missing])
    buy = transactions.loc[transactions["amount"].to_numpy() > 0]
    positions, ids = pd.factorize(buy["customer_id"], sort=True)
    gaps = purchase_gaps(positions, buy["timestamp"].to_numpy(), len(ids), pd.Timestamp(cutoff))
    out = pd.DataFrame({"frequency": gaps["x"], "recency": gaps["t_x"], "T": gaps["T"]},
                       index=pd.Index(ids, name="customer_id"))
    return out.dropna()


def _as_arrays(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike):
    x, t_x, big_t = (np.asarray(v, dtype="float64") for v in (frequency, recency, T))
    x, t_x, big_t = np.broadcast_arrays(x, t_x, big_t)
    problems: list[Problem] = []
    for name, values in (("frequency", x), ("recency", t_x), ("T", big_t)):
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            problems.append(Problem(f"{int(bad.sum())} value(s) negative or missing, e.g. "
                                    f"{values[bad][0]!r}", column=name))
    over = t_x > big_t + 1e-9
    if over.any():
        problems.append(Problem(f"recency exceeds T for {int(over.sum())} customer(s), e.g. "
                                f"recency={t_x[over][0]!r} > T={big_t[over][0]!r}",
                                column="recency"))
    if problems:
        raise DataError(problems)
    return x, t_x, big_t


def _log_likelihood(log_params: np.ndarray, x, t_x, big_t) -> np.ndarray:
    r, alpha, a, b = np.exp(log_params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + big_t)
    # The "dropped out after the last purchase" branch only exists when x > 0.
    a4 = np.where(x > 0,
                  np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + t_x),
                  -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def _neg_ll_and_grad(log_params: np.ndarray, x, t_x, big_t, weights) -> tuple[float, np.ndarray]:
    """Weighted negative log-likelihood and its gradient in log-parameters (analytic, so each
    optimiser step costs one pass over the data instead of five)."""
    r, alpha, a, b = np.exp(log_params)
    log_at, log_atx = np.log(alpha + big_t), np.log(alpha + t_x)
    a3 = -(r + x) * log_at
    bx1 = b + np.maximum(x, 1) - 1
    a4 = np.where(x > 0, np.log(a) - np.log(bx1) - (r + x) * log_atx, -np.inf)
    norm = np.logaddexp(a3, a4)
    ll = (gammaln(r + x) - gammaln(r) + r * np.log(alpha)
          + gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x) + norm)
    w4 = np.exp(a4 - norm)  # share of the "dropped out after the last purchase" branch
    w3 = 1.0 - w4
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w3 * log_at - w4 * log_atx
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + big_t) + w4 / (alpha + t_x))
    d_a = digamma(a + b) - digamma(a + b + x) + w4 / a
    d_b = digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x) - w4 / bx1
    grad = np.array([np.dot(weights, d) for d in (d_r, d_alpha, d_a, d_b)])
    return -float(np.dot(weights, ll)), -grad * np.array([r, alpha, a, b])


def _log_odds_dead(params: dict[str, float], x, t_x, big_t) -> np.ndarray:
    r, alpha, a, b = (params[k] for k in _PARAM_NAMES)
    return np.where(
        x > 0,
        np.log(a) - np.log(b + np.maximum(x, 1) - 1)
        + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x)),
        -np.inf,
    )


class BetaGeoFitter(BaseEstimator):
    """BG/NBD model fitted by (optionally L2-penalised) maximum likelihood.

    Parameters
    ----------
    penalizer : float
        L2 penalty on the parameters (in the internal, rescaled time unit), added to the mean
        negative log-likelihood; 0 is plain maximum likelihood.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> T = rng.uniform(100, 400, 500)
    >>> rec = T * rng.uniform(0, 1, 500)
    >>> freq = np.where(rec > 1, rng.poisson(3, 500), 0)
    >>> model = BetaGeoFitter(penalizer=0.01).fit(freq, rec, T)
    >>> sorted(model.params_)
    ['a', 'alpha', 'b', 'r']
    >>> bool(model.p_alive(0, 0, 200) == 1.0)
    True
    """

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> BetaGeoFitter:
        """Fit by maximum likelihood; identical (x, t_x, T) rows are collapsed with weights."""
        if self.penalizer < 0:
            raise ConfigError([Problem(f"penalizer must be >= 0, got {self.penalizer!r}",
                                       key="penalizer")])
        x, t_x, big_t = _as_arrays(frequency, recency, T)
        if x.size == 0:
            raise DataError([Problem("no customers to fit BG/NBD on", column="frequency")])
        if not (x > 0).any():
            # With no repeat purchase the likelihood has no interior maximum (r -> 0).
            raise DataError([Problem("no customer has a repeat purchase: BG/NBD cannot be fitted",
                                     column="frequency")])
        # Collapsing duplicates makes the likelihood cost scale with distinct histories, not rows.
        rows = pd.DataFrame({"x": x.ravel(), "t_x": t_x.ravel(), "T": big_t.ravel()})
        grouped = rows.groupby(["x", "t_x", "T"], sort=False).size()
        uniq = np.column_stack([grouped.index.get_level_values(k).to_numpy() for k in range(3)])
        counts = grouped.to_numpy()
        # Rescale time so alpha is O(1): the optimiser works on comparable log-parameters.
        scale = 10.0 / max(float(uniq[:, 2].max()), 1e-9)
        ux, ut_x, ut = uniq[:, 0], uniq[:, 1] * scale, uniq[:, 2] * scale
        weights = counts.astype("float64")
        total = weights.sum()

        def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            nll, grad = _neg_ll_and_grad(log_params, ux, ut_x, ut, weights)
            params = np.exp(log_params)
            return (nll / total + self.penalizer * float(np.sum(params**2)),
                    grad / total + 2.0 * self.penalizer * params**2)

        best = None
        # A second start only when the first fails: the likelihood is usually well behaved.
        for start in (np.zeros(4), np.log([0.5, 1.0, 0.5, 2.0])):
            res = minimize(objective, start, jac=True, method="L-BFGS-B",
                           bounds=[(-12.0, 12.0)] * 4)
            if best is None or res.fun < best.fun:
                best = res
            if best.success:
                break
        r, alpha_s, a, b = np.exp(best.x)
        self.params_ = {"r": float(r), "alpha": float(alpha_s / scale), "a": float(a),
                        "b": float(b)}
        # Back to day units: the likelihood is a density in t_x, which rescaling multiplies by
        # scale^-x per customer (the Jacobian of the time change).
        self.log_likelihood_ = float(np.dot(weights, _log_likelihood(best.x, ux, ut_x, ut))
                                     + np.dot(weights, ux) * np.log(scale))
        self.converged_ = bool(best.success)
        self.n_customers_ = int(total)
        return self

    def _params(self) -> dict[str, float]:
        if not hasattr(self, "params_"):
            raise AttributeError("BetaGeoFitter is not fitted: call fit() or from_dict() first")
        return self.params_

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
        """Probability that the customer is still alive at T (1 when frequency is 0)."""
        params = self._params()
        x, t_x, big_t = _as_arrays(frequency, recency, T)
        return expit(-_log_odds_dead(params, x, t_x, big_t))

    def expected_purchases(self, t: float, frequency: ArrayLike, recency: ArrayLike,
                           T: ArrayLike) -> np.ndarray:
        """Conditional expected number of purchases in (T, T + t] (Fader et al. 2005, eq. 10).

        The hypergeometric term uses Euler's transformation so its parameters do not grow with
        frequency, which keeps it finite for heavy buyers.
        """
        params = self._params()
        r, alpha, a, b = (params[k] for k in _PARAM_NAMES)
        x, t_x, big_t = _as_arrays(frequency, recency, T)
        if t <= 0:
            return np.zeros_like(x)
        if abs(a - 1.0) < 1e-8:
            a = 1.0 + 1e-8  # the closed form has a removable singularity at a = 1
        z = t / (alpha + big_t + t)
        # ((alpha+T)/(alpha+T+t))^(r+x) * 2F1(r+x, b+x; a+b+x-1; z)
        #   == (1-z)^(a-1) * 2F1(a+b-1-r, a-1; a+b+x-1; z)    (Euler)
        tail = (1.0 - z) ** (a - 1.0) * hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)
        numerator = (a + b + x - 1.0) / (a - 1.0) * (1.0 - tail)
        return numerator * expit(-_log_odds_dead(params, x, t_x, big_t))

    def prob_at_least_one_purchase(self, t: float, frequency: ArrayLike, recency: ArrayLike,
                                   T: ArrayLike) -> np.ndarray:
        """P(at least one purchase in (T, T + t]).

        A dead customer never buys; an alive one has, given the history, rate
        lambda ~ Gamma(r + x, alpha + T) and buys at least once unless the first Poisson event
        comes after t (drop-out only happens right after a purchase). Hence
        ``p_alive * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x))``.
        """
        params = self._params()
        x, t_x, big_t = _as_arrays(frequency, recency, T)
        r, alpha = params["r"], params["alpha"]
        none_if_alive = np.exp((r + x) * (np.log(alpha + big_t) - np.log(alpha + big_t + t)))
        return expit(-_log_odds_dead(params, x, t_x, big_t)) * (1.0 - none_if_alive)

    def expected_next_purchase_days(self, frequency: ArrayLike, recency: ArrayLike,
                                    T: ArrayLike) -> np.ndarray:
        """Expected days from T to the next purchase, given the customer is alive.

        Uses the posterior mean purchase rate (r + x) / (alpha + T) per day and returns its
        inverse. It is *not* weighted by p_alive (a dead customer never buys again); combine
        with :meth:`p_alive` when needed.
        """
        params = self._params()
        x, _, big_t = _as_arrays(frequency, recency, T)
        return (params["alpha"] + big_t) / (params["r"] + x)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable state for storage inside a served model."""
        params = self._params()
        return {"model": "bg_nbd", "penalizer": self.penalizer, "params": dict(params),
                "log_likelihood": getattr(self, "log_likelihood_", None),
                "converged": getattr(self, "converged_", None)}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> BetaGeoFitter:
        """Rebuild a fitted model from :meth:`to_dict` output."""
        params = state.get("params") or {}
        missing = [k for k in _PARAM_NAMES if k not in params]
        if state.get("model") != "bg_nbd" or missing:
            raise DataError([Problem(f"not a BG/NBD state (missing {missing or 'model tag'})",
                                     key="btyd")])
        model = cls(penalizer=float(state.get("penalizer", 0.0)))
        model.params_ = {k: float(params[k]) for k in _PARAM_NAMES}
        model.log_likelihood_ = state.get("log_likelihood")
        model.converged_ = state.get("converged")
        return model
