"""Sample keys of Arrow text ids are hashed from Arrow's buffers (segml.sampling): the same
keys, bit for bit, as pandas' SipHash of the Python strings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from segml.sampling import _hash_texts, hash_keys, stratified_sample


def _texts(seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    fixed = ["", "a", "abcdefg", "abcdefgh", "abcdefghi", "ünïcödé", "客户-0001", "x" * 31,
             "y" * 64, "z" * 255, "w" * 256, "v" * 300, "C000000017", "tab\there", "😀" * 5]
    drawn = ["".join(chr(int(c)) for c in rng.integers(32, 0x2FFF, rng.integers(0, 40)))
             for _ in range(2000)]
    return fixed + drawn + [f"C{i:09d}" for i in range(3000)]


@pytest.mark.parametrize("context", ["", "stack 2024-01-31T23:59:59", "évaluation ✓"])
@pytest.mark.parametrize("seed", [0, 42, 2**31 - 1])
def test_arrow_ids_get_the_keys_of_their_python_strings(context, seed):
    texts = _texts(seed % 7)
    arrow = pd.Index(texts, dtype="str")
    assert np.array_equal(hash_keys(arrow, seed, context),
                          _hash_texts(np.array(texts, dtype=object), seed, context))


def test_sliced_chunked_and_large_arrow_text_get_the_same_keys():
    texts = _texts(3)
    reference = _hash_texts(np.array(texts, dtype=object), 5, "ctx")
    whole = pd.Series(texts, dtype="str")
    assert np.array_equal(hash_keys(whole.iloc[100:900], 5, "ctx"), reference[100:900])
    chunked = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([texts[:10], texts[10:]])))
    assert np.array_equal(hash_keys(chunked, 5, "ctx"), reference)
    large = pd.Series(texts, dtype=pd.ArrowDtype(pa.large_string()))  # not StringDtype: object path
    assert np.array_equal(hash_keys(large, 5, "ctx"), reference)
    nullable = pd.Series(texts, dtype="string[pyarrow]")
    assert np.array_equal(hash_keys(nullable, 5, "ctx"), reference)


def test_a_stack_sample_draws_the_same_rows_from_arrow_and_python_ids():
    rng = np.random.default_rng(1)
    ids = [f"cust-{i}" for i in rng.permutation(20_000)]
    strata = rng.integers(0, 4, 20_000)
    by_arrow = stratified_sample(3000, strata, 9, ids=pd.Index(ids, dtype="str"), context="c")
    by_python = stratified_sample(3000, strata, 9, ids=np.array(ids, dtype=object), context="c")
    assert np.array_equal(by_arrow, by_python)
    keys = hash_keys(pd.Index(ids, dtype="str"), 9, "c")
    assert np.array_equal(stratified_sample(3000, strata, 9, keys=keys), by_arrow)
