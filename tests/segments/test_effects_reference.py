"""segment_effects (per-segment moments and level codes) equals a plain per-segment computation:
Cohen's d with the pooled standard deviation, Cramer's V of the 2 x levels table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.segments.profiles import segment_effects


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(11)
    n = 3000
    seg = pd.Series(rng.choice(["1", "2", "3"], n, p=[0.5, 0.3, 0.2]))
    X = pd.DataFrame({
        "spend": rng.gamma(2, 50, n) + np.where(seg == "2", 40.0, 0.0),
        "visits": np.where(rng.random(n) < 0.1, np.nan, rng.poisson(3, n).astype(float)),
        "flag": (rng.random(n) < np.where(seg == "3", 0.7, 0.2)).astype(float),
        "member": rng.random(n) < 0.4,
        "plan": pd.Categorical(np.where(rng.random(n) < 0.15, None,
                                        rng.choice(["basic", "plus", "pro"], n))),
        "city": pd.Categorical(rng.choice([f"city_{i:02d}" for i in range(30)], n)),
    })
    return X, seg


def _cohen_d(x: np.ndarray, inside: np.ndarray) -> float:
    a, b = x[inside & ~np.isnan(x)], x[~inside & ~np.isnan(x)]
    pooled = np.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1))
                     / (a.size + b.size - 2))
    return float(np.clip((a.mean() - b.mean()) / pooled, -10, 10))


def test_numeric_effects_equal_cohens_d_segment_versus_rest(frame):
    X, seg = frame
    effects = segment_effects(X, seg).set_index(["segment", "feature"])
    for g in ("1", "2", "3"):
        inside = (seg == g).to_numpy()
        for col in ("spend", "visits", "flag", "member"):
            x = X[col].to_numpy(dtype=float)
            row = effects.loc[(g, col)]
            assert row["effect"] == pytest.approx(_cohen_d(x, inside), abs=1e-9)
            assert row["segment_value"] == pytest.approx(np.nanmean(x[inside]), rel=1e-9)
            assert row["rest_value"] == pytest.approx(np.nanmean(x[~inside]), rel=1e-9)
    kinds = effects.xs("1")["kind"]
    assert kinds["flag"] == "binary" and kinds["member"] == "binary" and kinds["spend"] == "numeric"


def test_categorical_effects_equal_cramers_v_with_missing_and_rare_levels_pooled(frame):
    X, seg = frame
    effects = segment_effects(X, seg, max_levels=20)
    city = X["city"].astype(str)
    top = city.value_counts().sort_index(kind="stable").sort_values(ascending=False,
                                                                     kind="stable").index[:20]
    city = city.where(city.isin(top), "(other)")
    plan = X["plan"].astype(object).where(X["plan"].notna(), "(missing)")
    for col, text in (("city", city), ("plan", plan)):
        for g in ("1", "2", "3"):
            table = pd.crosstab(seg == g, text).to_numpy(dtype=float)
            n = table.sum()
            expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
            v = np.sqrt(((table - expected) ** 2 / expected).sum() / n)
            (row,) = effects[(effects["segment"] == g)
                             & effects["feature"].str.startswith(col + "=")].itertuples()
            assert row.effect == pytest.approx(v, rel=1e-9)
    levels = set(effects["feature"])
    assert not any(f.startswith("city=") and f != "city=(other)" and f.split("=")[1] not in top
                   for f in levels)


def test_a_level_of_a_missing_value_is_named_missing_not_other():
    seg = pd.Series(["a"] * 50 + ["b"] * 50)
    X = pd.DataFrame({"plan": pd.Categorical(["x"] * 50 + [None] * 40 + ["y"] * 10)})
    effects = segment_effects(X, seg).set_index("segment")
    assert effects.loc["b", "feature"] == "plan=(missing)"
    assert effects.loc["a", "feature"] == "plan=x"
