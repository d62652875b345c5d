"""``segml audiences``: score a registered model's customers and cut the "likely to ..." lists.

The entry point above :func:`segml.workflow.train.score`; what a list is, its operating point and its
expected precision are :mod:`segml.workflow.targeting`'s.

Example
-------
>>> result = audiences("models:/segml-customer@champion", data="data", top="10%")  # doctest: +SKIP
>>> write_audiences(result, "lists")                                         # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segml.config import SegmlConfig
from segml.errors import Problem, SegmlError
from segml.tracking.model import load_scorer
from segml.workflow.targeting import Audiences, build_audiences, operating_point
from segml.workflow.train import score


def audiences(model_uri: str, *, data: str | Path | None = None,
              config: SegmlConfig | None = None, tables: Any = None, cutoff: Any = None,
              top: str | float | None = None, precision: float | None = None,
              threshold: float | None = None, targets: list[str] | None = None,
              min_probability: float | None = None) -> Audiences:
    """Score every customer with a registered model and cut one list per classifier.

    Parameters
    ----------
    model_uri : str
        e.g. ``models:/segml-customer@champion``.
    data, config, tables, cutoff :
        Where the customers come from and the date of their features (as :func:`segml.score`).
    top, precision, threshold :
        At most one operating point (``top="10%"`` or ``0.1``); none: the first of
        ``audiences.operating_points``.
    targets : list of str, optional
        Classifiers to build lists for (default: every one the model predicts).
    min_probability : float, optional
        A floor: no customer whose probability is below it enters a list, whatever the
        operating point (a precision list is cumulative and may otherwise reach far below its
        precision; see :mod:`segml.workflow.targeting`).

    Returns
    -------
    Audiences
        ``lists`` (target -> ``customer_id``, ``segment_path``, ``predictive_segment``, score,
        ``rank``), ``summary`` (expected size, precision and recall per list) and ``skipped``.

    Raises
    ------
    SegmlError
        A bad operating point, an unknown target or model, or no list to build (e.g. a precision
        out of reach), each problem naming the culprit.

    Example
    -------
    >>> result = segml.audiences("models:/segml-customer@champion", data="data",
    ...                          precision=0.6)  # doctest: +SKIP
    >>> result.summary[["audience", "customers", "expected_precision"]]  # doctest: +SKIP
    """

    config = config or SegmlConfig()
    if data is not None:
        config = config.model_copy(update={"data": config.data.model_copy(
            update={"dir": str(Path(data).resolve())})})
    try:
        point = operating_point(top, precision, threshold, config.audiences.operating_points[0])
    except ValueError as exc:
        raise SegmlError([Problem(str(exc), key="operating point")]) from None
    scorer = load_scorer(model_uri, tracking=config.tracking)
    curves = getattr(scorer, "audience_curves", None) or {}  # None: a model older than audiences
    scored = score(model_uri, config=config, tables=tables, cutoff=cutoff, scorer=scorer)
    try:
        result = build_audiences(scored, curves, point, targets, min_probability,
                                 registry=scorer.targets())  # the model's own targets
    except ValueError as exc:
        key = "min_probability" if "min-probability" in str(exc) else "target"
        raise SegmlError([Problem(str(exc), key=key)]) from None
    if not result.lists:
        raise SegmlError(result.skipped or [Problem("the model has no classifier to build a "
                                                    "list from", key="model")])
    return result


def write_audiences(result: Audiences, out: str | Path, fmt: str = "parquet") -> list[Path]:
    """Each list as ``<out>/<target>.<fmt>`` and the summary as ``<out>/summary.csv``, atomically."""
    from segml.data.io import write_frame_atomic

    folder = Path(out)
    paths = [write_frame_atomic(frame, folder / f"{name}.{fmt}")
             for name, frame in result.lists.items()]
    paths.append(write_frame_atomic(result.summary, folder / "summary.csv"))
    return paths


__all__ = ["audiences", "write_audiences"]
