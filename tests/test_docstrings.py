"""The usage examples in public docstrings run offline (in-memory stores, fake models).

`python -m pytest --doctest-modules src/ragloom -o addopts=""` runs them all; this test
keeps the modules listed here in the ordinary replay tier, network disabled.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["ragloom.chains", "ragloom._rag_types", "ragloom.ingestion", "ragloom._modes",
           "ragloom.routing", "ragloom._qdrant_store",
           "ragloom._ingest_run", "ragloom._ingest_sources", "ragloom._ingest_files",
           "ragloom._ingest_plan", "ragloom._ingest_embed", "ragloom._ingest_report",
           "ragloom._points", "ragloom._target"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=True)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"
