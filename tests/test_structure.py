"""The structure of the package, read from its source with ``ast``.

* **No private name crosses a module.** A name starting with one underscore belongs to the module
  that defines it: no ``from segml.x import _y``, no ``x._y`` on an imported segml module, and no
  ``obj._y`` (``self._y`` included) when ``_y`` is defined in another segml module and not in this
  one: a method or attribute of a class of another module, or a mixin reaching the class it is
  mixed into (``docs/dev/architecture.md``: compose, don't assemble).
* **No import circles.** Every import of a segml module counts, at module level or inside a
  function (a deferred import still ties the two modules together): ``import segml.a.b``,
  ``from segml.a import b`` (the module ``segml.a.b`` when it is one, else ``segml.a``) and
  relative imports. A package's ``__init__`` counts as the module it is. Imports under
  ``if TYPE_CHECKING:`` serve annotations only and do not count. The graph must be acyclic.

A module holds one concept and a cohesive class or algorithm stays in one file however long it
grows (``docs/dev/architecture.md``): length is a prompt to look, not a rule, so no line cap is
tested (the former 420-line cap cut classes into mixins to fit).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "segml"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, tuple[Path, ast.Module]]:
    return {_module_name(p): (p, ast.parse(p.read_text(encoding="utf-8")))
            for p in sorted(ROOT.rglob("*.py"))}


MODULES = _modules()


def _absolute(module: str, node: ast.ImportFrom, modules=MODULES) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if modules[module][0].name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (annotations only: never executed)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and (
                (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
                or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")):
            ids |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return ids


def _imports(module: str, tree: ast.Module, modules=MODULES) -> list[tuple[str, int]]:
    """(imported segml module, line) for every import in ``tree`` that runs (imports under
    ``if TYPE_CHECKING:`` serve annotations only and tie no module to another at run time)."""
    out = []
    skipped = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "segml"]
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node, modules)
            if source.split(".")[0] != "segml":
                continue
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                out.append((sub if sub in modules else source, node.lineno))
    return [(m, line) for m, line in out if m in modules]


def _defined_private(tree: ast.Module) -> set[str]:
    """Private names a module defines: functions, classes, attributes set on ``self``/``cls``,
    assignments and class-level names."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                node.func.attr in ("setdefault", "get", "pop")) and node.args and isinstance(
                node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            names.add(node.args[0].value)  # self.__dict__.setdefault("_cache", ...)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_crossings(modules=MODULES) -> list[str]:
    own = {name: _defined_private(tree) for name, (_, tree) in modules.items()}
    everywhere: dict[str, set[str]] = {}
    for name, names in own.items():
        for private in names:
            everywhere.setdefault(private, set()).add(name)
    found = []
    for module, (_, tree) in modules.items():
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = _absolute(module, node, modules)
                if source.split(".")[0] != "segml":
                    continue
                for alias in node.names:
                    if _private(alias.name):
                        found.append(f"{module}:{node.lineno} imports {source}.{alias.name}")
                    if f"{source}.{alias.name}" in modules:
                        aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "segml" and alias.asname:
                        aliases[alias.asname] = alias.name
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and _private(node.attr)):
                continue
            value = node.value
            if isinstance(value, ast.Name) and value.id in aliases:
                found.append(f"{module}:{node.lineno} uses {aliases[value.id]}.{node.attr}")
            elif isinstance(value, ast.Name) and value.id in ("self", "cls") and (
                    node.attr in own[module] or not everywhere.get(node.attr)):
                continue  # its own, or a library base class's
            elif node.attr not in own[module] and everywhere.get(node.attr, set()) - {module}:
                owners = sorted(everywhere[node.attr] - {module})
                found.append(f"{module}:{node.lineno} reaches {node.attr} of {owners}")
    return found


def import_cycles(modules=MODULES) -> list[list[str]]:
    graph = {name: sorted({m for m, _ in _imports(name, tree, modules) if m != name})
             for name, (_, tree) in modules.items()}
    cycles, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node)
    return cycles


def test_no_private_name_crosses_a_module():
    assert private_crossings() == []


def _fake(**sources: str) -> dict[str, tuple[Path, ast.Module]]:
    """Modules ``segml.<name>`` with the given source (``__`` in a name stands for a dot)."""
    return {f"segml.{name.replace('__', '.')}": (Path(f"{name}.py"), ast.parse(source))
            for name, source in sources.items()}


def test_the_checks_see_what_they_forbid():
    modules = _fake(
        a="def _helper():\n    pass\nclass A:\n    def _inner(self):\n        self._cache = 1\n",
        b="from segml.a import _helper\n",
        c="import segml.a as a\na._helper()\n",
        d="def f(obj):\n    return obj._inner()\n",
        e="def f(obj):\n    return obj._unknown, obj._cache\n",
        f="class F:\n    def _inner(self):\n        pass\ndef g(x):\n    return x._inner()\n",
    )
    found = private_crossings(modules)
    assert [line.split(" ")[0] for line in found] == ["segml.b:1", "segml.c:2", "segml.d:2",
                                                      "segml.e:2"]
    assert "_cache" in found[-1] and "_unknown" not in " ".join(found)
    circle = _fake(x="def f():\n    from segml.y import g\n", y="from segml.x import f\n",
                   z="from segml.x import f\n")
    assert import_cycles(circle) == [["segml.x", "segml.y", "segml.x"]]
    assert import_cycles(_fake(x="import segml.y\n", y="")) == []


def test_a_mixin_reaching_another_file_through_self_is_seen():
    modules = _fake(
        placement="class Placement:\n    def assign(self):\n        return self._guided()\n",
        hierarchy="from segml.placement import Placement\n"
                  "class H(Placement):\n    def _guided(self):\n        return 1\n",
        own="class O:\n    def _a(self):\n        return self._b()\n    def _b(self):\n"
            "        return self._validate_params()\n",  # its own, and a library base's
    )
    assert [line.split(" ")[0] for line in private_crossings(modules)] == ["segml.placement:3"]


def test_imports_for_annotations_only_form_no_circle():
    modules = _fake(
        x="from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from segml.y import Y\n",
        y="from segml.x import f\n",
    )
    assert import_cycles(modules) == []
    modules["segml.x"] = (Path("x.py"), ast.parse("from segml.y import Y\n"))
    assert import_cycles(modules) != []


def test_no_import_circles():
    assert import_cycles() == []


def test_dir_of_segml_lists_the_public_api():
    import segml

    listed = dir(segml)
    assert {"train", "score", "retrain", "load_config", "make_customers", "__version__"} <= set(
        listed)
    assert not {"importlib", "Any", "annotations", "version"} & set(listed)
    assert all(hasattr(segml, name) for name in listed)
