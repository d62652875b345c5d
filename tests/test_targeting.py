"""Audiences (issue 23): lists cut at an operating point, and `segml audiences`' bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from segml.cli.main import app
from segml.config import OperatingPoint
from segml.predict.operating import operating_curve, with_registered_scores
from segml.workflow.targeting import build_audiences, operating_point, parse_top

runner = CliRunner()


@pytest.fixture(scope="module")
def scored():
    """A scorer's output: churn null for the lapsed third, PII-like extra columns present."""
    rng = np.random.default_rng(7)
    n = 3000
    churn = rng.random(n)
    churn[: n // 3] = np.nan
    return pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "segment_path": rng.choice(["1.1", "1.2", "2.1"], n),
        "predictive_segment": rng.choice(["High value, at risk", "Low value, stable"], n),
        "churn_probability": churn,
        "purchase_probability": rng.random(n),
        "email": [f"person{i}@example.com" for i in range(n)],  # never copied to a list
    })


@pytest.fixture(scope="module")
def curves(scored):
    """Curves of calibrated evaluation scores, with the registered model's score per share."""
    rng = np.random.default_rng(8)
    out = {}
    for name in ("churn", "purchase"):
        score = rng.random(4000)
        curve = operating_curve((rng.random(4000) < score).astype(float), score, min_size=50)
        out[name] = with_registered_scores(curve, scored[f"{name}_probability"])
    return out


def test_top_share_is_of_the_target_population_best_first(scored, curves):
    result = build_audiences(scored, curves, OperatingPoint(top=0.1))
    churn = result.lists["churn"]
    assert len(churn) == 200  # 10% of the 2,000 active customers, not of 3,000
    assert churn["churn_probability"].is_monotonic_decreasing
    assert churn["churn_probability"].min() >= scored["churn_probability"].quantile(0.9) - 1e-9
    assert churn["rank"].tolist() == list(range(1, 201))
    assert list(churn.columns) == ["customer_id", "segment_path", "predictive_segment",
                                   "churn_probability", "rank"]
    row = result.summary.set_index("target").loc["churn"]
    assert row["audience"] == "likely to churn" and row["eligible"] == 2000
    assert row["expected_precision"] == pytest.approx(0.95, abs=0.03)  # mean of U(0.9, 1)


def test_no_pii_or_other_columns_reach_a_list(scored, curves):
    result = build_audiences(scored, curves, OperatingPoint(precision=0.6))
    for frame in result.lists.values():
        assert "email" not in frame.columns
        assert not frame.astype(str).apply(lambda c: c.str.contains("@")).any().any()


def test_a_precision_list_is_cut_at_the_registered_score_of_its_share(scored, curves):
    result = build_audiences(scored, curves, OperatingPoint(precision=0.6))
    row = result.summary.set_index("target").loc["purchase"]
    assert row["expected_precision"] >= 0.6
    assert row["customers"] == pytest.approx(row["expected_share"] * 3000, abs=2)
    # membership depends on a customer's own score: the same cut on any sub-batch
    half = build_audiences(scored.iloc[::2], curves, OperatingPoint(precision=0.6))
    assert set(half.lists["purchase"]["customer_id"]) == set(
        result.lists["purchase"]["customer_id"]) & set(scored["customer_id"].iloc[::2])


def test_a_threshold_list_holds_every_customer_at_or_above_it(scored, curves):
    result = build_audiences(scored, curves, OperatingPoint(threshold=0.8), targets=["purchase"])
    assert list(result.lists) == ["purchase"]
    assert len(result.lists["purchase"]) == (scored["purchase_probability"] >= 0.8).sum()
    row = result.summary.iloc[0]
    assert row["expected_share"] == pytest.approx(0.2, abs=0.01)


def test_an_unreachable_precision_skips_the_target_and_names_the_best(scored, curves):
    best = max(curves["churn"]["precision"])
    result = build_audiences(scored, curves, OperatingPoint(precision=min(best + 0.005, 1.0)))
    messages = [p.message for p in result.skipped]
    assert any(m.startswith("churn: precision") and f"{best:.2f}" in m for m in messages)
    assert "churn" not in result.lists


def test_a_model_without_curves_still_gives_top_lists_without_promises(scored):
    result = build_audiences(scored, {}, OperatingPoint(top=0.05))
    assert result.summary["expected_precision"].isna().all()
    assert len(result.lists["purchase"]) == 150
    assert build_audiences(scored, {}, OperatingPoint(precision=0.5)).lists == {}


def test_unknown_target_for_this_model_is_named(scored, curves):
    with pytest.raises(ValueError, match="high_clv"):
        build_audiences(scored, curves, OperatingPoint(top=0.1), targets=["high_clv"])


@pytest.mark.parametrize("text, value", [("10%", 0.1), ("2.5%", 0.025), ("0.3", 0.3),
                                         ("100%", 1.0), (" 5 % ", 0.05)])
def test_parse_top(text, value):
    assert parse_top(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["110%", "abc", "0", "0%", "5", "-10%", "", "1e-1", "10%%"])
def test_parse_top_rejects(text):
    with pytest.raises(ValueError, match="--top"):
        parse_top(text)


