"""The predictors' matrices (segml.workflow.datasets): the cache of feature matrices by cutoff keeps
only what later uses need, and the stacks it serves equal stacks built from scratch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.data.contract import load_tables
from segml.data.synthetic.datasets import make_customers, synthetic_config
from segml.features import build_features, make_labels, stack_training_set
from segml.targets import target as target_of
from segml.workflow.datasets import FeatureFrames, build_datasets


@pytest.fixture(scope="module")
def data():
    world = make_customers(1500, seed=21)
    config = synthetic_config(models={"max_train_rows": 1000}, seed=3)
    tables = load_tables(config, customers=world.customers, transactions=world.transactions,
                         events=world.events)
    return build_datasets(tables, config)


def test_served_stacks_equal_stacks_built_from_scratch(data):
    """Every target's train and refit stacks, served through the shared cache in fitting order,
    equal the stack built with fresh matrices (same sampled rows, same values)."""
    kept_rows = []
    keep = data.frames._keep

    def recording_keep(cutoff, frame, whole, later):
        keep(cutoff, frame, whole, later)
        if cutoff in data.frames._frames:
            kept_rows.append(len(data.frames._frames[cutoff][0]) / len(frame))

    data.frames._keep = recording_keep
    for target in data.targets():
        for role in ("train", "evaluation", "refit"):
            target_plan = data.plan.targets[target]
            if role == "evaluation":
                X, y = data.evaluation_set(target)
                expected = build_features(data.tables, target_plan.evaluation, data.spec)
                labels = make_labels(data.tables, target_plan.evaluation, data.time,
                                     [target])[target_of(target).label_column]
                # the evaluation's customers: every labelled one (1,500 < max_eval_rows)
                pd.testing.assert_frame_equal(X, expected.loc[labels.dropna().index])
                pd.testing.assert_series_equal(y, labels.dropna(), check_names=False)
                continue
            served = data.training_set(target) if role == "train" else data.refit_set(target)
            fresh = stack_training_set(data.tables, getattr(target_plan, role), data.spec,
                                       data.time, [target],
                                       max_rows=data.max_rows(role),
                                       seed=data.seed)
            assert len(served.X) == min(1000, len(fresh.X))
            pd.testing.assert_frame_equal(served.X, fresh.X)
            pd.testing.assert_frame_equal(served.Y, fresh.Y)
            pd.testing.assert_series_equal(served.cutoff, fresh.cutoff)
    assert min(kept_rows) < 0.6  # between uses, the cache held a part of some matrix


def test_the_cache_keeps_only_the_rows_later_stacks_take(data):
    cutoff = data.plan.targets["purchase"].train[0]
    some = build_features(data.tables, cutoff, data.spec).index[:50]
    later = {("a", "train"): some[:30], ("b", "refit"): some[20:]}
    frames = FeatureFrames(data.tables, data.spec,
                           {cutoff: [("a", "evaluation"), ("a", "train"), ("b", "refit")]},
                           rows_of=lambda use, c: later.get(use))
    whole = frames(cutoff, ("a", "evaluation"))
    kept, is_whole = frames._frames[cutoff]
    assert not is_whole and kept.index.equals(some)  # the union, in the matrix's order
    assert frames(cutoff, ("a", "train")).index.equals(some)
    assert frames._frames[cutoff][0].index.equals(some[20:])
    assert frames(cutoff, ("b", "refit")).index.equals(some[20:])
    assert cutoff not in frames._frames  # no use left: released
    # an unplanned use gets the whole matrix again, built anew
    pd.testing.assert_frame_equal(frames(cutoff, ("c", "train")), whole)


def test_a_later_evaluation_keeps_the_whole_matrix(data):
    cutoff = data.plan.targets["churn"].evaluation
    frames = FeatureFrames(data.tables, data.spec,
                           {cutoff: [("a", "train"), ("b", "evaluation")]},
                           rows_of=lambda use, c: None if use[1] == "evaluation" else pd.Index([]))
    first = frames(cutoff, ("a", "train"))
    assert frames(cutoff, ("b", "evaluation")) is first


def test_kept_rows_are_the_union_of_the_later_uses_in_the_matrixs_order():
    """Between uses the cache keeps exactly the matrix rows some later use asks for, in the
    matrix's order: asked in any order, asked twice, asked by two uses, unicode ids, ids the
    matrix does not hold, a use asking for nothing."""
    rng = np.random.default_rng(8)
    ids = pd.Index(pd.array([f"日{i:04d}" if i % 3 else f"c{i}" for i in rng.permutation(300)],
                            dtype="str"), name="customer_id")
    frame = pd.DataFrame({"x": np.arange(300.0)}, index=ids)
    asked = {("a", "train"): pd.Index(rng.choice(ids, 120)),  # repeats, any order
             ("b", "refit"): ids[rng.permutation(300)[:80]].append(pd.Index(["absent", "Ω"])),
             ("c", "train"): pd.Index([], dtype="str")}
    cutoff = pd.Timestamp("2024-01-31")
    frames = FeatureFrames(None, None, {cutoff: list(asked)}, rows_of=lambda use, c: asked[use])
    frames._keep(cutoff, frame, True, list(asked))
    kept, whole = frames._frames[cutoff]
    wanted = set(asked[("a", "train")]) | set(asked[("b", "refit")])
    assert not whole and kept.index.tolist() == [i for i in ids if i in wanted]
    assert kept["x"].tolist() == frame.loc[kept.index, "x"].tolist()
