"""The package's shape: no import cycles, no private name used outside its module, short modules.

Read from the source with ``ast`` (nothing is imported): every ``import`` counts, also those
inside functions, since a function-level import that closes a cycle is a cycle all the same.
"""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast

PACKAGE = Path(__file__).resolve().parents[1] / "l1bench"
MAX_LINES = 500
# modules still over MAX_LINES, each with its line count at the time it was listed: the list
# may only shrink (a module that grows, or a new long one, fails)
LONG = {
    "l1bench.results": 987,
    "l1bench.robustness": 749,
    "l1bench.pipeline": 657,
    "l1bench.solvers.trainer": 911,
    "l1bench.solvers.workingset": 524,
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _target(name: str) -> str | None:
    """The l1bench module that ``name`` (a dotted import) refers to, if any."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, tree: ast.AST) -> dict[str, str]:
    """``{local name: l1bench module}`` for every import in ``tree`` that binds a module."""
    bound = {}
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("l1bench"):
                    bound[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            if not base.startswith("l1bench"):
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                bound[alias.asname or alias.name] = full if full in MODULES else base
    return bound


def _edges() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        targets = {_target(t) for t in _imports(module, tree).values()}
        graph[module] = {t for t in targets if t and t != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def _is_package_parent(a: str, b: str) -> bool:
    """Importing ``a.b`` runs ``a/__init__.py``: a package and its own modules are not a cycle
    when the package merely re-exports them."""
    return b.startswith(a + ".") or a.startswith(b + ".")


def test_no_import_cycles():
    graph = _edges()
    pruned = {v: {w for w in ws if not _is_package_parent(v, w)} for v, ws in graph.items()}
    assert _cycles(pruned) == []


def test_no_private_name_used_outside_its_module():
    used = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        bound = _imports(module, tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("l1bench"):
                used += [
                    f"{module}: from {node.module} import {a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in bound
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                used.append(f"{module}: {node.value.id}.{node.attr}")
    assert sorted(set(used)) == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_short(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= LONG.get(module, MAX_LINES), f"{module}: {lines} lines"


def test_the_long_list_only_names_long_modules():
    for module, limit in LONG.items():
        lines = len(MODULES[module].read_text().splitlines())
        assert lines > MAX_LINES, f"{module} is {lines} lines now: remove it from LONG"
        assert lines <= limit
