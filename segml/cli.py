"""The ``segml`` command line: a thin layer over :mod:`segml.pipeline`.

Exit codes
----------
0  success
1  a problem in the data or the config (one line per problem, naming file, table, column or key)
2  usage error (unknown option, missing argument)
3  a retrain that ran but did not promote its challenger (gates failed)
4  another retrain of the same model holds the lock
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from segml.config import SegmlConfig, load_config
from segml.errors import Problem, SegmlError

EXIT_OK, EXIT_DATA, EXIT_USAGE = 0, 1, 2

app = typer.Typer(
    name="segml",
    help="Customer segment discovery and prediction, tracked in MLflow.\n\n"
    "Exit codes: 0 success, 1 data or config problem, 2 usage, "
    "3 retrain not promoted, 4 retrain locked.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file.", dir_okay=False)
]
DataOpt = Annotated[
    Path | None,
    typer.Option("--data", "-d", help="Folder with customers/transactions/events (.parquet/.csv)."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and the result.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")]


def print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        style = "red" if problem.severity == "error" else "yellow"
        err_console.print(f"[{style}]{problem}[/{style}]", highlight=False, soft_wrap=True)


def handles_user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a :class:`SegmlError` into its problems on stderr and exit code 1 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SegmlError as exc:
            print_problems(exc.problems)
            raise typer.Exit(EXIT_DATA) from None

    return wrapper


def _setup_logging(quiet: bool, verbose: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    for noisy in ("mlflow", "alembic", "urllib3", "matplotlib", "numba", "shap"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def resolve_config(config: Path | None, data: Path | None) -> SegmlConfig:
    """The config file (or the embedded defaults) with ``--data`` as the data folder."""
    if config is None and data is None:
        raise SegmlError([Problem("give --config FILE or --data DIR")])
    cfg = load_config(config)
    if data is not None:
        if not data.is_dir():
            raise SegmlError([Problem("data folder not found", file=str(data))])
        cfg.data.dir = str(data.resolve())
    return cfg


@app.command()
@handles_user_errors
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    customers: Annotated[int, typer.Option("--customers", "-n", min=10, help="Customers.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Random seed.")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    quiet: QuietOpt = False,
) -> None:
    """Write synthetic customers, transactions, events and ground_truth.parquet.

    Example: segml generate --customers 2000 --seed 5 --out data
    """
    from segml.datasets import make_customers

    if fmt not in ("parquet", "csv"):
        raise typer.BadParameter("--format must be parquet or csv")
    with console.status("generating synthetic customers...", spinner="dots"):
        data = make_customers(customers, seed=seed)
        paths = data.write(out, format=fmt)
    if not quiet:
        table = Table(title=f"synthetic data in {out}")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, frame in (
            ("customers", data.customers),
            ("transactions", data.transactions),
            ("events", data.events),
            ("ground_truth", data.ground_truth),
        ):
            table.add_row(str(paths.get(name, name)), f"{len(frame):,}")
        console.print(table)


@app.command()
@handles_user_errors
def validate(config: ConfigOpt = None, data: DataOpt = None, quiet: QuietOpt = False) -> None:
    """Check the config and the data; report every problem at once.

    Example: segml validate --data data   |   segml validate --config configs/telco.yaml
    """
    from segml.data.contract import read_raw_tables, validate_tables

    cfg = resolve_config(config, data)
    raw = read_raw_tables(cfg)
    sources = raw.pop("_sources")
    tables, problems = validate_tables(
        cfg, raw["customers"], raw["transactions"], raw["events"], sources=sources
    )
    print_problems(problems)
    if tables is None:
        raise typer.Exit(EXIT_DATA)
    if not quiet:
        console.print(
            f"[green]valid[/green]: {len(tables.customers):,} customers, "
            f"{0 if tables.transactions is None else len(tables.transactions):,} transactions, "
            f"{0 if tables.events is None else len(tables.events):,} events "
            f"({tables.mode} mode, {len(problems)} warning(s))"
        )


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
