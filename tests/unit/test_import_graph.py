"""Imports in ``engram/`` point down the layers and never go round in a circle.

The graph is read from the source with ``ast`` (nothing is imported): an edge is an import
that runs when the module or one of its functions runs. Imports under ``if TYPE_CHECKING:``
are for the type checker only and are left out; imports inside functions count.

A violation that only goes away once other work lands is listed, with its reason, in
``KNOWN_CYCLES`` or ``KNOWN_UPWARD_IMPORTS``; a listed one that no longer occurs fails the
test too, so that the lists only ever shrink.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "engram"


@dataclass(frozen=True)
class Rule:
    """Modules under any of ``importers`` import nothing under any of ``forbidden`` (or,
    ``exactly``, none of the ``forbidden`` modules themselves)."""

    name: str
    importers: tuple[str, ...]
    forbidden: tuple[str, ...]
    exactly: bool = False

    def breaks(self, importer: str, imported: str) -> bool:
        if not _under(importer, self.importers):
            return False
        return imported in self.forbidden if self.exactly else _under(imported, self.forbidden)


LAYERS = (
    "engram.api",
    "engram.client",
    "engram.ops",
    "engram.runtime",
    "engram.memory",
    "engram.tools",
    "engram.mcp",
    "engram.llm",
    "engram.store",
    "engram.jobs",
)


RULES = (
    Rule(
        "the lower layers import nothing above them",
        ("engram.tools", "engram.store", "engram.memory", "engram.llm", "engram.mcp"),
        ("engram.runtime", "engram.ops", "engram.api", "engram.client"),
    ),
    Rule("use cases never import the HTTP skin", ("engram.ops",), ("engram.api",)),
    Rule(
        "routes call use cases, not the layers below them",
        ("engram.api.routes",),
        ("engram.store", "engram.memory", "engram.tools", "engram.mcp"),
    ),
    Rule(
        "the layers never import the package itself, whose lazy Engram loads the client "
        "(take __version__ from engram.version)",
        LAYERS,
        ("engram",),
        exactly=True,
    ),
)


KNOWN_CYCLES: dict[frozenset[str], str] = {}
"""Cycles (their modules) expected to be gone once the work named goes in."""


KNOWN_UPWARD_IMPORTS: dict[tuple[str, str], str] = {}
"""(importer, imported) pairs breaking a rule, expected to be gone once the work named goes in."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


class _RuntimeImports(ast.NodeVisitor):
    """Collects the import statements that can run, at any depth (functions, ``try``...),
    leaving out the bodies of ``if TYPE_CHECKING:``."""

    def __init__(self) -> None:
        self.found: list[ast.Import | ast.ImportFrom] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for statement in node.orelse:
                self.visit(statement)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found.append(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.found.append(node)


def _runtime_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    collector = _RuntimeImports()
    collector.visit(tree)
    return collector.found


def _imported_names(
    statement: ast.Import | ast.ImportFrom, module: str, is_package: bool
) -> Iterator[str]:
    """Dotted names an import statement may load: a module, or an attribute of one."""
    if isinstance(statement, ast.Import):
        yield from (alias.name for alias in statement.names)
        return
    base = statement.module or ""
    if statement.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[: len(package) - statement.level + 1]
        base = ".".join([*anchor, base] if base else anchor)
    yield from (f"{base}.{alias.name}" for alias in statement.names)


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module of ``engram`` that ``name`` is, or is an attribute of."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def import_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        targets = {
            _resolve(name, known)
            for statement in _runtime_imports(tree)
            for name in _imported_names(statement, module, is_package)
        }
        graph[module] = {target for target in targets if target and target != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def upward_imports(graph: dict[str, set[str]]) -> dict[tuple[str, str], str]:
    """Every (importer, imported) pair breaking a rule, with the rule's name."""
    return {
        (importer, imported): rule.name
        for rule in RULES
        for importer, targets in graph.items()
        for imported in targets
        if rule.breaks(importer, imported)
    }


def _describe_cycle(graph: dict[str, set[str]], members: frozenset[str]) -> str:
    edges = [
        f"    {source} -> {target}"
        for source in sorted(members)
        for target in sorted(graph[source] & members)
    ]
    return "\n".join([f"  {len(members)} modules:", *edges])


def test_the_graph_is_read_from_every_module() -> None:
    graph = import_graph()
    assert "engram.runtime.engine" in graph and "engram.api.app" in graph
    assert "engram.runtime.engine" in graph["engram.api.app"]


def test_there_are_no_import_cycles() -> None:
    graph = import_graph()
    found = cycles(graph)
    unexpected = [members for members in found if members not in KNOWN_CYCLES]
    report = "\n".join(_describe_cycle(graph, members) for members in unexpected)
    assert not unexpected, f"import cycles in engram/:\n{report}"


def test_the_known_cycles_still_exist() -> None:
    found = set(cycles(import_graph()))
    stale = [sorted(members) for members in KNOWN_CYCLES if members not in found]
    assert not stale, f"these cycles are gone: remove them from KNOWN_CYCLES: {stale}"


def test_imports_point_down() -> None:
    violations = upward_imports(import_graph())
    unexpected = {
        pair: rule for pair, rule in violations.items() if pair not in KNOWN_UPWARD_IMPORTS
    }
    report = "\n".join(
        f"  {importer} imports {imported} ({rule})"
        for (importer, imported), rule in sorted(unexpected.items())
    )
    assert not unexpected, f"imports pointing up the layers:\n{report}"


def test_the_known_upward_imports_still_exist() -> None:
    violations = upward_imports(import_graph())
    stale = sorted(pair for pair in KNOWN_UPWARD_IMPORTS if pair not in violations)
    assert not stale, f"these imports are gone: remove them from KNOWN_UPWARD_IMPORTS: {stale}"
