"""Predictors for churn, purchase, high CLV (classifiers) and future spend (regressor).

Training (:meth:`Predictor.fit`, :meth:`Predictor.refit_on`) follows the recipe of
:mod:`segml.predict.training`: validation rows, candidates compared on them, calibration on the
winner's held-out margins, the final fit on all rows. The predictor holds what it learnt: the
feature columns (``columns_``, :class:`~segml.predict.matrix.FeatureColumns`) and the winner's
parts; :meth:`Predictor.to_state` / :meth:`Predictor.from_state` turn it into data and back.

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

import inspect
from collections.abc import Mapping
from typing import Any, Self

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from segml.config import ModelsConfig
from segml.config.section import check_parameters, field_defaults, shared_values
from segml.predict.calibration import Calibrator
from segml.predict.linear import LinearModel
from segml.predict.matrix import FeatureColumns, as_frame
from segml.predict.training import CandidateSearch, FittedPredictor, label_of, refit_params
from segml.predict.trees import raw_score
from segml.targets import Target, as_target, target_name

#: config.models' defaults: the defaults of the Predictor parameters of the same names (a dict
#: default is None here, which the predictor reads as the section's default; a list a tuple).
_MODELS = field_defaults(ModelsConfig)
REFIT_MAX_ROWS = _MODELS["refit_max_rows"]


#: Fitted attributes stored as they are in the model state (plain values).
_PLAIN_STATE = ("feature_names_", "categories_", "booster_feature_names_", "winner_",
                "candidate_scores_", "calibration_", "calibration_scores_", "best_iteration_",
                "params_", "n_rows_available_", "n_train_rows_", "refitted_", "validation_",
                "base_rate_", "kind_")
#: Of them, the feature columns' (held in ``columns_``).
_COLUMN_STATE = ("feature_names_", "categories_", "booster_feature_names_")


def _is_classifier(predictor: Predictor) -> bool:
    return predictor.is_classifier


def _plain_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else dict(v) if isinstance(v, dict) else v)
            for k, v in params.items()}


class Predictor(BaseEstimator):
    """The calibrated model of one target, chosen among candidates (scikit-learn contract).

    The parameters named like the fields of ``config.models``
    (:class:`~segml.config.ModelsConfig`) take their defaults and their rules from there
    (:func:`fit_predictor` passes the section's values); :meth:`fit` checks them first.

    Parameters
    ----------
    target : str or Target
        The name of a built-in target (:data:`segml.targets.TARGETS`) or a
        :class:`~segml.targets.Target` (a declared one comes from
        :func:`segml.targets.targets_of`); classifier or regressor. Stored as given, read in
        :meth:`fit`.
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
        Candidates to compare, those that apply to the target (None: all that apply,
        :mod:`segml.predict.candidates`).
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
    columns_ : FeatureColumns
        The training columns and their categories; ``feature_names_``, ``categories_``,
        ``booster_feature_names_`` and ``n_features_in_`` read them.
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
        target: str | Target = "churn",
        n_estimators: int = _MODELS["n_estimators"],
        learning_rate: float = _MODELS["learning_rate"],
        num_leaves: int = _MODELS["num_leaves"],
        min_child_samples: int = _MODELS["min_child_samples"],
        early_stopping_rounds: int | None = _MODELS["early_stopping_rounds"],
        calibration: str = _MODELS["calibration"],
        tuning_trials: int = _MODELS["tuning_trials"],
        lgbm_params: dict[str, Any] | None = None,  # None: config.models' default, none
        seed: int = 42,
        refit: bool | None = None,
        validation_fraction: float = 0.15,
        tweedie_variance_power: float = 1.5,
        max_bin: int = _MODELS["max_bin"],
        max_train_rows: int | None = _MODELS["max_train_rows"],
        refit_max_rows: int = _MODELS["refit_max_rows"],
        num_threads: int | None = _MODELS["num_threads"],
        candidates: tuple[str, ...] | None = tuple(_MODELS["candidates"]),
        shallow_params: dict[str, Any] | None = None,  # None: config.models' default
        logreg_c: float = _MODELS["logreg_c"],
        inner_folds: int = _MODELS["inner_folds"],
        blend_parts: tuple[str, str] | None = None,
        candidate_max_rows: int | None = _MODELS["candidate_max_rows"],
        max_depth: int = _MODELS["max_depth"],
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
        # a fitted predictor knows its kind (a declared target's model scores without the
        # config that declared it); states written before kind_ name a built-in target
        kind = getattr(self, "kind_", None)
        return kind == "classifier" if kind is not None else as_target(self.target).is_classifier

    # the feature columns' attributes, read from the fitted encoder (AttributeError unfitted)
    @property
    def feature_names_(self) -> list[str]:
        return self._columns().feature_names_

    @property
    def categories_(self) -> dict[str, list[Any]]:
        return self._columns().categories_

    @property
    def booster_feature_names_(self) -> list[str]:
        return self._columns().booster_feature_names_

    @property
    def n_features_in_(self) -> int:
        return self._columns().n_features_in_

    def _columns(self) -> FeatureColumns:
        try:
            return self.__dict__["columns_"]
        except KeyError:
            raise AttributeError("the predictor is not fitted: it has no feature columns") from None

    def matrix(self, X: pd.DataFrame) -> np.ndarray:
        """``X`` as the float matrix the models read (:meth:`FeatureColumns.matrix
        <segml.predict.matrix.FeatureColumns.matrix>` of the training columns)."""
        return self._columns().matrix(as_frame(X))

    def frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` as the frame LightGBM reads (:meth:`FeatureColumns.frame
        <segml.predict.matrix.FeatureColumns.frame>`)."""
        return self._columns().frame(as_frame(X))

    # ------------------------------------------------------------------ training
    def fit(self, X: pd.DataFrame, y, cutoff=None) -> Self:
        """Fit on the rows of ``X`` with a known label (NaN labels are dropped), following
        :mod:`segml.predict.training`.

        Parameters
        ----------
        X : DataFrame
            Features (numeric and categorical columns).
        y : Series or DataFrame
            The label (aligned by position), or the labels frame ``Y``.
        cutoff : array-like, optional
            Cutoff date of each row (stacked training cutoffs); the latest is held out.
        """
        params = self.get_params()
        check_parameters(ModelsConfig, params, "Predictor")
        self._hold(CandidateSearch(params).run(X, y, cutoff=cutoff))
        return self

    def _hold(self, fitted: FittedPredictor) -> None:
        """Keep what a training run learnt as the fitted attributes."""
        self.columns_ = fitted.columns
        self.validation_ = fitted.validation
        self.candidate_scores_ = fitted.candidate_scores
        self.winner_ = fitted.winner
        if fitted.blend_parts is not None:
            self.blend_parts_ = fitted.blend_parts
        self.refitted_ = fitted.refitted
        self.calibrator_ = fitted.calibrator
        self.calibration_ = fitted.calibration
        if fitted.calibration_scores is not None:
            self.calibration_scores_ = fitted.calibration_scores
        self.booster_ = fitted.booster
        self.linear_ = fitted.linear
        self.params_ = fitted.params
        self.best_iteration_ = fitted.best_iteration
        self.weights_ = fitted.weights
        self.n_rows_available_ = fitted.n_rows_available
        self.n_train_rows_ = fitted.n_train_rows
        self.base_rate_ = fitted.base_rate
        self.kind_ = as_target(self.target).kind

    def refit_on(self, X: pd.DataFrame, y, cutoff=None) -> Self:
        """A new predictor fitted on other rows (the freshest label windows) with the recipe this
        one chose: its winning candidate, number of rounds, tuned parameters and calibration
        method (:func:`~segml.predict.training.refit_params`).

        No early stopping and no comparison: the rows of the latest ``cutoff`` are held out only
        to fit the calibrator (on margins of models that did not learn them), then the final
        models learn every row; above ``refit_max_rows`` rows one fit learns all but a share of
        the latest cutoff's customers, on whom it is calibrated. Baselines are not refitted.

        Example
        -------
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(1)
        >>> X = pd.DataFrame({"recency_days": rng.exponential(60, 900)})
        >>> y = pd.Series((rng.random(900) < 1 / (1 + np.exp(-(X.recency_days - 60) / 30))).astype(float))
        >>> first = Predictor(target="churn", n_estimators=200, seed=1).fit(X[:600], y[:600])
        >>> fresh = first.refit_on(X[300:], y[300:])
        >>> (fresh.winner_, fresh.best_iteration_, fresh.calibration_) == (
        ...     first.winner_, first.best_iteration_, first.calibration_), fresh.refitted_
        (True, True)
        """
        check_is_fitted(self, "best_iteration_")
        params = refit_params(self.get_params(), winner=self.winner_,
                              best_iteration=self.best_iteration_, booster_params=self.params_,
                              calibration=self.calibration_,
                              blend_parts=getattr(self, "blend_parts_", None))
        fresh = type(self)(**params)
        check_parameters(ModelsConfig, fresh.get_params(), "Predictor")
        # unjudged: the fresh fit's own held-out score is never read (this one's is kept), so
        # its held-out fit is skipped where nothing else reads it either
        fresh._hold(CandidateSearch(fresh.get_params()).run(X, y, cutoff=cutoff, judged=False))
        fresh.candidate_scores_ = dict(self.candidate_scores_)
        fresh.baselines_ = {}
        return fresh

    # ------------------------------------------------------------------ model state
    def to_state(self) -> dict[str, Any]:
        """The fitted predictor as data (:mod:`segml.scoring.state`): its parameters, the fitted
        plain values, the booster as LightGBM's model string, the linear part's and the
        calibrator's arrays. The baselines (``baselines_``, the evaluation's) are not part of it.

        Example
        -------
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame({"recency_days": rng.exponential(60, 300)})
        >>> y = pd.Series((X.recency_days > 60).astype(float))
        >>> pred = Predictor(target="churn", n_estimators=20, seed=0).fit(X, y)
        >>> again = Predictor.from_state(pred.to_state())
        >>> bool((again.predict_value(X) == pred.predict_value(X)).all()), again.winner_ == pred.winner_
        (True, True)
        """
        check_is_fitted(self, "weights_")
        fitted = {name: getattr(self, name) for name in _PLAIN_STATE if hasattr(self, name)}
        # the target by name: a declared target's definition is the scorer's to store
        # (``declared_targets``), and ``kind_`` is all scoring needs of it
        params = {**self.get_params(), "target": target_name(self.target)}
        return {
            "params": _plain_params(params),
            "fitted": fitted,
            "weights": list(self.weights_),
            "blend_parts": getattr(self, "blend_parts_", None),
            "booster": None if self.booster_ is None else self.booster_.model_to_string(),
            "linear": None if self.linear_ is None else self.linear_.to_state(),
            "calibrator": None if self.calibrator_ is None else self.calibrator_.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any],
                   targets: Mapping[str, Target] | None = None) -> Self:
        """The predictor :meth:`to_state` described (scores identical to the original's).

        ``targets``: the declared targets its target may be one of (the scorer's, rebuilt from
        its stored definitions); the predictor gets that :class:`~segml.targets.Target` back.
        Without it, a declared target stays a name, which scores (``kind_``) but cannot refit.
        """
        params = dict(state["params"])
        if targets and params.get("target") in targets:
            params["target"] = targets[params["target"]]
        for name in ("candidates", "blend_parts"):
            if params.get(name) is not None:
                params[name] = tuple(params[name])
        out = cls(**params)
        fitted = state["fitted"]
        out.columns_ = FeatureColumns.fitted(*(fitted[name] for name in _COLUMN_STATE),
                                             owner=f"{target_name(out.target)} model")
        for name, value in fitted.items():
            if name not in _COLUMN_STATE:
                setattr(out, name, value)
        out.weights_ = tuple(float(w) for w in state["weights"])
        if state["blend_parts"] is not None:
            out.blend_parts_ = tuple(state["blend_parts"])
        out.booster_ = (None if state["booster"] is None
                        else lgb.Booster(model_str=state["booster"]))
        out.linear_ = None if state["linear"] is None else LinearModel.from_state(state["linear"])
        out.calibrator_ = (None if state["calibrator"] is None
                           else Calibrator.from_state(state["calibrator"]))
        out.baselines_ = {}
        return out

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
    # The core reads the float matrix (columns_.matrix): the composite scorer builds it
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
        return self.margin_matrix(self.matrix(X))

    def predict_value(self, X: pd.DataFrame) -> np.ndarray:
        """The score segml reports: the calibrated probability of the positive class
        (classifiers) or the expected future spend (regressor, >= 0)."""
        check_is_fitted(self, "weights_")
        return self.predict_matrix(self.matrix(X))

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
        return f"Predictor(target={target_name(self.target)!r}{fitted})"


def predictor_params(models: ModelsConfig) -> dict[str, Any]:
    """The :class:`Predictor` parameters ``config.models`` sets: every field named like a
    parameter (the section's other fields, ``targets``, ``cv_folds`` and ``max_eval_rows``, are
    read by the training flow and the evaluation).

    Example
    -------
    >>> predictor_params(ModelsConfig(n_estimators=20))["n_estimators"]
    20
    """
    params = shared_values(models, inspect.signature(Predictor).parameters)
    params["candidates"] = tuple(params["candidates"])  # an estimator parameter is immutable
    return params


def fit_predictor(
    target: str | Target,
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
    target : str or Target
        A built-in target's name or a :class:`~segml.targets.Target` (see :class:`Predictor`).
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
    from segml.predict.baselines import fit_baselines

    models = models or ModelsConfig()
    pred = Predictor(target=target, seed=seed, refit=refit, **predictor_params(models)).fit(
        X, y, cutoff=cutoff)
    pred.baselines_ = {}
    if baselines:
        label = label_of(target, y)
        pred.baselines_ = fit_baselines(target, X, label, seed=seed, max_rows=baseline_max_rows)
    return pred
