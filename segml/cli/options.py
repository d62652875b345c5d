"""What the commands share: their common options, exit codes, and what the options turn into
(the config with ``--data`` and ``--cutoff`` applied, logging, step progress).

Example
-------
>>> parse_cutoff("2025-06-30")
'2025-06-30'
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from segml.cli.guard import err_console
from segml.cli.output import StageProgress, configure_logging
from segml.config import SegmlConfig, load_config
from segml.config.loading import folder_config
from segml.errors import Problem, SegmlError

log = logging.getLogger(__name__)

EXIT_OK, EXIT_DATA, EXIT_USAGE = 0, 1, 2
EXIT_NOT_PROMOTED, EXIT_LOCKED = 3, 4

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", metavar="FILE", help="YAML config file.", dir_okay=False)
]
DataOpt = Annotated[
    Path | None,
    typer.Option("--data", "-d", metavar="DIR", help="Folder with customers/transactions/events (.parquet/.csv)."),
]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet/--no-quiet", "-q", show_default=False,
    help="Print the results and errors only: no progress, warnings or library logs.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose/--no-verbose", "-v", show_default=False,
                                          help="Debug logging.")]
JsonOpt = Annotated[bool, typer.Option(
    "--json/--no-json", show_default=False,
    help="Print the result as one JSON document on stdout (shapes: docs/cli.md).")]
ModelOpt = Annotated[
    str, typer.Option("--model", "-m", metavar="URI",
                      help="Model URI, e.g. models:/segml-customer@champion.")
]
CutoffOpt = Annotated[
    str | None, typer.Option("--cutoff", metavar="DATE",
                             help="Treat this date (YYYY-MM-DD) as the end of the data.")
]


class _FlagsWithoutValue:
    """Boolean flags (``--quiet/--no-quiet``, ``--help``) listed without a value placeholder:
    typer shows ``<bool>`` beside them, as if they took a value (``--quiet true`` fails)."""

    def get_params(self, ctx: typer.Context) -> list:  # type: ignore[override]
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


class Command(_FlagsWithoutValue, TyperCommand):
    """Every segml command (``app.command(cls=Command)``)."""


class Group(_FlagsWithoutValue, TyperGroup):
    """The ``segml`` app itself (``--version``, ``--help``)."""


def setup_logging(quiet: bool, verbose: bool) -> None:
    """Log records through the stderr console (above the progress); ``--quiet``: errors only
    from the libraries (MLflow, alembic, ...), ``--verbose``: debug."""
    configure_logging(err_console, quiet=quiet, verbose=verbose)


def resolve_config(config: Path | None, data: Path | None) -> SegmlConfig:
    """The config file with ``--data`` as the data folder. Without ``--config``: the folder's own
    ``segml.yaml`` when it has one (what ``segml generate`` writes), else the defaults."""
    if config is None and data is None:
        raise SegmlError([Problem("give --config FILE or --data DIR")])
    if data is not None and not data.is_dir():
        raise SegmlError([Problem("data folder not found", file=str(data))])
    if config is None and data is not None:
        config = folder_config(data)
        if config is not None:
            log.info("column roles from %s", config)
    cfg = load_config(config)
    if data is not None:
        cfg.data.dir = str(data.resolve())
        _tables_from(cfg, data)
    return cfg


def _tables_from(cfg: SegmlConfig, data: Path) -> None:
    """``--data DIR`` is where the tables are, whatever paths the config names: a table's
    configured file is looked for in DIR under its own name (a training config reused to score
    new customers must not read its training file), else the folder's standard names."""
    for name in ("customers", "transactions", "events"):
        table = getattr(cfg.data, name, None)
        if table is None or not table.path:
            continue
        here = data / Path(table.path).name
        table.path = str(here.resolve()) if here.exists() else None


def stage_progress(quiet: bool) -> StageProgress:
    """Each pipeline step with a spinner and its elapsed time on stderr (nothing with --quiet)."""
    return StageProgress(err_console, enabled=not quiet)


def apply_cutoff(cfg: SegmlConfig, cutoff: str | None) -> SegmlConfig:
    """``cfg`` with ``time.cutoff`` set to ``--cutoff`` when one is given."""
    if cutoff is None:
        return cfg
    return cfg.with_cutoff(cutoff)


def parse_cutoff(cutoff: str | None) -> str | None:
    """``--cutoff`` as an ISO date; anything else is a problem naming the option."""
    if cutoff is None:
        return None
    import datetime as dt

    try:
        return dt.date.fromisoformat(cutoff).isoformat()
    except ValueError:
        raise SegmlError([Problem(f"--cutoff must be a date YYYY-MM-DD, got {cutoff!r}", key="cutoff")]) from None
