"""A retrain's drift comparison from summed statistics equals the one from rows.

A Spark retrain compares the champion's drift reference with every new customer without
collecting them: the new customers' bin and level counts at the reference's edges and levels are
summed over partitions (:func:`segml.scale.spark_population.drift_summary_of`). Here the parts
are random row splits of a seeded frame, and the answer must be
:func:`segml.monitor.drift.drift_summary` of the whole frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.monitor.drift import DriftReference, drift_summary
from segml.scale.spark_population import drift_summary_of
from segml.segments.statistics import SegmentStatistics


def frame(seed: int, n: int, shift: float) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "spend": rng.gamma(2.0, 50.0 + shift * 40, n),
        "visits": rng.poisson(3 + shift, n).astype(float),
        "region": pd.Categorical(rng.choice(["north", "south", "east"], n,
                                            p=[0.5, 0.3 - 0.1 * shift, 0.2 + 0.1 * shift]),
                                 categories=["east", "north", "south", "west"]),
    })
    X.loc[rng.random(n) < 0.05, "spend"] = np.nan
    X.loc[rng.random(n) < 0.05, "region"] = np.nan
    leaves = pd.Series(rng.choice([3, 5, 8, 13], n, p=[0.4, 0.3, 0.2 - 0.1 * shift,
                                                          0.1 + 0.1 * shift]), name="segment_leaf")
    churn = rng.beta(2, 5 - 2 * shift, n)
    churn[rng.random(n) < 0.2] = np.nan  # outside churn's population
    scores = pd.DataFrame({"churn_probability": churn,
                           "predicted_spend": rng.gamma(2.0, 30.0, n)})
    return X, leaves, scores


@pytest.mark.parametrize("parts", [1, 3, 5])
def test_drift_summary_from_summed_statistics_equals_the_rows(parts):
    before, before_leaves, before_scores = frame(0, 3000, 0.0)
    reference = DriftReference.fit(before, segments=before_leaves, scores=before_scores)
    X, leaves, scores = frame(1, 2000, 1.0)
    expected = drift_summary(reference, X, segments=leaves, scores=scores, psi_warn=0.1)
    edges = {c: np.asarray(e) for c, e in reference.numeric_edges.items()}
    score_edges = {c: np.asarray(e) for c, e in reference.score_edges.items()}
    cuts = np.sort(np.random.default_rng(parts).choice(np.arange(1, len(X)), parts - 1,
                                                       replace=False))
    stats = sum(SegmentStatistics.of(
        X.iloc[a:b], leaves.iloc[a:b].astype(str).to_numpy(), {c: 0.0 for c in X.columns},
        edges=edges, scores=scores.iloc[a:b].reset_index(drop=True), score_edges=score_edges)
        for a, b in zip([0, *cuts], [*cuts, len(X)], strict=True))
    found = drift_summary_of(reference, stats, psi_warn=0.1)
    assert found.keys() == expected.keys()
    assert found["drifted_features"] == expected["drifted_features"]
    assert found["drifted_features"]  # the shifted frame drifts: the comparison is not vacuous
    for key in ("feature_psi", "score_psi"):
        assert found[key].keys() == expected[key].keys()
        np.testing.assert_allclose(list(found[key].values()), list(expected[key].values()),
                                   rtol=0, atol=1e-4 + 1e-12)  # both rounded to 4 decimals
    for key in ("drift_psi_max", "segment_share_max_change", "segment_psi"):
        assert found[key] == pytest.approx(expected[key], rel=1e-9, abs=1e-12), key
