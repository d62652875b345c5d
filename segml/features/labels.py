"""Labels after a cutoff (docs/cutoffs.md) and stacked training sets over several cutoffs.

At cutoff ``c`` (a purchase is a transaction with a positive amount) this module reads what each
customer known at ``c`` did around it into :class:`~segml.targets.Outcomes`:

* ``is_active``: at least one purchase in ``(c - activity_window_days, c]``;
* purchases and net spend (purchases minus returns) in any window ``(c, c + h]``;

and applies each target's label function (:mod:`segml.targets`, where every target is defined):
churn (NaN for customers not active at ``c``), purchase, high CLV and future spend.

The population is exactly :func:`~segml.features.build_features`' (customers known at ``c``).
In attributes mode the explicit ``label_<target>`` columns are returned under the target names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segml.config import TimeConfig
from segml.data.contract import Tables
from segml.errors import DataError, Problem
from segml.features.matching import event_counts, transaction_matches
from segml.features.plan import resolve_targets, target_horizons
from segml.features.purchases import transaction_arrays
from segml.features.timeline import (
    DAY_NS,
    as_cutoff,
    end_of_day,
    known_at,
    to_ns,
)
from segml.targets import TARGETS, Outcomes, Target, as_target

log = logging.getLogger(__name__)


def make_labels(tables: Tables, cutoff: object, time_cfg: TimeConfig,
                targets: Sequence[str | Target] | Mapping[str, Target] | None = None,
                horizons: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Outcome labels at ``cutoff`` for every customer known then.

    Parameters
    ----------
    tables : Tables
        Canonical tables.
    cutoff : Timestamp or None
        Features end here; label windows start right after it (ignored in attributes mode).
    time_cfg : TimeConfig
        Activity window and ``high_clv_quantile``.
    targets : sequence of (str or Target), or dict of Target, optional
        The targets to label: built-in names or :class:`~segml.targets.Target` objects (a
        declared target is passed as its Target, from :func:`segml.targets.targets_of`), or a
        registry ``name -> Target``; None: the built-in ones (:data:`segml.targets.TARGETS`).
        Only their windows are read, and only a window that runs past the data is reported as
        censored.
    horizons : mapping of str to int, optional
        Each target's label window in days, from the time plan
        (:attr:`~segml.features.plan.TimePlan.horizons`); it must name every target labelled.
        None: read from ``time_cfg`` (:func:`~segml.features.plan.target_horizons`).

    Returns
    -------
    DataFrame
        Index ``customer_id``; ``is_active`` (bool) then each target's label column (float64:
        ``churn``, ``purchase``, ``high_clv``, ``future_spend``). Attributes mode: one float
        column per explicit label target, named after the target.

    Examples
    --------
    >>> from segml.config import SegmlConfig
    >>> from segml.data.contract import load_tables
    >>> cust = pd.DataFrame({"customer_id": ["a", "b", "c"]})
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b", "c"],
    ...     "timestamp": ["2024-01-10", "2024-02-10", "2024-01-20", "2024-03-15"],
    ...     "amount": [10.0, 30.0, 5.0, 8.0]})
    >>> tables = load_tables(SegmlConfig(data={"now": "2025-01-01"}), customers=cust,
    ...                      transactions=tx)
    >>> make_labels(tables, "2024-01-31", TimeConfig(high_clv_quantile=0.5))
                 is_active  churn  purchase  high_clv  future_spend
    customer_id
    a                 True    0.0       1.0       1.0          30.0
    b                 True    1.0       0.0       0.0           0.0
    >>> list(make_labels(tables, "2024-01-31", TimeConfig(), ["purchase"]).columns)
    ['is_active', 'purchase']
    """
    customers = tables.customers
    specs = resolve_targets(TARGETS if targets is None else targets)
    names = [spec.name for spec in specs]
    if tables.transactions is None or not any(spec.has_horizon for spec in specs):
        # attributes mode, or only column labels: read as they stand, no cutoff
        labels = {target: customers[f"label_{target}"].to_numpy(dtype="float64")
                  for target in tables.label_columns if target in names}
        if not labels:
            raise DataError([Problem("no transactions and no explicit label columns",
                                     table="customers")])
        return pd.DataFrame(labels, index=pd.Index(customers["customer_id"], name="customer_id"))
    timed = [spec for spec in specs if spec.has_horizon]
    days = _horizons(time_cfg, timed, horizons)
    c_ts = as_cutoff(cutoff)
    known = known_at(tables, c_ts)
    outcomes = _outcomes(tables, c_ts, time_cfg, max(days.values(), default=0), known)
    out = {"is_active": outcomes.active}
    for spec in specs:
        out[spec.label_column] = spec.label(outcomes, days.get(spec.name, 0))
    latest = end_of_day(tables.transactions["timestamp"].max())  # the data covers that whole day
    censored = [t.name for t in timed if c_ts + pd.Timedelta(days=days[t.name]) > latest]
    if censored:
        log.warning("label windows of %s after %s run past the last transaction (%s): those "
                    "labels are censored", ", ".join(censored), c_ts, latest)
    index = pd.Index(customers["customer_id"][known], name="customer_id")
    return pd.DataFrame(out, index=index)


