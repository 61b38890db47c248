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

__all__ = ["ollama_server", "running_server"]


@contextmanager
def running_server(port: int = 0, host: str = "127.0.0.1",
                   behaviour: Behaviour | None = None) -> Iterator[OllamaTestServer]:
    """A started server on a free (or given) port, stopped on exit. Models load lazily."""
    server = OllamaTestServer(host=host, port=port, behaviour=behaviour)
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
