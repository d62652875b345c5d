"""Candidate models per target and the validation they are compared on (docs/predictions.md).

Defaults win on the data they were tuned on; a user's own table gets whatever wins on *its*
validation rows. The candidates:

==================  ==========================================================================
``lgbm``            LightGBM with the configured settings (``models.n_estimators``, ...)
``lgbm_shallow``    a shallow, additive LightGBM (``models.shallow_params``: stumps, strong
                    regularisation, column and row subsampling): a GAM for small or noisy tables
``logreg``          L2 logistic regression on the same matrix (:mod:`segml.predict.linear`)
``blend``           the average of the log-odds of the better LightGBM and the logistic regression
==================  ==========================================================================

The regressor (spend) compares the two LightGBM variants (Tweedie objective).

**Validation** (:func:`validation_folds`): in behavioural mode the rows of the latest training
cutoff, every candidate trained on the earlier cutoffs (never the evaluation window); without
cutoffs (attributes mode) ``inner_folds`` stratified folds, so every row is held out once and the
comparison does not rest on one small split.

**Choice** (:func:`pick_winner`): by the target's headline metric on the held-out rows (ROC AUC,
Spearman), with the *one-standard-error rule*: the simplest candidate whose ROC AUC is within one
standard error of the best one's (the paired DeLong error of their difference) wins. Differences
smaller than that are noise, and the simpler model is the safer bet out of time: on CDNOW's
orders the flexible booster won held-out rows by 0.001 and lost the next quarter by 0.008.
Simplest first: ``logreg``, ``lgbm_shallow``, ``lgbm``, ``blend``.

Example
-------
>>> import numpy as np
>>> folds, how = validation_folds(np.array([0, 1] * 50, dtype=float), None, classifier=True,
...                               inner_folds=3, seed=0)
>>> len(folds), how
(3, '3 inner stratified folds')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from segml.predict.metrics import auc_difference_se, roc_auc, spearman

LGBM_FAMILY = ("lgbm", "lgbm_shallow")
#: From the simplest to the most flexible, for the one-standard-error rule.
SIMPLICITY = ("logreg", "lgbm_shallow", "lgbm", "blend")
CLASSIFIER_CANDIDATES = ("lgbm", "lgbm_shallow", "logreg", "blend")
REGRESSOR_CANDIDATES = LGBM_FAMILY


@dataclass(frozen=True)
class Fold:
    """Positions of the rows a candidate learns from and of those it is judged on."""

    train: np.ndarray
    valid: np.ndarray


def validation_folds(label: np.ndarray, cutoff: np.ndarray | None, *, classifier: bool,
                     inner_folds: int = 3, fraction: float = 0.15, max_inner_rows: int = 50_000,
                     seed: int = 0, latest_share: float | None = None) -> tuple[list[Fold], str]:
    """The held-out rows candidates, early stopping and calibration are judged on.

    With a ``cutoff`` per row: the latest cutoff's rows (when both classes occur there and some
    rows are earlier), or with ``latest_share`` a stratified share of them (the other customers
    of the latest cutoff are learned from: one fit that is fresh to the latest cutoff and still
    calibrated on rows it did not learn). Otherwise ``inner_folds`` folds (stratified for
    classifiers) up to ``max_inner_rows`` rows, else one ``fraction`` split (enough rows to judge
    on, and k fits of every candidate would cost too much).

    Example
    -------
    >>> cut = np.repeat(np.array(["2024-01-01", "2024-04-01"], dtype="datetime64[ns]"), 100)
    >>> y = np.tile([0.0, 1.0], 100)
    >>> (fold,), how = validation_folds(y, cut, classifier=True, latest_share=0.2)
    >>> fold.valid.size, bool((fold.valid >= 100).all()), how
    (20, True, '20% of the latest training cutoff (2024-04-01)')
    """
    n = label.size
    if cutoff is not None and latest_share:
        latest = np.flatnonzero(cutoff == cutoff.max())
        strata = (label[latest] > 0).astype(int)
        if latest.size < n and np.bincount(strata, minlength=2).min() >= 2:
            _, held = train_test_split(latest, test_size=latest_share, random_state=seed,
                                       stratify=strata if classifier else None)
            valid = np.sort(held)
            day = pd.Timestamp(cutoff.max()).date()
            return [Fold(np.setdiff1d(np.arange(n), valid), valid)], (
                f"{latest_share:.0%} of the latest training cutoff ({day})")
    if cutoff is not None:
        latest = cutoff == cutoff.max()
        if 0 < latest.sum() < n and (not classifier or np.unique(label[latest]).size == 2):
            day = pd.Timestamp(cutoff.max()).date()
            return [Fold(np.flatnonzero(~latest), np.flatnonzero(latest))], (
                f"latest training cutoff ({day})")
    strata = (label > 0).astype(int)
    smallest = int(np.bincount(strata, minlength=2).min()) if classifier else n
    if inner_folds >= 2 and n <= max_inner_rows and smallest >= inner_folds:
        splitter = (StratifiedKFold(inner_folds, shuffle=True, random_state=seed)
                    if classifier else KFold(inner_folds, shuffle=True, random_state=seed))
        folds = [Fold(np.sort(a), np.sort(b)) for a, b in splitter.split(np.zeros(n), strata)]
        kind = "stratified " if classifier else ""
        return folds, f"{inner_folds} inner {kind}folds"
    stratify = strata if np.bincount(strata, minlength=2).min() >= 2 else None
    train, valid = train_test_split(np.arange(n), test_size=fraction, random_state=seed,
                                    stratify=stratify)
    return [Fold(np.sort(train), np.sort(valid))], f"stratified {fraction:.0%} split"


def headline_score(classifier: bool, label: np.ndarray, margin: np.ndarray) -> float:
    """ROC AUC of the margins (classifiers) or Spearman of the predictions (regressor); the
    ranking is all either needs, so raw margins will do."""
    if classifier:
        return roc_auc(label, margin)
    return spearman(label, margin)


def candidate_names(requested: tuple[str, ...] | list[str] | None, classifier: bool
                    ) -> tuple[str, ...]:
    """The requested candidates this kind of target can use, in order (None: all of them).

    A blend needs a LightGBM variant and the logistic regression beside it.

    Example
    -------
    >>> candidate_names(None, classifier=False)
    ('lgbm', 'lgbm_shallow')
    >>> candidate_names(["blend"], classifier=True)
    ('blend',)
    """
    allowed = CLASSIFIER_CANDIDATES if classifier else REGRESSOR_CANDIDATES
    names = tuple(requested) if requested else allowed
    unknown = [n for n in names if n not in CLASSIFIER_CANDIDATES]
    if unknown:
        raise ValueError(f"unknown candidate(s) {unknown}; valid: {list(CLASSIFIER_CANDIDATES)}")
    kept = tuple(n for n in names if n in allowed)
    return kept or ("lgbm",)


def fitted_parts(names: tuple[str, ...], blend_parts: tuple[str, str] | None) -> tuple[str, ...]:
    """The models to fit for candidates ``names`` (a blend fits its parts).

    Example
    -------
    >>> fitted_parts(("blend",), ("lgbm_shallow", "logreg"))
    ('lgbm_shallow', 'logreg')
    """
    parts = [n for n in names if n != "blend"]
    if "blend" in names:
        parts += list(blend_parts) if blend_parts else [*LGBM_FAMILY, "logreg"]
    return tuple(dict.fromkeys(parts))


def pick_winner(scores: dict[str, float], order: tuple[str, ...],
                tolerance: dict[str, float] | None = None) -> str:
    """The candidate to register.

    Without ``tolerance``: the best score, a tie (within 1e-6) going to the earlier candidate in
    ``order``. With it (candidate -> standard error of its difference to the best): the simplest
    candidate (:data:`SIMPLICITY`) within its tolerance of the best score.

    Example
    -------
    >>> pick_winner({"lgbm": 0.8, "logreg": 0.81, "blend": 0.81}, ("lgbm", "logreg", "blend"))
    'logreg'
    >>> pick_winner({"lgbm": 0.803, "logreg": 0.800}, ("lgbm", "logreg"), {"logreg": 0.004})
    'logreg'
    """
    finite = {n: s for n, s in scores.items() if n in order and np.isfinite(s)}
    if not finite:
        return order[0]
    best = max(finite.values())
    if tolerance:
        for name in sorted(finite, key=lambda n: SIMPLICITY.index(n) if n in SIMPLICITY else 99):
            if finite[name] >= best - max(tolerance.get(name, 0.0), 1e-6):
                return name
    return next(n for n in order if n in finite and finite[n] >= best - 1e-6)


def one_se_tolerance(label: np.ndarray, held_out: dict[str, np.ndarray],
                     scores: dict[str, float]) -> dict[str, float]:
    """Per candidate, the standard error of its held-out ROC AUC's difference to the best's.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> y = (rng.random(500) < 0.5).astype(float)
    >>> m = {"a": y + rng.normal(0, 1, 500), "b": y + rng.normal(0, 1, 500)}
    >>> tol = one_se_tolerance(y, m, {n: headline_score(True, y, v) for n, v in m.items()})
    >>> sorted(tol), bool(all(0 <= v < 0.05 for v in tol.values()))
    (['a', 'b'], True)
    """
    best = max(scores, key=lambda n: scores[n] if np.isfinite(scores[n]) else -np.inf)
    out = {}
    for name in scores:
        se = 0.0 if name == best else auc_difference_se(label, held_out[best], held_out[name])
        out[name] = float(se) if np.isfinite(se) else 0.0
    return out


__all__ = ["CLASSIFIER_CANDIDATES", "Fold", "LGBM_FAMILY", "REGRESSOR_CANDIDATES", "SIMPLICITY",
           "candidate_names", "fitted_parts", "headline_score", "one_se_tolerance", "pick_winner",
           "validation_folds"]
