import pandas as pd

from segml.segments import name_segments, profile_hierarchy
from segml.segments.naming import trait_label


def test_names_are_readable_and_unique(blobs, fitted):
    X, truth = blobs
    h, A = fitted
    profiles = profile_hierarchy(X, A)
    for p in profiles.values():
        names = name_segments(p)
        assert set(names) == set(p.index)
        assert len(set(names.values())) == len(names)
    top = profiles[1]
    names = name_segments(top)
    best = top["value_effect"].idxmax()
    worst = top["value_effect"].idxmin()
    assert names[best].startswith(("High-value", "Active high-value"))
    assert "low-value" in names[worst].lower() and names[worst].startswith("Lapsing")
    h.set_names({k: name_segments(p) for k, p in profiles.items()})
    assert h.assign(X)["segment_name_level_2"].nunique() == A["segment_level_2"].nunique()


def test_duplicates_get_a_suffix_and_guided_values_a_prefix():
    profile = pd.DataFrame({"suppressed": [False, False, False],
                            "value_effect": [1.0, 1.0, 0.0], "frequency_effect": [1.0, 1.0, 0.0],
                            "recency_effect": [0.0, 0.0, 0.0],
                            "distinguishing": [[], [], []]},
                           index=pd.Index(["1", "2", "North"]))
    names = name_segments(profile)
    assert names == {"1": "High-value frequent buyers", "2": "High-value frequent buyers (2)",
                     "North": "North: Mid-value regular buyers"}


def test_trait_labels():
    assert trait_label("events_email_click_90d", "numeric", 1.0) == "email-engaged"
    assert trait_label("share_channel_store", "numeric", -1.0) is None
    assert trait_label("monetary_sum", "numeric", 2.0) is None
    assert trait_label("region=North", "categorical", 0.05) is None
