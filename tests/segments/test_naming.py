import numpy as np
import pandas as pd
import pytest

from segml.segments import name_hierarchy, name_segments, profile_hierarchy
from segml.segments.naming import trait_label, words


def _check_names(names, profiles):
    for level, mapping in names.items():
        assert set(mapping) == set(profiles[level].index)
        assert len(set(mapping.values())) == len(mapping), mapping  # unique within a level
        for name in mapping.values():
            assert "Segment " not in name and not name.endswith(")"), name


def test_names_are_readable_unique_and_children_refine_parents(blobs, fitted):
    X, truth = blobs
    h, A = fitted
    profiles = profile_hierarchy(X, A)
    names = name_hierarchy(profiles)
    _check_names(names, profiles)
    top = profiles[1]
    best, worst = top["value_effect"].idxmax(), top["value_effect"].idxmin()
    assert names[1][best].startswith(("High-value", "Active high-value"))
    assert "low-value" in names[1][worst].lower()
    # most of the worst segment is lapsed: its name says so, never "... buyers"
    assert top.loc[worst, "lapsed_share"] >= 0.5
    assert names[1][worst].startswith("Mostly lapsed") and "buyers" not in names[1][worst]
    for child, name in names[2].items():
        parent = names[1][child.split(".")[0]]
        assert name == parent or name.startswith(parent + ", "), (name, parent)
    h.set_names(names)
    assert h.assign(X)["segment_name_level_2"].nunique() == A["segment_level_2"].nunique()


def test_same_profile_twice_gets_told_apart_without_a_number_suffix():
    profile = pd.DataFrame({"suppressed": [False, False, True],
                            "value_effect": [1.0, 1.0, None], "frequency_effect": [1.0, 1.0, None],
                            "recency_effect": [0.0, 0.0, None],
                            "distinguishing": [[], [], []]},
                           index=pd.Index(["1", "2", "3"]))
    names = name_segments(profile)
    assert names == {"1": "High-value frequent buyers, largest part",
                     "2": "High-value frequent buyers, part B", "3": "Small group"}


