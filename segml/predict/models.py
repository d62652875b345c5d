"""Predictors for churn, purchase, high CLV (classifiers) and future spend (regressor).

Training (:meth:`Predictor.fit`, :meth:`Predictor.refit_on`) follows the recipe of
:mod:`segml.predict.training`: validation rows, candidates compared on them, calibration on the
winner's held-out margins, the final fit on all rows; :mod:`segml.predict.predictor_state` turns a
fitted predictor into data and back.

Future spend is zero-inflated. Its candidates are LightGBM boosters with the **Tweedie** objective
(compound Poisson-Gamma, log link, ``tweedie_variance_power`` 1.5), which models the point mass at
zero and the skewed positive part together; SHAP contributions add up to ``log(predicted spend)``.

Categorical columns (pandas ``category``, ``str``/``object`` or ``bool``) are passed to LightGBM as
``category`` with the training categories (to the logistic regression as indicators); values
unseen at training become missing. Training is deterministic for a given seed.

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"recency_days": rng.exponential(60, 600), "frequency": rng.poisson(3, 600) * 1.0})
>>> y = pd.Series((rng.random(600) < 1 / (1 + np.exp(-(X.recency_days - 60) / 30))).astype(float))
>>> pred = Predictor(target="churn", n_estimators=30, seed=1).fit(X, y)
>>> p = pred.predict_proba(X)[:, 1]
>>> bool(((p >= 0) & (p <= 1)).all()), pred.feature_names_, pred.winner_ in pred.candidate_scores_
(True, ['recency_days', 'frequency'], True)
>>> sorted(set(pred.predict(X).tolist())) == [0.0, 1.0]     # labels, as in scikit-learn
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from segml.predict.matrix import FeatureColumns, as_frame
from segml.predict.predictor_state import PredictorState
from segml.predict.training import CandidateFitting, label_of
from segml.predict.trees import raw_score
from segml.targets import target as target_of

REFIT_MAX_ROWS = 200_000


def _is_classifier(predictor: Predictor) -> bool:
    return predictor.is_classifier


class Predictor(CandidateFitting, PredictorState, FeatureColumns, BaseEstimator):
    """The calibrated model of one target, chosen among candidates (scikit-learn contract).

    Parameters
    ----------
    target : str
        A target of :data:`segml.targets.TARGETS` (classifier or regressor).
    n_estimators, learning_rate, num_leaves, min_child_samples, early_stopping_rounds
        The ``lgbm`` candidate's settings (``config.models``); ``early_stopping_rounds=None``
        trains exactly ``n_estimators`` rounds (what :meth:`refit_on` does with the rounds
        chosen before).
    calibration : {"auto", "isotonic", "sigmoid", "none"}
        Classifier calibration on the held-out rows; ``auto``: the lowest cross-validated ECE
        among the methods tied on log loss (:func:`~segml.predict.calibration.choose_calibration`).
    tuning_trials : int
        Extra random-search trials for the ``lgbm`` candidate (0: none).
    lgbm_params : dict, optional
        Extra parameters of the ``lgbm`` candidate, applied last (they win).
    seed : int
    refit : bool or None
        Retrain the winner on all rows after validation; None: up to ``refit_max_rows`` rows
        (always after inner folds).
    validation_fraction : float
        Held-out share when neither cutoffs nor inner folds apply.
    tweedie_variance_power : float
        Tweedie power of the spend candidates (1 = Poisson, 2 = Gamma).
    max_bin : int
        Histogram bins per feature (``config.models.max_bin``).
    max_train_rows : int or None
        Above this many labelled rows, train on a seeded sample of this size stratified by cutoff
        and label (None: every row).
    refit_max_rows : int
    num_threads : int or None
        LightGBM threads (None: 1 below 100k rows, else up to 4).
    candidates : sequence of str or None
        Candidates to compare (None: all that apply, :mod:`segml.predict.candidates`).
    shallow_params : dict or None
        The ``lgbm_shallow`` candidate's LightGBM settings (``n_estimators`` among them);
        None: :data:`segml.config.SHALLOW_LGBM`.
    logreg_c : float
        Inverse L2 strength of the ``logreg`` candidate.
    inner_folds : int
        Validation folds without cutoffs (attributes mode).
    blend_parts : tuple of str or None
        The blend's parts (None: the better LightGBM variant and ``logreg``).
    candidate_max_rows : int or None
        When candidates are compared (the evaluation fit), at most this many rows, a seeded
        sample stratified by cutoff and label (None: up to ``max_train_rows``). The refit of the
        chosen recipe (:meth:`refit_on`) trains on up to ``max_train_rows``.
    max_depth : int
        Depth limit of the ``lgbm`` candidate's trees (-1: none). A path through at most 16
        features keeps the exact SHAP tables of :mod:`segml.predict.treeshap` applicable.

    Attributes
    ----------
    winner_ : str
        The chosen candidate.
    candidate_scores_ : dict
        Held-out headline metric of every candidate.
    booster_ : lightgbm.Booster or None
        The LightGBM part of the winner (None when the logistic regression won).
    linear_ : LinearModel or None
        The logistic-regression part of the winner.
    weights_ : tuple of float
        Weights of the booster's and the linear model's log-odds in the margin.
    calibrator_ : Calibrator or None
    calibration_ : str or None
        The calibration method used.
    best_iteration_ : int
        Rounds of the booster part (0 without one).
    feature_names_, categories_ : list, dict
        Training columns and their categories (:class:`~segml.predict.matrix.FeatureColumns`).
    n_rows_available_, n_train_rows_ : int
    refitted_ : bool
    params_ : dict
        The booster part's LightGBM parameters.
    validation_ : str
        How the held-out rows were chosen.
    baselines_ : dict
        Baselines fitted on the same training rows (set by :func:`fit_predictor`).

    Example
    -------
    >>> Predictor(target="spend").get_params()["target"]
    'spend'
    """

    def __init__(
        self,
        *,
        target: str = "churn",
        n_estimators: int = 400,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        early_stopping_rounds: int | None = 50,
        calibration: str = "auto",
        tuning_trials: int = 0,
        lgbm_params: dict[str, Any] | None = None,
        seed: int = 42,
        refit: bool | None = None,
        validation_fraction: float = 0.15,
        tweedie_variance_power: float = 1.5,
        max_bin: int = 255,
        max_train_rows: int | None = 300_000,
        refit_max_rows: int = REFIT_MAX_ROWS,
        num_threads: int | None = None,
        candidates: tuple[str, ...] | None = None,
        shallow_params: dict[str, Any] | None = None,
        logreg_c: float = 1.0,
        inner_folds: int = 3,
        blend_parts: tuple[str, str] | None = None,
        candidate_max_rows: int | None = 100_000,
        max_depth: int = 12,
    ):
        self.target = target
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.early_stopping_rounds = early_stopping_rounds
        self.calibration = calibration
        self.tuning_trials = tuning_trials
        self.lgbm_params = lgbm_params
        self.seed = seed
        self.refit = refit
        self.validation_fraction = validation_fraction
        self.tweedie_variance_power = tweedie_variance_power
        self.max_bin = max_bin
        self.max_train_rows = max_train_rows
        self.refit_max_rows = refit_max_rows
        self.num_threads = num_threads
        self.candidates = candidates
        self.shallow_params = shallow_params
        self.logreg_c = logreg_c
        self.inner_folds = inner_folds
        self.blend_parts = blend_parts
        self.candidate_max_rows = candidate_max_rows
        self.max_depth = max_depth

    # ------------------------------------------------------------------ sklearn plumbing
    @property
    def is_classifier(self) -> bool:
        return target_of(self.target).is_classifier

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags, RegressorTags

        tags = super().__sklearn_tags__()
        if self.is_classifier:
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags(multi_class=False)
        else:
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.target_tags.required = True
        return tags

    # ------------------------------------------------------------------ prediction
    # The core reads the float matrix (FeatureColumns.matrix): the composite scorer builds it
    # once from arrays for every predictor; the DataFrame methods below wrap it.
    def margin_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Raw margin (log-odds, or log of expected spend) from the float matrix of
        :meth:`~segml.predict.matrix.FeatureColumns.matrix`."""
        booster_weight, linear_weight = self.weights_
        margin = 0.0
        if booster_weight:
            # LightGBM's raw score, from the compiled tree walk (faster, same numbers)
            margin = booster_weight * raw_score(self.booster_, matrix)
        if linear_weight:
            margin = margin + linear_weight * self.linear_.margin(matrix)
        return np.asarray(margin, dtype=np.float64)

    def contributions_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Exact SHAP values in margin space, one column per feature plus the bias (last): the
        weighted sum of the winner's parts' (TreeSHAP, linear SHAP); rows add up to the margin."""
        from segml.predict.treeshap import tree_shap

        booster_weight, linear_weight = self.weights_
        out = np.zeros((len(matrix), len(self.feature_names_) + 1))
        if booster_weight:
            out += booster_weight * tree_shap(self.booster_, matrix)
        if linear_weight:
            out += linear_weight * self.linear_.contributions(matrix)
        return out

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """:meth:`predict_value` from the float matrix (shared by models trained on the same
        columns, so a composite scorer builds it once)."""
        margin = self.margin_matrix(matrix)
        if self.is_classifier:
            return self.calibrator_.transform(margin)
        return np.exp(margin)

    def predict_margin(self, X: pd.DataFrame) -> np.ndarray:
        """Raw margin: log-odds (classifiers) or log of expected spend."""
        return self.margin_matrix(self.matrix(as_frame(X)))

    def predict_value(self, X: pd.DataFrame) -> np.ndarray:
        """The score segml reports: the calibrated probability of the positive class
        (classifiers) or the expected future spend (regressor, >= 0)."""
        check_is_fitted(self, "weights_")
        return self.predict_matrix(self.matrix(as_frame(X)))

    @property
    def classes_(self) -> np.ndarray:
        """The labels of a classifier: 0 and 1."""
        if not self.is_classifier:
            raise AttributeError("a regressor has no classes_")
        return np.array([0.0, 1.0])

    @available_if(_is_classifier)
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities of the classes 0 and 1, one row per row of ``X``."""
        p = self.predict_value(X)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """scikit-learn's ``predict``: the label (0 or 1, a calibrated probability of at least
        0.5) of a classifier, the expected future spend of the regressor."""
        value = self.predict_value(X)
        return (value >= 0.5).astype(np.float64) if self.is_classifier else value

    def __repr__(self) -> str:
        fitted = (f", winner={self.winner_!r}, best_iteration={self.best_iteration_}"
                  if hasattr(self, "best_iteration_") else "")
        return f"Predictor(target={self.target!r}{fitted})"


