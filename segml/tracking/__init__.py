"""MLflow tracking, the composite pyfunc model, the registry and its aliases.

This package is the only part of segml that imports mlflow. Importing it silences MLflow's
chatter for every caller (the CLI, a notebook, a scheduled job): its "Downloading artifacts"
progress bars (``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR``, unless set) and its INFO notes on
validating input examples and creating the store's tables; its warnings and errors still show.
"""

import logging as _logging
import os as _os

from segml.tracking.model import SegmlModel, load_scorer, log_segml_model, validate_input
from segml.tracking.registry import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS,
    RegistryError,
    alias_metrics,
    get_alias_version,
    promote,
    register,
    rollback,
    serve_model,
    set_alias,
)
from segml.tracking.runs import (
    RunHandle,
    find_finished_run,
    log_artifacts,
    log_config,
    log_data_fingerprints,
    log_dict,
    log_figure_file,
    log_frame,
    log_metrics,
    log_params,
    log_problems,
    pipeline_run,
    set_tags,
)
from segml.tracking.store import resolve_tracking_uri

#: MLflow loggers whose INFO records are notes on its own housekeeping, not on the user's work.
MLFLOW_CHATTER = ("mlflow.pyfunc", "mlflow.models", "mlflow.store.db.utils",
                  "mlflow.tracking._tracking_service.client", "alembic.runtime.migration")


def quiet_mlflow() -> None:
    """No MLflow progress bar on stderr (unless ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` is
    set) and its housekeeping notes at WARNING (unless a level was set for them)."""
    _os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in MLFLOW_CHATTER:
        logger = _logging.getLogger(name)
        if logger.level == _logging.NOTSET:  # never below what its parents let through
            logger.setLevel(max(_logging.WARNING, logger.getEffectiveLevel()))


quiet_mlflow()

__all__ = [
    "CHALLENGER", "CHAMPION", "MLFLOW_CHATTER", "PREVIOUS", "RegistryError", "RunHandle",
    "SegmlModel",
    "alias_metrics", "find_finished_run", "get_alias_version", "load_scorer", "log_artifacts",
    "log_config", "log_data_fingerprints", "log_dict",
    "log_figure_file", "log_frame", "log_metrics", "log_params", "log_problems", "log_segml_model",
    "pipeline_run", "promote", "quiet_mlflow", "register", "resolve_tracking_uri", "rollback", "serve_model", "set_alias",
    "set_tags", "validate_input",
]
