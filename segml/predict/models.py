"""LightGBM predictors for churn, purchase, high CLV (classifiers) and future spend (regressor).

Training recipe (:meth:`Predictor.fit`):

1. A held-out validation slice: the rows of the **latest training cutoff** when a ``cutoff``
   Series is given (time-ordered, never random across time), else a stratified 15 % split
   (attributes mode).
2. LightGBM is trained on the other rows with early stopping on that slice (optionally a small
   seeded random search over a few parameters when ``tuning_trials > 0``: each trial is scored on
   the same slice and the best kept).
3. Classifiers: a :class:`~segml.predict.calibration.Calibrator` is fitted on the slice's raw
   margins (held-out rows, so calibration is honest).
4. Refit (default up to ``refit_max_rows`` = 300k rows, ``refit`` to force): the final booster
   is retrained on *all* rows with the best number of rounds, so the most recent cutoff also
   teaches the model; the calibrator (fitted on the held-out margins of the early-stopping
   booster) is kept. Above it the early-stopped booster is kept (it saw 85 % of the rows).

Speed (``config.models``): above ``max_train_rows`` labelled rows (default 500k) the model trains
on a seeded sample of that size, stratified by cutoff and label; ``max_bin`` (default 255) sets the
histogram resolution; ``num_threads`` the LightGBM threads. See ``docs/predictions.md``.

Future spend is zero-inflated. It uses one LightGBM booster with the **Tweedie** objective
(compound Poisson-Gamma, log link, ``tweedie_variance_power`` 1.5), which models the point mass at
zero and the skewed positive part together. Chosen over a two-part model because one booster keeps
SHAP reasons exact (contributions add up to ``log(predicted spend)``), halves scoring cost and
needs no product of two separately-calibrated pieces; its predictions are mean-unbiased by
construction of the log-link likelihood.

Categorical columns (pandas ``category``, ``str``/``object`` or ``bool``) are passed to LightGBM as
``category`` with the training categories; values unseen at training become missing at predict
time. Training is deterministic for a given seed (``deterministic=True``, row-wise histograms, a
fixed thread count).

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"recency_days": rng.exponential(60, 600), "frequency": rng.poisson(3, 600) * 1.0})
>>> y = pd.Series((rng.random(600) < 1 / (1 + np.exp(-(X.recency_days - 60) / 30))).astype(float))
>>> pred = Predictor("churn", n_estimators=30, seed=1).fit(X, y)
>>> p = pred.predict(X)
>>> bool(((p >= 0) & (p <= 1)).all()), pred.feature_names_
(True, ['recency_days', 'frequency'])
"""

from __future__ import annotations

import logging
import re
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from segml.errors import DataError, Problem
from segml.predict.calibration import Calibrator
from segml.predict.resources import stratified_sample, train_threads
from segml.predict.trees import raw_score
from segml.targets import target as target_of

logger = logging.getLogger(__name__)

REFIT_MAX_ROWS = 300_000
_TUNING_SPACE = {
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


def _safe_names(names: list[str]) -> list[str]:
    """LightGBM-safe, unique feature names (JSON special characters replaced)."""
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        safe = re.sub(r"[^0-9A-Za-z_]", "_", str(name)) or "f"
        base, i = safe, 1
        while safe in seen:
            safe, i = f"{base}_{i}", i + 1
        seen.add(safe)
        out.append(safe)
    return out


def _is_categorical(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series)
    ) or pd.api.types.is_bool_dtype(series)


