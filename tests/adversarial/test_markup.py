"""User text is never rich markup (family 14, issue 31): paths, option values, config values and
data values holding ``[/...]``, ``[bold]`` or ``[red]`` are shown as they are, never interpreted
(no traceback from a closing tag, nothing silently stripped from a path in an error)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from segml.cli.output import StageProgress

from .helpers import NAME, assert_handled, invoke

TAGS = [pytest.param("[/bold]", id="f14-closing-tag"), pytest.param("[bold]x[/bold]", id="f14-bold"),
        pytest.param("[red]", id="f14-open-tag"), pytest.param("[/]", id="f14-bare-close"),
        pytest.param("[link=e.x]y[/link]", id="f14-link")]


@pytest.fixture
def env(trained, tmp_path):
    return {"MLFLOW_TRACKING_URI": trained["uri"], "SEGML_LOCK_DIR": str(tmp_path / "locks")}


CLI = [
    pytest.param(["validate", "--data", "{tmp}/nowhere{tag}"], "nowhere{tag}", id="f14-missing-data-folder"),
    pytest.param(["validate", "--config", "{tmp}/none{tag}.yaml"], "none{tag}.yaml", id="f14-missing-config"),
    pytest.param(["train", "--data", "{data}", "--cutoff", "{tag}"], "{tag}", id="f14-cutoff-value"),
    pytest.param(["score", "--model", "m", "--data", "{data}", "--out", "{tmp}/s.parquet", "--engine", "{tag}"], "{tag}", id="f14-engine-value"),
    pytest.param(["promote", "--version", "{tag}"], "{tag}", id="f14-version-value"),
    pytest.param(["score", "--model", "m", "--data", "{data}", "--out", "{tmp}/out{tag}.json"], "--out", id="f14-out-suffix"),
    pytest.param(["score", "--model", "{tmp}/model{tag}", "--data", "{data}", "--out", "{tmp}/s.parquet"], "model{tag}", id="f14-model-path"),
]


@pytest.mark.parametrize("tag", TAGS)
@pytest.mark.parametrize(("args", "shown"), CLI)
def test_markup_in_a_command_line_is_shown_as_is(source, tmp_path, env, args, shown, tag):
    args = [a.format(tmp=tmp_path, data=source, tag=tag) for a in args]
    output = assert_handled(invoke(*args, env=env), 1, shown.format(tag=tag))
    assert output.count("error:") == 1


@pytest.mark.parametrize("tag", TAGS)
def test_markup_in_a_config_value_and_file_name(source, tmp_path, tag):
    config = tmp_path / f"bad{tag.replace('/', '_')}.yaml"
    config.write_text(f"data:\n  customers:\n    attributes: {{'{tag}': [sign]}}\n")
    output = assert_handled(invoke("validate", "--config", config, "--data", source), 1, tag)
    assert config.name in output


@pytest.mark.parametrize("tag", TAGS)
def test_markup_in_data_values_and_paths_scores(frames, tmp_path, env, tag):
    """A data folder and an output file whose names hold markup, and category values and ids
    that do: scored, and the path is printed exactly."""
    folder = tmp_path / f"data{tag.replace('/', '_')}"
    customers = frames["customers"].copy()
    customers.loc[customers.index[:5], "country"] = tag
    customers.loc[customers.index[0], "customer_id"] = f"id{tag}"
    tx = frames["transactions"].copy()
    tx.loc[tx["customer_id"] == frames["customers"]["customer_id"].iloc[0], "customer_id"] = f"id{tag}"
    folder.mkdir()
    customers.to_parquet(folder / "customers.parquet", index=False)
    tx.to_parquet(folder / "transactions.parquet", index=False)
    frames["events"].to_parquet(folder / "events.parquet", index=False)
    out = tmp_path / f"scores{tag.replace('/', '_')}.csv"
    output = assert_handled(invoke("validate", "--data", folder), 0)
    assert "valid: " in output
    result = invoke("score", "--model", f"models:/{NAME}@champion", "--data", folder, "--out",
                    out, env=env)
    output = assert_handled(result, 0)
    assert f"-> {out}" in output.replace("\n", "")  # wrapped at 80 columns, not stripped
    assert out.exists()


@pytest.mark.parametrize("tag", TAGS)
def test_f14_a_step_named_with_markup_is_printed_as_is(tag):
    out = Console(file=io.StringIO(), width=120, markup=False)
    with StageProgress(out) as step:
        step(f"loading {tag}")
    assert f"loading {tag}" in out.file.getvalue()
