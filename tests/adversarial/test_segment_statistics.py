"""Hostile inputs to the additive segment statistics (``segml.segments.statistics``): parts that
cannot be added, cells nobody placed, columns with nothing in them, empty parts and bytes that
are not statistics. Each fails with one ValueError naming the column or cell at fault, or gives
the same answer as the frame-based path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.monitor.drift import DriftReference, feature_bin_edges
from segml.segments.profiles import profile_hierarchy, profile_hierarchy_from
from segml.segments.statistics import SegmentStatistics, frame_means


def _frame(seed: int = 0, n: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"spend": rng.gamma(2, 50, n), "visits": rng.poisson(3, n).astype(float),
                      "plan": pd.Categorical(rng.choice(["a", "b"], n))})
    return X, rng.choice(["1.1", "1.2", "2.1"], n)


def _levels(cells: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"segment_level_1": [c.split(".")[0] for c in cells],
                         "segment_level_2": cells}, index=cells)


def test_parts_with_different_shifts_name_the_column():
    X, cells = _frame()
    a = SegmentStatistics.of(X.iloc[:150], cells[:150], {"spend": 100.0, "visits": 3.0})
    b = SegmentStatistics.of(X.iloc[150:], cells[150:], {"spend": 101.0, "visits": 3.0})
    with pytest.raises(ValueError, match="column 'spend': shift"):
        a + b


def test_parts_with_different_columns_name_the_column():
    X, cells = _frame()
    a = SegmentStatistics.of(X.iloc[:150], cells[:150], {"spend": 0.0, "visits": 0.0})
    b = SegmentStatistics.of(X.iloc[150:].drop(columns="visits"), cells[150:], {"spend": 0.0})
    with pytest.raises(ValueError, match="column 'visits'"):
        sum([a, b])


def test_a_column_read_as_numbers_in_one_part_and_text_in_another_is_refused():
    X, cells = _frame()
    other = X.iloc[150:].assign(visits=X["visits"].iloc[150:].astype(str))
    a = SegmentStatistics.of(X.iloc[:150], cells[:150], {"spend": 0.0, "visits": 0.0})
    b = SegmentStatistics.of(other, cells[150:], {"spend": 0.0})
    with pytest.raises(ValueError, match="column 'visits' is numeric in one part and categorical"):
        a + b


def test_parts_binned_on_different_edges_are_refused():
    X, cells = _frame()
    shift = frame_means(X)
    a = SegmentStatistics.of(X.iloc[:150], cells[:150], shift, edges={"spend": [50.0, 100.0]})
    b = SegmentStatistics.of(X.iloc[150:], cells[150:], shift, edges={"spend": [60.0, 100.0]})
    with pytest.raises(ValueError, match="column 'spend': bin edges differ"):
        a + b


def test_missing_shift_or_misplaced_edges_are_refused_up_front():
    X, cells = _frame()
    with pytest.raises(ValueError, match="column 'visits': no shift"):
        SegmentStatistics.of(X, cells, {"spend": 0.0})
    with pytest.raises(ValueError, match="edges: column 'plan' is not a numeric column"):
        SegmentStatistics.of(X, cells, frame_means(X), edges={"plan": [1.0]})
    with pytest.raises(ValueError, match="cells: 10 values for 300 rows"):
        SegmentStatistics.of(X, cells[:10], frame_means(X))
    with pytest.raises(ValueError, match="score column 'p': no bin edges"):
        SegmentStatistics.of(X, cells, frame_means(X), scores=pd.DataFrame({"p": np.zeros(300)}))


def test_a_cell_nobody_placed_names_the_cell():
    X, cells = _frame()
    stats = SegmentStatistics.of(X, cells, frame_means(X))
    with pytest.raises(ValueError, match="no row for cell '2.1'"):
        profile_hierarchy_from(stats, _levels(["1.1", "1.2"]), {})
    with pytest.raises(ValueError, match="cell '1.2' has more than one row"):
        profile_hierarchy_from(stats, _levels(["1.1", "1.2", "1.2", "2.1"]), {})


def test_drift_reference_needs_the_bins_it_reports():
    X, cells = _frame()
    stats = SegmentStatistics.of(X, cells, frame_means(X))
    with pytest.raises(ValueError, match="column 'spend': the statistics hold no bin edges"):
        DriftReference.from_statistics(stats)
    binned = SegmentStatistics.of(X, cells, frame_means(X), edges=feature_bin_edges(X))
    with pytest.raises(ValueError, match="column 'spend': bin edges differ"):
        DriftReference.from_statistics(binned, {**feature_bin_edges(X), "spend": [1.0]})


def test_bytes_that_are_not_statistics_are_refused():
    with pytest.raises(ValueError, match="not segment statistics"):
        SegmentStatistics.from_bytes(b"\x00garbage")
    import pickle

    with pytest.raises(ValueError, match="not segment statistics"):
        SegmentStatistics.from_bytes(pickle.dumps(("other", {})))


def test_empty_parts_change_nothing():
    X, cells = _frame()
    shift = frame_means(X)
    whole = SegmentStatistics.of(X, cells, shift, edges=feature_bin_edges(X))
    empty = SegmentStatistics.of(X.iloc[:0], cells[:0], shift, edges=feature_bin_edges(X))
    total = sum([empty, whole, empty])
    assert total.count.tolist() == whole.count.tolist()
    assert DriftReference.from_statistics(total).to_dict() == \
        DriftReference.from_statistics(whole).to_dict()
    # an empty partition whose columns came back untyped (object) still adds
    untyped = SegmentStatistics.of(X.iloc[:0].astype(object), cells[:0], shift)
    assert (untyped + SegmentStatistics.of(X, cells, shift)).count.tolist() == whole.count.tolist()


def test_a_cell_with_only_missing_values_and_a_column_with_none():
    X, cells = _frame()
    X = X.assign(spend=np.where(cells == "1.2", np.nan, X["spend"]), nothing=np.nan)
    A = pd.DataFrame({"segment_level_1": [c.split(".")[0] for c in cells],
                      "segment_level_2": cells})
    P = profile_hierarchy(X, A, min_profile_size=10)
    parts = sum(SegmentStatistics.of(X.iloc[i::3], cells[i::3], frame_means(X)) for i in range(3))
    Q = profile_hierarchy_from(parts, _levels(["1.1", "1.2", "2.1"]), {}, min_profile_size=10)
    for k in (1, 2):
        assert P[k]["top_features"].tolist() == Q[k]["top_features"].tolist()
    # the all-missing cell's spend is no number and no effect, not a zero mean
    spend = {i["feature"]: i for i in Q[2].loc["1.2", "distinguishing"]}["spend"]
    assert np.isnan(spend["segment_value"]) and spend["effect"] == 0.0
    refining = {i["feature"]: i for i in Q[2].loc["1.2", "refining"]}
    assert np.isnan(refining["spend"]["segment_value"]) and refining["spend"]["effect"] == 0.0
    assert np.isnan(parts.mean("spend")[parts.cells.tolist().index("1.2")])
    assert "nothing" in parts.moments and parts.shift["nothing"] == 0.0  # no mean to centre on
