"""How a :class:`~segml.predict.models.Predictor` is trained: :class:`CandidateSearch` takes the
predictor's parameters and the rows and returns the fitted values (:class:`FittedPredictor`),
which the predictor holds.

Training recipe (:meth:`Predictor.fit <segml.predict.models.Predictor.fit>`, run by
:meth:`CandidateSearch.run`):

1. **Validation** (:func:`~segml.predict.candidates.validation_folds`): the rows of the latest
   training cutoff when a ``cutoff`` per row is given (time-ordered, never random across time),
   else ``inner_folds`` stratified folds (attributes mode).
2. **Candidates** (:mod:`segml.predict.candidates`) learn on the other rows: LightGBM with the
   configured settings and early stopping, a shallow additive LightGBM, a logistic regression and
   the blend of the better LightGBM with it. The best held-out headline metric (ROC AUC,
   Spearman) wins, classifiers by the one-standard-error rule (the simplest candidate within one
   paired standard error of the best); every candidate's score is kept (``candidate_scores_``).
3. **Calibration** of the classifiers on the winner's held-out margins: the method is chosen on
   them (``calibration="auto"``, :func:`~segml.predict.calibration.choose_calibration`: the
   lowest cross-validated ECE among the methods tied on log loss) or given; the calibrator never
   sees rows the scored model learned from. When the final fit learns every row after a
   latest-cutoff validation, the margins are *cross-fitted* instead (:meth:`CandidateSearch._final_fit`).
4. **Final fit**: the winner's parts retrained on *all* rows with the rounds chosen by early
   stopping (up to ``refit_max_rows`` rows, always after inner folds, ``refit`` to force), so the
   latest cutoff teaches the model too; the calibrator is kept. Above it the early-stopped fit is
   kept.

:meth:`Predictor.refit_on <segml.predict.models.Predictor.refit_on>` repeats the chosen recipe
(winner, rounds, calibration method) on other rows (:func:`refit_params`): the fresh refit on the
latest windows (``docs/cutoffs.md``).

The steps :meth:`~CandidateSearch.run` takes in order: the labelled rows (NaN labels dropped, a
stratified sample above ``max_train_rows``), each candidate part on each validation fold (side by
side on the free cores), the calibration on the winner's held-out (or cross-fitted) margins,
and the final fit of the winner's parts on all rows. :data:`TUNING_SPACE` is the random search of
``tuning_trials``.

Example
-------
>>> import pandas as pd
>>> label_of("spend", pd.DataFrame({"future_spend": [0.0, 3.5]})).tolist()
[0.0, 3.5]
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from segml.config import SHALLOW_LGBM
from segml.errors import DataError, Problem
from segml.predict.calibration import Calibrator, choose_calibration
from segml.predict.candidates import (
    LGBM_FAMILY,
    Fold,
    candidate_names,
    fitted_parts,
    headline_score,
    one_se_tolerance,
    pick_winner,
    validation_folds,
)
from segml.predict.linear import LinearModel
from segml.predict.matrix import FeatureColumns, as_frame, codes_of
from segml.predict.resources import available_cores, single_threaded_blas, train_threads
from segml.sampling import stratified_sample
from segml.targets import Target, as_target

logger = logging.getLogger("segml.predict.models")

TUNING_SPACE = {
    "learning_rate": [0.02, 0.05, 0.1],
    "num_leaves": [7, 15, 31, 63],
    "min_child_samples": [10, 20, 50, 100],
    "feature_fraction": [0.6, 0.8, 1.0],
    "lambda_l2": [0.0, 1.0, 10.0],
}


def label_of(target: str | Target, y: pd.Series | pd.DataFrame) -> pd.Series:
    """The label Series of ``target`` (a built-in name or a :class:`~segml.targets.Target`)
    from a Series or the labels frame ``Y``.

    Example
    -------
    >>> label_of("spend", pd.DataFrame({"future_spend": [0.0, 3.5]})).tolist()
    [0.0, 3.5]
    """
    spec = as_target(target)
    if isinstance(y, pd.DataFrame):
        column = spec.label_column
        if column not in y.columns:
            raise DataError([Problem(f"label column '{column}' for target '{spec.name}' is missing",
                                     table="labels", column=column)])
        return y[column]
    return pd.Series(y) if not isinstance(y, pd.Series) else y


#: Training rows up to which calibration is cross-fitted on inner_folds folds, not one split.
CROSS_FIT_ROWS = 50_000


def _rounds_of(rounds: dict[str, list[int]], name: str) -> int:
    """The final fit's rounds of a booster part: the mean of the rounds its folds stopped at."""
    return max(1, int(round(float(np.mean(rounds[name])))))


