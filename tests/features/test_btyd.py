import json

import numpy as np
import pandas as pd
import pytest

from segml.errors import DataError
from segml.features.btyd import BetaGeoFitter, _log_likelihood, btyd_summary

TRUE = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}


def simulate(n: int, seed: int, horizon: float = 0.0, params: dict = TRUE):
    """Draw BG/NBD histories (and purchases in (T, T + horizon]) without per-customer loops."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    T = rng.uniform(365, 730, n)
    # Death comes right after the K-th repeat purchase; K ~ Geometric(p) on 1, 2, ...
    k = rng.geometric(p)
    n_poisson = rng.poisson(lam * T)
    x = np.minimum(k, n_poisson)
    # Given N(T) = n, arrival times are sorted uniforms: the x-th is T * Beta(x, n - x + 1).
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(n_poisson - x + 1, 1)), 0.0)
    alive = k > n_poisson
    future = np.where(alive, np.minimum(k - n_poisson, rng.poisson(lam * horizon)), 0)
    return x.astype(float), t_x, T, future


@pytest.fixture(scope="module")
def fitted():
    x, t_x, T, _ = simulate(20_000, seed=1)
    return BetaGeoFitter().fit(x, t_x, T)


def test_recovers_simulated_parameters(fitted):
    assert fitted.converged_
    for name, true in TRUE.items():
        assert fitted.params_[name] == pytest.approx(true, rel=0.15), name


def test_log_likelihood_is_in_day_units(fitted):
    x, t_x, T, _ = simulate(20_000, seed=1)
    log_params = np.log([fitted.params_[k] for k in ("r", "alpha", "a", "b")])
    direct = _log_likelihood(log_params, x, t_x, T).sum()
    assert fitted.log_likelihood_ == pytest.approx(direct, rel=1e-9)
    # The optimum beats the true parameters on the data it was fitted on.
    assert direct >= _log_likelihood(np.log(list(TRUE.values())), x, t_x, T).sum()


def test_p_alive_is_one_without_repeat_purchases_and_falls_with_T(fitted):
    np.testing.assert_array_equal(fitted.p_alive([0, 0], [0, 0], [10, 1000]), [1.0, 1.0])
    T = np.array([50.0, 100, 200, 400, 800])
    p = fitted.p_alive(np.full(5, 3.0), np.full(5, 40.0), T)
    assert np.all(np.diff(p) < 0)
    assert np.all((p > 0) & (p < 1))


def test_expected_purchases_and_prob_match_monte_carlo():
    horizon = 90.0
    x, t_x, T, future = simulate(60_000, seed=7, horizon=horizon)
    model = BetaGeoFitter.from_dict({"model": "bg_nbd", "params": TRUE})
    expected = model.expected_purchases(horizon, x, t_x, T)
    prob = model.prob_at_least_one_purchase(horizon, x, t_x, T)
    # Conditioning on a function of the history (frequency band) keeps the expectations equal.
    for band in (x == 0, (x >= 1) & (x <= 3), x > 3):
        assert expected[band].mean() == pytest.approx(future[band].mean(), rel=0.08)
        assert prob[band].mean() == pytest.approx((future[band] > 0).mean(), rel=0.08)
    assert np.all(prob <= model.p_alive(x, t_x, T) + 1e-12)


def test_numerics_stay_finite_for_heavy_buyers(fitted):
    x = np.array([0.0, 50, 500, 5000])
    t_x = np.array([0.0, 300, 364, 364.9])
    T = np.full(4, 365.0)
    for values in (fitted.p_alive(x, t_x, T), fitted.expected_purchases(30, x, t_x, T),
                   fitted.prob_at_least_one_purchase(30, x, t_x, T),
                   fitted.expected_next_purchase_days(x, t_x, T)):
        assert np.all(np.isfinite(values))
    # A customer buying ~14 times a day for a year keeps buying at that pace.
    assert fitted.expected_purchases(1, 5000, 364.9, 365)[()] == pytest.approx(13.7, rel=0.1)
    assert fitted.expected_next_purchase_days(5000, 364.9, 365)[()] < 0.1


def test_round_trip_through_json(fitted):
    state = json.loads(json.dumps(fitted.to_dict()))
    restored = BetaGeoFitter.from_dict(state)
    args = (np.array([0.0, 2, 9]), np.array([0.0, 30, 300]), np.array([100.0, 200, 400]))
    np.testing.assert_allclose(restored.expected_purchases(60, *args),
                               fitted.expected_purchases(60, *args))
    with pytest.raises(DataError):
        BetaGeoFitter.from_dict({"params": {"r": 1.0}})


def test_accepts_series_and_rejects_impossible_inputs(fitted):
    summary = pd.DataFrame({"frequency": [1.0, 0.0], "recency": [5.0, 0.0], "T": [20.0, 3.0]})
    p = fitted.p_alive(summary["frequency"], summary["recency"], summary["T"])
    assert p.shape == (2,)
    with pytest.raises(DataError, match="recency") as info:
        fitted.p_alive([1.0], [30.0], [10.0])
    assert info.value.problems[0].column == "recency"
    with pytest.raises(DataError) as info:
        BetaGeoFitter().fit([-1.0, 2.0], [0.0, 3.0], [5.0, 5.0])
    assert info.value.problems[0].column == "frequency"
    with pytest.raises(DataError, match="repeat purchase"):
        BetaGeoFitter().fit([0.0, 0.0], [0.0, 0.0], [5.0, 9.0])
    with pytest.raises(AttributeError, match="not fitted"):
        BetaGeoFitter().p_alive([0], [0], [1])


def test_penalizer_shrinks_parameters():
    x, t_x, T, _ = simulate(3_000, seed=3)
    plain = BetaGeoFitter().fit(x, t_x, T)
    shrunk = BetaGeoFitter(penalizer=0.5).fit(x, t_x, T)
    norm = lambda m: sum(v**2 for k, v in m.params_.items() if k != "alpha")  # noqa: E731
    assert norm(shrunk) < norm(plain)
    assert shrunk.log_likelihood_ < plain.log_likelihood_


def test_btyd_summary_on_hand_made_transactions():
    tx = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "a", "b", "b", "c", "d"],
        "timestamp": pd.to_datetime([
            "2024-01-01 08:00", "2024-01-01 20:00",  # two orders, one purchase day
            "2024-01-05 10:00", "2024-01-09 12:00",  # the 9th is a return only
            "2024-02-15 10:00",                       # after the cutoff
            "2024-01-10 09:00", "2024-01-20 09:00",
            "2024-01-15 09:00",                       # c only returns
            "2024-01-30 23:00",
        ]),
        "amount": [10.0, 5.0, 7.0, -7.0, 9.0, 4.0, 6.0, -3.0, 1.0],
    })
    out = btyd_summary(tx, pd.Timestamp("2024-01-31"))
    assert out.index.name == "customer_id"
    assert list(out.index) == ["a", "b", "d"]  # c has no purchase: omitted
    assert out.loc["a"].tolist() == [1.0, 4.0, 30.0]
    assert out.loc["b"].tolist() == [1.0, 10.0, 21.0]
    assert out.loc["d"].tolist() == [0.0, 0.0, 1.0]
    with pytest.raises(DataError, match="amount"):
        btyd_summary(tx.drop(columns="amount"), pd.Timestamp("2024-01-31"))


def test_analytic_gradient_matches_finite_differences():
    from scipy.optimize import check_grad

    from segml.features.btyd import _neg_ll_and_grad

    x, t_x, T, _ = simulate(500, seed=11)
    w = np.random.default_rng(0).integers(1, 4, x.size).astype(float)
    f = lambda th: _neg_ll_and_grad(th, x, t_x / 70, T / 70, w)[0]  # noqa: E731
    g = lambda th: _neg_ll_and_grad(th, x, t_x / 70, T / 70, w)[1]  # noqa: E731
    theta = np.log([0.3, 3.0, 0.7, 2.0])
    assert check_grad(f, g, theta) < 1e-3 * np.linalg.norm(g(theta))
    assert f(theta) == pytest.approx(-(w * _log_likelihood(theta, x, t_x / 70, T / 70)).sum())
