"""Checks behind the config's field validators: values pydantic's types alone cannot refuse.

Each function returns the cleaned value or raises ``ValueError`` with a message that names what
is wrong and what to write instead; pydantic turns it into a problem naming the key and the file.

Example
-------
>>> check_trend_windows([30, 90])
[30, 90]
>>> check_trend_windows([-30, 0])
Traceback (most recent call last):
...
ValueError: trend windows must be positive numbers of days, got [-30, 0]
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any

from segml.errors import redact

# Tracking stores MLflow can reach: a local path has no scheme at all.
_STORE_SCHEMES = re.compile(
    r"^(sqlite|file|https?|databricks(-uc)?|uc|(postgresql|mysql|mssql)(\+\w+)?)$")
# segml sets the objective per target (binary classifiers, a regressor for spend).
_OBJECTIVE_KEYS = {"objective", "objective_type", "app", "application", "loss"}
_TIMESTAMP_DIRECTIVE = re.compile(r"%[a-zA-Z]")


def check_timestamp_format(value: str | None) -> str | None:
    """A ``strftime`` format with at least one directive (``%d.%m.%Y %H:%M``), or None.

    Examples
    --------
    >>> check_timestamp_format("%d.%m.%Y %H:%M")
    '%d.%m.%Y %H:%M'
    """
    if value is None:
        return None
    if not _TIMESTAMP_DIRECTIVE.search(value):
        raise ValueError("a timestamp format uses strftime directives, e.g. '%d.%m.%Y %H:%M' "
                         "or '%m/%d/%Y'")
    return value


def check_trend_windows(values: list[int]) -> list[int]:
    """Positive, distinct window lengths in days (each becomes ``orders_<w>d``/``spend_<w>d``)."""
    if any(v <= 0 for v in values):
        raise ValueError(f"trend windows must be positive numbers of days, got {values}")
    if len(set(values)) != len(values):
        raise ValueError(f"trend windows must be distinct, got {values}")
    return values


def check_level_sizes(sizes: list[int] | None, levels: int) -> None:
    """Segments per level above the leaves, top first: increasing, each at least 2, at most
    ``levels - 1`` of them (the cap ``max_segments_per_level`` is checked with the section)."""
    if sizes is None:
        return
    if any(s < 2 for s in sizes):
        raise ValueError(f"each level needs at least 2 segments, got {sizes}")
    if any(b <= a for a, b in zip(sizes, sizes[1:], strict=False)):
        raise ValueError(f"sizes go from the top level down and must increase, got {sizes}")
    if len(sizes) > levels - 1:
        raise ValueError(f"{len(sizes)} size(s) given but there are only {levels - 1} level(s) "
                         f"above the leaves (segments.levels = {levels})")


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence LightGBM's C++ ``[Fatal]`` line (written to file descriptor 2, not via Python)."""
    try:
        saved = os.dup(2)
    except OSError:  # pragma: no cover - no stderr at all
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def check_lgbm_params(params: dict[str, Any]) -> dict[str, Any]:
    """Extra LightGBM parameters that LightGBM itself accepts (checked on a 40-row booster).

    Examples
    --------
    >>> check_lgbm_params({"min_data_in_leaf": 5})
    {'min_data_in_leaf': 5}
    >>> check_lgbm_params({"num_leaves": "abc"})
    Traceback (most recent call last):
    ...
    ValueError: LightGBM rejects these parameters: Parameter num_leaves should be of type int, got "abc"
    """
    if not params:
        return params
    chosen = sorted(_OBJECTIVE_KEYS & set(params))
    if chosen:
        raise ValueError(f"'{chosen[0]}' cannot be set: segml chooses the objective per target "
                         "(binary for churn, purchase and high_clv; regression for spend)")
    import lightgbm
    import numpy as np

    X = np.arange(40, dtype="float64").reshape(-1, 1)
    y = (X[:, 0] > 19).astype("float64")
    try:
        with _quiet_stderr():
            lightgbm.Booster(params={**params, "objective": "binary", "verbosity": -1,
                                     "num_threads": 1},
                             train_set=lightgbm.Dataset(X, y, params={"verbosity": -1}))
    except Exception as exc:  # noqa: BLE001 - LightGBMError, TypeError, ValueError alike
        message = re.sub(r" at /\S+, line \d+ \.?", "", str(exc)).strip().splitlines()
        raise ValueError(f"LightGBM rejects these parameters: {message[0] if message else exc}"
                         ) from None
    return params


def check_tracking_uri(uri: str | None) -> str | None:
    """A tracking URI MLflow can use: a known scheme, or a local path.

    Examples
    --------
    >>> check_tracking_uri("sqlite:////tmp/mlflow.db")
    'sqlite:////tmp/mlflow.db'
    >>> check_tracking_uri("bogus://alice:pw@nowhere")
    Traceback (most recent call last):
    ...
    ValueError: unsupported tracking URI scheme 'bogus' in 'bogus://alice:***@nowhere'; use sqlite:///path/mlflow.db, http(s)://host:port, postgresql://..., mysql://..., databricks or a local folder
    """
    if uri is None:
        return None
    text = uri.strip()
    if not text:
        raise ValueError("tracking URI is empty; remove the key to use sqlite:///mlflow.db")
    scheme, sep, rest = text.partition("://")
    if not sep:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", text) and not re.match(r"^[A-Za-z]:[\\/]", text):
            scheme = text.split(":", 1)[0]
            if scheme not in ("databricks", "databricks-uc", "uc"):
                raise ValueError(f"unsupported tracking URI {redact(text)!r}; use "
                                 "sqlite:///path/mlflow.db, http(s)://host:port or a local folder")
        return text
    if not _STORE_SCHEMES.match(scheme.lower()):
        raise ValueError(
            f"unsupported tracking URI scheme {scheme!r} in {redact(text)!r}; use "
            "sqlite:///path/mlflow.db, http(s)://host:port, postgresql://..., mysql://..., "
            "databricks or a local folder")
    if scheme.lower() == "sqlite" and not rest.lstrip("/"):
        raise ValueError("a sqlite tracking URI needs a database file, e.g. sqlite:///mlflow.db")
    if scheme.lower() in ("http", "https") and not rest.split("/", 1)[0].rsplit("@", 1)[-1]:
        raise ValueError(f"tracking URI {redact(text)!r} has no host")
    return text
