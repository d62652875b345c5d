"""The layers of ``docs/dev/architecture.md``: only ``segml/tracking/`` imports mlflow, only
the command lines print."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "segml"
#: Command-line entry points: segml's CLI and the team MLflow helper's ``python -m`` interface.
PRINTERS = {"cli/main.py", "cli/guard.py", "cli/output.py", "config/reference.py",
            "scale/team_mlflow.py"}


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def test_only_segml_tracking_imports_mlflow():
    found = []
    for name, tree in _modules():
        if name.startswith("tracking/"):
            continue
        for node in ast.walk(tree):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{name}:{node.lineno}" for m in modules if m.split(".")[0] == "mlflow"]
    assert not found, found


def test_only_the_command_lines_print():
    found = []
    for name, tree in _modules():
        if name in PRINTERS:
            continue
        found += [f"{name}:{node.lineno}" for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id == "print"]
    assert not found, found