def test_operating_point_defaults_and_conflicts():
    assert operating_point(default=OperatingPoint(precision=0.7)).precision == 0.7
    with pytest.raises(ValueError, match="--top and --threshold"):
        operating_point(top="5%", threshold=0.5)
    with pytest.raises(ValueError, match=r"--precision must be a number in \(0, 1\]"):
        operating_point(precision=1.2)


# ------------------------------------------------------------------------ the command line
@pytest.fixture
def empty_store(tmp_path):
    (tmp_path / "data").mkdir()
    return {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}, tmp_path


def _run(env, *args):
    result = runner.invoke(app, ["audiences", *args], env=env)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result


@pytest.mark.parametrize("args, culprit", [
    (["--top", "110%"], "--top"),
    (["--top", "abc"], "--top"),
    (["--precision", "1.5"], "--precision"),
    (["--precision", "0"], "--precision"),
    (["--precision", "abc"], "--precision"),
    (["--threshold", "-0.1"], "--threshold"),
    (["--top", "10%", "--precision", "0.6"], "--top and --precision"),
    (["--target", "spend"], "--target"),
    (["--format", "xlsx"], "--format"),
])
def test_bad_options_exit_2_naming_the_option(empty_store, args, culprit):
    env, root = empty_store
    result = _run(env, "--model", "models:/segml-customer@champion", "--data", str(root / "data"),
                  "--out", str(root / "lists"), *args)
    assert result.exit_code == 2, result.output
    assert culprit in " ".join(result.output.split())
    assert not (root / "lists").exists()  # nothing written, nothing scored


def test_unknown_model_exits_1_naming_it(empty_store):
    env, root = empty_store
    result = _run(env, "--model", "models:/no-such-model@champion", "--data", str(root / "data"),
                  "--out", str(root / "lists"), "--top", "10%")
    assert result.exit_code == 1
    assert "no-such-model" in result.output
    assert [line.startswith("error:") for line in result.output.splitlines()].count(True) == 1


@pytest.mark.parametrize("where", ["a_file", "a_file/below"])
def test_unwritable_out_exits_1_naming_it(empty_store, where):
    env, root = empty_store
    (root / "a_file").write_text("not a folder")
    result = _run(env, "--model", "models:/x@champion", "--data", str(root / "data"),
                  "--out", str(root / where))
    assert result.exit_code == 1
    assert "a_file" in result.output and "--out" in result.output


def test_missing_data_folder_exits_1(empty_store):
    env, root = empty_store
    result = _run(env, "--model", "models:/x@champion", "--data", str(root / "nowhere"),
                  "--out", str(root / "lists"))
    assert result.exit_code == 1 and "nowhere" in result.output


# ------------------------------------------------------- issue 32: cumulative lists, a floor
def test_a_precision_list_warns_when_it_reaches_far_below_its_precision(scored, curves):
    result = build_audiences(scored, curves, OperatingPoint(precision=0.6))
    row = result.summary.set_index("target").loc["churn"]
    churn = result.lists["churn"]
    assert row["lowest_probability"] == pytest.approx(churn["churn_probability"].min())
    assert row["lowest_probability"] < 0.3  # cumulative: the last ones admitted are unlikely
    notes = {p.message.split(":")[0]: p for p in result.notes}
    assert "churn" in notes and notes["churn"].severity == "warning"
    under = int((churn["churn_probability"] < 0.3).sum())
    assert "cumulative" in notes["churn"].message and f"{under:,} under 30%" in notes["churn"].message
    assert f"{row['lowest_probability']:.1%}" in notes["churn"].message


def test_a_top_list_gets_no_cumulative_warning(scored, curves):
    assert build_audiences(scored, curves, OperatingPoint(top=0.1)).notes == []


@pytest.mark.parametrize("point", [OperatingPoint(precision=0.6), OperatingPoint(top=0.5),
                                   OperatingPoint(threshold=0.2)])
def test_min_probability_is_a_floor_under_every_kind_of_list(scored, curves, point):
    plain = build_audiences(scored, curves, point)
    floored = build_audiences(scored, curves, point, min_probability=0.45)
    for name, frame in floored.lists.items():
        column = f"{name}_probability"
        assert frame[column].min() >= 0.45
        kept = plain.lists[name]
        # the floor only shortens the list: the same customers, best first, down to 0.45
        expected = kept[kept[column] >= 0.45]["customer_id"].tolist()
        assert frame["customer_id"].tolist() == expected
    rows = floored.summary.set_index("target")
    assert (rows["min_probability"] == 0.45).all() and (rows["lowest_probability"] >= 0.45).all()
    if point.precision is not None:  # shortened above half the precision: nothing to warn of
        assert floored.notes == []
        assert (rows["expected_precision"] >= plain.summary.set_index("target")
                ["expected_precision"] - 1e-9).all()


def test_min_probability_out_of_range_is_a_usage_error():
    result = runner.invoke(app, ["audiences", "--model", "models:/x@champion", "--data", ".",
                                 "--out", "lists", "--min-probability", "1.5"])
    assert result.exit_code == 2 and "--min-probability" in result.output
