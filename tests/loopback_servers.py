"""Loopback stand-ins for a slow Ollama that answers one request at a time (CPU, NUM_PARALLEL=1).

`HTTPServer` serves one connection at a time; every answer closes its connection, so
requests beyond the one in progress wait in the listen backlog, exactly as requests wait
in Ollama's queue: their time there counts for the client.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

__all__ = ["SECONDS_PER_REQUEST", "SPANS", "one_at_a_time_server"]

SPANS: dict[str, list[tuple[float, float]]] = {}

SECONDS_PER_REQUEST = 0.15


class _OneAtATime(BaseHTTPRequestHandler):
    """Ollama's /api/embed and /api/chat, slowly; HTTPServer serves one request at a time."""

    protocol_version = "HTTP/1.1"
    served: list[str]

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/api/show":  # model work takes time; metadata does not
            started = time.monotonic()
            time.sleep(SECONDS_PER_REQUEST)
            self.server.spans.append((started, time.monotonic()))  # type: ignore[attr-defined]
        self.server.served.append(self.path)  # type: ignore[attr-defined]
        if self.path == "/api/show":
            self._send({"model_info": {"bert.context_length": 256},
                        "capabilities": ["embedding"]}, "application/json")
        elif self.path == "/api/embed":
            self._send({"model": body["model"], "embeddings": [[0.6, 0.8]] * len(body["input"])},
                       "application/json")
        else:
            lines = [{"model": body["model"], "created_at": "2026-01-01T00:00:00Z",
                      "message": {"role": "assistant", "content": "ok"}, "done": False},
                     {"model": body["model"], "created_at": "2026-01-01T00:00:00Z",
                      "message": {"role": "assistant", "content": ""}, "done": True,
                      "done_reason": "stop"}]
            self._send(lines, "application/x-ndjson")

    def _send(self, payload: Any, content_type: str) -> None:
        if isinstance(payload, list):
            data = b"".join(json.dumps(item).encode() + b"\n" for item in payload)
        else:
            data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        # One connection per request: a kept-alive one would hold this one-request server.
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        self.wfile.write(data)


class _Backlogged(HTTPServer):
    request_queue_size = 128  # waiting connections are queued, not refused (the default is 5)
    spans: list[tuple[float, float]]
    """(start, end) of each model request served."""


@contextmanager
def one_at_a_time_server(port: int = 0) -> Iterator[tuple[str, list[str]]]:
    """(URL, paths served so far) of a server on 127.0.0.1.

    The model requests' (start, end) times are in `SPANS[url]` while it runs.
    """
    server = _Backlogged(("127.0.0.1", port), _OneAtATime)
    server.served = []  # type: ignore[attr-defined]
    server.spans = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    SPANS[f"http://127.0.0.1:{server.server_address[1]}"] = server.spans
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.served  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
