"""The NumPy scoring path: one customer, a chunk or a batch give the same frame as the pandas APIs.

A real :class:`segml.scoring.scorer.CustomerScorer` (rules, a hierarchy with a guided level and a one-hot
categorical, four LightGBM predictors whose category levels differ from the scorer's) is scored
three ways on the same seeded random rows and the frames must be equal, values and dtypes.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from segml.predict.models import Predictor
from segml.scoring.scorer import CustomerScorer, next_purchase_dates
from segml.segments import SegmentHierarchy
from segml.segments.rules import RuleSegmenter
from segml.targets import TARGETS
from segml.tracking import SegmlModel
from segml.tracking.model import validate_input

from .blobs import make_segment_blobs

DATA_END = "2025-06-30"


def _features(n: int, seed: int) -> pd.DataFrame:
    X, _ = make_segment_blobs(n, seed=seed)
    rng = np.random.default_rng(seed)
    X["btyd_expected_next_purchase_days"] = np.where(rng.random(n) < 0.1, np.inf,
                                                     rng.gamma(2.0, 30.0, n))
    X.loc[X.index[rng.random(n) < 0.05], "recency_days"] = np.nan
    return X


@pytest.fixture(scope="module")
def scorer() -> CustomerScorer:
    X = _features(1500, seed=5)
    rng = np.random.default_rng(1)
    rules = RuleSegmenter().fit(X)
    hierarchy = SegmentHierarchy(
        features=["recency_days", "frequency", "monetary_sum", "share_category_books",
                  "share_category_toys", "device"],
        guided_levels=[("lifecycle_stage", 3)], sample_size=1000, n_reference=600,
        random_state=2,
    ).fit(X, rule_segments=rules.transform(X))
    hierarchy.set_names({1: {"new": "Newcomers"}, 3: {"1.1": "First leaf"}})
    labels = {"churn": rng.random(len(X)) < 1 / (1 + np.exp(-(X["recency_days"].fillna(99)
                                                                - 99) / 40)),
              "purchase": rng.random(len(X)) < 0.4, "high_clv": X["monetary_sum"] > 400}
    train = X.copy()
    train["region"] = train["region"].cat.remove_categories(["East"])  # levels differ
    # every kind of winner: a blend (both parts), the logistic regression alone, LightGBM alone
    kinds = {"churn": ("blend",), "purchase": ("logreg",), "high_clv": ("lgbm",)}
    predictors = {t: Predictor(target=t, n_estimators=25, seed=3, candidates=kinds[t]).fit(
        train, pd.Series(y, dtype=float)) for t, y in labels.items()}
    predictors["spend"] = Predictor(target="spend", n_estimators=25, seed=3).fit(
        train, pd.Series(X["spend_365d"].to_numpy() * rng.random(len(X))))
    categorical = {c: list(X[c].cat.categories) for c in ("region", "device")}
    return CustomerScorer(feature_names=list(X.columns), categorical_levels=categorical,
                          rules=rules, hierarchy=hierarchy, predictors=predictors,
                          metadata={"data_end": DATA_END})


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    X = _features(300, seed=9)
    X["region"] = X["region"].cat.add_categories(["West"])
    X.iloc[:20, X.columns.get_loc("region")] = "West"  # unseen at training
    X.iloc[20:30, X.columns.get_loc("device")] = np.nan
    return X


def _reference(scorer: CustomerScorer, features: pd.DataFrame) -> pd.DataFrame:
    """The pandas route: prepare, then each part's own DataFrame API, then the output columns."""
    X = scorer.prepare(features)
    rule = scorer.rules.transform(X)
    out = scorer.hierarchy.assign(X, rule_segments=rule)
    for column in ("rfm_segment", "lifecycle_stage"):
        out[column] = rule[column].astype("object").to_numpy()
    for target, spec in TARGETS.items():
        column = spec.output_column
        out[column] = scorer.predictors[target].predict_value(X)
    out["p_alive"] = X["btyd_p_alive"].to_numpy()
    days = X["btyd_expected_next_purchase_days"].to_numpy()
    dates = pd.Series(pd.NaT, index=X.index, dtype="datetime64[ns]")
    finite = np.isfinite(days)
    dates[finite] = pd.Timestamp(DATA_END) + pd.to_timedelta(np.ceil(days[finite]), unit="D")
    out["expected_next_purchase_date"] = dates.dt.strftime("%Y-%m-%d").astype("object")
    return out.reset_index()


