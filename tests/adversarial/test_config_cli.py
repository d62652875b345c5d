"""Bad configs and bad command lines (families 3, 8 and 0): exit 1 with one line naming the key
and the file, or exit 2 for usage; never a traceback, never a password."""

from __future__ import annotations

import pytest

from .helpers import SECRET, assert_handled, invoke

CONFIGS = [
    # family 8: accepted before, now refused under their key
    pytest.param("models:\n  targets: []\n", "models.targets", id="f8-no-targets"),
    pytest.param("models:\n  targets: [churn, revenue]\n", "models.targets", id="f8-unknown-target"),
    pytest.param("features:\n  trend_windows_days: [-30, 0]\n", "features.trend_windows_days", id="f8-negative-windows"),
    pytest.param("features:\n  trend_windows_days: [30, 30]\n", "features.trend_windows_days", id="f8-repeated-windows"),
    pytest.param("segments:\n  level_sizes: [-3, 0]\n", "segments.level_sizes", id="f8-negative-level-sizes"),
    pytest.param("segments:\n  levels: 3\n  level_sizes: [6, 3]\n", "segments.level_sizes", id="f8-decreasing-level-sizes"),
    pytest.param("segments:\n  levels: 2\n  level_sizes: [3, 6]\n", "segments.level_sizes", id="f8-too-many-level-sizes"),
    pytest.param("segments:\n  level_sizes: [40]\n", "max_segments_per_level", id="f8-level-size-over-cap"),
    pytest.param("models:\n  lgbm_params: {objective: not_an_objective}\n", "models.lgbm_params", id="f8-lgbm-objective"),
    pytest.param("models:\n  lgbm_params: {num_leaves: abc}\n", "models.lgbm_params", id="f8-lgbm-type"),
    pytest.param("models:\n  lgbm_params: {num_leaves: -3}\n", "models.lgbm_params", id="f8-lgbm-range"),
    pytest.param("models:\n  lgbm_params: {max_depth: [1, 2]}\n", "models.lgbm_params", id="f8-lgbm-list"),
    pytest.param("models:\n  lgbm_params: not-a-mapping\n", "models.lgbm_params", id="f8-lgbm-not-a-dict"),
    pytest.param("time:\n  cutoff: 2025-02-30\n", "time.cutoff", id="f8-cutoff-feb-30"),
    pytest.param("time:\n  cutoff: yesterday\n", "time.cutoff", id="f8-cutoff-word"),
    pytest.param("time:\n  churn_horizon_days: -3\n", "time.churn_horizon_days", id="f8-negative-horizon"),
    pytest.param("data:\n  now: 2024-13-01\n", "data.now", id="f8-now-month-13"),
    pytest.param("data:\n  transactions:\n    timestamp_format: dd.mm.yyyy\n", "data.transactions.timestamp_format", id="f8-format-without-directives"),
    pytest.param("data:\n  events:\n    timestamp_unit: minutes\n", "data.events.timestamp_unit", id="f8-unknown-epoch-unit"),
    pytest.param("data:\n  customers:\n    attributes: {astrological: [sign]}\n", "astrological", id="f8-unknown-role"),
    pytest.param("data:\n  customers:\n    labels: {revenue: x}\n", "revenue", id="f8-unknown-label-target"),
    pytest.param("segments:\n  levels: 9\n", "segments.levels", id="f8-too-many-levels"),
    pytest.param("segments:\n  discovery_max_rows: 0\n", "segments.discovery_max_rows", id="f8-discovery-cap-zero"),
    pytest.param("segments:\n  discovery_max_rows: -5\n", "segments.discovery_max_rows", id="f8-discovery-cap-negative"),
    pytest.param("segments:\n  discovery_max_rows: 60\n", "segments.discovery_max_rows", id="f8-discovery-cap-too-small"),
    pytest.param("segments:\n  discovery_max_rows: many\n", "segments.discovery_max_rows", id="f8-discovery-cap-text"),
    pytest.param("seed: abc\n", "seed", id="f8-seed-text"),
    pytest.param("segmnets:\n  levels: 2\n", "did you mean 'segments'", id="f8-misspelt-section"),
    pytest.param("- a\n- b\n", "top level must be a mapping", id="f8-top-level-list"),
    pytest.param("seed: [1\n", "invalid YAML at line", id="f8-unclosed-bracket"),
    pytest.param("a: b: c\n", "invalid YAML at line", id="f8-bad-mapping"),
    pytest.param("[" * 5000 + "]" * 5000 + "\n", "nested too deeply", id="f8-deep-yaml"),
    pytest.param("tracking:\n  tracking_uri: bogus://nowhere\n", "tracking.tracking_uri", id="f8-bogus-scheme"),
    pytest.param("tracking:\n  tracking_uri: 'sqlite://'\n", "tracking.tracking_uri", id="f8-sqlite-without-file"),
    pytest.param("tracking:\n  tracking_uri: ''\n", "tracking.tracking_uri", id="f8-empty-uri"),
    pytest.param(f"tracking:\n  tracking_uri: 'ftp://alice:{SECRET}@host/x'\n", "tracking.tracking_uri", id="f3-bad-scheme-with-password"),
]


