import numpy as np
import pandas as pd
import pytest

from segml.errors import DataError
from segml.segments.plots import (
    _shown,
    plot_dendrogram,
    plot_profile_heatmap,
    plot_projection,
    plot_segment_sizes,
)
from segml.segments.preprocess import SegmentPreprocessor, behavioural_columns


def test_plots_write_pngs(tmp_path, blobs, fitted):
    X, _ = blobs
    h, A = fitted
    files = [
        plot_dendrogram(h, tmp_path / "tree.png"),
        plot_projection(h, X, A, tmp_path / "pca.png", sample=1000),
        plot_segment_sizes(A, tmp_path / "sizes.png", level=1),
        plot_profile_heatmap(X, A, tmp_path / "heat.png"),
    ]
    for f in files:
        with open(f, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_small_groups_are_not_plotted():
    seg = pd.Series(["a"] * 60 + ["b"] * 49)
    assert list(_shown(seg, 50).index) == ["a"]


def test_preprocessor(blobs):
    X, _ = blobs
    cols = behavioural_columns(X)
    assert "region" not in cols and "nps_score" not in cols and "ipt_mean_days" in cols
    assert "frequency" not in cols and "recency_days" not in cols
    pre = SegmentPreprocessor(features=cols + ["frequency"]).fit(X)
    assert "monetary_sum" in pre.log_columns_
    assert pre.count_mask_[pre.numeric_.index("frequency")]
    assert pre.weights_[pre.numeric_.index("monetary_mean")] == 2.5
    assert pre.weights_[pre.numeric_.index("share_category_books")] == 1.0
    Z = pre.transform(X)
    assert Z.shape == (len(X), 10) and np.isfinite(Z).all()
    # deterministic without jitter; jitter moves only the count columns' contribution
    np.testing.assert_array_equal(Z, pre.transform(X))
    Zj = pre.transform(X, jitter=np.random.default_rng(0))
    assert not np.allclose(Z, Zj) and np.abs(Z - Zj).max() < 2
    # NaN imputed, categorical one-hot when asked for
    X2 = X.copy()
    X2.iloc[:10, 0] = np.nan
    assert np.isfinite(pre.transform(X2)).all()
    one_hot = SegmentPreprocessor(features=["frequency", "region"], n_components=None).fit(X)
    assert one_hot.transform(X).shape == (len(X), 1 + 3)
    with pytest.raises(DataError, match="frequency"):
        pre.transform(X.drop(columns="frequency"))


@pytest.mark.parametrize("segments", [2, 5])
def test_the_projection_legend_has_one_entry_per_segment(tmp_path, blobs, fitted, segments):
    """With 2 or 5 segments matplotlib's 'nice' legend levels made 3 or 6 handles for 2 or 5
    labels (a UserWarning on every run): one handle per segment now."""
    import warnings

    X, _ = blobs
    h, A = fitted
    A = A.assign(segment_level_1=(np.arange(len(A)) % segments + 1).astype(str))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_projection(h, X, A, tmp_path / "pca.png", level=1, sample=1000)


def test_the_heatmap_of_many_customers_reads_a_uniform_sample(tmp_path, blobs, fitted,
                                                              monkeypatch):
    """Above HEATMAP_MAX_ROWS the heatmap's table comes from a seeded uniform sample (bounded
    memory at a million customers), the same one every time; below it, every customer."""
    from segml.segments import plots

    X, _ = blobs
    _, A = fitted
    seen = []
    table = plots.heatmap_table

    def recording(frame, segments, n_features):
        seen.append(frame.index)
        return table(frame, segments, n_features)

    monkeypatch.setattr(plots, "heatmap_table", recording)
    plots.plot_profile_heatmap(X, A, tmp_path / "all.png")
    half = len(X) // 2
    monkeypatch.setattr(plots, "HEATMAP_MAX_ROWS", half)
    plots.plot_profile_heatmap(X, A, tmp_path / "sample.png")
    plots.plot_profile_heatmap(X, A, tmp_path / "again.png")
    shown = A["segment_level_1"].reindex(X.index).astype(str).isin(
        plots._shown(A["segment_level_1"].reindex(X.index).astype(str), 50).index)
    assert seen[0].equals(X.index[shown.to_numpy()])  # every customer of a shown segment
    assert seen[1].equals(seen[2]) and len(seen[1]) <= half
    assert seen[1].isin(X.index).all() and seen[1].is_unique
    assert len(seen[1]) > 0.8 * half  # the shown segments hold most customers
