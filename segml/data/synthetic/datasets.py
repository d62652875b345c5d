"""Public datasets: the seeded synthetic generator with ground-truth segments.

Example
-------
>>> from segml.data.synthetic.datasets import make_customers
>>> data = make_customers(100, seed=0)
>>> list(data.ground_truth.columns[:3])
['customer_id', 'true_macro', 'true_leaf']
>>> hard = make_customers(100, seed=0, difficulty="hard")  # same tables, a harder world
>>> list(hard.ground_truth.columns) == list(data.ground_truth.columns)
True
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segml.data.synthetic.customers import SYNTHETIC_COLUMNS, SYNTHETIC_TARGETS
from segml.data.synthetic.generator import DIFFICULTIES, SyntheticData, make_customers

__all__ = ["DIFFICULTIES", "SYNTHETIC_COLUMNS", "SYNTHETIC_TARGETS", "SyntheticData", "demo_config",
           "make_customers", "synthetic_config", "synthetic_features"]


def synthetic_config(**sections: Any) -> Any:
    """The defaults plus the synthetic customers' column roles (no declared target: the frozen
    reference is fitted with it); :func:`demo_config` adds the demo's declared targets.

    The defaults alone declare no attribute or PII column (nobody's data has the demo's
    columns).

    Parameters
    ----------
    **sections
        Top-level sections as for :func:`segml.config.load_config` (``seed=7``,
        ``features={...}``); a ``data`` section is merged with the synthetic one (its
        ``customers`` keys over the synthetic roles).

    Examples
    --------
    >>> cfg = synthetic_config(data={"now": "2026-01-01"})
    >>> cfg.data.customers.pii, str(cfg.data.now)
    (['name', 'email', 'phone'], '2026-01-01')
    """
    from segml.config import load_config

    data = dict(sections.pop("data", None) or {})
    data["customers"] = {**SYNTHETIC_COLUMNS, **(data.get("customers") or {})}
    return load_config(None, data=data, **sections)


def demo_config(**sections: Any) -> Any:
    """The configuration ``segml demo`` runs with (``configs/demo.yaml``): the synthetic columns'
    roles (:func:`synthetic_config`) and the demo's declared targets
    (:data:`~segml.data.synthetic.customers.SYNTHETIC_TARGETS`: electronics within 30 days, a
    support ticket within 60), as the ``segml.yaml`` of ``segml generate`` declares them.

    Example
    -------
    >>> demo_config().models.targets[-2:]
    ['buys_electronics', 'contacts_support']
    """
    sections.setdefault("targets", SYNTHETIC_TARGETS)
    return synthetic_config(**sections)


def synthetic_features(
    n_customers: int, seed: int = 0, *, design_seed: int | None = 0, config: Any = None,
    spec: Any = None, difficulty: str = "default",
) -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    """Feature matrix of generated customers at their data end, as the pipeline builds it.

    Parameters
    ----------
    n_customers, seed, design_seed, difficulty
        Passed to :func:`make_customers`.
    config : SegmlConfig, optional
        Feature settings (default: :func:`synthetic_config`, the demo's).
    spec : FeatureSpec, optional
        A fitted spec to reuse (e.g. the one of the customers a model was fitted on); None fits
        one on these customers.

    Returns
    -------
    (X, truth, spec)
        Features indexed by ``customer_id``, the ground truth aligned to them, and the spec.

    Example
    -------
    >>> X, truth, spec = synthetic_features(200, seed=1)
    >>> bool(X.index.equals(truth.index)), "true_leaf" in truth
    (True, True)
    """
    from segml.data.contract import load_tables
    from segml.features.behaviour import FeatureSpec, build_features

    config = config if config is not None else synthetic_config()
    data = make_customers(n_customers, seed=seed, design_seed=design_seed, difficulty=difficulty)
    tables = load_tables(config, customers=data.customers, transactions=data.transactions,
                         events=data.events)
    cutoff = data.transactions["timestamp"].max().normalize()
    spec = spec if spec is not None else FeatureSpec.fit(tables, cutoff, config)
    X = build_features(tables, cutoff, spec)
    return X, data.ground_truth.set_index("customer_id").reindex(X.index), spec
