import numpy as np
import pandas as pd
import pytest

from segml.monitor.drift import DriftReference, drift_summary, psi


def frame(seed, shift=0.0, n=4000):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "spend": rng.lognormal(3 + shift, 1, n),
            "device": pd.Categorical(rng.choice(["mobile", "desktop"], n, p=[0.5 + shift / 4, 0.5 - shift / 4])),
        }
    )


def test_psi_zero_for_identical_and_hand_computed_value():
    assert psi([0.5, 0.5], [0.5, 0.5]) == pytest.approx(0.0)
    expected = (0.7 - 0.5) * np.log(0.7 / 0.5) + (0.3 - 0.5) * np.log(0.3 / 0.5)
    assert psi([0.5, 0.5], [0.7, 0.3]) == pytest.approx(expected)


def test_same_distribution_is_stable_and_shift_is_flagged():
    ref = DriftReference.fit(frame(0))
    stable = ref.feature_psi(frame(1))
    assert (stable < 0.05).all()
    drifted = drift_summary(ref, frame(2, shift=1.0))
    assert set(drifted["drifted_features"]) == {"spend", "device"}
    assert drifted["drift_psi_max"] > 0.25


def test_missing_values_and_unseen_levels_count_as_shift():
    ref = DriftReference.fit(frame(0))
    new = frame(1)
    new.loc[: len(new) // 2, "spend"] = np.nan
    new["device"] = pd.Categorical(["tablet"] * len(new))
    psi_new = ref.feature_psi(new)
    assert psi_new["spend"] > 0.25 and psi_new["device"] > 0.25


def test_segment_and_score_shift_and_round_trip():
    seg = pd.Series(["a"] * 60 + ["b"] * 40)
    scores = pd.DataFrame({"churn_probability": np.linspace(0, 1, 100)})
    ref = DriftReference.from_dict(DriftReference.fit(frame(0), segments=seg, scores=scores).to_dict())
    shift = ref.segment_shift(pd.Series(["a"] * 30 + ["c"] * 70))
    assert shift.loc["c", "new_share"] == pytest.approx(0.7)
    assert shift.loc["b", "abs_change"] == pytest.approx(0.4)
    high = pd.DataFrame({"churn_probability": np.full(100, 0.95)})
    assert ref.score_psi(high)["churn_probability"] > 1.0


def test_categorical_shares_by_codes_equal_the_text_counts():
    """A categorical's drift shares are counted by its codes: the same shares as its text,
    missing included, whatever the order of its categories."""
    from segml.monitor.drift import _categorical_shares, _text_counts

    rng = np.random.default_rng(9)
    raw = rng.choice(["north", "south", "east", None], 4000, p=[0.5, 0.3, 0.15, 0.05])
    values = pd.Series(pd.Categorical(raw, categories=["south", "north", "east", "west"]))
    as_text = pd.Series(raw, dtype=object)
    assert _text_counts(values).to_dict() == _text_counts(as_text).to_dict()
    assert list(_text_counts(values).index[:2]) == ["north", "south"]
    levels = ["north", "__missing__", "west"]
    np.testing.assert_allclose(_categorical_shares(values, levels),
                               _categorical_shares(as_text, levels))
