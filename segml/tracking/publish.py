"""Publishing a trained composite: its data as dataset inputs, the model logged in the run that
holds its metrics, the schema guard, and a registered version that describes itself.

* :func:`log_datasets` - each training window's data as an MLflow dataset input of the run
  (source, digest, schema, row count; never a row).
* :func:`check_input_schema` - refuse a model whose input columns differ from the champion's of
  the same registered name (a client of the champion would break the day it is promoted).
* :func:`register_logged_model` - a new version of a logged model, its source run the run that
  logged it, with a description and tags; through the client, so nothing is printed to the
  terminal. :func:`set_model_description` describes the registered model.

Example
-------
>>> schema_differences([("customer_id", "string"), ("age", "double")],
...                    [("customer_id", "string"), ("age", "string"), ("tenure", "double")])
(['tenure'], [], ['age (double -> string)'])
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.exceptions import MlflowException
from mlflow.types import ColSpec, Schema

from segml.errors import Problem
from segml.tracking.registry import CHAMPION, RegistryError, get_alias_version
from segml.tracking.store import client_for, resolve_tracking_uri
from segml.tracking.validation import KINDS

log = logging.getLogger(__name__)

_ALREADY = {"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"}
MAX_DESCRIPTION = 5000
_DATASET_KINDS = {**KINDS, "datetime": "datetime"}


# ------------------------------------------------------------------------------- datasets
def _source(source: str | None) -> tuple[str, str]:
    """MLflow's (source type, source JSON) of a data location; in-memory tables say so."""
    if not source:
        return "code", json.dumps({"tags": {"segml.source": "pandas DataFrames (Python API)"}})
    if "://" in source and not source.startswith("file://"):
        from mlflow.data.dataset_source_registry import resolve_dataset_source

        resolved = resolve_dataset_source(source)
        return resolved._get_source_type(), resolved.to_json()
    return "local", json.dumps({"uri": source})


def dataset_schema(columns: Sequence[tuple[str, str]]) -> str:
    """The JSON schema MLflow stores with a dataset, from ``(column, kind)`` pairs.

    Example
    -------
    >>> json.loads(dataset_schema([("customer_id", "string"), ("churn", "double")]))
    {'mlflow_colspec': [{'type': 'string', 'name': 'customer_id', 'required': True}, {'type': 'double', 'name': 'churn', 'required': True}]}
    """
    schema = Schema([ColSpec(_DATASET_KINDS.get(kind, "string"), name) for name, kind in columns])
    return json.dumps({"mlflow_colspec": schema.to_dict()})


def log_datasets(windows: Sequence[Any], run_id: str, tracking_uri: str | None = None) -> None:
    """Log each window (``name``, ``digest``, ``source``, ``schema``, ``rows``, ``context``,
    ``tags()``: see :class:`segml.workflow.lineage.WindowData`) as a dataset input of ``run_id``."""
    inputs = []
    for window in windows:
        source_type, source = _source(window.source)
        profile = {"num_rows": window.rows, "num_elements": (window.rows or 0) * len(window.schema)}
        dataset = Dataset(name=window.name, digest=window.digest, source_type=source_type,
                          source=source, schema=dataset_schema(window.schema),
                          profile=json.dumps(profile))
        tags = [InputTag("mlflow.data.context", window.context)]
        tags += [InputTag(k, str(v)) for k, v in window.tags().items()]
        inputs.append(DatasetInput(dataset, tags))
    if inputs:
        client_for(resolve_tracking_uri(tracking_uri)).log_inputs(run_id, datasets=inputs)


# --------------------------------------------------------------------------- schema guard
def schema_differences(champion: Sequence[tuple[str, str]], new: Sequence[tuple[str, str]]
                       ) -> tuple[list[str], list[str], list[str]]:
    """Columns only the new model needs, only the champion needs, and whose kind changed."""
    old, now = dict(champion), dict(new)
    added = [c for c in now if c not in old]
    removed = [c for c in old if c not in now]
    changed = [f"{c} ({old[c]} -> {now[c]})" for c in now if c in old and old[c] != now[c]]
    return added, removed, changed


