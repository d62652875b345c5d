"""Each target's own time plan (docs/cutoffs.md): arithmetic, the edges of the history, --cutoff."""

import pandas as pd
import pytest

from segml.config import TimeConfig
from segml.errors import DataError
from segml.features.plan import plan_targets, resolve_cutoff

END = pd.Timestamp("2025-12-31 23:59:59.999999999")
ALL = ["churn", "purchase", "high_clv", "spend"]
DAY = pd.Timedelta(days=1)


def test_each_target_is_evaluated_on_its_own_horizon_and_refit_up_to_the_end():
    cfg = TimeConfig(training_cutoffs=3, cutoff_step_days=30)
    plan = plan_targets(END, cfg, ALL)
    assert plan.scoring == END and not plan.skipped
    for name, horizon in (("churn", 90), ("purchase", 30), ("high_clv", 365), ("spend", 365)):
        p = plan.targets[name]
        h = pd.Timedelta(days=horizon)
        assert p.horizon_days == horizon
        assert p.evaluation == END - h
        assert p.train == [END - 2 * h - k * 30 * DAY for k in (2, 1, 0)]
        # out of time: every training label window ends at or before the evaluation cutoff
        assert all(c + h <= p.evaluation for c in p.train)
        # fresh: the registered predictor's latest label window ends at the data end
        assert p.refit == [END - h - k * 30 * DAY for k in (2, 1, 0)]
        assert p.fit_cutoff + h == END
    # the feature settings never see an evaluation window
    assert plan.spec_cutoff == END - pd.Timedelta(days=365)
    assert plan.cutoffs()[-1] == END and len(plan.cutoffs()) == len(set(plan.cutoffs()))


def test_history_just_long_enough_and_one_day_short():
    cfg = TimeConfig(training_cutoffs=1, churn_horizon_days=90)
    needed = 2 * 90 + 60  # evaluation window + training label window + min history
    fits = plan_targets(END, cfg, ["churn"], start=END - needed * DAY, min_history_days=60)
    assert fits.targets["churn"].train == [END - 180 * DAY]
    with pytest.raises(DataError) as err:
        plan_targets(END, cfg, ["churn"], start=END - (needed - 1) * DAY, min_history_days=60)
    (problem,) = err.value.problems
    assert problem.key == "time.churn_horizon_days"
    assert "needs at least 240 days" in problem.message and "covers 239 days" in problem.message


def test_a_year_of_history_trains_churn_and_purchase_and_skips_clv_once():
    start = END.normalize() - 364 * DAY
    plan = plan_targets(END, TimeConfig(), ALL, start=start, min_history_days=90)
    assert list(plan.targets) == ["churn", "purchase"]
    assert sorted(plan.skipped) == ["high_clv", "spend"]
    (warning,) = plan.warnings()  # one warning for the shared horizon
    assert warning.severity == "warning" and warning.key == "time.clv_horizon_days"
    assert "high_clv and spend" in warning.message and "time.clv_horizon_days" in warning.message
    assert "at most 137 days" in warning.message  # (364 - 90) // 2
    # cutoffs without 90 days of history before them are dropped, the others kept
    assert all(c - start >= 90 * DAY for p in plan.targets.values() for c in p.train)
    assert plan.spec_cutoff == plan.targets["churn"].evaluation


def test_no_target_fits_is_an_error_naming_every_horizon_key():
    with pytest.raises(DataError) as err:
        plan_targets(END, TimeConfig(), ALL, start=END - 100 * DAY, min_history_days=90)
    keys = sorted(p.key for p in err.value.problems)
    assert keys == ["time.churn_horizon_days", "time.clv_horizon_days",
                    "time.purchase_horizon_days"]
    assert all(p.severity == "error" for p in err.value.problems)


def test_cutoff_in_the_past_moves_every_plan_and_a_future_cutoff_is_refused():
    cfg = TimeConfig(cutoff="2025-06-30", training_cutoffs=2)
    plan = plan_targets(END, cfg, ["churn", "purchase"])
    cut = pd.Timestamp("2025-06-30 23:59:59.999999999")
    assert plan.scoring == cut
    assert plan.targets["churn"].evaluation == cut - 90 * DAY
    assert plan.targets["purchase"].fit_cutoff == cut - 30 * DAY
    with pytest.raises(DataError) as err:
        resolve_cutoff(TimeConfig(cutoff="2026-02-01"), END)
    assert err.value.problems[0].key == "time.cutoff"
    assert "2026-02-01" in err.value.problems[0].message
    # the last day of the data itself is fine
    assert resolve_cutoff(TimeConfig(cutoff="2025-12-31"), END.normalize()) == END


