"""A small model's answers, frozen: refactors must not change what segml scores.

Two demo-sized models (600 synthetic customers, few boosting rounds, all four targets) are
trained through the pipeline's own stages (no MLflow): the default config (boosters, isotonic and
sigmoid calibration, HDBSCAN leaves) and a variant whose classifiers are the blend of a booster
and the logistic regression under a guided ``region`` level. 100 fixed customers of each are
scored with reasons. Their segments, rule segments, predictive segments, probabilities,
spend, ``p_alive`` and reasons must equal ``tests/data/frozen_reference.json`` (numbers within
1e-9, everything else identical), whether scored by the fitted scorer, by the scorer rebuilt
from its saved state, or by the served pyfunc model.

The reference is regenerated only on purpose, when a change is *meant* to change the scores::

    SEGML_REGENERATE_REFERENCE=1 .venv/bin/python -m pytest tests/test_frozen_reference.py

(then commit the new file with the reason in the message).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segml.datasets import make_customers, synthetic_config

pytestmark = pytest.mark.slow

REFERENCE = Path(__file__).parent / "data" / "frozen_reference.json"
AS_OF = "2026-01-15"
TOLERANCE = 1e-9
NUMERIC = ("churn_probability", "purchase_probability", "high_clv_probability",
           "predicted_spend", "p_alive")


VARIANTS = ("default", "blend_guided")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("frozen")
    make_customers(600, seed=5).write(root / "data")
    return root / "data"


@pytest.fixture(scope="module", params=VARIANTS)
def fitted(request, data_dir):
    from segml.config import GuidedLevel
    from segml.stages import fit_all, load

    config = synthetic_config()
    config.data.dir = str(data_dir)
    config.models.n_estimators = 40
    if request.param == "blend_guided":
        config.models.candidates = ["blend"]
        config.segments.guided_levels = [GuidedLevel(column="region", max_values=3)]
    data, _segmentation, _predictions, scorer = fit_all(load(config), config)
    rows = data.current_X.iloc[::6]  # 100 fixed customers
    return request.param, scorer, rows


def _reference() -> dict[str, list[dict]]:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


def _records(frame: pd.DataFrame) -> list[dict]:
    out = []
    for row in frame.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and math.isnan(v)
                        else v.item() if isinstance(v, np.generic) else v)
                    for k, v in row.items()})
    return out


def _compare(scored: pd.DataFrame, reference: list[dict]) -> None:
    got = _records(scored.reset_index(drop=True))
    assert len(got) == len(reference)
    assert list(got[0]) == list(reference[0])  # the same columns, in order
    for mine, theirs in zip(got, reference, strict=True):
        for column, expected in theirs.items():
            value = mine[column]
            if column in NUMERIC:
                if expected is None:
                    assert value is None, (mine["customer_id"], column, value)
                else:
                    assert abs(value - expected) < TOLERANCE, (mine["customer_id"], column,
                                                               value, expected)
            else:
                assert value == expected, (mine["customer_id"], column, value, expected)


def _score(scorer, rows) -> pd.DataFrame:
    return scorer.score(rows, reasons=True, as_of=pd.Timestamp(AS_OF))


def test_scores_equal_the_frozen_reference(fitted):
    variant, scorer, rows = fitted
    scored = _score(scorer, rows)
    if os.environ.get("SEGML_REGENERATE_REFERENCE") == "1":
        stored = _reference() if REFERENCE.exists() else {}
        stored[variant] = _records(scored)
        lines = ",\n".join(f"{json.dumps(name)}: [\n" + ",\n".join(
            json.dumps(r, separators=(",", ":")) for r in records) + "\n]"
            for name, records in sorted(stored.items()))
        REFERENCE.write_text("{\n" + lines + "\n}\n", encoding="utf-8")
    reference = _reference()[variant]
    for column in ("segment_path", "rfm_segment", "predictive_segment", "churn_reasons",
                   "segment_name_level_1"):
        assert column in reference[0], column  # the reference holds what it must check
    assert any(r["churn_probability"] is None for r in reference)  # a lapsed customer
    _compare(scored, reference)


def test_the_scorer_rebuilt_from_its_state_scores_the_same(fitted, tmp_path):
    from segml.scoring import CustomerScorer

    variant, scorer, rows = fitted
    rebuilt = CustomerScorer.load(scorer.save(tmp_path / "state"))
    assert not list(tmp_path.rglob("*.pkl"))
    _compare(_score(rebuilt, rows), _reference()[variant])
    # one customer at a time, as served: the batch's answers
    one = pd.concat([_score(rebuilt, rows.iloc[[i]]) for i in (0, 7, 42)], ignore_index=True)
    pd.testing.assert_frame_equal(one, _score(rebuilt, rows).iloc[[0, 7, 42]].reset_index(
        drop=True), check_exact=True, check_dtype=False)


def test_the_served_model_scores_the_same(fitted, tmp_path):
    from segml.tracking.model import SegmlModel, safe_example

    variant, scorer, rows = fitted
    model = SegmlModel.from_state_folder(scorer.save(tmp_path / "state"))
    request = rows.reset_index()
    for name in scorer.categorical_levels:  # a client sends strings
        request[name] = request[name].astype(object).where(request[name].notna(), None)
    served = model.predict(None, request, params={"reasons": True, "as_of": AS_OF})
    _compare(served, _reference()[variant])
    assert len(model.predict(None, safe_example(model.scorer, n=1))) == 1


def test_the_reference_catches_a_change(fitted):
    variant, scorer, rows = fitted
    reference = _reference()[variant]
    scored = _score(scorer, rows)
    scored.loc[3, "purchase_probability"] += 1e-8
    with pytest.raises(AssertionError):
        _compare(scored, reference)
    scored = _score(scorer, rows)
    scored.loc[5, "segment_path"] = "9.9"
    with pytest.raises(AssertionError):
        _compare(scored, reference)


def test_the_variants_cover_the_model_parts(fitted):
    variant, scorer, _ = fitted
    winners = {t: p.winner_ for t, p in scorer.predictors.items()}
    assert set(winners) == {"churn", "purchase", "high_clv", "spend"}
    if variant == "blend_guided":
        assert {winners[t] for t in ("churn", "purchase", "high_clv")} == {"blend"}
        assert scorer.hierarchy.depth_ == 3
    else:
        methods = {p.calibration_ for p in scorer.predictors.values()}
        assert {"isotonic", "sigmoid"} <= methods
