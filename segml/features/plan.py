"""The time plan: each target's own training, evaluation and refit cutoffs (docs/cutoffs.md).

For a target with horizon ``h`` days, data ending at ``end`` (the last day of data, or the
configured ``time.cutoff``), ``n = time.training_cutoffs`` and ``s = time.cutoff_step_days``
(default: ``h`` itself)::

    evaluation   e = end - h                      labels (e, end]: complete, out of time
    training     e - h - k*s   (k = 0 .. n-1)     label windows end at or before e
    refit        e - k*s       (k = 0 .. n-1)     the freshest complete label windows
    scoring      end

The *evaluation fit* learns on the training cutoffs and is scored on the evaluation window: its
metrics are the ones reported. With the default step ``s = h`` the stacked label windows follow
each other without overlap, so the latest training cutoff, where candidates are compared and
early stopping and calibration are judged, shares no outcome with the cutoffs learned from. The *refit* then repeats the recipe chosen there (rounds,
calibration) on the refit cutoffs, so the registered predictor's latest training cutoff is
``end - h`` (its ``fit_cutoff``): a 90-day churn model is fitted on windows that ended at the data
end, whatever the length of the history.

A cutoff needs ``min_history_days`` of data before it (``readiness.min_history_days``), else
it is dropped; a target none of whose training cutoffs has that history is *skipped* with one
warning naming the history it needs and the config key that changes it. Only when no target fits
does planning fail.

Example
-------
>>> from segml.config import TimeConfig
>>> plan = plan_targets(pd.Timestamp("2025-12-31 23:59:59.999999999"), TimeConfig(),
...                     ["churn", "purchase", "high_clv", "spend"],
...                     start=pd.Timestamp("2025-01-01"), min_history_days=90)
>>> churn = plan.targets["churn"]
>>> [c.date().isoformat() for c in churn.train], churn.evaluation.date().isoformat()
(['2025-04-05', '2025-07-04'], '2025-10-02')
>>> churn.fit_cutoff.date().isoformat(), sorted(plan.skipped)
('2025-10-02', ['high_clv', 'spend'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from segml.config import TimeConfig
from segml.errors import DataError, Problem
from segml.features.timeline import as_cutoff, end_of_day
from segml.targets import TARGETS, Target, as_target


@dataclass(frozen=True)
class TargetPlan:
    """One target's cutoffs (each list oldest first)."""

    target: str
    horizon_days: int
    train: list[pd.Timestamp]
    evaluation: pd.Timestamp
    refit: list[pd.Timestamp]

    @property
    def fit_cutoff(self) -> pd.Timestamp:
        """The latest training cutoff of the registered (refit) predictor."""
        return self.refit[-1]

    def to_dict(self) -> dict[str, object]:
        """ISO dates, e.g. for MLflow and the report."""
        return {"horizon_days": self.horizon_days,
                "train": [_day(c) for c in self.train],
                "evaluation": _day(self.evaluation),
                "refit": [_day(c) for c in self.refit],
                "fit_cutoff": _day(self.fit_cutoff)}


@dataclass(frozen=True)
class TimePlan:
    """Every target's plan, the targets that do not fit the history, and the scoring cutoff."""

    scoring: pd.Timestamp
    data_start: pd.Timestamp | None
    targets: dict[str, TargetPlan]
    skipped: dict[str, Problem] = field(default_factory=dict)

    @property
    def spec_cutoff(self) -> pd.Timestamp:
        """Where the feature settings (category columns, BG/NBD parameters) are learned: the
        earliest evaluation cutoff, so that no evaluation window informs them (the scoring
        cutoff when nothing is planned: only column labels, read as they stand)."""
        return min((p.evaluation for p in self.targets.values()), default=self.scoring)

    @property
    def horizons(self) -> dict[str, int]:
        """Each planned target's label horizon in days: what its labels are computed over."""
        return {t: p.horizon_days for t, p in self.targets.items()}

    def cutoffs(self) -> list[pd.Timestamp]:
        """Every distinct cutoff a feature matrix is built at, oldest first (scoring last)."""
        found = {c for p in self.targets.values() for c in (*p.train, p.evaluation, *p.refit)}
        return sorted(found | {self.scoring})

    def warnings(self) -> list[Problem]:
        """One warning per skipped horizon (targets sharing a horizon share their warning)."""
        seen: dict[str, Problem] = {}
        for problem in self.skipped.values():
            seen.setdefault(problem.message, problem)
        return list(seen.values())

    def to_dict(self) -> dict[str, object]:
        return {"scoring": _day(self.scoring),
                "data_start": None if self.data_start is None else _day(self.data_start),
                "spec_cutoff": _day(self.spec_cutoff),
                "targets": {t: p.to_dict() for t, p in self.targets.items()},
                "skipped": {t: p.message for t, p in self.skipped.items()}}