@pytest.mark.parametrize(("text", "culprit"), CONFIGS)
def test_bad_config_is_one_line_naming_the_key(source, tmp_path, text, culprit):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    out = assert_handled(invoke("validate", "--config", config, "--data", source), 1, culprit,
                         SECRET)
    assert "bad.yaml" in out


@pytest.mark.parametrize("content", [
    pytest.param(bytes(range(256)), id="f8-binary-config"),
    pytest.param(b"seed: 1\n\x00\x00\x00", id="f8-nul-bytes-config"),
    pytest.param(b"\xff\xfeseed: 1\n", id="f8-utf16-config"),
])
def test_config_that_is_not_text(source, tmp_path, content):
    config = tmp_path / "bad.yaml"
    config.write_bytes(content)
    assert_handled(invoke("validate", "--config", config, "--data", source), 1, "bad.yaml")


def test_f8_missing_config_file(tmp_path):
    assert_handled(invoke("validate", "--config", tmp_path / "none.yaml"), 1,
                   "config file not found")


UNREACHABLE = [
    # family 3: credentials in tracking URIs never printed; unreachable servers are one line
    pytest.param(["train", "--data", "{data}"], f"http://alice:{SECRET}@127.0.0.1:9", id="f3-train-unreachable"),
    pytest.param(["retrain", "--data", "{data}"], f"http://alice:{SECRET}@127.0.0.1:9", id="f3-retrain-unreachable"),
    pytest.param(["promote", "--version", "1"], f"https://bob:{SECRET}@127.0.0.1:9/mlflow", id="f3-promote-unreachable"),
    pytest.param(["rollback"], f"http://alice:{SECRET}@127.0.0.1:9", id="f3-rollback-unreachable"),
    pytest.param(["report", "--run-id", "abc"], f"http://alice:{SECRET}@127.0.0.1:9", id="f3-report-unreachable"),
    pytest.param(["score", "--model", "models:/m@champion", "--data", "{data}", "--out", "{out}"],
                 f"http://alice:{SECRET}@127.0.0.1:9", id="f3-score-unreachable"),
]


@pytest.mark.parametrize(("args", "uri"), UNREACHABLE)
@pytest.mark.parametrize("via", ["config", "env"])
def test_unreachable_tracking_server_hides_the_password(source, tmp_path, args, uri, via):
    args = [a.format(data=source, out=tmp_path / "s.parquet") for a in args]
    env = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    if via == "config":
        config = tmp_path / "c.yaml"
        config.write_text(f"tracking:\n  tracking_uri: '{uri}'\n")
        args += ["--config", str(config)]
        key = "tracking.tracking_uri"
    else:
        env["MLFLOW_TRACKING_URI"] = uri
        key = "MLFLOW_TRACKING_URI"
    output = assert_handled(invoke(*args, env=env), 1, "cannot reach the tracking server", SECRET)
    assert key in output and "***@127.0.0.1:9" in output


def test_f3_sqlite_store_in_a_missing_folder(source, tmp_path):
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/no/such/folder/mlflow.db"}
    assert_handled(invoke("train", "--data", source, env=env), 1, "does not exist")


USAGE = [
    pytest.param(["frobnicate"], 2, "No such command", id="f0-unknown-command"),
    pytest.param(["validate", "--no-such-option"], 2, "No such option", id="f0-unknown-option"),
    pytest.param(["train", "--cutoff"], 2, "requires an argument", id="f0-option-without-value"),
    pytest.param(["score", "--out", "x.parquet"], 2, "--model", id="f0-score-without-model"),
    pytest.param(["promote"], 2, "--version", id="f0-promote-without-version"),
    pytest.param(["report"], 2, "--run-id", id="f0-report-without-run-id"),
    pytest.param(["generate", "--out", "{tmp}/g", "--customers", "5"], 2, "--customers", id="f0-generate-too-few"),
    pytest.param(["generate", "--out", "{tmp}/g", "--customers", "many"], 2, "--customers", id="f0-generate-not-a-number"),
    pytest.param(["generate", "--out", "{tmp}/g", "--format", "xml"], 2, "--format", id="f0-generate-format"),
    pytest.param(["validate", "--config", "{tmp}"], 2, "--config", id="f0-config-is-a-folder"),
    pytest.param(["validate"], 1, "give --config FILE or --data DIR", id="f0-validate-nothing"),
    pytest.param(["train", "--data", "{data}", "--cutoff", "2025-13-45"], 1, "--cutoff", id="f0-cutoff-month-13"),
    pytest.param(["train", "--data", "{data}", "--cutoff", "tomorrow"], 1, "--cutoff", id="f0-cutoff-word"),
    pytest.param(["retrain", "--data", "{data}", "--cutoff", "2025-02-30"], 1, "--cutoff", id="f0-retrain-cutoff-feb-30"),
    pytest.param(["score", "--model", "m", "--data", "{data}", "--out", "{tmp}/s.parquet", "--engine", "turbo"], 1, "--engine", id="f0-score-engine"),
    pytest.param(["score", "--model", "m", "--data", "{data}", "--out", "{tmp}/s.json"], 1, "--out", id="f0-score-out-suffix"),
]


