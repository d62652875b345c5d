"""The composite pyfunc: validation, params, signature, logging and loading by alias."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from segml.tracking import CHAMPION, SegmlModel, log_segml_model, pipeline_run, promote
from segml.tracking.model import validate_input
from segml.tracking.store import using_tracking_uri

OUTPUT = ["customer_id", "segment_leaf", "segment_path", "segment_level_1", "segment_name_level_1",
          "segment_is_noise", "rfm_segment", "lifecycle_stage", "churn_probability",
          "purchase_probability", "high_clv_probability", "predicted_spend", "p_alive",
          "expected_next_purchase_date"]
REASONS = ["churn_reasons", "purchase_reasons", "high_clv_reasons"]


@pytest.fixture(scope="module")
def champion(module_store, scorer):
    """The fake composite logged, registered and promoted; loaded through its alias."""
    with pipeline_run(module_store, "model-tests") as run:
        with run.stage("register"):
            info = log_segml_model(scorer, registered_model_name="segml-customer")
        run.on_success(lambda: promote("segml-customer", info.registered_model_version,
                                       module_store))
    with using_tracking_uri(module_store):
        loaded = mlflow.pyfunc.load_model(f"models:/segml-customer@{CHAMPION}")
    return info, loaded


def _rows(scorer, n=4):
    return scorer.sample_.head(n).copy()


def test_validate_input_coerces_types():
    schema = [("customer_id", "string"), ("x", "double"), ("k", "long"), ("c", "category"),
              ("b", "boolean")]
    frame = pd.DataFrame({"customer_id": ["007", "8"], "x": ["1.5", None], "k": [1.0, 2.0],
                          "c": ["DE", None], "b": ["true", "0"], "extra": [1, 2]},
                         index=[10, 11])
    out = validate_input(frame, schema)
    assert list(out.columns) == ["customer_id", "x", "k", "c", "b"]
    assert out["customer_id"].tolist() == ["007", "8"]  # ids untouched (leading zeros kept)
    assert out["x"].dtype == "float64" and np.isnan(out["x"].iloc[1])
    assert out["k"].dtype == "int64"
    assert isinstance(out["c"].dtype, pd.CategoricalDtype) and out["c"].isna().tolist() == [
        False, True]
    assert out["b"].tolist() == [True, False]


@pytest.mark.parametrize(
    ("frame", "column"),
    [
        (pd.DataFrame({"customer_id": ["a"], "k": [1]}), "x"),  # missing column
        (pd.DataFrame({"customer_id": ["a"], "x": ["abc"], "k": [1]}), "x"),  # not a number
        (pd.DataFrame({"customer_id": ["a"], "x": [1.0], "k": [1.5]}), "k"),  # not whole
        (pd.DataFrame({"customer_id": ["a"], "x": [1.0], "k": ["two"]}), "k"),
    ],
)
def test_validate_input_names_the_bad_column(frame, column):
    with pytest.raises(MlflowException) as err:
        validate_input(frame, [("customer_id", "string"), ("x", "double"), ("k", "long")])
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    assert f"'{column}'" in err.value.message


def test_validate_input_rejects_empty_and_non_frames():
    with pytest.raises(MlflowException, match="no rows"):
        validate_input(pd.DataFrame({"x": pd.Series([], dtype=float)}), [("x", "double")])
    with pytest.raises(MlflowException, match="must be a DataFrame"):
        validate_input("x=1", [("x", "double")])
    with pytest.raises(MlflowException, match="boolean"):
        validate_input(pd.DataFrame({"b": ["maybe"]}), [("b", "boolean")])


def test_in_memory_model_scores_and_serialises_reasons(scorer):
    model = SegmlModel.from_scorer(scorer)
    rows = _rows(scorer)
    plain = model.predict(None, rows)
    assert list(plain.columns) == OUTPUT
    assert plain["customer_id"].tolist() == rows["customer_id"].tolist()
    expected = scorer.score(validate_input(rows, scorer.input_schema))
    np.testing.assert_allclose(plain["churn_probability"], expected["churn_probability"])
    with_reasons = model.predict(None, rows, params={"reasons": "true"})
    assert list(with_reasons.columns) == OUTPUT + REASONS
    first = json.loads(with_reasons["churn_reasons"].iloc[0])
    assert [name for name, _ in first] == ["recency_days", "frequency"]
    with pytest.raises(MlflowException, match="reasons"):
        model.predict(None, rows, params={"reasons": "sometimes"})
    with pytest.raises(MlflowException, match="no scorer"):
        SegmlModel().predict(None, rows)


def test_logged_model_has_signature_params_and_safe_example(champion, scorer):
    info, loaded = champion
    sig = info.signature
    assert sig.inputs.input_names() == [c for c, _ in scorer.input_schema]
    assert {s.name: s.type.name for s in sig.inputs.inputs}["is_b2b"] == "boolean"
    assert sig.params.to_dict()[0]["name"] == "reasons"
    out_names = [s.name for s in sig.outputs.inputs]
    assert out_names[: len(OUTPUT)] == OUTPUT and out_names[len(OUTPUT):] == REASONS
    assert loaded.metadata.get_input_schema().input_names() == sig.inputs.input_names()
    assert info.saved_input_example_info["type"] == "dataframe"


def test_load_by_alias_and_predict(champion, scorer):
    _, loaded = champion
    rows = _rows(scorer, 3)
    out = loaded.predict(rows)
    assert list(out.columns) == OUTPUT and len(out) == 3
    np.testing.assert_allclose(
        out["churn_probability"], SegmlModel.from_scorer(scorer).predict(None, rows)[
            "churn_probability"])
    out = loaded.predict(rows, params={"reasons": True})
    assert set(REASONS) <= set(out.columns)
    assert isinstance(out["high_clv_reasons"].iloc[0], str)


@pytest.mark.parametrize(
    ("mutate", "column"),
    [
        (lambda f: f.drop(columns="frequency"), "frequency"),
        (lambda f: f.assign(monetary_sum="lots"), "monetary_sum"),
    ],
)
def test_loaded_model_rejects_malformed_input(champion, scorer, mutate, column):
    _, loaded = champion
    with pytest.raises(MlflowException) as err:
        loaded.predict(mutate(_rows(scorer)))
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    assert column in err.value.message


def test_load_scorer_returns_the_fitted_scorer(champion, module_store, scorer):
    from segml.tracking import load_scorer

    restored = load_scorer("models:/segml-customer@champion", tracking=module_store)
    assert type(restored).__name__ == "FakeScorer"
    assert restored.recency_scale_ == scorer.recency_scale_
    assert restored.example_transform is None


def test_loaded_model_rejects_empty_input(champion, scorer):
    _, loaded = champion
    with pytest.raises(MlflowException, match="no rows"):
        loaded.predict(_rows(scorer).head(0))


def test_scorer_data_errors_become_invalid_parameter(scorer):
    from segml.errors import DataError, Problem

    class Refusing:
        input_schema = scorer.input_schema

        def score(self, features, reasons=False):
            raise DataError([Problem("unknown country 'XX'", column="country")])

    with pytest.raises(MlflowException) as err:
        SegmlModel.from_scorer(Refusing()).predict(None, _rows(scorer))
    assert err.value.error_code == "INVALID_PARAMETER_VALUE" and "country" in err.value.message
