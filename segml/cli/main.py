"""The ``segml`` command line: a thin layer over :mod:`segml.workflow.train`.

Exit codes
----------
0  success
1  a problem in the data or the config (one line per problem, naming file, table, column or key)
2  usage error (unknown option, missing argument)
3  a retrain that ran but did not promote its challenger (gates failed)
4  another retrain of the same model holds the lock
5  an unexpected internal error (a bug: one line naming it; ``--verbose`` logs the traceback)
130, 143  interrupted by SIGINT (Ctrl-C) or SIGTERM: the run in progress is marked KILLED

No Python traceback, request value or credential reaches the terminal: every message and log
record goes through :func:`segml.errors.redact`.

This module is the app and its command list; the commands live by kind in
:mod:`segml.cli.data` (generate, validate), :mod:`segml.cli.training` (train, demo, report),
:mod:`segml.cli.scoring` (score, audiences) and :mod:`segml.cli.lifecycle` (retrain, promote,
rollback), sharing :mod:`segml.cli.options` (options, config, progress),
:mod:`segml.cli.output` (what is printed) and :mod:`segml.cli.guard` (failures, exit codes).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from segml.allocation import with_fast_allocation
from segml.cli.data import generate, validate
from segml.cli.lifecycle import promote, retrain, rollback
from segml.cli.options import Command, Group
from segml.cli.output import console
from segml.cli.scoring import audiences, score
from segml.cli.training import demo, report, train

app = typer.Typer(
    name="segml",
    help="Customer segment discovery and prediction, tracked in MLflow.\n\n"
    "Exit codes: 0 success, 1 data or config problem, 2 usage, "
    "3 retrain not promoted, 4 retrain locked, 5 internal error, 130/143 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
)
#: The commands in the order ``segml --help`` lists them.
COMMANDS = (generate, validate, train, score, demo, report, retrain, promote, rollback, audiences)


def _print_version(value: bool) -> None:
    if value:
        from segml import __version__

        console.print(f"segml {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option(
        "--version", help="Print the segml version and exit.", callback=_print_version,
        is_eager=True)] = False,
) -> None:
    """Customer segment discovery and prediction, tracked in MLflow."""


for _command in COMMANDS:
    # every command runs with the run's allocation settings (segml.allocation)
    app.command(cls=Command)(with_fast_allocation(_command))


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
