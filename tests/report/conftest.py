"""Shared helpers of the report tests."""

from __future__ import annotations

import re

import pytest


def _external_references(html: str) -> list[str]:
    """src/href/url()/@import/<link> pointing anywhere but an inline data: URI or an anchor."""
    found = re.findall(r"""(?:src|href)\s*=\s*["']?(?!data:|#)([^"'\s>]+)""", html, flags=re.I)
    found += re.findall(r"""url\(\s*["']?(?!data:)([^)"']+)""", html, flags=re.I)
    found += re.findall(r"@import[^;]*", html) + re.findall(r"<link\b[^>]*>", html, flags=re.I)
    found += re.findall(r"https?://\S+", html)
    return found


@pytest.fixture
def external_references():
    """The checker: ``external_references(html) == []`` means the page is self-contained."""
    return _external_references
