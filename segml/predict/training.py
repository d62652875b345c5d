"""How a :class:`~segml.predict.models.Predictor` fits its candidates (a mixin of it).

The steps :meth:`Predictor.fit <segml.predict.models.Predictor.fit>` runs in order: the labelled
rows (NaN labels dropped, a stratified sample above ``max_train_rows``), each candidate part on
each validation fold (side by side on the free cores), the calibration on the winner's held-out
margins, and the final fit of the winner's parts on all rows. :data:`TUNING_SPACE` is the random
search of ``tuning_trials``.

Example
-------
>>> import pandas as pd
>>> label_of("spend", pd.DataFrame({"future_spend": [0.0, 3.5]})).tolist()
[0.0, 3.5]
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from segml.config import SHALLOW_LGBM
from segml.errors import DataError, Problem
from segml.predict.calibration import Calibrator, choose_calibration
from segml.predict.candidates import Fold
from segml.predict.linear import LinearModel
from segml.predict.resources import available_cores, train_threads
from segml.sampling import stratified_sample
from segml.targets import target as target_of

logger = logging.getLogger("segml.predict.models")

TUNING_SPACE = {
    "learning_rate": [0.02, 0.05, 0.1],
    "num_leaves": [7, 15, 31, 63],
    "min_child_samples": [10, 20, 50, 100],
    "feature_fraction": [0.6, 0.8, 1.0],
    "lambda_l2": [0.0, 1.0, 10.0],
}


def label_of(target: str, y: pd.Series | pd.DataFrame) -> pd.Series:
    """The label Series of ``target`` from a Series or the labels frame ``Y``.

    Example
    -------
    >>> label_of("spend", pd.DataFrame({"future_spend": [0.0, 3.5]})).tolist()
    [0.0, 3.5]
    """
    spec = target_of(target)
    if isinstance(y, pd.DataFrame):
        column = spec.label_column
        if column not in y.columns:
            raise DataError([Problem(f"label column '{column}' for target '{target}' is missing",
                                     table="labels", column=column)])
        return y[column]
    return pd.Series(y) if not isinstance(y, pd.Series) else y


class CandidateFitting:
    """The fitting steps of :class:`~segml.predict.models.Predictor` (its parameters on
    ``self``)."""

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
        label = np.asarray(label_of(self.target, y), dtype=float)
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
            model = LinearModel(categorical=self.categorical_positions(), C=self.logreg_c).fit(
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
        if not self.is_classifier:
            return
        method = self.calibration
        if method == "auto":
            method, self.calibration_scores_ = choose_calibration(margin, label, seed=self.seed)
        self.calibration_ = method
        self.calibrator_ = Calibrator(method).fit(margin, label)

    def _final_fit(self, weights, data, matrix, label, rounds, last, params_of) -> None:
        self.booster_, self.linear_, self.params_, self.best_iteration_ = None, None, {}, 0
        booster_weight = linear_weight = 0.0
        for name, weight in weights.items():
            if name == "logreg":
                self.linear_ = (LinearModel(categorical=self.categorical_positions(), C=self.logreg_c).fit(
                    matrix, label) if self.refitted_ else last[name])
                linear_weight = weight
                continue
            params = params_of[name]
            best = max(1, int(round(float(np.mean(rounds[name])))))
            if self.refitted_:
                booster = lgb.train(params, lgb.Dataset(data, label, free_raw_data=True),
                                    num_boost_round=best)
            else:
                booster = lgb.Booster(model_str=last[name].model_to_string(num_iteration=best))
            self.booster_, self.params_, self.best_iteration_ = booster, params, best
            booster_weight = weight
        self.weights_ = (booster_weight, linear_weight)

    def _check_label(self, label: np.ndarray) -> None:
        column = target_of(self.target).label_column
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


__all__ = ["TUNING_SPACE", "CandidateFitting", "label_of"]