def _horizons(time_cfg: TimeConfig, specs: list[Target],
              horizons: Mapping[str, int] | None) -> dict[str, int]:
    """The label window of each of ``specs``: the plan's, else the config's."""
    if horizons is None:
        return target_horizons(time_cfg, specs)
    names = [spec.name for spec in specs]
    missing = [n for n in names if n not in horizons]
    if missing:
        raise ValueError(f"no horizon given for target(s) {missing}: the plan holds the "
                         f"horizons of {sorted(horizons)}")
    return {n: int(horizons[n]) for n in names}


def _outcomes(tables: Tables, c_ts: pd.Timestamp, time_cfg: TimeConfig, longest: int,
              known: np.ndarray) -> Outcomes:
    """What the customers known at ``c_ts`` did around it, read from the transactions that fall
    in the activity window or in the longest requested label window (``longest`` days)."""
    c, n = to_ns(c_ts), len(tables.customers)
    # the per-row arrays the features cached (positions: n for unknown customers): no copy of
    # the timestamps and no new id lookup at every cutoff
    positions, ts_all, amounts, purchase = transaction_arrays(tables)
    near = ((ts_all > c - time_cfg.activity_window_days * DAY_NS)
            & (ts_all <= c + longest * DAY_NS) & (positions < n))
    pos, ts = positions[near], ts_all[near]
    amount, buy = amounts[near], purchase[near]

    def after(days: int) -> np.ndarray:
        return (ts > c) & (ts <= c + days * DAY_NS)

    def purchases(days: int) -> np.ndarray:
        return np.bincount(pos[buy & after(days)], minlength=n)[known]

    def net_spend(days: int) -> np.ndarray:
        window = after(days)
        return np.bincount(pos[window], weights=amount[window], minlength=n)[known]

    def matching(spec: Mapping[str, Sequence[Any]], days: int) -> np.ndarray:
        rows = after(days)
        for column, values in spec.items():
            rows = rows & transaction_matches(tables, column, values)[near]
        return rows

    def purchases_matching(spec: Mapping[str, Sequence[Any]], days: int) -> np.ndarray:
        return np.bincount(pos[buy & matching(spec, days)], minlength=n)[known].astype("float64")

    def spend_matching(spec: Mapping[str, Sequence[Any]], days: int) -> np.ndarray:
        window = matching(spec, days)
        return np.bincount(pos[window], weights=amount[window], minlength=n)[known]

    def events_of(types: Sequence[Any], days: int) -> np.ndarray:
        return event_counts(tables, types, c, c + days * DAY_NS)[known]

    def column(target: str) -> np.ndarray:
        return tables.customers[f"label_{target}"].to_numpy(dtype="float64")[known]

    active = np.bincount(pos[buy & (ts <= c)], minlength=n)[known] > 0
    return Outcomes(active, purchases, net_spend, time_cfg.high_clv_quantile,
                    purchases_matching=purchases_matching, spend_matching=spend_matching,
                    events_of=events_of, column=column)


@dataclass
class TrainingSet:
    """Features and labels stacked over several cutoffs; rows are (cutoff, customer) pairs.

    ``X.index`` and ``Y.index`` repeat customer ids (one block per cutoff, oldest first);
    ``cutoff`` gives each row's cutoff, aligned row for row.
    """

    X: pd.DataFrame
    Y: pd.DataFrame
    cutoff: pd.Series

    def __len__(self) -> int:
        return len(self.X)


