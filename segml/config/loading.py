"""Reading a config: YAML file -> :class:`SegmlConfig`, every problem naming file and key; and
writing one back (:func:`dump_config`) or flat (:func:`flatten_config`, MLflow params).

Example
-------
>>> from segml.config.loading import dump_config, load_config
>>> dump_config(load_config(None)).splitlines()[0]
'seed: 42'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from segml.config.problems import validation_problems
from segml.config.root import SegmlConfig
from segml.errors import ConfigError, Problem

#: The config a data folder may carry beside its tables (``segml generate`` writes one declaring the
#: synthetic columns); ``--data DIR`` without ``--config`` reads it.
FOLDER_CONFIG = "segml.yaml"


def folder_config(folder: str | os.PathLike[str]) -> Path | None:
    """The ``segml.yaml`` beside the tables of ``folder``, or None when it has none.

    Examples
    --------
    >>> import tempfile
    >>> folder_config(tempfile.mkdtemp()) is None
    True
    """
    path = Path(folder) / FOLDER_CONFIG
    return path if path.is_file() else None


def config_problems(error: ValidationError, source: str) -> list[Problem]:
    """Turn a pydantic error into one :class:`Problem` per bad key."""
    return validation_problems(error, source, SegmlConfig)


def load_config(path: str | os.PathLike[str] | None = None, **overrides: Any) -> SegmlConfig:
    """Load a YAML config; ``None`` gives the defaults (which declare none of the user's columns).

    Parameters
    ----------
    path : str or Path, optional
        YAML file. Relative table paths inside it are resolved against the file's folder.
    **overrides
        Top-level sections or keys replacing what the file says (e.g. ``seed=7``).

    Raises
    ------
    ConfigError
        With one problem per unknown or invalid key, each naming the file and dotted key.

    Examples
    --------
    >>> cfg = load_config(None, seed=7)
    >>> cfg.seed
    7
    """
    raw: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        file = Path(path)
        if not file.is_file():
            raise ConfigError([Problem(message="config file not found", file=source)])
        loaded = _read_yaml(file, source)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError([Problem(message="top level must be a mapping", file=source)])
        raw = _resolve_paths(loaded, file.parent)
    raw.update(overrides)
    try:
        return SegmlConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(config_problems(exc, source)) from None


#: The most YAML nodes a document may expand to (aliases counted at every use): a config has a
#: few hundred; an alias bomb of 600 bytes expands to billions.
MAX_YAML_NODES = 100_000


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, stricter where a config (or a model's ``MLmodel``) is untrusted:

    * a date that does not exist (``2025-02-30``) stays text, so validation reports it under its
      key instead of the parser failing without one;
    * a key given twice in one mapping is an error naming the key (YAML lets the last win
      silently, which hides a typo'd override);
    * a document whose aliases expand past :data:`MAX_YAML_NODES` nodes is refused once it is
      composed, before anything is constructed (an alias bomb costs nothing to compose).
    """

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None:
            _check_expanded_size(node)
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = key_node.value
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key '{key}'", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: Any) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)
#: The loader segml reads every YAML document with (configs, a model's ``MLmodel``).
SafeYamlLoader = _Loader


def _check_expanded_size(root: Any) -> None:
    """Refuse a composed YAML graph whose tree (every alias expanded) exceeds
    :data:`MAX_YAML_NODES`, or that refers to itself: sizes are summed once per distinct node
    (post-order, without recursion: the graph may nest deeply), so this costs one pass."""

    def children(node: Any) -> list[Any]:
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        if isinstance(node, yaml.MappingNode):
            return [item for pair in node.value for item in pair]
        return []

    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            sizes[id(node)] = min(1 + sum(sizes[id(c)] for c in children(node)),
                                  MAX_YAML_NODES + 1)
            open_.discard(id(node))
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_:
            raise yaml.composer.ComposerError(None, None, "an alias refers to itself",
                                              node.start_mark)
        open_.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children(node) if id(c) not in sizes)
    if sizes[id(root)] > MAX_YAML_NODES:
        raise yaml.composer.ComposerError(
            None, None, f"aliases expand it past {MAX_YAML_NODES:,} nodes", root.start_mark)


def _read_yaml(file: Path, source: str) -> Any:
    """The parsed YAML of ``file``; every way it can fail is one problem naming the file.

    The message gives the line and column, never the text there: a config line may hold a
    credential (a tracking URI with a password).
    """
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(f"not a text (UTF-8) file: undecodable byte at offset "
                                   f"{exc.start}; a config is YAML text", file=source)]) from None
    except OSError as exc:
        raise ConfigError([Problem(f"cannot read: {exc.strerror or type(exc).__name__}",
                                   file=source)]) from None
    if "\x00" in text:
        raise ConfigError([Problem("not a text file (it holds NUL bytes); a config is YAML text",
                                   file=source)])
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or "cannot be parsed"
        raise ConfigError([Problem(f"invalid YAML{where}: {what}", file=source)]) from None
    except (ValueError, OverflowError) as exc:  # e.g. `cutoff: 2025-02-30` (YAML reads dates)
        raise ConfigError([Problem(f"invalid value: {exc}", file=source)]) from None
    except RecursionError:
        raise ConfigError([Problem("invalid YAML: nested too deeply", file=source)]) from None


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    data = raw.get("data")
    if not isinstance(data, dict):
        return raw
    if isinstance(data.get("dir"), str) and not os.path.isabs(data["dir"]):
        data["dir"] = str((base / data["dir"]).resolve())
    for table in ("customers", "transactions", "events"):
        spec = data.get(table)
        if isinstance(spec, dict) and isinstance(spec.get("path"), str):
            if not os.path.isabs(spec["path"]):
                spec["path"] = str((base / spec["path"]).resolve())
    return raw


def dump_config(config: SegmlConfig) -> str:
    """YAML text of a config (``None`` values kept so every key is documented)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def flatten_config(config: SegmlConfig) -> dict[str, str]:
    """Dotted ``key -> value`` pairs, e.g. for MLflow params."""
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            flat[prefix] = str(value)

    walk("", config.model_dump(mode="json"))
    return flat
