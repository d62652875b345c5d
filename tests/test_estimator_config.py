"""One source of defaults and rules for the estimators built from a config section
(docs/dev/architecture.md): ``config.models`` -> :class:`~segml.predict.Predictor` and
``config.segments`` -> :class:`~segml.segments.SegmentHierarchy` share their parameters' names; the
section declares the defaults and the rules, the estimator reads them."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
from pydantic import Field

from segml.config import SHALLOW_LGBM, GuidedLevel, ModelsConfig, SegmentsConfig
from segml.predict.models import Predictor, fit_predictor, predictor_params
from segml.segments import SegmentHierarchy

#: The fields the training flow reads itself (not estimator parameters).
MODELS_ONLY = {"targets", "cv_folds", "max_eval_rows"}
SEGMENTS_ONLY = {"min_profile_size", "lifecycle", "discovery_max_rows"}


def _defaults(estimator: type) -> dict:
    return {name: p.default for name, p in inspect.signature(estimator).parameters.items()}


def _as_config(value, config_default):
    """An estimator default in the section's form: tuples are lists; None stands for a dict
    default (the estimator reads None as the section's default)."""
    if value is None and isinstance(config_default, dict):
        return config_default
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("section, estimator, only", [
    (ModelsConfig, Predictor, MODELS_ONLY), (SegmentsConfig, SegmentHierarchy, SEGMENTS_ONLY)])
def test_estimator_defaults_are_the_sections(section, estimator, only):
    config = section()
    defaults = _defaults(estimator)
    shared = set(section.model_fields) - only
    assert shared <= set(defaults), f"fields of {section.__name__} no parameter takes: " \
                                    f"{sorted(shared - set(defaults))}"
    for name in sorted(shared):
        assert _as_config(defaults[name], getattr(config, name)) == getattr(config, name), name
    # None really means the section's default where the predictor gives it a meaning
    assert ModelsConfig().shallow_params == SHALLOW_LGBM and ModelsConfig().lgbm_params == {}


def test_every_models_field_reaches_the_predictor():
    for name in set(ModelsConfig.model_fields) - MODELS_ONLY:
        marked = ModelsConfig().model_copy(update={name: [f"set-{name}"]})  # not validated
        value = predictor_params(marked)[name]
        assert list(value) == [f"set-{name}"], name

    class Extended(ModelsConfig):  # a new field named like a parameter needs no mapping code
        validation_fraction: float = Field(0.3, gt=0, lt=1)

    assert predictor_params(Extended())["validation_fraction"] == 0.3


def test_every_segments_field_reaches_the_hierarchy():
    for name in set(SegmentsConfig.model_fields) - SEGMENTS_ONLY - {"guided_levels"}:
        value = "kmeans" if name == "leaf_method" else f"set-{name}"  # from_config checks it
        marked = SegmentsConfig().model_copy(update={name: value})  # not validated
        assert SegmentHierarchy.from_config(marked).get_params()[name] == value, name
    config = SegmentsConfig(guided_levels=[GuidedLevel(column="region", max_values=4)])
    assert SegmentHierarchy.from_config(config, seed=3).get_params()["guided_levels"] == (
        ("region", 4),)


def test_a_fitted_predictor_carries_the_sections_values():
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"recency_days": rng.exponential(60, 500), "frequency": rng.poisson(3, 500) * 1.0})
    y = pd.Series((rng.random(500) < 1 / (1 + np.exp(-(X.recency_days - 60) / 30))).astype(float))
    models = ModelsConfig(n_estimators=25, max_depth=4, logreg_c=0.5, inner_folds=2,
                          candidates=["lgbm", "logreg"], calibration="sigmoid")
    pred = fit_predictor("churn", X, y, models, seed=1, baselines=False)
    params = pred.get_params()
    assert params["candidates"] == ("lgbm", "logreg") and params["calibration"] == "sigmoid"
    assert (params["n_estimators"], params["max_depth"], params["logreg_c"],
            params["inner_folds"]) == (25, 4, 0.5, 2)
    assert set(pred.candidate_scores_) == {"lgbm", "logreg"} and pred.calibration_ == "sigmoid"


@pytest.mark.parametrize("params, named", [
    ({"calibration": "platt"}, "'calibration'"), ({"candidates": ("lgbm", "forest")}, "'candidates'"),
    ({"learning_rate": 0.0}, "'learning_rate'"), ({"max_train_rows": 10}, "'max_train_rows'"),
    ({"lgbm_params": {"objective": "huber"}}, "'lgbm_params'")])
def test_predictor_checks_options_by_the_sections_rules(params, named):
    X = pd.DataFrame({"recency_days": np.arange(100.0)})
    y = pd.Series((np.arange(100) % 2).astype(float))
    with pytest.raises(ValueError, match=f"Predictor parameter {named}"):
        Predictor(target="churn", **params).fit(X, y)


@pytest.mark.parametrize("params, named", [
    ({"linkage": "single"}, "parameter 'linkage'"), ({"levels": 9}, "parameter 'levels'"),
    ({"sample_size": 10}, "parameter 'sample_size'"),
    ({"level_sizes": [20], "max_segments_per_level": 12}, "parameters: .*exceeds"),
    ({"guided_levels": [("region", 0)]}, "parameter 'guided_levels'")])
def test_hierarchy_checks_options_by_the_sections_rules(params, named):
    X = pd.DataFrame({"frequency": np.arange(300.0), "region": ["a", "b", "c"] * 100})
    with pytest.raises(ValueError, match=f"SegmentHierarchy {named}"):
        SegmentHierarchy(**params).fit(X)