def stack_training_set(tables: Tables, cutoffs: list, spec, time_cfg: TimeConfig,
                       targets: Sequence[str | Target] | None = None,
                       features: Callable[[pd.Timestamp], pd.DataFrame] | None = None,
                       max_rows: int | None = None, seed: int = 0,
                       sample: tuple[list[pd.DataFrame], list[np.ndarray]] | None = None,
                       horizons: Mapping[str, int] | None = None) -> TrainingSet:
    """Build features (with one fixed ``spec``) and labels at each cutoff and stack them.

    Parameters
    ----------
    tables : Tables
        Canonical tables.
    cutoffs : list of Timestamp
        E.g. ``plan_targets(...).targets["churn"].train``.
    spec : FeatureSpec
        Fixed for every cutoff, so all blocks share columns and categories.
    time_cfg : TimeConfig
        Label settings.
    targets : sequence of (str or Target), optional
        The targets to label, as :func:`make_labels` takes them (None: the built-in ones).
    features : callable, optional
        ``features(cutoff) -> X``: where the feature matrices come from (e.g. a cache shared by
        several targets); default: built here with ``spec``.
    max_rows : int, optional
        When the rows with a label (of the single target asked for) exceed this, only a seeded
        sample of this size, stratified by cutoff and label, is stacked: the models would
        sample it anyway (``models.max_train_rows``), and stacking a million customers at
        three cutoffs first would copy gigabytes for nothing. Rows without a label are dropped
        then too.
    sample : optional
        With ``max_rows`` and one target: the labels and rows :func:`stack_sample` drew for
        these arguments, when the caller drew them already.
    horizons : mapping of str to int, optional
        The targets' label windows from the time plan (see :func:`make_labels`).

    Examples
    --------
    >>> from segml.config import SegmlConfig
    >>> from segml.data.contract import load_tables
    >>> from segml.features.behaviour import FeatureSpec
    >>> cust = pd.DataFrame({"customer_id": [1, 2]})
    >>> tx = pd.DataFrame({"customer_id": [1, 1, 2, 2], "amount": [5.0, 6.0, 7.0, 8.0],
    ...     "timestamp": ["2024-01-05", "2024-02-05", "2024-01-20", "2024-03-05"]})
    >>> cfg = SegmlConfig(data={"now": "2025-01-01"}, features={"btyd": False})
    >>> tables = load_tables(cfg, customers=cust, transactions=tx)
    >>> spec = FeatureSpec.fit(tables, "2024-01-31", cfg)
    >>> ts = stack_training_set(tables, ["2024-01-10", "2024-01-31"], spec, cfg.time, ["purchase"])
    >>> ts.X.index.tolist(), ts.Y["purchase"].tolist()
    ([1, 1, 2], [1.0, 1.0, 0.0])
    """
    from segml.features.behaviour import build_features

    def matrix(c: pd.Timestamp) -> pd.DataFrame:
        return features(c) if features is not None else build_features(tables, c, spec)

    stamps = [as_cutoff(cutoff) for cutoff in cutoffs]
    if not stamps:
        raise DataError([Problem("no training cutoff to stack", key="time.training_cutoffs")])
    if max_rows is not None and targets is not None and len(targets) == 1:
        labels, picks = sample or stack_sample(tables, stamps, time_cfg, targets[0], max_rows, seed,
                                               horizons)
        return _sampled_stack(matrix, stamps, labels, picks)
    xs, ys, cs = [], [], []
    for c in stamps:
        X = matrix(c)
        Y = make_labels(tables, c, time_cfg, targets, horizons)
        if not X.index.equals(Y.index):
            Y = Y.reindex(X.index)
        xs.append(X)
        ys.append(Y)
        cs.append(pd.Series(c, index=X.index, name="cutoff", dtype="datetime64[ns]"))
        log.debug("cutoff %s: %d customers", c.date(), len(X))
    return TrainingSet(X=pd.concat(xs), Y=pd.concat(ys), cutoff=pd.concat(cs))