@dataclass
class FittedPredictor:
    """What :meth:`CandidateSearch.run` learns: the values a fitted
    :class:`~segml.predict.models.Predictor` holds (its attributes of the same names with a
    trailing underscore)."""

    columns: FeatureColumns
    validation: str
    candidate_scores: dict[str, float]
    winner: str
    blend_parts: tuple[str, str] | None  # the blend's parts, when the blend was a candidate
    refitted: bool
    calibrator: Calibrator | None
    calibration: str | None
    calibration_scores: dict[str, float] | None  # set when the method was chosen ("auto")
    booster: lgb.Booster | None
    linear: LinearModel | None
    params: dict[str, Any]
    best_iteration: int
    weights: tuple[float, float]
    n_rows_available: int
    n_train_rows: int
    base_rate: float


def refit_params(params: dict[str, Any], *, winner: str, best_iteration: int,
                 booster_params: dict[str, Any], calibration: str | None,
                 blend_parts: tuple[str, str] | None) -> dict[str, Any]:
    """The parameters of a predictor that repeats a fitted one's recipe on other rows: its winning
    candidate, number of rounds, tuned parameters and calibration method, with no early stopping
    and no comparison (``Predictor.refit_on``).

    Example
    -------
    >>> p = refit_params({"tuning_trials": 0, "lgbm_params": None}, winner="lgbm",
    ...                  best_iteration=37, booster_params={}, calibration=None, blend_parts=None)
    >>> p["candidates"], p["n_estimators"], p["early_stopping_rounds"], p["calibration"]
    (('lgbm',), 37, None, 'none')
    """
    tuned = ({k: booster_params[k] for k in TUNING_SPACE if k in booster_params}
             if params["tuning_trials"] else {})
    return {
        **params,
        "n_estimators": max(best_iteration, 1), "early_stopping_rounds": None,
        "tuning_trials": 0, "refit": None,
        "lgbm_params": {**(params["lgbm_params"] or {}), **tuned},
        "candidates": (winner,), "calibration": calibration or "none",
        "blend_parts": blend_parts,
    }


def fit_note(target: str | Target, rows: int, scores: dict[str, float], comparing: bool, *,
             candidate_scores: dict[str, float], winner: str, best_iteration: int,
             validation: str) -> str:
    """One line on a fit for the progress display: the selection metric and the candidates'
    ``scores``, why the winner won (the one-standard-error rule may pick a simpler candidate with
    a lower score), or, when nothing was compared (``comparing`` False), that a refit repeats
    the chosen recipe.

    Example
    -------
    >>> fit_note("churn", 1000, {}, False, candidate_scores={"lgbm": 0.8}, winner="lgbm",
    ...          best_iteration=40, validation="3 inner folds")
    'churn: refit on latest windows: lgbm, 1,000 rows, 40 rounds'
    """
    spec = as_target(target)
    target = spec.name
    if not comparing:  # a refit: the recipe is fixed, nothing was compared
        return (f"{target}: refit on latest windows: {winner}, {rows:,} rows, "
                f"{best_iteration} rounds")
    metric = "ROC AUC" if spec.is_classifier else "Spearman"
    listed = ", ".join(f"{n} {s:.4f}" for n, s in scores.items())
    finite = {n: s for n, s in candidate_scores.items() if np.isfinite(s)}
    best = max(finite, key=finite.__getitem__) if finite else winner
    if best == winner or len(finite) < 2:
        why = "the best"
    else:
        why = f"within 1 s.e. of the best ({best}), simpler"
    held_out = str(validation).replace(" (", " ").replace(")", "")
    return (f"{target}: {metric} on held-out rows, {held_out}: {listed}; "
            f"winner {winner}: {why}; {best_iteration} rounds, {rows:,} rows")


