"""The `ollama_server` pytest fixture and a plain `running_server()` context manager.

    # tests/conftest.py
    from tests.ollama_server.fixtures import ollama_server  # noqa: F401

    def test_x(ollama_server):
        ollama_server.url, ollama_server.faults

Outside pytest (notebooks, benchmarks):

    with running_server() as server:
        ...
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from .app import OllamaTestServer
from .behaviour import Behaviour
from .core import OllamaCore
from .models import Registry

__all__ = ["ollama_server", "running_server"]


@contextmanager
def running_server(port: int = 0, host: str = "127.0.0.1",
                   behaviour: Behaviour | None = None, real_models: bool = False
                   ) -> Iterator[OllamaTestServer]:
    """A started server on a free (or given) port, stopped on exit. Models load lazily.

    `real_models=True` also serves the fetched real-model tier (nomic-embed-text,
    qwen2.5-coder:1.5b/:0.5b; see fetch_models.py).
    """
    core = OllamaCore(Registry(real_models=real_models), behaviour=behaviour)
    server = OllamaTestServer(host=host, port=port, core=core)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def ollama_server() -> Iterator[OllamaTestServer]:
    """One server for the session, on 127.0.0.1 and a free port; faults cleared after use."""
    with running_server() as server:
        yield server
        server.faults.clear()
