"""MLflow tracking, the composite pyfunc model, the registry and its aliases.

This package is the only part of segml that imports mlflow.
"""

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

__all__ = [
    "CHALLENGER", "CHAMPION", "PREVIOUS", "RegistryError", "RunHandle", "SegmlModel",
    "alias_metrics", "find_finished_run", "get_alias_version", "load_scorer", "log_artifacts",
    "log_config", "log_data_fingerprints", "log_dict",
    "log_figure_file", "log_frame", "log_metrics", "log_params", "log_problems", "log_segml_model",
    "pipeline_run", "promote", "register", "resolve_tracking_uri", "rollback", "serve_model", "set_alias",
    "set_tags", "validate_input",
]