def _listed(columns: list[str], limit: int = 8) -> str:
    shown = ", ".join(columns[:limit])
    return shown + (f" and {len(columns) - limit} more" if len(columns) > limit else "")


def champion_schema(name: str, tracking_uri: str | None = None
                    ) -> tuple[str, list[tuple[str, str]]] | None:
    """(version, input columns and MLflow types) of ``name@champion``, or None without one."""
    uri = resolve_tracking_uri(tracking_uri)
    champion = get_alias_version(name, CHAMPION, uri)
    if champion is None:
        return None
    from mlflow.models import get_model_info

    from segml.tracking.store import using_tracking_uri

    with using_tracking_uri(uri):
        info = get_model_info(f"models:/{name}/{champion.version}")
    if info.signature is None or info.signature.inputs is None:
        return None
    columns = [(str(s.name), getattr(s.type, "name", str(s.type)))
               for s in info.signature.inputs.inputs]
    return str(champion.version), columns


def check_input_schema(name: str, input_schema: Sequence[tuple[str, str]],
                       tracking_uri: str | None = None) -> None:
    """Refuse to register under ``name`` a model whose input differs from its champion's.

    ``input_schema`` is the new model's ``(column, kind)`` list (kinds as in
    :data:`segml.tracking.validation.KINDS`). Column names and kinds are compared, not their
    order. A store without a champion accepts anything.

    Raises
    ------
    RegistryError
        Naming the columns that differ and ``tracking.registered_model_name``.
    """
    found = champion_schema(name, tracking_uri)
    if found is None:
        return
    version, champion = found
    new = [(column, KINDS.get(kind, kind)) for column, kind in input_schema]
    added, removed, changed = schema_differences(champion, new)
    if not (added or removed or changed):
        return
    parts = [f"new column(s) {_listed(added)}" if added else "",
             f"missing column(s) {_listed(removed)}" if removed else "",
             f"changed type(s) {_listed(changed)}" if changed else ""]
    raise RegistryError([Problem(
        f"this model's input differs from the champion's (version {version} of '{name}'): "
        + "; ".join(p for p in parts if p) + ". Clients of the champion send its columns, so "
        "it is not registered as its challenger: set tracking.registered_model_name to a new "
        "name for data with other columns", key="tracking.registered_model_name")])


# ------------------------------------------------------------------------------ register
def register_logged_model(model_info: Any, name: str, *, run_id: str, description: str,
                          tags: Mapping[str, str] | None = None,
                          tracking_uri: str | None = None) -> str:
    """Register the logged model of ``model_info`` as a new version of ``name``; its version.

    The version's source run is ``run_id`` (the run that logged the model and holds its
    metrics), with ``description`` and ``tags``. Through the client: nothing is printed.
    """
    client = client_for(resolve_tracking_uri(tracking_uri))
    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code not in _ALREADY:
            raise
    version = client.create_model_version(
        name, source=model_info.model_uri, run_id=run_id, description=description[:MAX_DESCRIPTION],
        tags={k: str(v) for k, v in (tags or {}).items()}, model_id=model_info.model_id)
    log.info("registered %s version %s", name, version.version)
    return str(version.version)


def set_model_description(name: str, description: str, tracking_uri: str | None = None) -> None:
    """The registered model's own description (replaced at each registration)."""
    client_for(resolve_tracking_uri(tracking_uri)).update_registered_model(
        name, description=description[:MAX_DESCRIPTION])


def set_logged_model_tags(model_id: str, tags: Mapping[str, str],
                          tracking_uri: str | None = None) -> None:
    """Tags on the logged model itself (MLflow 3's model view shows them beside its metrics)."""
    client_for(resolve_tracking_uri(tracking_uri)).set_logged_model_tags(
        model_id, {k: str(v) for k, v in tags.items()})


__all__ = ["check_input_schema", "champion_schema", "dataset_schema", "log_datasets",
           "register_logged_model", "schema_differences",
           "set_logged_model_tags", "set_model_description"]
