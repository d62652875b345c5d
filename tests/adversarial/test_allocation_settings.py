"""Hostile surroundings of segml.allocation: a user's own allocator settings, a run that fails
half-way, a CLI command that fails (docs/benchmarks.md, "Allocation")."""

from __future__ import annotations

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from segml.allocation import fast_allocation


def _hugepage() -> bool:
    from numpy._core import multiarray

    previous = multiarray._set_madvise_hugepage(True)
    multiarray._set_madvise_hugepage(previous)
    return bool(previous)


def test_a_pool_the_user_chose_in_the_environment_is_left_alone(monkeypatch):
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    chosen = pa.default_memory_pool().backend_name
    with fast_allocation():
        assert pa.default_memory_pool().backend_name == chosen
        assert _hugepage() is False  # the other setting is still the run's


def test_a_huge_page_setting_the_user_chose_is_left_alone(monkeypatch):
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    from numpy._core import multiarray

    before = multiarray._set_madvise_hugepage(True)
    try:
        with fast_allocation():
            assert _hugepage() is True
            assert pa.default_memory_pool().backend_name == "system"
    finally:
        multiarray._set_madvise_hugepage(before)


def test_a_run_that_fails_inside_puts_the_settings_back(monkeypatch):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    before_pool, before_huge = pa.default_memory_pool().backend_name, _hugepage()
    with pytest.raises(RuntimeError, match="stage failed"):
        with fast_allocation():
            raise RuntimeError("stage failed")
    assert pa.default_memory_pool().backend_name == before_pool
    assert _hugepage() is before_huge
    with fast_allocation():  # and the next run still gets them
        assert pa.default_memory_pool().backend_name == "system"


def test_a_failing_cli_command_exits_with_its_code_and_puts_the_settings_back(tmp_path, monkeypatch):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    from segml.cli.main import app

    before = pa.default_memory_pool().backend_name
    result = CliRunner().invoke(app, ["validate", "--data", str(tmp_path / "missing")])
    assert result.exit_code == 1, result.output
    assert "data folder not found" in result.output
    assert pa.default_memory_pool().backend_name == before
