"""The live test server for this directory (tests/conftest.py may import it too).

Without the `record` extra (uvicorn, llama-cpp-python, the weight wheels, ...) these tests
cannot even be imported; they are then left out of collection instead of erroring, since
the default run deselects them anyway.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest

CHAT = "smollm2:135m"
EMBED = "all-minilm"

_NEEDED = ("starlette", "uvicorn", "numpy", "safetensors", "tokenizers", "llama_cpp",
           "ollama", "openai", "httpx")
if any(importlib.util.find_spec(name) is None for name in _NEEDED):
    collect_ignore_glob = ["test_*.py"]
else:
    from tests.ollama_server.fixtures import ollama_server  # noqa: F401

    @pytest.fixture
    def server(ollama_server: Any) -> Iterator[Any]:  # noqa: F811
        """The session server, with no fault rules left behind by a test."""
        ollama_server.faults.clear()
        yield ollama_server
        ollama_server.faults.clear()