def _attribute_table(n=1200, seed=0):
    rng = np.random.default_rng(seed)
    top = np.repeat(["1", "2", "3"], n // 3)
    child = np.where(np.arange(n) % 2 == 0, ".1", ".2")
    X = pd.DataFrame({
        "Contract": pd.Categorical(np.where(top == "1", "Month-to-month",
                                            np.where(top == "2", "One year", "Two year"))),
        "SeniorCitizen": ((child == ".1") & (top == "1")).astype(float),
        "international_plan": pd.Categorical(np.where((top == "2") & (child == ".1"), "yes", "no")),
        "number_customer_service_calls": rng.poisson(np.where(top == "3", 5, 1)).astype(float),
        "MonthlyCharges": rng.normal(np.where(child == ".1", 80, 40), 5),
    })
    A = pd.DataFrame({"segment_level_1": top, "segment_level_2": np.char.add(top, child)})
    return X, A


def test_attributes_are_named_by_meaning_and_children_refine():
    X, A = _attribute_table()
    profiles = profile_hierarchy(X, A)
    names = name_hierarchy(profiles)
    _check_names(names, profiles)
    assert names[1]["1"].startswith("Month-to-month contract")
    assert "Two year contract" in names[1]["3"] and "any customer service calls" in names[1]["3"]
    assert names[2]["1.1"].startswith(names[1]["1"] + ", ") and "senior citizen" in names[2]["1.1"]
    # half of segment 2 has the plan, but one child has none: the parent's name does not say it
    assert "international plan" not in names[1]["2"]
    assert names[2]["2.1"] == names[1]["2"] + ", higher monthly charges"
    refining = [i["feature"] for i in profiles[2].loc["2.1", "refining"]]
    assert "international_plan=yes" in refining
    assert names[2]["3.1"] == names[1]["3"] + ", higher monthly charges"
    assert names[2]["3.2"] == names[1]["3"] + ", lower monthly charges"
    assert "SeniorCitizen" not in " ".join(names[2].values())


def test_small_children_are_not_described():
    X, A = _attribute_table()
    A.loc[A.index[:30], "segment_level_2"] = "1.3"
    profiles = profile_hierarchy(X, A, min_profile_size=50)
    names = name_hierarchy(profiles)
    assert names[2]["1.3"] == names[1]["1"] + ", small group"
    assert profiles[2].loc["1.3", "refining"] == [] and profiles[2].loc["1.3", "distinguishing"] == []


def test_guided_levels_prefix_their_values():
    X, A = _attribute_table()
    A = pd.DataFrame({"segment_level_1": np.where(np.arange(len(X)) < 600, "North", "South")})
    A["segment_level_2"] = A["segment_level_1"] + "." + np.where(X["Contract"] == "Two year", "2", "1")
    names = name_hierarchy(profile_hierarchy(X, A))
    assert names[1] == {"North": "North", "South": "South"}
    assert names[2]["South.2"].startswith("South: ") and "Two year contract" in names[2]["South.2"]


@pytest.mark.parametrize("feature, kind, effect, share, expected", [
    ("events_email_click_90d", "numeric", 1.0, np.nan, "email-engaged"),
    ("share_channel_store", "numeric", -1.0, np.nan, None),
    ("monetary_sum", "numeric", 2.0, np.nan, None),
    ("region=North", "categorical", 0.05, 0.9, None),
    ("region=North", "categorical", 0.4, 0.9, "North region"),
    ("voice_mail_plan=no", "categorical", 0.4, 0.95, "no voice mail plan"),
    ("Partner=Yes", "categorical", 0.4, 0.45, "partner 45%"),
    ("gender=Female", "categorical", 0.3, 0.7, "Female"),
    ("area_code=415", "categorical", 0.3, 0.8, "area code 415"),
    ("InternetService=No internet service", "categorical", 0.7, 1.0, "No internet service"),
    ("SeniorCitizen", "binary", 1.2, 1.0, "senior citizen"),
    ("SeniorCitizen", "binary", -0.5, 0.0, "no senior citizen"),
    ("number_customer_service_calls", "numeric", -0.9, 1.0, "few customer service calls"),
    ("tenure", "numeric", 0.9, 60.0, "long tenure"),
    ("MonthlyCharges", "numeric", -0.9, 20.0, "low monthly charges"),
])
def test_trait_labels(feature, kind, effect, share, expected):
    assert trait_label(feature, kind, effect, share) == expected


def test_words():
    assert words("PaperlessBilling") == "paperless billing"
    assert words("MINKGEM") == "MINKGEM"


def test_a_mostly_lapsed_segment_is_not_called_frequent_buyers():
    """Issue 32: a segment averaging 270 days since the last order, most of it lapsed, was
    called "Mid-value frequent buyers" because it ordered more than the others in the past."""
    profile = pd.DataFrame({"suppressed": [False, False, False],
                            "value_effect": [0.0, 0.0, -0.9], "frequency_effect": [1.2, 1.2, -0.8],
                            "recency_effect": [0.1, 0.1, 0.3],
                            "lapsed_share": [0.62, 0.2, 0.8],
                            "distinguishing": [[], [], []]},
                           index=pd.Index(["1", "2", "3"]))
    names = name_segments(profile)
    assert names["1"] == "Mostly lapsed mid-value customers, formerly frequent"
    assert names["2"] == "Mid-value frequent buyers"  # mostly active: named as before
    assert names["3"] == "Mostly lapsed low-value customers"


def test_a_mostly_lapsed_child_of_an_active_parent_says_so():
    top = pd.DataFrame({"suppressed": [False, False], "value_effect": [0.0, 0.0],
                        "frequency_effect": [1.0, -1.0], "recency_effect": [0.0, 0.0],
                        "lapsed_share": [0.4, 0.3], "distinguishing": [[], []]},
                       index=pd.Index(["1", "2"]))
    children = pd.DataFrame({"suppressed": [False, False], "parent": ["1", "1"],
                             "lapsed_share": [0.56, 0.25], "distinguishing": [[], []],
                             "refining": [[{"feature": "share_category_grocery",
                                            "kind": "numeric", "effect": 1.2}],
                                          [{"feature": "share_category_sports",
                                            "kind": "numeric", "effect": 1.1}]]},
                            index=pd.Index(["1.1", "1.2"]))
    names = name_hierarchy({1: top, 2: children})
    assert names[1]["1"] == "Mid-value frequent buyers"
    assert names[2]["1.1"] == "Mid-value frequent buyers, mostly lapsed, grocery"
    assert names[2]["1.2"] == "Mid-value frequent buyers, sports"