def _day(ts: pd.Timestamp) -> str:
    return ts.date().isoformat()


def target_horizons(time_cfg: TimeConfig,
                    targets: Sequence[str | Target] | Mapping[str, Target] | None = None,
                    ) -> dict[str, int]:
    """Each target's label horizon in days: the one place a horizon is read from the config.

    The plan (:attr:`TargetPlan.horizon_days`), the labels when no plan is at hand and the BTYD
    feature horizons (:func:`feature_horizons`) all take theirs from here.

    Parameters
    ----------
    time_cfg : TimeConfig
        Holds each target's ``time.<horizon_key>``.
    targets : sequence of (str or Target), or dict of Target, optional
        The targets: built-in names or :class:`~segml.targets.Target` objects (a declared one
        is passed as its Target, from :func:`segml.targets.targets_of`), or a registry
        ``name -> Target``; None: the built-in targets (:data:`segml.targets.TARGETS`).

    Example
    -------
    >>> target_horizons(TimeConfig(churn_horizon_days=60), ["churn", "spend"])
    {'churn': 60, 'spend': 365}
    """
    specs = resolve_targets(TARGETS if targets is None else targets)
    return {spec.name: spec.horizon(time_cfg) for spec in specs}


def resolve_targets(targets: Sequence[str | Target] | Mapping[str, Target]) -> list[Target]:
    """The :class:`~segml.targets.Target` of each entry (built-in names looked up, Targets as
    they are; a registry ``name -> Target``: its values), in order.

    Example
    -------
    >>> [t.label_column for t in resolve_targets(["churn", "spend"])]
    ['churn', 'future_spend']
    """
    entries = targets.values() if isinstance(targets, Mapping) else targets
    return [as_target(entry) for entry in entries]


def feature_horizons(time_cfg: TimeConfig, targets: Mapping[str, Target] | None = None,
                     ) -> list[int]:
    """The horizons the BTYD features are computed at (``btyd_expected_purchases_<h>d``,
    ``btyd_prob_purchase_<h>d``): every registered target's, so a new target's horizon gets
    its own.

    Every registered target's, not only the configured ones: the features are shared by the
    segmentation and every predictor, so a run predicting fewer targets finds the same segments.
    ``targets``: the config's registry (:func:`segml.targets.targets_of`: the built-in targets
    and the declared ones; a column label has no horizon); None: the built-in ones.

    Example
    -------
    >>> feature_horizons(TimeConfig())
    [30, 90, 365]
    """
    registry = TARGETS if targets is None else targets
    found = {t.horizon(time_cfg) for t in registry.values() if t.has_horizon}
    return sorted(found)


def resolve_cutoff(time_cfg: TimeConfig, data_end: object | None, override: object = None, *,
                   data_start: object | None = None) -> pd.Timestamp | None:
    """The cutoff every command works at: the one home of that rule (train, retrain, score,
    audiences and Spark scoring call it; docs/cutoffs.md).

    ``override`` (``--cutoff``) wins, else the configured ``time.cutoff``, else the data end; a
    given day means the end of that day. The day must lie within the data: before its first
    transaction nobody has a history, and after its last one every customer would look inactive
    for days the data knows nothing about (and every label window after it would be empty, not
    negative).

    Parameters
    ----------
    time_cfg : TimeConfig
        Its ``cutoff`` (None: the data end).
    data_end : Timestamp or None
        End of the data (:func:`~segml.features.timeline.data_end`); None for data without a
        timeline (attributes mode), where the day given, if any, is taken as it is.
    override : date, optional
        A cutoff given for this command (``--cutoff``); it replaces ``time_cfg.cutoff``.
    data_start : Timestamp, optional
        First timestamp of the data (:func:`~segml.features.timeline.data_start`); None: not
        checked.

    Raises
    ------
    DataError
        A cutoff before the data starts or after it ends, naming where the cutoff came from
        (``--cutoff`` or ``time.cutoff``).

    Examples
    --------
    >>> end = pd.Timestamp("2025-12-31 23:59:59.999999999")
    >>> resolve_cutoff(TimeConfig(cutoff="2025-06-30"), end)
    Timestamp('2025-06-30 23:59:59.999999999')
    >>> resolve_cutoff(TimeConfig(cutoff="2025-06-30"), end, "2025-09-30").date()
    datetime.date(2025, 9, 30)
    >>> resolve_cutoff(TimeConfig(), end) == end, resolve_cutoff(TimeConfig(), None) is None
    (True, True)
    """
    given, source, key = ((override, "--cutoff", "cutoff") if override is not None
                          else (time_cfg.cutoff, "time.cutoff", "time.cutoff"))
    if data_end is None:
        return None if given is None else end_of_day(given)
    end = as_cutoff(data_end)
    if given is None:
        return end
    at = end_of_day(given)
    day = at.date().isoformat()
    start = None if data_start is None else as_cutoff(data_start)
    if start is not None and at < start:
        raise DataError([Problem(
            f"{source} {day} is before the data starts: the transactions run from "
            f"{start.date()} to {end.date()}, so no customer has a history then", key=key)])
    if at.normalize() > end.normalize():
        raise DataError([Problem(
            f"{source} {day} is after the data ends ({end.date()}): every customer would look "
            f"inactive for {(at.normalize() - end.normalize()).days} day(s) the data knows "
            f"nothing about and labels after it would be missing, not negative; omit "
            f"{source} to work as of the data end, or add the newer data", key=key)])
    return at


