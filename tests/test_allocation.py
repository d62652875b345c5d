"""segml.allocation: the run's allocation settings are on inside it and put back after it
(docs/benchmarks.md, "Allocation")."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from segml.allocation import fast_allocation, with_fast_allocation


def _hugepage() -> bool:
    """NumPy's current huge-page request setting (read by setting it back to itself)."""
    from numpy._core import multiarray

    previous = multiarray._set_madvise_hugepage(True)
    multiarray._set_madvise_hugepage(previous)
    return bool(previous)


@pytest.fixture(autouse=True)
def _no_user_settings(monkeypatch):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)


def test_inside_the_block_numpy_asks_no_huge_pages_and_arrow_uses_the_system_allocator():
    before_pool, before_huge = pa.default_memory_pool().backend_name, _hugepage()
    with fast_allocation():
        assert pa.default_memory_pool().backend_name == "system"
        assert _hugepage() is False
        strings = pa.array([f"c{i:05d}" for i in range(1000)])  # allocated from the system pool
        assert pa.system_memory_pool().bytes_allocated() > 0
    assert pa.default_memory_pool().backend_name == before_pool
    assert _hugepage() is before_huge
    assert strings[3].as_py() == "c00003"  # a buffer outlives the block that allocated it


def test_nested_blocks_keep_the_settings_until_the_outermost_ends():
    before = pa.default_memory_pool().backend_name
    with fast_allocation():
        with fast_allocation():
            assert pa.default_memory_pool().backend_name == "system"
        assert pa.default_memory_pool().backend_name == "system"  # the outer run still holds
        assert _hugepage() is False
    assert pa.default_memory_pool().backend_name == before


def test_the_decorator_runs_the_function_inside_and_keeps_its_name_and_signature():
    seen = []

    @with_fast_allocation
    def stage(rows: int, *, label: str = "x") -> str:
        """A stage."""
        seen.append(pa.default_memory_pool().backend_name)
        return f"{label}{rows}"

    assert stage(3, label="y") == "y3" and seen == ["system"]
    assert stage.__name__ == "stage" and stage.__doc__ == "A stage."
    import inspect

    assert list(inspect.signature(stage).parameters) == ["rows", "label"]


def test_the_same_answers_with_and_without_the_settings():
    """Where the bytes live changes, not what they hold: a groupby over Arrow strings and a
    large float reduction give identical results."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": pd.array(rng.integers(0, 500, 200_000).astype(str), dtype="str"),
                          "amount": rng.gamma(2.0, 30.0, 200_000)})
    plain = frame.groupby("id")["amount"].agg(["sum", "max", "count"])
    with fast_allocation():
        inside = frame.groupby("id")["amount"].agg(["sum", "max", "count"])
    pd.testing.assert_frame_equal(plain, inside, check_exact=True)


def test_blocks_on_several_threads_restore_the_settings_once_all_have_ended():
    before = pa.default_memory_pool().backend_name
    inside, release = threading.Barrier(3), threading.Event()

    def run():
        with fast_allocation():
            inside.wait()
            release.wait()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    inside.wait()
    assert pa.default_memory_pool().backend_name == "system"
    release.set()
    for thread in threads:
        thread.join()
    assert pa.default_memory_pool().backend_name == before
