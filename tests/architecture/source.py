"""Reading the project's first-party source: modules, imports, sizes (ast only, no imports).

"First-party" means the top-level packages of this repository (``FIRST_PARTY``); tests,
migrations and the virtual environment are left out of the app's own code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("accounts", "backgrounds", "compositing", "vbgsite")
# Code that is not the application but still follows the size rules.
TOOLS = ("bench",)
# Libraries worth deferring with a function-level import: loading them costs seconds and
# hundreds of megabytes, and web processes that never segment must not pay for them.
HEAVY_LIBRARIES = frozenset({"torch", "torchvision", "cv2", "ai_edge_litert", "tflite", "numba"})


@dataclass(frozen=True)
class FirstPartyImport:
    importer: str  # dotted module name of the importing file
    imported: str  # dotted name imported (module, or module.attribute for `from x import y`)
    line: int
    in_function: bool
    first_party: bool

    def defers_heavy_library(self, heavy: frozenset[str]) -> bool:
        """True when the imported module loads one of ``heavy`` at its own module level."""
        path = _module_path(_resolve(self.imported))
        if path is None:
            return False
        return any(
            name.split(".")[0] in heavy
            for name, in_function, _ in _imports_with_lines(path)
            if not in_function
        )


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _all_modules() -> dict[str, Path]:
    modules = {}
    for package in FIRST_PARTY:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            modules[_module_name(path)] = path
    return modules


def app_modules() -> list[str]:
    """Dotted names of the application's modules (no tests, no migrations)."""
    return sorted(_all_modules())


def module_lines(module: str) -> int:
    return len(_all_modules()[module].read_text().splitlines())


def _module_path(module: str) -> Path | None:
    return _all_modules().get(module)


def _resolve(name: str) -> str:
    """The module a dotted import name refers to (``pkg.mod.attr`` -> ``pkg.mod``)."""
    modules = _all_modules()
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name


def _absolute(module: str, level: int, target: str | None, path: Path) -> str:
    if level == 0:
        return target or ""
    package = module.split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, target] if target else base)


@cache
def _imports_with_lines(path: Path) -> tuple[tuple[str, bool, int], ...]:
    """(dotted name, inside a function?, line) for every import statement in ``path``."""
    module = _module_name(path)
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, bool, int]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((alias.name, in_function, child.lineno) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = _absolute(module, child.level, child.module, path)
                found.extend(
                    (f"{base}.{alias.name}", in_function, child.lineno) for alias in child.names
                )
            elif _is_type_checking_block(child):
                continue
            visit(child, nested)

    visit(tree, False)
    return tuple(found)


def _is_type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def first_party_imports(*, include_third_party: bool = False) -> list[FirstPartyImport]:
    """Every import in the app's modules; first-party ones resolved to their module."""
    result = []
    for module, path in _all_modules().items():
        for name, in_function, line in _imports_with_lines(path):
            first_party = name.split(".")[0] in FIRST_PARTY
            if not first_party and not include_third_party:
                continue
            imported = _resolve(name) if first_party else name
            if first_party and not imported:
                continue
            result.append(FirstPartyImport(module, imported, line, in_function, first_party))
    return result


def import_graph() -> dict[str, set[str]]:
    """module -> the first-party modules it imports (parents of packages excluded)."""
    graph: dict[str, set[str]] = {module: set() for module in _all_modules()}
    for found in first_party_imports():
        if found.imported != found.importer:
            graph[found.importer].add(found.imported)
    return graph


def import_cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted.

    A package's ``__init__`` importing its own submodules is not a cycle by itself (Python
    loads the package first); an edge from a submodule back to its own package's
    ``__init__`` is, when the ``__init__`` imports that submodule.
    """
    graph = import_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def strongconnect(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                strongconnect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            strongconnect(node)
    return cycles


def _body_length(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = node.body
    first = body[0]
    if (
        len(body) > 1
        and isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        first = body[1]
    return node.end_lineno - first.lineno + 1


def function_lengths() -> list[tuple[str, int, str, int]]:
    """(path, line, qualified name, body lines without the docstring) for every function
    in the app and the benchmark scripts."""
    paths = list(_all_modules().values())
    for folder in TOOLS:
        paths.extend(sorted((ROOT / folder).rglob("*.py")))
    found = []
    for path in paths:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append(
                    (str(path.relative_to(ROOT)), node.lineno, node.name, _body_length(node))
                )
    return found
