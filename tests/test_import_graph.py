"""The structure of src/ragloom: no import circles, and imports that follow the work.

The graph is read from the sources with `ast`: every `import` and `from ... import`
statement, at module level or inside a function (a deferred import still ties the two
modules together). `from package import name` counts as an import of the submodule
when `name` is one, else of the package.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

KNOWN_CIRCLES: set[frozenset[str]] = set()
"""Circles allowed for now (each with its reason); none since issue 22."""


def _module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:` (imports for annotations only)."""
    nodes, todo = [], [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return nodes


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Module → the ragloom modules it imports (anywhere in its body)."""
    files = {_module_name(p, src): p for p in (src / "ragloom").rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                           for a in node.names]
            graph[name] |= {t for t in targets if t in files and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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


def test_the_detector_finds_a_circle(tmp_path: Path) -> None:
    package = tmp_path / "ragloom"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from ragloom import b\n")
    (package / "b.py").write_text("def f():\n    from ragloom.a import x\n")
    (package / "c.py").write_text("from . import a\n")
    (package / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                  "    from ragloom.e import y\n")  # for annotations only
    (package / "e.py").write_text("import ragloom.d\n")
    assert circles(import_graph(tmp_path)) == [frozenset({"ragloom.a", "ragloom.b"})]


def test_no_import_circles_in_src() -> None:
    found = set(circles(import_graph()))
    assert found <= KNOWN_CIRCLES, sorted(sorted(c) for c in found - KNOWN_CIRCLES)


def test_the_provider_modules_import_one_way() -> None:
    graph = import_graph()
    for name in ("ragloom.providers._ollama_checks", "ragloom.providers._ollama_embeddings",
                 "ragloom.providers._ollama_pull", "ragloom.providers._errors"):
        assert "ragloom.providers.ollama" not in graph[name], name
        assert "ragloom.providers.openai" not in graph[name], name


def test_the_store_modules_import_one_way() -> None:
    # store.py is the public face on top; its private modules never import it, and the
    # client cache sits below the VectorStore (the old circle went through both).
    graph = import_graph()
    private = {"ragloom._clients", "ragloom._collection", "ragloom._embeddings_record",
               "ragloom._status", "ragloom._copy", "ragloom._qdrant_store", "ragloom._ranking",
               "ragloom._point_ids", "ragloom._edge", "ragloom._edge_convert",
               "ragloom._edge_folder", "ragloom._points", "ragloom._target"}
    assert private <= set(graph)
    for name in sorted(private):
        assert "ragloom.store" not in graph[name], name
    assert "ragloom._clients" in graph["ragloom._qdrant_store"]
    assert graph["ragloom._clients"] & {"ragloom._qdrant_store", "ragloom._collection"} == set()
    # The light types sit below everything; the write path never reaches the VectorStore.
    assert graph["ragloom._points"] == set()
    assert "ragloom._qdrant_store" not in graph["ragloom._target"] | graph["ragloom._collection"]
    assert graph["ragloom.ingestion"] & {"ragloom.store", "ragloom._qdrant_store"} == set()


def test_the_chain_modules_import_one_way() -> None:
    # chains.py is the public face (build_rag_chain, RagInput, RagOutput); its private
    # modules never import it, and the finishing step sits on top of the answer reader.
    graph = import_graph()
    private = {"ragloom._rag_types", "ragloom._chain_input", "ragloom._chain_context",
               "ragloom._answer_reader", "ragloom._chain_finish"}
    assert private <= set(graph)
    for name in sorted(private):
        assert "ragloom.chains" not in graph[name], name
        assert "ragloom.cli" not in graph[name], name
    assert private - {"ragloom._answer_reader"} <= graph["ragloom.chains"]
    assert "ragloom._answer_reader" in graph["ragloom._chain_finish"]
    assert "ragloom._chain_finish" not in graph["ragloom._answer_reader"]



def test_the_config_modules_import_one_way_and_only_below() -> None:
    # config.py is the public face of the first layer; its private modules never import
    # it, and nothing the configuration loads comes from a later layer (providers, store…).
    graph = import_graph()
    private = {"ragloom._section", "ragloom._keep_alive", "ragloom._model_settings",
               "ragloom._data_settings", "ragloom._answer_settings", "ragloom._config_sources"}
    assert private <= set(graph)
    for name in sorted(private):
        assert "ragloom.config" not in graph[name], name
    below = {"ragloom._access", "ragloom._detectors", "ragloom._glob", "ragloom._known_models",
             "ragloom._redact", "ragloom.errors",
             "ragloom._points"}  # the light Qdrant types access builds: I/O-free, imports none
    seen, todo = set(), ["ragloom.config"]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += graph[name]
    assert seen - {"ragloom.config"} <= private | below, sorted(seen - private - below)

def _imported_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint(*sys.modules)"],
                         capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(SRC), "PATH": ""})
    return set(out.stdout.split())


@pytest.mark.parametrize("provider", ["ollama", "openai"])
def test_only_the_configured_provider_is_imported(provider: str) -> None:
    other = {"ollama": "langchain_openai", "openai": "langchain_ollama"}[provider]
    modules = _imported_after(
        "from ragloom import RagConfig, build_embeddings\n"
        f"build_embeddings(RagConfig(embeddings={{'provider': '{provider}',"
        " 'base_url': 'http://127.0.0.1:9/v1', 'model': 'all-minilm'}))")
    assert f"ragloom.providers.{provider}" in modules
    assert other not in modules


def test_the_ingest_stages_import_one_way() -> None:
    # ingestion.py → _ingest_run → the stages; no stage imports the run or the public
    # face, and the plan (the decisions shared by ingest and aingest) imports no I/O.
    graph = import_graph()
    stages = {"ragloom._ingest_sources", "ragloom._ingest_files", "ragloom._ingest_plan",
              "ragloom._ingest_embed", "ragloom._ingest_report"}
    assert stages <= set(graph)
    assert graph["ragloom.ingestion"] & stages <= {"ragloom._ingest_report"}
    assert stages <= graph["ragloom._ingest_run"]
    for name in sorted(stages):
        assert graph[name] & {"ragloom.ingestion", "ragloom._ingest_run"} == set(), name
    assert graph["ragloom._ingest_plan"] <= {"ragloom._ingest_report", "ragloom._loaders"}
