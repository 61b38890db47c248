"""No import circles among ragloom's modules (issue 22).

Every `import` in src/ragloom counts, inside functions too (a lazy import still ties
the two modules together); only `if TYPE_CHECKING:` blocks are left out. Importing
`ragloom.x` runs the package `ragloom` first, which is not an edge of its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Circles known and owned elsewhere; each entry goes when its circle is removed.
KNOWN: list[set[str]] = [
    # issue 22: providers/ollama.py <-> _ollama_checks / _ollama_embeddings / _ollama_pull
    # (w-seams removes it).
    {"ragloom.providers", "ragloom.providers._errors", "ragloom.providers._ollama_checks",
     "ragloom.providers._ollama_embeddings", "ragloom.providers._ollama_pull",
     "ragloom.providers._openai_checks", "ragloom.providers.ollama",
     "ragloom.providers.openai"},
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(name: str, path: Path, modules: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                visit_else(child)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - (child.level - 1)]
                    base = ".".join([*parts, base] if base else parts)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in child.names)
            visit(child)

    def visit_else(node: ast.If) -> None:
        for child in node.orelse:
            visit(ast.Module(body=[child], type_ignores=[]))

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in (SRC / "ragloom").rglob("*.py")}
    return {name: _imports(name, path, set(paths)) for name, path in paths.items()}


def _circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component: set[str] = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        circles.append(component)
    return circles


def test_finder_sees_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [{"a", "b", "c"}]


def test_no_import_circles() -> None:
    unexpected = [sorted(c) for c in _circles(_graph()) if c not in KNOWN]
    assert not unexpected, f"import circles among ragloom modules: {unexpected}"


def test_store_modules_are_seen() -> None:
    # The finder reads the store layer's lazy imports (the old circle was one).
    graph = _graph()
    assert "ragloom._clients" in graph["ragloom._qdrant_store"]
    assert "ragloom._edge" in graph["ragloom._clients"]  # imported inside _open_folder