class CandidateSearch:
    """One training run of a :class:`~segml.predict.models.Predictor`: the candidates compared,
    the winner calibrated and refitted (the recipe of the module docstring).

    Parameters
    ----------
    params : dict
        The predictor's parameters (``Predictor.get_params()``), read here as attributes of the
        same names.
    """

    def __init__(self, params: dict[str, Any]):
        vars(self).update(params)
        # the predictor's target as given (a built-in's name or a Target): its Target, and its
        # name for messages (a ValueError naming the built-in targets for an unknown name)
        self.spec = as_target(self.target)
        self.target = self.spec.name
        self.is_classifier = self.spec.is_classifier

    def run(self, X: pd.DataFrame, y, cutoff=None, *, judged: bool = True) -> FittedPredictor:
        """Fit on the rows of ``X`` with a known label (NaN labels are dropped).

        Parameters
        ----------
        X : DataFrame
            Features (numeric and categorical columns).
        y : Series or DataFrame
            The label (aligned by position), or the labels frame ``Y``.
        cutoff : array-like, optional
            Cutoff date of each row (stacked training cutoffs); the latest is held out.
        judged : bool
            False when nobody reads this fit's held-out score (``Predictor.refit_on`` keeps the
            evaluation fit's): with a single candidate whose held-out margins calibrate nothing
            (the final model is cross-fitted or a regressor), the held-out fit is skipped and
            ``candidate_scores`` holds NaN. Everything the fitted predictor scores with is the
            same (:meth:`_unjudged`).
        """
        X = as_frame(X)
        comparing = bool(self.early_stopping_rounds)  # a refit: the recipe is fixed
        X, label, cut = self._labelled(X, y, cutoff, self.candidate_max_rows if comparing else None)
        self.columns = FeatureColumns(f"{self.target} model").fit(X)
        data = self.columns.frame(X)
        # a refit above refit_max_rows: one fit, calibrated on customers of the latest cutoff
        # it did not learn from (two fits of that size would double the cost)
        one_fit = not comparing and label.size > self.refit_max_rows
        folds, self.validation_ = validation_folds(
            label, cut, classifier=self.is_classifier, inner_folds=self.inner_folds,
            fraction=self.validation_fraction, seed=self.seed,
            latest_share=self.validation_fraction if one_fit else None)
        names = candidate_names(self.candidates, self.is_classifier)
        parts = fitted_parts(names, self.blend_parts)
        matrix = codes_of(data) if "logreg" in parts else None
        valid = np.concatenate([f.valid for f in folds])
        self.refitted_ = len(folds) > 1 or bool(
            self.refit if self.refit is not None else label.size <= self.refit_max_rows)
        # a model of the earlier cutoffs errs on the latest by their drift, which the final
        # model (it learns every row) does not: calibrate on margins of models like it
        cross_fit = self.is_classifier and self.refitted_ and len(folds) == 1
        unjudged = (not judged and len(names) == 1 and self.refitted_
                    and (cross_fit or not self.is_classifier)
                    and ("blend" not in names or bool(self.blend_parts)))
        if unjudged:  # nothing reads the held-out margins: skip their fit (_unjudged)
            held_out, rounds, last, params_of = self._unjudged(parts, label.size)
            scores = dict.fromkeys(parts, np.nan)
        else:
            held_out, rounds, last, params_of = self._held_out(parts, data, matrix, label, folds)
            scores = {n: headline_score(self.is_classifier, label[valid], m)
                      for n, m in held_out.items()}
        self.blend_parts_ = None
        if "blend" in names:
            tree = self.blend_parts[0] if self.blend_parts else pick_winner(scores, LGBM_FAMILY)
            self.blend_parts_ = (tree, "logreg")
            scores["blend"] = np.nan
            if not unjudged:
                held_out["blend"] = 0.5 * held_out[tree] + 0.5 * held_out["logreg"]
                scores["blend"] = headline_score(self.is_classifier, label[valid], held_out["blend"])
        self.candidate_scores_ = {n: float(scores[n]) for n in names}
        tolerance = (one_se_tolerance(label[valid], {n: held_out[n] for n in names},
                                      self.candidate_scores_)
                     if self.is_classifier and not unjudged else None)
        self.winner_ = pick_winner(self.candidate_scores_, names, tolerance)
        weights = ({self.blend_parts_[0]: 0.5, "logreg": 0.5} if self.winner_ == "blend"
                   else {self.winner_: 1.0})
        margin, outcome = (None, None) if unjudged else (held_out[self.winner_], label[valid])
        cross_margin = self._final_fit(weights, data, matrix, label, rounds, last, params_of,
                                       folds[0].valid if cross_fit else None)
        if cross_margin is not None:
            margin, outcome = cross_margin
        self._calibrate(margin, outcome)
        logger.info("%s", fit_note(self.spec, label.size, scores, comparing,
                                   candidate_scores=self.candidate_scores_, winner=self.winner_,
                                   best_iteration=self.best_iteration_,
                                   validation=self.validation_))
        return FittedPredictor(
            columns=self.columns, validation=self.validation_,
            candidate_scores=self.candidate_scores_, winner=self.winner_,
            blend_parts=self.blend_parts_, refitted=self.refitted_, calibrator=self.calibrator_,
            calibration=self.calibration_, calibration_scores=self.calibration_scores_,
            booster=self.booster_, linear=self.linear_, params=self.params_,
            best_iteration=self.best_iteration_, weights=self.weights_,
            n_rows_available=self.n_rows_available_, n_train_rows=int(label.size),
            base_rate=float(label.mean()))

    def _lgbm_params(self, name: str, n_rows: int) -> tuple[dict[str, Any], int]:
        """LightGBM parameters and the number of rounds of the ``name`` candidate."""
        if self.is_classifier:
            objective = {"objective": "binary", "metric": "binary_logloss"}
        else:
            objective = {"objective": "tweedie", "metric": "tweedie",
                         "tweedie_variance_power": self.tweedie_variance_power}
        params = {
            **objective, "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples, "max_depth": self.max_depth,
            "seed": self.seed, "deterministic": True,
            "force_row_wise": True, "max_bin": self.max_bin,
            "num_threads": train_threads(n_rows, self.num_threads), "verbosity": -1,
            # tuning trials change min_data_in_leaf on the same Dataset
            **({"feature_pre_filter": False} if self.tuning_trials else {}),
        }
        rounds = self.n_estimators
        if name == "lgbm_shallow":
            shallow = dict(SHALLOW_LGBM if self.shallow_params is None else self.shallow_params)
            shallow_rounds = int(shallow.pop("n_estimators", self.n_estimators))
            params.update(shallow)
            if "force_row_wise" not in shallow:
                # LightGBM's column-wise histograms: the same stumps (bagging and column
                # sampling included), 2.1x faster at 100k rows x 66 features (5.5 s vs 11.7 s
                # for 1,000 rounds); for the deeper lgbm trees row-wise is faster (3.5 vs 5.0 s)
                del params["force_row_wise"]
                params.setdefault("force_col_wise", True)
            if self.early_stopping_rounds:  # fixed rounds (refit_on) come in n_estimators
                rounds = shallow_rounds
        else:
            params.update(self.lgbm_params or {})
        return params, rounds

    def _boost(self, name: str, params: dict[str, Any], rounds: int, data: pd.DataFrame,
               label: np.ndarray, fold: Fold) -> lgb.Booster:
        """The ``name`` candidate's booster on ``fold.train``, early-stopped on ``fold.valid``
        (tuned first when it is ``lgbm`` and ``tuning_trials`` > 0; ``params`` is updated)."""
        train_set = lgb.Dataset(data.iloc[fold.train], label[fold.train], free_raw_data=True)
        if not self.early_stopping_rounds:
            return lgb.train(params, train_set, num_boost_round=rounds)
        valid_set = lgb.Dataset(data.iloc[fold.valid], label[fold.valid], reference=train_set)
        booster = lgb.train(params, train_set, num_boost_round=rounds, valid_sets=[valid_set],
                            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)])
        if self.tuning_trials and name == "lgbm":
            booster = self._tune(params, booster, train_set, valid_set, rounds)
        return booster

    def _tune(self, params, booster, train_set, valid_set, rounds):
        """Seeded random search; keeps the trial with the best validation score (``params`` is
        updated to it) and returns its booster."""
        metric = params["metric"]
        best_score = booster.best_score["valid_0"][metric]
        rng = np.random.default_rng(self.seed)
        for _ in range(self.tuning_trials):
            trial = dict(params)
            for key, choices in TUNING_SPACE.items():
                trial[key] = choices[int(rng.integers(len(choices)))]
            candidate = lgb.train(trial, train_set, num_boost_round=rounds, valid_sets=[valid_set],
                                  callbacks=[lgb.early_stopping(self.early_stopping_rounds,
                                                                verbose=False)])
            score = candidate.best_score["valid_0"][metric]
            if score < best_score:  # both metrics are losses
                params.update(trial)
                booster, best_score = candidate, score
        return booster

    def _labelled(self, X: pd.DataFrame, y, cutoff, cap: int | None = None):
        label = np.asarray(label_of(self.spec, y), dtype=float)
        if label.size != len(X):
            raise ValueError(f"X has {len(X)} rows but the {self.target} label has {label.size}")
        keep = ~np.isnan(label)
        X, label = X.loc[keep] if not keep.all() else X, label[keep]
        cut = None if cutoff is None else np.asarray(pd.to_datetime(pd.Series(np.asarray(cutoff))))[keep]
        self._check_label(label)
        self.n_rows_available_ = int(label.size)
        limits = [(v, key) for v, key in ((self.max_train_rows, "models.max_train_rows"),
                                          (cap, "models.candidate_max_rows")) if v]
        if limits and label.size > min(limits)[0]:
            limit, key = min(limits)
            strata = (label > 0).astype(np.int64)
            if cut is not None:
                strata = strata + 2 * pd.factorize(cut)[0]
            rows = stratified_sample(limit, strata, self.seed)
            X, label, cut = X.iloc[rows], label[rows], None if cut is None else cut[rows]
            logger.info("%s: training on a stratified sample of %d of %d rows (%s)",
                        self.target, rows.size, self.n_rows_available_, key)
        return X, label, cut

    def _held_out(self, parts, data, matrix, label, folds: list[Fold]):
        """Held-out margins of every fitted part on the validation rows (fold after fold), the
        rounds each LightGBM part stopped at, the last fold's models and each part's LightGBM
        parameters.

        The parts of a fold are fitted side by side on the cores LightGBM leaves free (each fit
        runs single-threaded below 100k rows, and LightGBM and the solver release the GIL):
        the same models as one after the other, in about half the time on two cores.
        """
        size = sum(f.valid.size for f in folds)
        held_out = {name: np.empty(size) for name in parts}
        rounds: dict[str, list[int]] = {name: [] for name in parts}
        last: dict[str, Any] = {}
        params_of = {name: self._lgbm_params(name, label.size) for name in parts if name != "logreg"}
        workers = min(len(parts), max(1, available_cores() // max(
            1, max((p["num_threads"] for p, _ in params_of.values()), default=1))))
        start = 0
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for fold in folds:
                rows = slice(start, start + fold.valid.size)
                fits = {name: pool.submit(self._fit_part, name, params_of.get(name), data, matrix,
                                          label, fold) for name in parts}
                for name, done in fits.items():  # in order: results do not depend on timing
                    model, margin, best = done.result()
                    held_out[name][rows] = margin
                    if best is not None:
                        rounds[name].append(best)
                    last[name] = model
                start += fold.valid.size
        return held_out, rounds, last, {name: p for name, (p, _) in params_of.items()}

    def _fit_part(self, name: str, lgbm: tuple[dict[str, Any], int] | None, data: pd.DataFrame,
                  matrix: np.ndarray | None, label: np.ndarray, fold: Fold):
        """One part fitted on ``fold.train``: the model, its margins on ``fold.valid`` and, for a
        booster, the rounds it stopped at."""
        if name == "logreg":
            model = LinearModel(categorical=self.columns.categorical_positions(), C=self.logreg_c).fit(
                matrix[fold.train], label[fold.train])
            return model, model.margin(matrix[fold.valid]), None
        params, n_rounds = lgbm
        model = self._boost(name, params, n_rounds, data, label, fold)
        best = int(model.best_iteration or model.current_iteration())
        margin = model.predict(data.iloc[fold.valid], raw_score=True, num_iteration=best,
                               num_threads=params["num_threads"])
        return model, margin, best

    def _calibrate(self, margin: np.ndarray, label: np.ndarray) -> None:
        self.calibrator_: Calibrator | None = None
        self.calibration_ = None
        self.calibration_scores_: dict[str, float] | None = None
        if not self.is_classifier:
            return
        method = self.calibration
        if method == "auto":
            method, self.calibration_scores_ = choose_calibration(margin, label, seed=self.seed)
        self.calibration_ = method
        self.calibrator_ = Calibrator(method).fit(margin, label)

    def _unjudged(self, parts, n_rows: int):
        """What :meth:`_held_out` returns when nobody reads the held-out margins (a refit whose
        final model is cross-fitted, or a regressor): no margins, no models, and each booster
        part's fixed rounds, which a fit without early stopping trains (``run(judged=False)``).
        The one case a held-out fit trains fewer: LightGBM finds nothing left to split in the
        earlier cutoffs' rows; the final fit then stops where its own rows leave nothing to
        split (tests/adversarial/test_refit_shortcuts.py)."""
        params_of = {name: self._lgbm_params(name, n_rows) for name in parts if name != "logreg"}
        rounds = {name: [n_rounds] for name, (_, n_rounds) in params_of.items()}
        return {}, rounds, {}, {name: p for name, (p, _) in params_of.items()}

    def _cross_folds(self, label: np.ndarray, latest: np.ndarray) -> list[Fold]:
        """The cross-fit's folds: per fold of the latest cutoff's rows (``inner_folds`` up to
        :data:`CROSS_FIT_ROWS` training rows, else one split), every other row learns."""
        inner, _ = validation_folds(label[latest], None, classifier=True, seed=self.seed,
                                    inner_folds=self.inner_folds if label.size <= CROSS_FIT_ROWS
                                    else 1, fraction=self.validation_fraction)
        rows = np.arange(label.size)
        return [Fold(np.setdiff1d(rows, latest[f.valid]), latest[f.valid]) for f in inner]

    def _fixed_part(self, name: str, lgbm: tuple[dict[str, Any], int] | None,
                    data: pd.DataFrame, matrix: np.ndarray | None, label: np.ndarray,
                    fold: Fold) -> np.ndarray:
        """Margins on ``fold.valid`` of one part fitted on ``fold.train`` with fixed rounds."""
        if name == "logreg":
            model = LinearModel(categorical=self.columns.categorical_positions(), C=self.logreg_c).fit(
                matrix[fold.train], label[fold.train])
            return model.margin(matrix[fold.valid])
        params, n_rounds = lgbm
        train = lgb.Dataset(data.iloc[fold.train], label[fold.train], free_raw_data=True)
        return lgb.train(params, train, num_boost_round=n_rounds).predict(
            data.iloc[fold.valid], raw_score=True, num_threads=params["num_threads"])

    def _whole_part(self, name: str, lgbm: tuple[dict[str, Any], int] | None,
                    data: pd.DataFrame, matrix: np.ndarray | None, label: np.ndarray) -> Any:
        """One part of the final model fitted on every row with the final rounds."""
        if name == "logreg":
            return LinearModel(categorical=self.columns.categorical_positions(),
                               C=self.logreg_c).fit(matrix, label)
        params, n_rounds = lgbm
        return lgb.train(params, lgb.Dataset(data, label, free_raw_data=True),
                         num_boost_round=n_rounds)

    def _final_fit(self, weights, data, matrix, label, rounds, last, params_of,
                   latest: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """The final model's parts (on every row when ``refitted_``, else the last fold's), and
        with ``latest`` (the latest cutoff's rows) the cross-fitted margins on them and their
        labels (docs/predictions.md): per cross-fit fold the winner's parts learn every other
        row with the final rounds and score the fold.

        The final fits and the cross-fit's are independent, so all run side by side on the
        free cores, the largest (the final fits) first: each fit is the same whatever runs
        beside it (deterministic LightGBM, the exact solver), and results are read in order.
        """
        fixed = {name: (params_of[name], _rounds_of(rounds, name))
                 for name in weights if name != "logreg"}
        folds = [] if latest is None else self._cross_folds(label, latest)
        threads = max((p["num_threads"] for p, _ in fixed.values()), default=1)
        jobs = len(weights) * (len(folds) + bool(self.refitted_))
        workers = max(1, min(jobs, available_cores() // max(1, threads)))
        # BLAS limited here, around every fit: a logistic regression's own limit, restored
        # when it ends, would otherwise lift the limit under one still running beside it
        with single_threaded_blas(), ThreadPoolExecutor(max_workers=workers) as pool:
            whole = ({name: pool.submit(self._whole_part, name, fixed.get(name), data, matrix,
                                        label) for name in weights} if self.refitted_ else {})
            fits = [[(w, pool.submit(self._fixed_part, name, fixed.get(name), data, matrix,
                                     label, fold)) for name, w in weights.items()] for fold in folds]
            models = {name: (whole[name].result() if self.refitted_ else last[name])
                      for name in weights}
            margin = (np.concatenate([sum(w * done.result() for w, done in parts)
                                      for parts in fits]) if folds else None)
        self.booster_, self.linear_, self.params_, self.best_iteration_ = None, None, {}, 0
        booster_weight = linear_weight = 0.0
        for name, weight in weights.items():
            if name == "logreg":
                self.linear_, linear_weight = models[name], weight
                continue
            params, best = fixed[name]
            booster = (models[name] if self.refitted_
                       else lgb.Booster(model_str=models[name].model_to_string(num_iteration=best)))
            self.booster_, self.params_, self.best_iteration_ = booster, params, best
            booster_weight = weight
        self.weights_ = (booster_weight, linear_weight)
        return None if margin is None else (margin, label[np.concatenate([f.valid for f in folds])])

    def _check_label(self, label: np.ndarray) -> None:
        column = self.spec.label_column
        if label.size == 0:
            raise DataError([Problem(f"no rows with a known '{column}' label", table="labels", column=column)])
        if self.is_classifier:
            bad = ~np.isin(label, (0.0, 1.0))
            if bad.any():
                raise DataError([Problem(f"label is not 0/1, e.g. {np.unique(label[bad])[:3].tolist()}",
                                         table="labels", column=column)])
            if np.unique(label).size < 2:
                raise DataError([Problem(f"label is constant ({label[0]:g}): nothing to learn",
                                         table="labels", column=column)])
        elif (label < 0).any():
            raise DataError([Problem("negative future spend", table="labels", column=column)])


__all__ = ["CROSS_FIT_ROWS", "TUNING_SPACE", "CandidateSearch", "FittedPredictor", "fit_note",
           "label_of", "refit_params"]