def stack_sample(tables: Tables, cutoffs: list, time_cfg: TimeConfig, target: str | Target,
                 max_rows: int, seed: int, horizons: Mapping[str, int] | None = None,
                 ) -> tuple[list[pd.DataFrame], list[np.ndarray]]:
    """The labels of ``target`` at each cutoff and the positions a stack of at most
    ``max_rows`` rows takes from each: every labelled row, or a seeded sample stratified by
    cutoff and label. Drawn from the labels alone, before any feature matrix is built;
    ``horizons`` as in :func:`make_labels`."""
    column = as_target(target).label_column
    # two cutoffs at a time: the labels are NumPy masks, gathers and bincounts over the
    # transactions, which release the GIL; each cutoff's labels are its own
    with ThreadPoolExecutor(max_workers=2) as pool:
        labels = list(pool.map(lambda c: make_labels(tables, as_cutoff(c), time_cfg, [target],
                                                     horizons), cutoffs))
    return labels, _block_picks([y[column].to_numpy(dtype="float64") for y in labels],
                                max_rows, seed, [y.index for y in labels], cutoffs)


def _sampled_stack(matrix: Callable[[pd.Timestamp], pd.DataFrame], cutoffs: list[pd.Timestamp],
                   labels: list[pd.DataFrame], picks: list[np.ndarray]) -> TrainingSet:
    """The sampled rows of every cutoff's matrix, stacked, holding one matrix at a time.

    Each matrix is built (or read, cut to the rows still planned, from the caller's cache), cut
    to its sampled rows and released before the next one is built, so a million customers at
    three cutoffs never sit in memory side by side.
    """
    ys = list(labels)
    xs, cs = [], []
    for b, c in enumerate(cutoffs):
        X = matrix(c)
        if X.index.equals(ys[b].index):
            rows = picks[b]
            ys[b] = ys[b].iloc[rows]
        elif len(X) == len(picks[b]) and X.index.equals(ys[b].index[picks[b]]):
            rows = slice(None)  # a matrix built for the sampled customers alone
            ys[b] = ys[b].iloc[picks[b]]
        else:  # the matrix's rows among the sampled customers, in the matrix's order
            rows = np.sort(X.index.get_indexer(ys[b].index[picks[b]]))
            rows = rows[rows >= 0]
            ys[b] = ys[b].reindex(X.index[rows])
        xs.append(X.iloc[rows])
        cs.append(pd.Series(c, index=xs[-1].index, name="cutoff", dtype="datetime64[ns]"))
        log.debug("cutoff %s: %d customers, %d stacked", c.date(), len(X), len(xs[-1]))
        del X  # released here unless the matrix cache keeps it for a later target
    return TrainingSet(X=pd.concat(xs), Y=pd.concat(ys), cutoff=pd.concat(cs))


def _block_picks(labels: list[np.ndarray], max_rows: int, seed: int,
                 ids: list[pd.Index] | None = None, cutoffs: list | None = None,
                 ) -> list[np.ndarray]:
    """Positions to keep in each block: its labelled rows, or a sample of ``max_rows`` of all
    blocks' labelled rows stratified by block (cutoff) and label. With ``ids`` (each block's
    customer ids) and ``cutoffs``, the random keys are hashes of (customer id, seed, cutoff)
    (:func:`segml.sampling.hash_keys`), so Spark draws the same customers; else by position."""
    from segml.sampling import hash_keys, sample_context, stratified_sample

    known = [np.flatnonzero(~np.isnan(v)) for v in labels]
    if sum(k.size for k in known) <= max_rows:
        return known
    strata = np.concatenate([2 * b + (v[k] > 0) for b, (v, k) in enumerate(zip(labels, known,
                                                                               strict=True))])
    keys = None
    if ids is not None and cutoffs is not None:  # block by block: Arrow ids stay Arrow text
        keys = np.concatenate([hash_keys(i[k], seed, sample_context("stack", c))
                               for i, k, c in zip(ids, known, cutoffs, strict=True)])
    chosen = stratified_sample(max_rows, strata, seed, keys=keys)
    offsets = np.cumsum([0, *(k.size for k in known)])
    return [known[b][chosen[(chosen >= offsets[b]) & (chosen < offsets[b + 1])] - offsets[b]]
            for b in range(len(known))]

