"""Digests and sample keys pinned to the values the first implementation computed.

The data fingerprint (docs/dev/architecture.md: run lineage compares it between runs) and the
customer keys of :func:`segml.sampling.hash_keys` (docs/spark.md, "Training on Spark": Spark
computes the same keys) must never change when their code is made faster: a changed digest
would make every earlier run look trained on other data, changed keys would draw other
customers than Spark. The expected values below were computed by the code before any speed-up.
"""

import numpy as np
import pandas as pd

from segml.data.io import fingerprint
from segml.sampling import hash_keys, stratified_sample


def pin_frame(n: int = 500, seed: int = 7) -> pd.DataFrame:
    """Every kind of column a table holds: Arrow text (unique with unicode and nulls, and
    repeated), Python objects with None, datetimes, floats with NaN, ints, a categorical."""
    rng = np.random.default_rng(seed)
    order = np.array([f"Ø-{i:06d}-é" if i % 3 else f"o{i}" for i in range(n)], dtype=object)
    order[rng.random(n) < 0.05] = None
    note = np.where(rng.random(n) < 0.1, None, rng.choice(["α", "b", "日本"], n)).astype(object)
    return pd.DataFrame({
        "customer_id": pd.array([f"c{i % 37:04d}" for i in range(n)], dtype="str"),
        "order_id": pd.array(order, dtype="str"),
        "note": pd.array(note, dtype="str"),
        "raw": pd.Series([f"r{i}" if i % 5 else None for i in range(n)], dtype=object),
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), "s"),
        "amount": np.where(rng.random(n) < 0.1, np.nan, rng.gamma(2.0, 10.0, n)),
        "count": rng.integers(0, 9, n),
        "channel": pd.Categorical(rng.choice(["web", "store", "app"], n)),
    })


def test_fingerprint_digest_is_pinned():
    frame = pin_frame()
    assert fingerprint(frame, timestamp="timestamp") == {
        "rows": 500, "columns": 8, "sha256": "e94e06ba1ef3f97c",
        "min_timestamp": "2024-01-01 00:09:53", "max_timestamp": "2024-01-12 12:12:02"}


def test_fingerprint_of_one_row_and_of_no_rows_is_pinned():
    frame = pin_frame()
    assert fingerprint(frame.iloc[:1])["sha256"] == "6bff19c4b968ac93"
    assert fingerprint(frame.iloc[:0]) == {"rows": 0, "columns": 8, "sha256": "7ce171ce9138a457"}
    assert fingerprint(None) == {"rows": 0}


def test_fingerprint_is_the_pandas_row_hash_of_the_table(monkeypatch):
    """The digest is SHA-256 of pandas' row hashes and the column names, whatever the block size
    and the mix of unique, repeated and missing text."""
    import hashlib

    from segml.data import io

    frame = pin_frame(n=2003, seed=11)
    whole = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    whole.update("|".join(frame.columns).encode())
    for block in (1, 7, 1000, 10**6):
        monkeypatch.setattr(io, "FINGERPRINT_BLOCK_ROWS", block)
        assert fingerprint(frame)["sha256"] == whole.hexdigest()[:16], block


def test_hash_keys_are_pinned_for_int_and_text_ids():
    ints = np.random.default_rng(3).integers(0, 10**9, 8)
    assert hash_keys(ints, 5, "stack 2024-01-31T00:00:00").tolist() == [
        -8668069912719865364, -2481977442608764991, -9094349522967995911, -5942626340118646849,
        2204738170782522297, -4378070961848906813, 8412548562849503083, 7874537490529214793]
    text = np.array(["c001", "日本-7", "0042", "Ω", "", "a|b", None, "x"], dtype=object)
    assert hash_keys(pd.Series(text), 5, "").tolist() == [
        9034596521193745205, -3469073887880106247, 2764229339723541763, 5688928040261473000,
        3014641566591788976, 8533259292028149242, -6212752520909009130, -4172814582671010212]
    assert hash_keys(pd.Index(text), 0, "evaluation 2024-02-29T00:00:00").tolist() == [
        8100177651487542076, 1283240385399204534, -4901286521927030320, -8050376465003002970,
        1089617199379876873, 801811349485453391, 8088338302280639590, -6776682725248889505]


def test_stratified_sample_by_id_with_a_context_per_row_is_pinned():
    strata = np.repeat([0, 1, 2], [300, 150, 50])
    ids = np.array([f"c{i:05d}" for i in range(500)], dtype=object)
    context = np.where(np.arange(500) % 2, "stack 2024-01-31T00:00:00", "stack 2024-02-29T00:00:00")
    assert stratified_sample(60, strata, 3, ids=ids, context=context).tolist() == [
        7, 8, 25, 52, 60, 69, 70, 73, 75, 77, 80, 81, 83, 85, 94, 96, 106, 123, 124, 136, 147,
        153, 163, 167, 168, 185, 189, 221, 229, 248, 250, 254, 262, 270, 286, 296, 318, 325, 333,
        335, 336, 340, 362, 366, 367, 375, 388, 401, 403, 423, 424, 430, 444, 449, 463, 471, 481,
        486, 488, 492]
