"""The shape of the two packages: no import cycle (imports inside functions count), no module over 500 lines,
and an emulator that imports neither Airflow nor the provider."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = {
    "airflow_provider_aep": REPO / "airflow_provider_aep",
    "aep_emulator": REPO / "emulator" / "aep_emulator",
}
MAX_LINES = 500


def modules(package: str) -> dict[str, Path]:
    root = PACKAGES[package]
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The project modules ``name`` imports anywhere in its file (top level, functions, TYPE_CHECKING blocks
    excluded: those never run)."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    type_checking: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_checking.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            # The deepest project module the import names (``from . import x`` names the module x).
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                yield target


def cycles(package: str) -> list[list[str]]:
    found = modules(package)
    graph = {name: set(imported(name, path, set(found))) for name, path in found.items()}
    # Tarjan's strongly connected components: any component of more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return components


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_cycles(package):
    assert cycles(package) == []


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_module_over_500_lines(package):
    long = {name: n for name, path in modules(package).items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_emulator_imports_neither_airflow_nor_the_provider():
    offending = {}
    for name, path in modules("aep_emulator").items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            bad = [n for n in names if n.split(".")[0] in {"airflow", "airflow_provider_aep"}]
            if bad:
                offending[name] = bad
    assert offending == {}


def test_the_emulator_core_imports_no_service():
    found = modules("aep_emulator")
    core = {name: path for name, path in found.items() if name.startswith("aep_emulator.core")}
    offending = {
        name: outside
        for name, path in core.items()
        if (outside := sorted(t for t in imported(name, path, set(found)) if not t.startswith("aep_emulator.core")))
    }
    assert offending == {}


def test_the_cycle_finder_finds_a_cycle_through_an_import_inside_a_function(tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def f():\n    from .a import thing\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import x\n")
    monkeypatch.setitem(PACKAGES, "pkg", package)
    assert cycles("pkg") == [["pkg.a", "pkg.b"]]
