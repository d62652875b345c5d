"""Bad declared targets (config ``targets:``, docs/targets.md), family 8: ``segml validate``
exits 1 with one line naming the key (and the values seen when a value is unknown), never a
traceback."""

from __future__ import annotations

import pytest

from .helpers import assert_handled, invoke

ELECTRONICS = "label: {purchases: {category: [electronics]}}"
CONFIGS = [
    pytest.param("targets:\n  x:\n    horizon_days: 30\n    label: {purchases: {colour: [red]}}\n",
                 "colour", id="f8-target-filter-unknown-column-name"),
    pytest.param("targets:\n  x:\n    horizon_days: -30\n    " + ELECTRONICS + "\n",
                 "targets.x.horizon_days", id="f8-target-negative-horizon"),
    pytest.param("targets:\n  x:\n    horizon_days: 0\n    " + ELECTRONICS + "\n",
                 "targets.x.horizon_days", id="f8-target-zero-horizon"),
    pytest.param("targets:\n  x:\n    " + ELECTRONICS + "\n", "horizon_days",
                 id="f8-target-missing-horizon"),
    pytest.param("targets:\n  x:\n    horizon_days: 30\n    label: {column: {column: age}}\n",
                 "horizon_days", id="f8-target-column-with-horizon"),
    pytest.param("targets:\n  x:\n    horizon_days: 30\n    label: {purchases: {}, events: "
                 "{type: [session]}}\n", "exactly one", id="f8-target-both-label-kinds"),
    pytest.param("targets:\n  x:\n    horizon_days: 30\n    label: {}\n", "exactly one",
                 id="f8-target-no-label-kind"),
    pytest.param("targets:\n  churn:\n    horizon_days: 30\n    " + ELECTRONICS + "\n",
                 "targets.churn", id="f8-target-named-like-a-built-in"),
    pytest.param("targets:\n  churn_probability:\n    horizon_days: 30\n    " + ELECTRONICS
                 + "\n", "targets.churn_probability", id="f8-target-named-like-an-output"),
    pytest.param("targets:\n  customer_id:\n    horizon_days: 30\n    " + ELECTRONICS + "\n",
                 "targets.customer_id", id="f8-target-named-like-the-id"),
    pytest.param("targets:\n  Bad Name:\n    horizon_days: 30\n    " + ELECTRONICS + "\n",
                 "targets.Bad Name", id="f8-target-name-not-an-identifier"),
    pytest.param("targets:\n  x:\n    kind: ranker\n    horizon_days: 30\n    " + ELECTRONICS
                 + "\n", "targets.x.kind", id="f8-target-unknown-kind"),
    pytest.param("targets:\n  x:\n    population: lapsed\n    horizon_days: 30\n    "
                 + ELECTRONICS + "\n", "targets.x.population", id="f8-target-unknown-population"),
    pytest.param("targets:\n  x:\n    horizon_days: 30\n    label: {purchases: {category: []}}\n",
                 "lists no value", id="f8-target-empty-value-list"),
    pytest.param("targets:\n  x:\n    horizon_days: 30\n    label: {events: {kind: [a]}}\n",
                 "type", id="f8-target-events-without-type"),
    pytest.param("targets: [a, b]\n", "targets", id="f8-targets-not-a-mapping"),
    pytest.param("models:\n  targets: [churn, buys_toys]\n", "models.targets",
                 id="f8-models-target-not-declared"),
    pytest.param("predictive_segments:\n  value_targets: [lifetime]\n",
                 "predictive_segments.value_targets", id="f8-value-target-not-declared"),
    pytest.param("data:\n  customers:\n    labels: {subscribed: y}\n", "targets: {subscribed",
                 id="f8-old-form-label-of-your-own"),
]


@pytest.mark.parametrize(("text", "culprit"), CONFIGS)
def test_a_bad_target_definition_is_one_line_naming_the_key(source, tmp_path, text, culprit):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    out = assert_handled(invoke("validate", "--config", config, "--data", source), 1, culprit)
    assert "bad.yaml" in out


DATA = [
    pytest.param("label: {purchases: {category: [electronix]}}", ["electronix", "electronics"],
                 id="f8-target-unknown-category-lists-values"),
    pytest.param("label: {spend: {channel: [teleport]}}", ["teleport", "values seen"],
                 id="f8-target-unknown-channel"),
    pytest.param("label: {events: {type: [upgrade]}}", ["upgrade", "support_ticket"],
                 id="f8-target-unknown-event-type-lists-values"),
    pytest.param("label: {purchases: {product_id: [p1]}}", ["product_id"],
                 id="f8-target-filter-column-not-in-data"),
]


@pytest.mark.parametrize(("label", "named"), DATA)
def test_a_target_the_data_cannot_give_is_one_line_naming_it(source, tmp_path, label, named):
    config = tmp_path / "bad.yaml"
    config.write_text(f"targets:\n  mine:\n    horizon_days: 30\n    {label}\n")
    out = assert_handled(invoke("validate", "--config", config, "--data", source), 1,
                         "targets.mine.label")
    for word in named:
        assert word in out


def test_a_label_column_that_does_not_exist_names_it(source, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("targets:\n  subscribed:\n    label: {column: {column: y, positive: 'yes'}}\n")
    out = assert_handled(invoke("validate", "--config", config, "--data", source), 1, "'y'")
    assert "subscribed" in out


def test_a_label_column_declared_as_an_attribute_is_refused(source, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("data:\n  customers:\n    attributes: {demographic: [gender]}\n"
                      "targets:\n  female:\n    label: {column: {column: gender, positive: f}}\n")
    assert_handled(invoke("validate", "--config", config, "--data", source), 1,
                   "never a feature")