def _recode(series: pd.Series, known: list[Any]) -> pd.Series:
    """``series`` as a categorical with exactly the training categories (unseen -> missing)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.set_categories(known)
    return pd.Series(pd.Categorical(series.where(series.isin(known)), categories=known), index=series.index)


class Predictor:
    """A calibrated LightGBM model for one target (scikit-learn estimator contract).

    Parameters
    ----------
    target : str
        A target of :data:`segml.targets.TARGETS` (classifier or regressor).
    n_estimators, learning_rate, num_leaves, min_child_samples, early_stopping_rounds
        LightGBM settings (``config.models``).
    calibration : {"isotonic", "sigmoid", "none"}
        Classifier calibration fitted on the held-out validation slice (ignored for spend).
    tuning_trials : int
        Extra random-search trials (0: none).
    lgbm_params : dict, optional
        Extra LightGBM parameters, applied last (they win).
    seed : int
    refit : bool or None
        Retrain on all rows with the best iteration after early stopping; None (default): only
        up to ``refit_max_rows`` rows, where the held-out slice is a large share of the data
        (above it the slice is big enough on its own and refitting would double the cost).
    validation_fraction : float
        Size of the stratified validation split when no cutoff is given.
    tweedie_variance_power : float
        Tweedie power for the spend model (1 = Poisson, 2 = Gamma).
    max_bin : int
        Histogram bins per feature (``config.models.max_bin``).
    max_train_rows : int or None
        Above this many labelled rows, train on a seeded sample of this size stratified by cutoff
        and label (None: every row).
    refit_max_rows : int
        Automatic refit (``refit=None``) only up to this many rows.
    num_threads : int or None
        LightGBM threads (None: 1 below 100k rows, else up to 4).

    Attributes
    ----------
    booster_ : lightgbm.Booster
    feature_names_ : list of str
        Training columns, in order; ``predict`` needs them (extra columns are ignored).
    categories_ : dict
        Training categories per categorical column.
    best_iteration_ : int
    n_rows_available_, n_train_rows_ : int
        Labelled rows given, and rows actually used (after the ``max_train_rows`` sample).
    refitted_ : bool
        Whether the final booster was retrained on all (sampled) rows.
    calibrator_ : Calibrator or None
    params_ : dict
        The LightGBM parameters used (after tuning).
    validation_ : str
        How the validation slice was chosen.
    baselines_ : dict
        Baselines fitted on the same training rows (set by :func:`fit_predictor`).

    Example
    -------
    >>> Predictor("spend").get_params()["target"]
    'spend'
    """

    def __init__(
        self,
        target: str = "churn",
        n_estimators: int = 400,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        early_stopping_rounds: int | None = 50,
        calibration: str = "isotonic",
        tuning_trials: int = 0,
        lgbm_params: dict[str, Any] | None = None,
        seed: int = 42,
        refit: bool | None = None,
        validation_fraction: float = 0.15,
        tweedie_variance_power: float = 1.5,
        max_bin: int = 255,
        max_train_rows: int | None = 500_000,
        refit_max_rows: int = REFIT_MAX_ROWS,
        num_threads: int | None = None,
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

    # ------------------------------------------------------------------ sklearn plumbing
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        names = self.__init__.__code__.co_varnames[1 : self.__init__.__code__.co_argcount]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params: Any) -> Predictor:
        for name, value in params.items():
            setattr(self, name, value)
        return self

    @property
    def is_classifier(self) -> bool:
        return target_of(self.target).is_classifier

    # ------------------------------------------------------------------ data preparation
    def _learn_columns(self, X: pd.DataFrame) -> None:
        problems = []
        self.feature_names_ = [str(c) for c in X.columns]
        self.categories_: dict[str, list[Any]] = {}
        for column in X.columns:
            series = X[column]
            if pd.api.types.is_datetime64_any_dtype(series):
                problems.append(Problem(f"feature column has a datetime dtype ({series.dtype}); "
                                        "convert it to days first", table="features", column=str(column)))
            elif _is_categorical(series):
                values = series.astype("category") if not isinstance(series.dtype, pd.CategoricalDtype) else series
                self.categories_[str(column)] = list(values.cat.remove_unused_categories().cat.categories)
        if problems:
            raise DataError(problems)
        self.booster_feature_names_ = _safe_names(self.feature_names_)

    def _prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` restricted to the training columns, with training dtypes and safe names."""
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            raise DataError([Problem(f"feature column '{c}' used by the {self.target} model is missing",
                                     table="features", column=c) for c in missing])
        columns = {}
        for name, safe in zip(self.feature_names_, self.booster_feature_names_, strict=True):
            series = X[name]
            if name in self.categories_:
                columns[safe] = _recode(series, self.categories_[name])
            else:
                try:
                    columns[safe] = pd.to_numeric(series, errors="raise").to_numpy(dtype="float64", na_value=np.nan)
                except (TypeError, ValueError):
                    bad = series[pd.to_numeric(series, errors="coerce").isna() & series.notna()]
                    raise DataError([Problem(f"non-numeric value(s) in a numeric feature, e.g. "
                                             f"{bad.head(3).tolist()}", table="features", column=name)]) from None
        return pd.DataFrame(columns, index=X.index)

    # ------------------------------------------------------------------ training
    def _base_params(self, n_rows: int) -> dict[str, Any]:
        if self.is_classifier:
            objective = {"objective": "binary", "metric": "binary_logloss"}
        else:
            objective = {"objective": "tweedie", "metric": "tweedie",
                         "tweedie_variance_power": self.tweedie_variance_power}
        return {
            **objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "max_bin": self.max_bin,
            "num_threads": train_threads(n_rows, self.num_threads),
            "verbosity": -1,
            # tuning trials change min_data_in_leaf on the same Dataset
            **({"feature_pre_filter": False} if self.tuning_trials else {}),
            **(self.lgbm_params or {}),
        }

    def _split(self, y: np.ndarray, cutoff: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        n = y.size
        strata = (y > 0).astype(int)
        if cutoff is not None:
            valid = cutoff == cutoff.max()
            if 0 < valid.sum() < n and (not self.is_classifier or np.unique(y[valid]).size == 2):
                self.validation_ = f"latest training cutoff ({pd.Timestamp(cutoff.max()).date()})"
                return np.flatnonzero(~valid), np.flatnonzero(valid)
            logger.warning("%s: a single training cutoff; falling back to a stratified split", self.target)
        counts = np.bincount(strata, minlength=2)
        stratify = strata if counts.min() >= 2 else None
        train, valid = train_test_split(np.arange(n), test_size=self.validation_fraction,
                                        random_state=self.seed, stratify=stratify)
        self.validation_ = f"stratified {self.validation_fraction:.0%} split"
        return np.sort(train), np.sort(valid)

    def _train(self, params, train_set, valid_set) -> lgb.Booster:
        if not self.early_stopping_rounds:  # the rounds were chosen before (refit)
            return lgb.train(params, train_set, num_boost_round=self.n_estimators)
        return lgb.train(params, train_set, num_boost_round=self.n_estimators, valid_sets=[valid_set],
                         callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)])

    def fit(self, X: pd.DataFrame, y, cutoff=None) -> Predictor:
        """Fit on the rows of ``X`` with a known label (NaN labels are dropped).

        Parameters
        ----------
        X : DataFrame
            Features (numeric and categorical columns).
        y : Series or DataFrame
            The label (aligned by position), or the labels frame ``Y``.
        cutoff : array-like, optional
            Cutoff date of each row (stacked training cutoffs); the latest is the validation slice.
        """
        target_of(self.target)  # a ValueError naming the valid targets
        label = np.asarray(label_of(self.target, y), dtype=float)
        if label.size != len(X):
            raise ValueError(f"X has {len(X)} rows but the {self.target} label has {label.size}")
        keep = ~np.isnan(label)
        X, label = X.loc[keep] if not keep.all() else X, label[keep]
        cut = None if cutoff is None else np.asarray(pd.to_datetime(pd.Series(np.asarray(cutoff))))[keep]
        self._check_label(label)
        self.n_rows_available_ = int(label.size)
        if self.max_train_rows and label.size > self.max_train_rows:
            strata = (label > 0).astype(np.int64)
            if cut is not None:
                strata = strata + 2 * pd.factorize(cut)[0]
            rows = stratified_sample(self.max_train_rows, strata, self.seed)
            X, label, cut = X.iloc[rows], label[rows], None if cut is None else cut[rows]
            logger.info("%s: training on a stratified sample of %d of %d rows (models.max_train_rows)",
                        self.target, rows.size, self.n_rows_available_)
        self._learn_columns(X)
        data = self._prepare(X)
        train_idx, valid_idx = self._split(label, cut)
        train_set = lgb.Dataset(data.iloc[train_idx], label[train_idx], free_raw_data=True)
        valid_set = lgb.Dataset(data.iloc[valid_idx], label[valid_idx], reference=train_set)
        params = self._base_params(label.size)
        booster = self._train(params, train_set, valid_set)
        if self.tuning_trials:
            params, booster = self._tune(params, booster, train_set, valid_set)
        self.params_ = params
        self.best_iteration_ = int(booster.best_iteration or booster.current_iteration())
        self.calibrator_: Calibrator | None = None
        if self.is_classifier:
            margin = booster.predict(data.iloc[valid_idx], raw_score=True, num_iteration=self.best_iteration_,
                                     num_threads=params["num_threads"])
            self.calibrator_ = Calibrator(self.calibration).fit(margin, label[valid_idx])
        self.refitted_ = bool(self.refit if self.refit is not None else label.size <= self.refit_max_rows)
        if self.refitted_:
            full = lgb.Dataset(data, label, free_raw_data=True)
            booster = lgb.train(params, full, num_boost_round=self.best_iteration_)
        else:
            booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=self.best_iteration_))
        self.booster_ = booster
        self.n_train_rows_ = int(label.size)
        self.base_rate_ = float(label.mean())
        logger.info("%s: %d rows, %d rounds, validation on %s", self.target, label.size,
                    self.best_iteration_, self.validation_)
        return self

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

    def refit_on(self, X: pd.DataFrame, y, cutoff=None) -> Predictor:
        """A new predictor fitted on other rows (the freshest label windows) with the settings
        this one chose: its number of rounds, tuned parameters and calibration method.

        No early stopping and no search: the rows of the latest ``cutoff`` are held out only to
        fit the calibrator (on margins of a booster that did not learn them), then the final
        booster learns every row. Baselines are not refitted (they serve the evaluation).

        Example
        -------
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(1)
        >>> X = pd.DataFrame({"recency_days": rng.exponential(60, 900)})
        >>> y = pd.Series((rng.random(900) < 1 / (1 + np.exp(-(X.recency_days - 60) / 30))).astype(float))
        >>> first = Predictor("churn", n_estimators=200, seed=1).fit(X[:600], y[:600])
        >>> fresh = first.refit_on(X[300:], y[300:])
        >>> fresh.best_iteration_ == first.best_iteration_, fresh.refitted_
        (True, True)
        """
        if not hasattr(self, "best_iteration_"):
            raise ValueError("refit_on() needs a fitted predictor: call fit() first")
        params = self.get_params()
        tuned = ({k: self.params_[k] for k in _TUNING_SPACE if k in self.params_}
                 if self.tuning_trials else {})
        params.update(n_estimators=self.best_iteration_, early_stopping_rounds=None,
                      tuning_trials=0, refit=True, lgbm_params={**(self.lgbm_params or {}), **tuned})
        fresh = type(self)(**params).fit(X, y, cutoff=cutoff)
        fresh.baselines_ = {}
        return fresh

    def _tune(self, params, booster, train_set, valid_set):
        """Seeded random search; keeps the trial with the best validation score."""
        metric = params["metric"]
        best_score = booster.best_score["valid_0"][metric]
        rng = np.random.default_rng(self.seed)
        for _ in range(self.tuning_trials):
            trial = dict(params)
            for key, choices in _TUNING_SPACE.items():
                trial[key] = choices[int(rng.integers(len(choices)))]
            candidate = self._train(trial, train_set, valid_set)
            score = candidate.best_score["valid_0"][metric]
            if score < best_score:  # both metrics are losses
                params, booster, best_score = trial, candidate, score
        return params, booster

    # ------------------------------------------------------------------ prediction
    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        """``X`` as the float matrix LightGBM sees: categoricals as codes of the training levels.

        The same numbers LightGBM derives from the pandas frame of :meth:`_prepare` (it maps
        each category to its code in the training levels, unseen -> missing), built without a
        per-call DataFrame: scoring one customer per request is dominated by pandas overhead.
        """
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            return self._prepare(X).to_numpy()  # raises the DataError naming the column
        matrix = np.empty((len(X), len(self.feature_names_)), dtype=np.float64)
        for j, name in enumerate(self.feature_names_):
            series = X[name]
            if name in self.categories_:
                dtype = self._category_dtype(name)
                if isinstance(series.dtype, pd.CategoricalDtype) and series.dtype.categories.equals(
                    dtype.categories
                ):
                    codes = series.cat.codes.to_numpy()
                else:  # unseen values and missing -> -1 -> missing
                    codes = dtype.categories.get_indexer(series.astype(object))
                matrix[:, j] = np.where(codes < 0, np.nan, codes)
            elif pd.api.types.is_numeric_dtype(series.dtype) and not isinstance(
                series.dtype, pd.CategoricalDtype
            ):
                matrix[:, j] = series.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                return self._prepare(X).pipe(self._codes_of)
        return matrix

    def _category_dtype(self, name: str) -> pd.CategoricalDtype:
        # Validating the levels costs ~1 ms per column and call: build each dtype once.
        cache = self.__dict__.setdefault("_dtype_cache", {})
        if name not in cache:
            cache[name] = pd.CategoricalDtype(self.categories_[name])
        return cache[name]

    def _codes_of(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty(frame.shape, dtype=np.float64)
        for j, column in enumerate(frame.columns):
            values = frame[column]
            if isinstance(values.dtype, pd.CategoricalDtype):
                codes = values.cat.codes.to_numpy()
                out[:, j] = np.where(codes < 0, np.nan, codes)
            else:
                out[:, j] = values.to_numpy(dtype=np.float64, na_value=np.nan)
        return out

    def predict_margin(self, X: pd.DataFrame) -> np.ndarray:
        """Raw booster output: log-odds (classifiers) or log of expected spend."""
        return raw_score(self.booster_, self._matrix(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability (classifiers) or expected future spend (>= 0)."""
        return self.predict_matrix(self._matrix(X))

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """:meth:`predict` from the float matrix of :meth:`_matrix` (shared by models that were
        trained on the same columns, so a composite scorer builds it once). The trees are walked
        by :func:`segml.predict.trees.raw_score`: LightGBM's raw score, faster."""
        margin = raw_score(self.booster_, matrix)
        if self.is_classifier:
            return self.calibrator_.transform(margin)
        return np.exp(margin)

    def __repr__(self) -> str:
        fitted = f", best_iteration={self.best_iteration_}" if hasattr(self, "best_iteration_") else ""
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
        LightGBM settings; None: the defaults.
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
    ).fit(X, y, cutoff=cutoff)
    pred.baselines_ = {}
    if baselines:
        label = label_of(target, y)
        pred.baselines_ = fit_baselines(target, X, label, seed=seed, max_rows=baseline_max_rows)
    return pred
