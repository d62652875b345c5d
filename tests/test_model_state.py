"""The registered model's state is data (segml.scoring.state): written, read back, versioned.

The frozen reference (tests/test_frozen_reference.py) proves that a scorer rebuilt from its state
scores exactly as the fitted one; here the format itself: what a state folder holds, an unknown
format version, a value that is not data, and a model registered before the state format.
"""

from __future__ import annotations

import json

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from segml.errors import SegmlError
from segml.predict.models import Predictor
from segml.scoring.scorer import CustomerScorer
from segml.scoring.state import STATE_FORMAT_VERSION, SUPPORTED_FORMATS, read_state, write_state
from segml.segments.rules import RuleSegmenter


@pytest.fixture(scope="module")
def scorer():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"recency_days": rng.exponential(60, 400), "frequency": rng.poisson(3, 400) * 1.0,
                      "monetary_sum": rng.gamma(2, 50, 400), "tenure_days": rng.uniform(0, 900, 400),
                      "plan": pd.Categorical(rng.choice(["basic", "pro"], 400))},
                     index=pd.Index([f"c{i}" for i in range(400)], name="customer_id"))
    y = pd.Series((rng.random(400) < 1 / (1 + np.exp(-(X.recency_days - 60) / 30))).astype(float))
    churn = Predictor(target="churn", n_estimators=20, seed=0, candidates=("blend",)).fit(X, y)
    return CustomerScorer(feature_names=list(X.columns), categorical_levels={"plan": ["basic", "pro"]},
                          rules=RuleSegmenter().fit(X), hierarchy=None, predictors={"churn": churn},
                          metadata={"data_end": "2025-12-31"}), X


def test_a_state_folder_holds_json_arrays_and_texts_only(scorer, tmp_path):
    fitted, X = scorer
    folder = fitted.save(tmp_path / "state")
    assert sorted(p.name for p in folder.iterdir()) == ["arrays.npz", "state.json", "texts"]
    body = json.loads((folder / "state.json").read_text())
    assert body["format_version"] == STATE_FORMAT_VERSION and body["kind"] == "segml.CustomerScorer"
    assert body["predictors"]["churn"]["booster"]["$text"].startswith("texts/")
    assert (folder / body["predictors"]["churn"]["booster"]["$text"]).read_text().startswith("tree")
    np.load(folder / "arrays.npz", allow_pickle=False)  # no object array inside
    rebuilt = CustomerScorer.load(folder)
    pd.testing.assert_frame_equal(rebuilt.score(X, reasons=True), fitted.score(X, reasons=True),
                                  check_exact=True)


def test_an_unknown_format_version_fails_naming_found_and_supported(scorer, tmp_path):
    folder = scorer[0].save(tmp_path / "state")
    body = json.loads((folder / "state.json").read_text())
    body["format_version"] = 99
    (folder / "state.json").write_text(json.dumps(body))
    with pytest.raises(SegmlError) as error:
        CustomerScorer.load(folder, where="models:/segml-customer/7")
    message = error.value.problems[0].message
    assert "models:/segml-customer/7" in message and "format 99" in message
    assert f"format(s) {', '.join(map(str, SUPPORTED_FORMATS))}" in message


def test_a_value_that_is_not_data_is_refused(tmp_path):
    with pytest.raises(TypeError, match="/model/clusterer"):
        write_state({"model": {"clusterer": object()}}, tmp_path / "state")
    with pytest.raises(TypeError, match="keys must be strings"):
        write_state({"names": {1: "a"}}, tmp_path / "other")
    assert not (tmp_path / "state").exists()


def test_object_arrays_and_nan_survive(tmp_path):
    paths = np.array([["1", "1.2"], ["2", "2.1"]], dtype=object)
    state = read_state(write_state({"paths": paths, "x": float("nan"), "n": None}, tmp_path / "s"))
    assert state["paths"].shape == (2, 2) and state["paths"][1, 1] == "2.1"
    assert np.isnan(state["x"]) and state["n"] is None


def test_a_model_registered_before_the_state_format_is_refused(scorer, tmp_path):
    from segml.tracking import model as tracked

    path = tmp_path / "scorer.pkl"
    path.write_bytes(cloudpickle.dumps(scorer[0]))  # what segml logged before
    with pytest.raises(SegmlError, match="train it again"):
        tracked._unpickled_scorer(path)
