"""Operating curves and points (issue 23): what a list cut at a score holds, measured once."""

from __future__ import annotations

import json

import numpy as np
import pytest

from segml.predict.operating import operating_curve, resolve, unreachable


@pytest.fixture(scope="module")
def evaluation():
    rng = np.random.default_rng(11)
    n = 4000
    score = np.round(rng.random(n), 3)  # ties on purpose
    label = (rng.random(n) < score ** 2).astype(float)
    label[:200] = np.nan  # outside the target's population
    return label, score


def test_every_point_is_the_brute_force_precision_recall_and_share(evaluation):
    label, score = evaluation
    curve = operating_curve(label, score, min_size=50)
    keep = ~np.isnan(label)
    y, s = label[keep], score[keep]
    assert curve["rows"] == keep.sum() and curve["positives"] == y.sum()
    for i in range(0, len(curve["threshold"]), 37):
        t = curve["threshold"][i]
        chosen = s >= t  # a threshold takes every tie
        assert curve["share"][i] == pytest.approx(chosen.mean())
        assert curve["precision"][i] == pytest.approx(y[chosen].mean())
        assert curve["recall"][i] == pytest.approx(y[chosen].sum() / y.sum())
    assert np.all(np.diff(curve["threshold"]) < 0)
    assert curve["share"][-1] == 1.0 and curve["recall"][-1] == 1.0


def test_no_point_describes_fewer_customers_than_the_floor(evaluation):
    label, score = evaluation
    curve = operating_curve(label, score, min_size=120)
    assert min(curve["share"]) * curve["rows"] >= 120


def test_the_curve_is_thinned_plain_data(evaluation):
    label, score = evaluation
    curve = operating_curve(label, score, min_size=50, max_points=100, evaluation_cutoff="2025-01-01")
    assert len(curve["threshold"]) <= 100
    assert curve["info"] == {"evaluation_cutoff": "2025-01-01"}
    assert json.loads(json.dumps(curve)) == curve


def test_no_positives_or_too_few_rows_give_no_curve():
    assert operating_curve(np.zeros(500), np.random.default_rng(0).random(500)) is None
    assert operating_curve(np.ones(10), np.arange(10.0), min_size=50) is None


def test_a_precision_target_takes_the_largest_list_reaching_it(evaluation):
    label, score = evaluation
    curve = operating_curve(label, score, min_size=50)
    point = resolve(curve, precision=0.6)
    assert point["precision"] >= 0.6
    larger = np.array(curve["share"]) > point["share"]
    assert (np.array(curve["precision"])[larger] < 0.6).all()


def test_out_of_reach_precision_names_the_best_on_offer(evaluation):
    label, score = evaluation
    curve = operating_curve(label, score, min_size=50)
    best = max(curve["precision"])
    with pytest.raises(ValueError, match=f"best the evaluation window offers is {best:.2f}"):
        resolve(curve, precision=min(best + 0.01, 1.0))
    problem = unreachable("purchase", curve, 0.999)
    assert problem.message.startswith("purchase: precision 0.999 is out of reach")
    assert "--top" in unreachable("purchase", None, 0.5).message


def test_top_and_threshold_points(evaluation):
    label, score = evaluation
    curve = operating_curve(label, score, min_size=50)
    assert resolve(curve, top=0.1)["share"] == pytest.approx(0.1, abs=0.005)
    point = resolve(curve, threshold=0.5)
    assert point["threshold"] >= 0.5
    assert point["share"] == pytest.approx((score[~np.isnan(label)] >= 0.5).mean())
    with pytest.raises(ValueError, match="exactly one"):
        resolve(curve, top=0.1, precision=0.5)
