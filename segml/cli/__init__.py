"""The command line: the typer app (:mod:`segml.cli.main`) and one module per command group."""

from segml.cli.main import app

__all__ = ["app"]