def fit_predictor(
    target: str,
    X: pd.DataFrame,
    y,
    models=None,
    seed: int = 42,
    cutoff=None,
    *,
    baselines: bool = True,
    baseline_max_rows: int = 200_000,
    refit: bool | None = None,
) -> Predictor:
    """Fit the :class:`Predictor` for ``target`` from ``config.models`` (plus its baselines).

    Parameters
    ----------
    target : str
        A target of :data:`segml.targets.TARGETS`.
    X, y, cutoff
        See :meth:`Predictor.fit`.
    models : segml.config.ModelsConfig, optional
        Model settings; None: the defaults.
    baselines : bool
        Also fit the baselines on the same training rows (``pred.baselines_``), on a seeded sample
        of at most ``baseline_max_rows`` rows.
    refit : bool, optional
        See :class:`Predictor` (None: automatic by size).

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from segml.config import ModelsConfig
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"recency_days": rng.exponential(60, 400)})
    >>> y = pd.Series((X.recency_days > 60).astype(float))
    >>> pred = fit_predictor("churn", X, y, ModelsConfig(n_estimators=20), seed=0)
    >>> sorted(pred.baselines_)
    ['logreg', 'recency']
    """
    from segml.config import ModelsConfig
    from segml.predict.baselines import fit_baselines

    models = models or ModelsConfig()
    pred = Predictor(
        target=target,
        n_estimators=models.n_estimators,
        learning_rate=models.learning_rate,
        num_leaves=models.num_leaves,
        min_child_samples=models.min_child_samples,
        early_stopping_rounds=models.early_stopping_rounds,
        calibration=models.calibration,
        tuning_trials=models.tuning_trials,
        lgbm_params=dict(models.lgbm_params),
        seed=seed,
        refit=refit,
        max_bin=models.max_bin,
        max_train_rows=models.max_train_rows,
        refit_max_rows=models.refit_max_rows,
        num_threads=models.num_threads,
        candidates=tuple(models.candidates),
        shallow_params=dict(models.shallow_params),
        logreg_c=models.logreg_c,
        inner_folds=models.inner_folds,
        candidate_max_rows=models.candidate_max_rows,
        max_depth=models.max_depth,
    ).fit(X, y, cutoff=cutoff)
    pred.baselines_ = {}
    if baselines:
        label = label_of(target, y)
        pred.baselines_ = fit_baselines(target, X, label, seed=seed, max_rows=baseline_max_rows)
    return pred
