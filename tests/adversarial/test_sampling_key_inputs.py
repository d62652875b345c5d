"""Ids the Arrow hashing path of segml.sampling must not take: missing ids, numbers, mixed
objects. They keep the keys of the text path (pandas' text of each id, missing ids missing)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.sampling import _hash_texts, hash_keys, stratified_sample


def test_arrow_text_with_a_missing_id_takes_the_object_path_and_keeps_its_keys():
    ids = pd.Series(["a", None, "c"], dtype="str")
    assert np.array_equal(hash_keys(ids, 1, "x"),
                          _hash_texts(np.asarray(ids, dtype=object), 1, "x"))


def test_integer_and_mixed_ids_hash_their_text():
    numbers = pd.Index([17, 4, 99])
    assert np.array_equal(hash_keys(numbers, 3, "ctx"),
                          hash_keys(pd.Index(["17", "4", "99"], dtype="str"), 3, "ctx"))
    mixed = np.array(["7", 7, 7.5], dtype=object)
    assert hash_keys(mixed, 3, "ctx").shape == (3,)


def test_an_empty_id_list_and_empty_texts_are_keys_like_any_other():
    assert hash_keys(pd.Index([], dtype="str"), 0, "c").size == 0
    empty_texts = pd.Index(["", ""], dtype="str")
    keys = hash_keys(empty_texts, 0, "c")
    assert keys[0] == keys[1] and np.array_equal(keys, _hash_texts(np.array(["", ""], object), 0, "c"))


def test_keys_of_the_wrong_length_are_refused():
    with pytest.raises(ValueError, match="4 sample keys for 10 rows"):
        stratified_sample(3, np.zeros(10, dtype=int), 0, keys=np.arange(4))