def test_score_equals_the_pandas_route(scorer, rows):
    scored = scorer.score(rows)
    expected = _reference(scorer, rows)
    pd.testing.assert_frame_equal(scored, expected, check_exact=True)
    assert scored["segment_path"].str.split(".").str.len().eq(3).all()  # guided + 2 levels
    assert (scored.loc[scored["segment_level_1"] == "new", "segment_name_level_1"]
            == "Newcomers").all()
    assert scored["expected_next_purchase_date"].isna().sum() == np.isinf(
        rows["btyd_expected_next_purchase_days"]).sum()


def test_chunks_of_one_equal_the_batch(scorer, rows):
    batch = scorer.score(rows)
    single = pd.concat([scorer.score(rows.iloc[[i]]) for i in range(0, 60)], ignore_index=True)
    pd.testing.assert_frame_equal(single, batch.head(60), check_exact=True)
    chunks = pd.concat([scorer.score(rows.iloc[i:i + 7]) for i in range(0, len(rows), 7)],
                       ignore_index=True)
    pd.testing.assert_frame_equal(chunks, batch, check_exact=True)


def test_served_strings_score_like_the_batch(scorer, rows):
    """What the server hands over (strings, ints, an id column) scores like the batch frame."""
    request = rows.reset_index()
    for column in ("region", "device"):
        request[column] = request[column].astype("str").where(request[column].notna())
    request["orders_90d"] = request["orders_90d"].astype("int64")
    model = SegmlModel.from_scorer(scorer)
    expected = scorer.score(rows)
    pd.testing.assert_frame_equal(model.predict(None, request), expected, check_exact=True)
    one = pd.concat([model.predict(None, request.iloc[[i]]) for i in range(25)],
                    ignore_index=True)
    pd.testing.assert_frame_equal(one, expected.head(25), check_exact=True)


def test_validate_input_keeps_strings_when_asked(scorer, rows):
    request = rows.reset_index().astype({"region": "str"})
    before = request.copy()
    out = validate_input(request, scorer.input_schema, strings_as_category=False)
    assert out["region"].dtype == request["region"].dtype
    assert list(out.columns) == [c for c, _ in scorer.input_schema]
    out["recency_days"] = 0.0
    pd.testing.assert_frame_equal(request, before)  # the caller's frame is untouched


def test_reasons_are_the_top_shap_contributions_of_every_kind_of_winner(scorer, rows):
    scored = scorer.score(rows.head(5), reasons=True)
    plain = scorer.score(rows.head(5))
    pd.testing.assert_frame_equal(scored[plain.columns], plain, check_exact=True)
    X = scorer.prepare(rows.head(5))
    assert {scorer.predictors[t].winner_ for t in ("churn", "purchase", "high_clv")} == {
        "blend", "logreg", "lgbm"}
    for target in ("churn", "purchase", "high_clv"):
        predictor = scorer.predictors[target]
        tree_weight, linear_weight = predictor.weights_
        contrib = np.zeros((len(X), len(predictor.feature_names_)))
        if tree_weight:  # LightGBM's own SHAP values for the booster part
            contrib += tree_weight * predictor.booster_.predict(
                predictor.frame(X), pred_contrib=True)[:, :-1]
        if linear_weight:
            contrib += linear_weight * predictor.linear_.contributions(predictor.matrix(X))[:, :-1]
        for i, text in enumerate(scored[f"{target}_reasons"]):
            reasons = json.loads(text)
            top = np.argsort(-np.abs(contrib[i]), kind="stable")[:3]
            assert [r["feature"] for r in reasons] == [predictor.feature_names_[j] for j in top]
            np.testing.assert_allclose([r["contribution"] for r in reasons],
                                       np.round(contrib[i, top], 4), atol=1e-4)


