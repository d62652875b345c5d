from pathlib import Path

import pytest
import yaml

from segml.config import SegmlConfig, dump_config, flatten_config, load_config
from segml.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return path


def test_demo_config_is_the_defaults_plus_the_synthetic_columns_and_targets():
    from segml.data.synthetic.datasets import SYNTHETIC_TARGETS, demo_config, synthetic_config

    demo = load_config(REPO / "configs" / "demo.yaml")
    assert demo == demo_config()
    assert list(demo.targets) == list(SYNTHETIC_TARGETS) == demo.models.targets[-2:]
    defaults = SegmlConfig()
    assert demo.model_copy(update={"data": defaults.data, "targets": {},
                                   "models": defaults.models}) == defaults
    assert synthetic_config().targets == {}  # what the frozen reference is fitted with


def test_defaults_declare_none_of_the_demo_columns():
    """Issue 27: the defaults name no attribute or PII column (nobody's data has the demo's)."""
    from segml.data.synthetic.datasets import SYNTHETIC_COLUMNS

    customers = load_config(None).data.customers
    assert customers.attributes == {} and customers.pii == [] and customers.labels == {}
    demo = {c for cols in SYNTHETIC_COLUMNS["attributes"].values() for c in cols}
    demo |= set(SYNTHETIC_COLUMNS["pii"])
    named = set(yaml.safe_dump(SegmlConfig().model_dump(mode="json")).replace(":", " ").split())
    assert demo.isdisjoint(named), demo & named


def test_unknown_top_level_key_names_key_file_and_suggestion(tmp_path):
    path = write(tmp_path, "seed: 1\nsegmets: {}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = info.value.problems
    assert problem.file == str(path)
    assert problem.key == "segmets"
    assert "did you mean 'segments'" in problem.message


def test_a_removed_key_says_what_to_do_now(tmp_path):
    path = write(tmp_path, "features:\n  engine: duckdb\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = info.value.problems
    assert problem.key == "features.engine" and problem.file == str(path)
    assert "was removed" in problem.message and "delete the key" in problem.message


def test_unknown_nested_key_suggests_closest(tmp_path):
    path = write(tmp_path, "time:\n  churn_horizon: 60\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    messages = [p.message for p in info.value.problems]
    assert any("time.churn_horizon" in m and "churn_horizon_days" in m for m in messages)


def test_invalid_value_names_key(tmp_path):
    path = write(tmp_path, "time:\n  churn_horizon_days: -3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems[0].key == "time.churn_horizon_days"


def test_every_problem_reported_at_once(tmp_path):
    path = write(tmp_path, "foo: 1\nbar: 2\ntime:\n  cutoff_step_days: 0\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert {p.key for p in info.value.problems} == {"foo", "bar", "time.cutoff_step_days"}


def test_unknown_attribute_role_rejected(tmp_path):
    path = write(tmp_path, "data:\n  customers:\n    attributes: {astrological: [sign]}\n")
    with pytest.raises(ConfigError, match="astrological"):
        load_config(path)


def test_relative_paths_resolve_against_config_folder(tmp_path):
    path = write(tmp_path, "data:\n  customers:\n    path: sub/customers.csv\n")
    cfg = load_config(path)
    assert cfg.data.customers.path == str(tmp_path / "sub" / "customers.csv")


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(write(tmp_path, "a: [1,\n"))


def test_dump_round_trips_and_flatten(tmp_path):
    cfg = SegmlConfig(seed=9)
    again = load_config(write(tmp_path, dump_config(cfg)))
    assert again == cfg
    flat = flatten_config(cfg)
    assert flat["seed"] == "9" and flat["time.churn_horizon_days"] == "90"
    assert yaml.safe_load(dump_config(cfg))["tracking"]["registered_model_name"] == "segml-customer"


def test_configuration_reference_is_current():
    from pathlib import Path

    from segml.config.reference import config_reference

    page = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
    assert page.read_text() == config_reference(), (
        "docs/configuration.md is stale: python -m segml.config.reference > docs/configuration.md"
    )


def test_a_cutoff_override_is_validated_once_and_names_the_key():
    import datetime as dt
    import warnings

    from segml.config import SegmlConfig
    from segml.errors import ConfigError

    config = SegmlConfig().with_cutoff("2025-06-30")
    assert config.time.cutoff == dt.date(2025, 6, 30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a str in the date field warned when serialised
        config.model_dump_json()
    with pytest.raises(ConfigError) as error:
        SegmlConfig().with_cutoff("2025-13-45")
    problem = error.value.problems[0]
    assert problem.key == "time.cutoff" and problem.file == "--cutoff"
