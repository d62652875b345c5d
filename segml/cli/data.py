"""The data commands: ``segml generate`` (synthetic tables) and ``segml validate`` (the config
and the data, every problem at once)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from segml.cli.guard import handles_user_errors, print_problems
from segml.cli.options import EXIT_DATA, ConfigOpt, DataOpt, JsonOpt, QuietOpt, resolve_config
from segml.cli.output import console, print_json


@handles_user_errors
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    customers: Annotated[int, typer.Option("--customers", "-n", min=10, help="Customers.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Seed of the customers drawn.")] = 0,
    design_seed: Annotated[int, typer.Option(
        "--design-seed", help="Seed of the segment design (the company); every --seed draws "
        "customers of the same segments.")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    difficulty: Annotated[str, typer.Option(
        "--difficulty", help="default: distinct segments (what segml was tuned on); hard: "
        "overlapping segments, Pareto/NBD purchasing and dropout, heavy-tailed spend, seasons, "
        "uninformative attributes (same tables and ground truth).")] = "default",
    quiet: QuietOpt = False,
) -> None:
    """Write synthetic customers, transactions, events, ground_truth.parquet and the segml.yaml
    declaring their columns' roles (read by --data DIR without --config).

    Example: segml generate --customers 2000 --seed 5 --difficulty hard --out data
    """
    from segml.data.synthetic.datasets import DIFFICULTIES, make_customers

    if fmt not in ("parquet", "csv"):
        raise typer.BadParameter("--format must be parquet or csv")
    if difficulty not in DIFFICULTIES:
        raise typer.BadParameter(
            f"--difficulty must be one of {', '.join(DIFFICULTIES)}, got {difficulty!r}"
        )
    with console.status("generating synthetic customers...", spinner="dots"):
        data = make_customers(customers, seed=seed, design_seed=design_seed,
                              difficulty=difficulty)
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


@handles_user_errors
def validate(config: ConfigOpt = None, data: DataOpt = None, quiet: QuietOpt = False,
             as_json: JsonOpt = False) -> None:
    """Check the config and the data; report every problem at once.

    Exit codes: 0 valid (warnings allowed), 1 at least one error.
    Example: segml validate --data data   |   segml validate --config configs/telco.yaml --json
    """
    from segml.data.contract import read_raw_tables, validate_tables
    from segml.errors import SegmlError

    try:
        cfg = resolve_config(config, data)
        raw = read_raw_tables(cfg)
        sources = raw.pop("_sources")
        tables, problems = validate_tables(
            cfg, raw["customers"], raw["transactions"], raw["events"], sources=sources
        )
    except SegmlError as exc:
        if not as_json:
            raise
        tables, problems = None, exc.problems
    if as_json:
        print_json(validate_document(tables, problems))
        if tables is None:
            raise typer.Exit(EXIT_DATA)
        return
    print_problems([p for p in problems if not quiet or p.severity == "error"])
    if tables is None:
        raise typer.Exit(EXIT_DATA)
    if not quiet:
        console.print(
            Text.assemble(
                ("valid", "green"),
                f": {len(tables.customers):,} customers, "
                f"{0 if tables.transactions is None else len(tables.transactions):,} transactions, "
                f"{0 if tables.events is None else len(tables.events):,} events "
                f"({tables.mode} mode, {len(problems)} warning(s))")
        )


def validate_document(tables: Any, problems: list) -> dict[str, Any]:
    """The ``--json`` document of ``segml validate`` (docs/cli.md)."""
    def rows(frame: Any) -> int:
        return 0 if frame is None else len(frame)

    return {
        "command": "validate",
        "valid": tables is not None,
        "mode": None if tables is None else tables.mode,
        "rows": None if tables is None else {
            "customers": rows(tables.customers), "transactions": rows(tables.transactions),
            "events": rows(tables.events)},
        "errors": sum(p.severity == "error" for p in problems),
        "warnings": sum(p.severity == "warning" for p in problems),
        "problems": [p.to_dict() for p in problems],
    }