def plan_targets(data_end: object, time_cfg: TimeConfig,
                 targets: Sequence[str | Target] | Mapping[str, Target], *,
                 start: object | None = None, min_history_days: int = 0) -> TimePlan:
    """Place each target's cutoffs before the data end (see the module docstring).

    Parameters
    ----------
    data_end : Timestamp
        End of the data (:func:`~segml.features.timeline.data_end`); a configured
        ``time_cfg.cutoff`` replaces it (:func:`resolve_cutoff`).
    time_cfg : TimeConfig
        Horizons, ``training_cutoffs`` and ``cutoff_step_days`` (None: each target's horizon).
    targets : sequence of (str or Target), or dict of Target
        The targets to plan, in order: built-in names or :class:`~segml.targets.Target` objects
        (a declared target's comes from :func:`segml.targets.targets_of`).
    start : Timestamp, optional
        First timestamp of the data; cutoffs need ``min_history_days`` after it.
    min_history_days : int
        Days of data a cutoff needs before it (at least one day).

    Raises
    ------
    DataError
        When no target fits the history (one problem per horizon, naming the days needed and
        the ``time.*_horizon_days`` key), or the cutoff lies outside the data.
    """
    end = resolve_cutoff(time_cfg, data_end, data_start=start)
    first = None if start is None else as_cutoff(start)
    history = pd.Timedelta(days=min_history_days)
    plans: dict[str, TargetPlan] = {}
    skipped: dict[str, Problem] = {}

    def usable(c: pd.Timestamp) -> bool:
        return first is None or (c > first and c - first >= history)

    specs = resolve_targets(targets)
    horizons = target_horizons(time_cfg, specs)
    for spec in specs:
        name = spec.name
        horizon = horizons[name]
        days = pd.Timedelta(days=horizon)
        step = pd.Timedelta(days=time_cfg.cutoff_step_days or horizon)
        evaluation = end - days
        ks = range(time_cfg.training_cutoffs - 1, -1, -1)
        train = [c for c in (evaluation - days - k * step for k in ks) if usable(c)]
        refit = [c for c in (evaluation - k * step for k in ks) if usable(c)]
        if not train:
            skipped[name] = _too_short(spec, horizon, first, end, min_history_days, specs)
            continue
        plans[name] = TargetPlan(name, horizon, train, evaluation, refit)
    if not plans:
        raise DataError([Problem(p.message, table=p.table, column=p.column, key=p.key)
                         for p in TimePlan(end, first, {}, skipped).warnings()])
    return TimePlan(end, first, plans, skipped)


def _too_short(spec: Target, horizon: int, first: pd.Timestamp | None,
               end: pd.Timestamp, min_history_days: int, targets: list[Target]) -> Problem:
    name, key = spec.name, spec.horizon_setting
    sharing = [t.name for t in targets if t.horizon_setting == key]
    who = " and ".join(sharing) if len(sharing) > 1 else name
    needed = 2 * horizon + max(min_history_days, 1)
    covered = 0 if first is None else (end - first).days
    fits = (covered - max(min_history_days, 1)) // 2
    hint = (f"shorten {key} (at most {fits} days fits this history) or bring more history"
            if fits >= 1 else "bring more history")
    what = "target" if len(sharing) == 1 else "targets"
    return Problem(
        f"{what} {who} skipped: a {horizon}-day horizon needs at least {needed} days of history "
        f"(a {horizon}-day evaluation window, a {horizon}-day training label window and "
        f"{min_history_days} days of data before the first training cutoff, "
        f"readiness.min_history_days); the data covers {covered} days "
        f"({'?' if first is None else first.date()}..{end.date()}); {hint}",
        severity="warning", table="transactions", column="timestamp", key=key)


__all__ = ["TargetPlan", "TimePlan", "feature_horizons", "plan_targets", "resolve_cutoff",
           "resolve_targets", "target_horizons"]