def test_a_cutoff_before_the_history_trains_nothing():
    cfg = TimeConfig(cutoff="2024-01-15")
    with pytest.raises(DataError):
        plan_targets(END, cfg, ALL, start=pd.Timestamp("2024-01-01"), min_history_days=90)


def test_unknown_target_names_the_valid_ones():
    with pytest.raises(ValueError, match="valid"):
        plan_targets(END, TimeConfig(), ["churn", "lifetime"])


def test_by_default_stacked_label_windows_follow_each_other_without_overlap():
    plan = plan_targets(END, TimeConfig(), ALL, start=END.normalize() - 364 * DAY,
                        min_history_days=90)
    for p in plan.targets.values():
        h = pd.Timedelta(days=p.horizon_days)
        # each label window ends where the next cutoff's begins: the latest cutoff (the
        # validation rows) shares no outcome with the earlier ones
        assert all(later - earlier == h for earlier, later in zip(p.train, p.train[1:], strict=False))
        assert all(later - earlier == h for earlier, later in zip(p.refit, p.refit[1:], strict=False))
    # one year: churn keeps the two cutoffs with 90 days of history before them
    assert plan.targets["churn"].train == [END - 270 * DAY, END - 180 * DAY]
    assert len(plan.targets["purchase"].train) == 3


START = pd.Timestamp("2024-01-01 08:00")


@pytest.mark.parametrize(("configured", "override", "expected"), [
    (None, None, END),                                  # neither: the data end
    ("2025-06-30", None, pd.Timestamp("2025-06-30")),   # the config's time.cutoff
    ("2025-06-30", "2025-09-15", pd.Timestamp("2025-09-15")),  # --cutoff beats the config
    (None, "2024-01-01", pd.Timestamp("2024-01-01")),   # the first day of the data is fine
    (None, "2025-12-31", pd.Timestamp("2025-12-31")),   # and so is its last day
])
def test_resolve_cutoff_takes_override_then_config_then_data_end(configured, override, expected):
    at = resolve_cutoff(TimeConfig(cutoff=configured), END, override, data_start=START)
    assert at == (END if expected is END else expected + DAY - pd.Timedelta(1, "ns"))


@pytest.mark.parametrize(("configured", "override", "key", "words"), [
    ("2023-12-31", None, "time.cutoff", "time.cutoff 2023-12-31 is before the data starts"),
    (None, "2023-12-31", "cutoff", "--cutoff 2023-12-31 is before the data starts"),
    ("2026-01-01", None, "time.cutoff", "time.cutoff 2026-01-01 is after the data ends"),
    ("2025-06-30", "2026-01-03", "cutoff", "--cutoff 2026-01-03 is after the data ends"),
])
def test_resolve_cutoff_refuses_a_day_outside_the_data_naming_its_source(configured, override,
                                                                         key, words):
    with pytest.raises(DataError) as err:
        resolve_cutoff(TimeConfig(cutoff=configured), END, override, data_start=START)
    (problem,) = err.value.problems
    assert problem.key == key and words in problem.message


def test_resolve_cutoff_without_a_timeline_takes_the_day_as_given():
    assert resolve_cutoff(TimeConfig(), None) is None
    assert resolve_cutoff(TimeConfig(cutoff="2030-01-01"), None).date().isoformat() == "2030-01-01"
    assert resolve_cutoff(TimeConfig(), None, "2031-05-02") == pd.Timestamp(
        "2031-05-02 23:59:59.999999999")


def test_spark_scoring_resolves_its_cutoff_with_the_local_rule():
    """Spark is not installed here: the rule Spark scoring applies is checked to be this very
    function (called for both modes, no cutoff arithmetic of its own)."""
    import ast
    import inspect

    from segml.scale import spark_scoring

    tree = ast.parse(inspect.getsource(spark_scoring.score_spark))
    called = {node.func.id for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert "resolve_cutoff" in called
    assert not called & {"end_of_day", "as_cutoff"}
    assert spark_scoring.resolve_cutoff is resolve_cutoff