def test_next_purchase_dates_match_pandas_and_fall_back_beyond_range():
    rng = np.random.default_rng(0)
    days = np.concatenate([rng.gamma(1.0, 400.0, 200), [np.nan, np.inf, -np.inf, -3.5, 0.0]])
    start = pd.Timestamp("2024-02-28 17:45")
    got = next_purchase_dates(days, start)
    finite = np.isfinite(days)
    expected = np.full(len(days), np.nan, dtype=object)
    expected[finite] = (start.normalize() + pd.to_timedelta(np.ceil(days[finite]), unit="D")
                        ).strftime("%Y-%m-%d")
    pd.testing.assert_series_equal(pd.Series(got, dtype=object), pd.Series(expected, dtype=object))
    far = next_purchase_dates(np.array([60_000.0]), start)  # the pandas route decides
    assert far[0] == (start.normalize() + pd.Timedelta(days=60_000)).strftime("%Y-%m-%d")


def _in_turn(monkeypatch) -> None:
    """Placement before the predictors, on the calling thread, whatever the batch size."""
    import segml.scoring.scorer as scorer_module

    monkeypatch.setattr(scorer_module, "_CONCURRENT_ROWS", 10**12)


def _concurrent(monkeypatch) -> None:
    """Placement on its own thread beside the predictors from two rows on."""
    import segml.scoring.scorer as scorer_module

    monkeypatch.setattr(scorer_module, "_CONCURRENT_ROWS", 2)


def test_placement_beside_the_predictors_gives_the_answers_in_turn(scorer, rows, monkeypatch):
    """Segments placed on a second thread while the predictors score: the same frame, bit for
    bit, as placing first (the batch tree's path too: rows repeated to 1,200), with and
    without reasons; one row still scores on the calling thread."""
    batch = pd.concat([rows] * 4)
    batch.index = pd.Index([f"R{i}" for i in range(len(batch))], name="customer_id")
    _in_turn(monkeypatch)
    expected = scorer.score(batch)
    expected_reasons = scorer.score(rows.head(40), reasons=True)
    _concurrent(monkeypatch)
    pd.testing.assert_frame_equal(scorer.score(batch), expected, check_exact=True)
    pd.testing.assert_frame_equal(scorer.score(rows.head(40), reasons=True), expected_reasons,
                                  check_exact=True)
    pd.testing.assert_frame_equal(scorer.score(batch.iloc[[7]]),
                                  expected.iloc[[7]].reset_index(drop=True), check_exact=True)
    for i in (0, 300, 600, 900):  # the copies of a customer get the same answer
        pd.testing.assert_frame_equal(
            expected.iloc[i:i + 300].drop(columns="customer_id").reset_index(drop=True),
            expected.iloc[:300].drop(columns="customer_id"), check_exact=True)


def test_a_placement_error_comes_first_as_in_turn(scorer, rows, monkeypatch):
    """An infinite value in a clustering column is refused by placement; when a predictor
    fails on the same batch, placement's error is still the one raised (as when placement ran
    first), and a predictor's own error surfaces when placement succeeds."""
    bad = rows.copy()
    bad.iloc[3, bad.columns.get_loc("monetary_sum")] = np.inf
    for mode in (_in_turn, _concurrent):
        mode(monkeypatch)
        with pytest.raises(ValueError, match="NaN or inf"):
            scorer.score(bad)
    predictor = scorer.predictors["spend"]

    def broken(matrix):
        raise RuntimeError("predictor failed")

    monkeypatch.setattr(predictor, "predict_matrix", broken)
    for mode in (_in_turn, _concurrent):
        mode(monkeypatch)
        with pytest.raises(ValueError, match="NaN or inf"):
            scorer.score(bad)
        with pytest.raises(RuntimeError, match="predictor failed"):
            scorer.score(rows)
