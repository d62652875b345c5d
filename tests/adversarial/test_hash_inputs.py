"""Hostile inputs to the data fingerprint and the customer keys of the samples: no rows, one
row, unicode and empty text, missing values, ids of mixed kinds, equal random keys. Each gives
what the plain definition gives (pandas' row hashes; SipHash of ``context|id``; lexsort), so
the faster code never draws other customers nor reports another digest."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from segml.data.io import fingerprint
from segml.sampling import hash_keys, quotas, stratified_sample, take_quotas


def reference_keys(ids, seed: int, context: str) -> np.ndarray:
    """The definition of the keys (docs/spark.md, "Training on Spark"): pandas' text of each
    id, after ``context|`` when there is a context, SipHash keyed by the seed."""
    text = pd.Series(np.asarray(ids, dtype=object)).astype(str)
    if context:
        text = context + "|" + text
    values = np.asarray(text.to_numpy(), dtype=object)
    return pd.util.hash_array(values, hash_key=f"segml{seed:011d}"[-16:],
                              categorize=False).view(np.int64)


def reference_digest(frame: pd.DataFrame) -> str:
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update("|".join(map(str, frame.columns)).encode())
    return digest.hexdigest()[:16]


IDS = {
    "unicode": np.array(["日本", "Ω-1", "é", "", " ", "a|b", "x\x00y", "🙂"], dtype=object),
    "ints": np.array([0, -1, 2**40, 7, 7, 3, 12, 99], dtype=object),
    "missing": np.array(["a", None, "b", np.nan, "c", "d", None, "e"], dtype=object),
    "mixed": np.array(["a", 1, 2.5, "b", True, "c", "d", "e"], dtype=object),
}


@pytest.mark.parametrize("kind", sorted(IDS))
@pytest.mark.parametrize("context", ["", "stack 2024-01-31T00:00:00"])
def test_hash_keys_are_the_definition_for_any_ids(kind, context):
    ids = IDS[kind]
    assert hash_keys(ids, 3, context).tolist() == reference_keys(ids, 3, context).tolist()
    assert hash_keys(ids[:1], 3, context).tolist() == reference_keys(ids[:1], 3, context).tolist()
    assert hash_keys(ids[:0], 3, context).size == 0


@pytest.mark.parametrize("kind", sorted(IDS))
def test_a_context_per_row_gives_each_row_its_own_contexts_key(kind):
    """Contexts in runs, interleaved, and empty (no ``|``): each row's key is the one its
    context alone gives."""
    ids = np.concatenate([IDS[kind]] * 3)
    rng = np.random.default_rng(5)
    contexts = np.array(["stack 2024-01-31T00:00:00", "stack 2024-02-29T00:00:00", ""], dtype=object)
    strata = rng.integers(0, 3, ids.size)
    for context in (np.repeat(contexts, ids.size // 3), contexts[rng.integers(0, 3, ids.size)]):
        expected = np.empty(ids.size, dtype=np.int64)
        for value in contexts:
            rows = context == value
            expected[rows] = reference_keys(ids[rows], 2, value)
        keys = np.empty(ids.size, dtype=np.int64)
        for value in contexts:  # the sample's keys are those keys: its draw is theirs
            rows = context == value
            keys[rows] = hash_keys(ids[rows], 2, value)
        assert keys.tolist() == expected.tolist()
        quota_rows = 10
        codes = np.unique(strata, return_inverse=True)[1]
        taken = take_quotas(codes, quotas(np.bincount(codes), quota_rows), expected)[0]
        assert stratified_sample(quota_rows, strata, 2, ids=ids, context=context).tolist() == \
            taken.tolist()


def test_equal_random_keys_keep_lexsorts_order():
    """Ties in the keys (the same customer twice in a block) are broken by position, as lexsort
    does; strata need not be 0..k-1 nor small."""
    rng = np.random.default_rng(9)
    n = 5000
    keys = rng.integers(0, 50, n)  # many ties
    for strata in (rng.integers(0, 4, n), rng.integers(-3, 3, n) * 10**6, rng.random(n) < 0.3):
        codes = np.unique(strata, return_inverse=True)[1]
        counts = np.bincount(codes)
        quota = counts // 2
        order = np.lexsort((keys, codes))
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        take = (np.arange(n) - starts[codes[order]]) < quota[codes[order]]
        assert take_quotas(codes, quota, keys)[0].tolist() == np.sort(order[take]).tolist()
        by_position = np.random.default_rng(4).random(n)  # the keys of a sample without ids
        expected = take_quotas(codes, quotas(counts, n // 2), by_position)[0]
        assert stratified_sample(n // 2, strata, 4).tolist() == expected.tolist()


def test_one_row_and_no_rows_sample_themselves():
    assert stratified_sample(5, np.array([1]), 0, ids=np.array(["日本"]), context="x").tolist() == [0]
    assert stratified_sample(5, np.array([], dtype=int), 0, ids=np.array([], dtype=object),
                             context=np.array([], dtype=object)).tolist() == []
    assert stratified_sample(0, np.array([0, 1]), 0, ids=np.array(["a", "b"]),
                             context=np.array(["x", "y"], dtype=object)).tolist() == []


@pytest.mark.parametrize("rows", [0, 1, 2, 4097])
def test_fingerprint_of_hostile_text_is_pandas_row_hash(rows):
    """Unique text with unicode, empty strings and missing values, repeated text, objects:
    the digest is the one of pandas' row hashes."""
    rng = np.random.default_rng(rows)
    unique = np.array([f"Ø{i}🙂" if i % 4 else "" for i in range(rows)], dtype=object)
    unique[rng.random(rows) < 0.2] = None
    frame = pd.DataFrame({
        "order_id": pd.array(unique, dtype="str"),
        "all_missing": pd.array([None] * rows, dtype="str"),
        "customer_id": pd.array(rng.choice(["a", "日本"], rows).astype(object), dtype="str"),
        "raw": pd.Series(unique, dtype=object),
        "amount": rng.random(rows),
    })
    assert fingerprint(frame)["sha256"] == reference_digest(frame)
    assert fingerprint(frame[["order_id"]])["sha256"] == reference_digest(frame[["order_id"]])


def test_fingerprint_with_a_repeated_column_name():
    frame = pd.DataFrame({"a": pd.array([f"x{i}" for i in range(50)], dtype="str"), "b": range(50)})
    frame = pd.concat([frame, frame[["a"]]], axis=1)
    assert list(frame.columns) == ["a", "b", "a"]
    assert fingerprint(frame)["sha256"] == reference_digest(frame)