@pytest.mark.parametrize(("args", "code", "culprit"), USAGE)
def test_bad_command_line(source, tmp_path, args, code, culprit):
    args = [a.format(data=source, tmp=tmp_path) for a in args]
    assert_handled(invoke(*args), code, culprit)


# ------------------------------------------------------------------- round 2 (issue 31)
def _bomb(levels: int = 9, width: int = 9, where: str = "models:\n  lgbm_params:\n    ") -> str:
    """About 600 bytes whose aliases expand to width**levels nodes."""
    indent = "\n" + " " * (len(where.splitlines()[-1]) if where.endswith(" ") else 0)
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return where + indent.join(lines) + "\n"


ROUND2 = [
    # alias bombs: refused once composed, before anything is built
    pytest.param(_bomb(), "aliases expand it past", id="f8-alias-bomb-in-lgbm-params"),
    pytest.param(_bomb(where=""), "aliases expand it past", id="f8-alias-bomb-top-level"),
    pytest.param(_bomb(levels=6, width=20, where="features:\n  trend_windows_days:\n    "), "aliases expand it past", id="f8-alias-bomb-wide"),
    pytest.param("segments: &s\n  guided_levels: [*s]\n", "alias refers to itself", id="f8-alias-cycle"),
    pytest.param("a: &a [*a]\n", "alias refers to itself", id="f8-alias-self-list"),
    # duplicate keys: the last one no longer wins silently
    pytest.param("seed: 1\nseed: 2\n", "duplicate key 'seed'", id="f8-duplicate-top-key"),
    pytest.param("segments:\n  levels: 2\n  levels: 3\n", "duplicate key 'levels'", id="f8-duplicate-nested-key"),
    pytest.param("segments:\n  levels: 2\nsegments:\n  levels: 3\n", "duplicate key 'segments'", id="f8-duplicate-section"),
    pytest.param("models:\n  lgbm_params: {num_leaves: 7, num_leaves: 31}\n", "duplicate key 'num_leaves'", id="f8-duplicate-flow-key"),
    pytest.param("tracking:\n  tracking_uri: sqlite:///a.db\n  tracking_uri: sqlite:///b.db\n", "duplicate key 'tracking_uri'", id="f8-duplicate-uri"),
    # true/false where a number is expected
    pytest.param("segments:\n  levels: true\n", "segments.levels", id="f8-levels-true"),
    pytest.param("segments:\n  levels: yes\n", "segments.levels", id="f8-levels-yes"),
    pytest.param("segments:\n  levels: on\n", "segments.levels", id="f8-levels-on"),
    pytest.param("seed: false\n", "seed", id="f8-seed-false"),
    pytest.param("segments:\n  level_sizes: [true, 3]\n", "segments.level_sizes", id="f8-level-sizes-bool"),
    pytest.param("time:\n  churn_horizon_days: true\n", "time.churn_horizon_days", id="f8-horizon-true"),
    pytest.param("time:\n  high_clv_quantile: true\n", "time.high_clv_quantile", id="f8-quantile-true"),
    pytest.param("features:\n  trend_windows_days: [true, 90]\n", "features.trend_windows_days", id="f8-windows-bool"),
    pytest.param("segments:\n  min_segment_share: false\n", "segments.min_segment_share", id="f8-share-false"),
    pytest.param("models:\n  lgbm_params: {num_leaves: true}\n", "models.lgbm_params", id="f8-lgbm-bool"),
]


@pytest.mark.parametrize(("text", "culprit"), ROUND2)
def test_hostile_yaml_is_refused_fast(source, tmp_path, text, culprit):
    import time

    config = tmp_path / "bad.yaml"
    config.write_text(text)
    start = time.perf_counter()
    out = assert_handled(invoke("validate", "--config", config, "--data", source), 1, culprit)
    assert time.perf_counter() - start < 10
    assert "bad.yaml" in out


def test_f8_anchors_and_merge_keys_still_work(source, tmp_path):
    """The control: a config that shares values through an anchor and a merge key is read."""
    config = tmp_path / "ok.yaml"
    config.write_text("time:\n  churn_horizon_days: &h 60\n  purchase_horizon_days: *h\n"
                      "models:\n  lgbm_params:\n    <<: {num_leaves: 15}\n    learning_rate: 0.1\n")
    assert_handled(invoke("validate", "--config", config, "--data", source), 0)
    from segml.config import load_config

    cfg = load_config(config)
    assert cfg.time.purchase_horizon_days == 60 and cfg.models.lgbm_params["num_leaves"] == 15
